package kernels

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/xla"
)

// Whole-graph equivalence of the goswift backend with simplego (the reference): the same
// graphs, built on each backend from the same seeded weights, agree within float32 tolerance.
// Two goswift configurations are checked: the default routing, and every op a kernel takes
// routed to it whatever its size ("dotmin=0,ewmin=0"), so the small test shapes exercise
// every kernel.

// equivBackends: name → config. The reference is simplego with the project's default config.
var equivBackends = []struct{ name, config string }{
	{"goswift", "goswift:parallelism=-1"},
	{"goswift-all-kernels", "goswift:dotmin=0,ewmin=0,parallelism=-1"},
}

// smallLlama is a Llama with grouped-query attention, big enough for several kernel tiles.
func smallLlama() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 700, HiddenSize: 96, IntermediateSize: 200, NumLayers: 2,
		NumHeads: 6, NumKVHeads: 3, HeadDim: 16, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositions: 64,
		RoPE: models.RoPEHalf}
}

func refBackend(t testing.TB) backends.Backend { return newBackend(t, xla.GoConfigUnlimited) }

// closeTo reports the first element of got differing from want by more than atol + rtol·|want|.
func closeTo(got, want []float32, atol, rtol float64) (int, bool) {
	if len(got) != len(want) {
		return -1, false
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.Abs(g-w) > atol+rtol*math.Abs(w) {
			return i, false
		}
	}
	return 0, true
}

// blockOutputs runs the full model in a training graph: logits, the loss and its gradient with
// respect to every variable (a full fine-tune's backward pass: all matmul gradients).
func blockOutputs(t *testing.T, backend backends.Backend, cfg *models.Config) (names []string, outs [][]float32) {
	t.Helper()
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg, 7); err != nil {
		t.Fatal(err)
	}
	m := models.New(cfg)
	var vars []*context.Variable
	for v := range ctx.IterVariables() {
		vars = append(vars, v)
		names = append(names, "grad "+v.ScopeAndName())
	}
	const b, s = 3, 24
	tok, pos, tgt := make([]int32, b*s), make([]int32, b*s), make([]int32, b*s)
	w := make([]float32, b*s)
	for i := range tok {
		tok[i], tgt[i], pos[i], w[i] = int32((i*37+5)%cfg.VocabSize), int32((i*53+11)%cfg.VocabSize), int32(i%s), 1
	}
	exec, err := context.NewExec(backend, ctx, func(ctx *context.Context, tok, pos, tgt, w *Node) []*Node {
		g := tok.Graph()
		ctx.SetTraining(g, true)
		logits := m.Logits(ctx, models.Inputs{Tokens: tok, Positions: pos})
		sum, _ := train.TokenLoss(logits, tgt, w)
		values := make([]*Node, len(vars))
		for i, v := range vars {
			values[i] = v.ValueGraph(g)
		}
		return append([]*Node{logits, sum}, Gradient(sum, values...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(tok, b, s), tensors.FromFlatDataAndDimensions(pos, b, s),
		tensors.FromFlatDataAndDimensions(tgt, b, s), tensors.FromFlatDataAndDimensions(w, b, s))
	if err != nil {
		t.Fatal(err)
	}
	names = append([]string{"logits", "loss"}, names...)
	for _, r := range res {
		outs = append(outs, tensors.MustCopyFlatData[float32](r))
	}
	return names, outs
}

// TestEquivalenceLlama: forward (logits, loss) and the gradients of every weight of a Llama
// (grouped-query attention, RoPE, SwiGLU, tied classifier) match simplego's.
func TestEquivalenceLlama(t *testing.T) {
	cfg := smallLlama()
	names, want := blockOutputs(t, refBackend(t), cfg)
	for _, be := range equivBackends {
		t.Run(be.name, func(t *testing.T) {
			_, got := blockOutputs(t, newBackend(t, be.config), cfg)
			for i := range want {
				// Gradients sum over batch·seq products: compare relative to their scale.
				scale := 0.0
				for _, v := range want[i] {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				if j, ok := closeTo(got[i], want[i], 1e-4*scale+1e-6, 1e-4); !ok {
					t.Fatalf("%s element %d: got %g, want %g (scale %g)", names[i], j, got[i][max(j, 0)], want[i][max(j, 0)], scale)
				}
			}
		})
	}
}

// trainRun trains a tuner for a few steps (gradient accumulation 2) and returns the losses and
// the trainable variables.
func trainRun(t *testing.T, backend backends.Backend, tuner tuners.Config) (losses []float64, trained map[string][]float32) {
	t.Helper()
	cfg := smallLlama()
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg, 3); err != nil {
		t.Fatal(err)
	}
	m := models.New(cfg)
	if _, err := tuners.BuildAndAttach(tuner, ctx, m); err != nil {
		t.Fatal(err)
	}
	tr, err := train.New(backend, ctx, m, data.SyntheticTokens{Batch: 2, Seq: 20, Vocab: cfg.VocabSize},
		train.Config{Steps: 3, LR: 1e-2, GradAccum: 2, NoProgress: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, r.Loss)
	}
	trained = map[string][]float32{}
	for v := range ctx.IterVariables() {
		if v.Trainable {
			trained[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	return losses, trained
}

// weightDiff returns the largest and the mean absolute difference of two sets of weights.
func weightDiff(t *testing.T, got, want map[string][]float32) (maxDiff, mean float64) {
	t.Helper()
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d trainable variables, want %d", len(got), len(want))
	}
	var sum float64
	var n int
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Fatalf("%s has %d elements, want %d", name, len(g), len(w))
		}
		for i := range w {
			d := math.Abs(float64(g[i] - w[i]))
			if math.IsNaN(d) {
				t.Fatalf("%s[%d] = %g, want %g", name, i, g[i], w[i])
			}
			maxDiff = max(maxDiff, d)
			sum += d
		}
		n += len(w)
	}
	return maxDiff, sum / float64(n)
}

// TestEquivalenceTraining: LoRA and QLoRA (NF4 with double quantisation, and int8) training
// steps — forward, custom-gradient matmuls, AdamW, gradient accumulation — give simplego's
// losses and adapter weights.
//
// Adam divides each update by the gradient's own scale, so weights with tiny gradients amplify
// float32 rounding differences. The tolerance is calibrated by simplego itself: its two
// DotGeneral algorithms (forced with "dotgeneral_large") differ by some amount; goswift must not
// differ from simplego by more than 4 times that on average (plus 1e-9). The largest single
// difference gets 4 times simplego's plus 1e-5 (0.1% of the 1e-2 learning rate): goswift also
// fuses the cross-entropy (kernels/xent), whose float32 log-sum-exp rounds differently from the
// plain graph, and Adam turns such sub-ulp gradient differences on near-zero gradients into
// steps of up to lr·(a few ulps of m/√v).
func TestEquivalenceTraining(t *testing.T) {
	targets := []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
	for _, tc := range []struct {
		name  string
		tuner func() tuners.Config
	}{
		{"lora", func() tuners.Config { return &lora.Config{Rank: 8, Alpha: 16, TargetModules: targets} }},
		{"qlora-nf4", func() tuners.Config { return &qlora.Config{Config: lora.Config{Rank: 8, TargetModules: targets}} }},
		{"qlora-int8", func() tuners.Config {
			return &qlora.Config{Config: lora.Config{Rank: 4, TargetModules: targets}, QuantType: "int8"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLoss, wantVars := trainRun(t, refBackend(t), tc.tuner())
			_, calVars := trainRun(t, newBackend(t, "go:dotgeneral_large,parallelism=-1"), tc.tuner())
			calMax, calMean := weightDiff(t, calVars, wantVars)
			for _, be := range equivBackends {
				gotLoss, gotVars := trainRun(t, newBackend(t, be.config), tc.tuner())
				for i := range wantLoss {
					if math.Abs(gotLoss[i]-wantLoss[i]) > 1e-4*math.Abs(wantLoss[i]) {
						t.Fatalf("%s: step %d loss %g, want %g", be.name, i, gotLoss[i], wantLoss[i])
					}
				}
				maxDiff, mean := weightDiff(t, gotVars, wantVars)
				if maxDiff > 4*calMax+1e-5 || mean > 4*calMean+1e-9 {
					t.Fatalf("%s: weights differ from simplego's by max %.3g, mean %.3g; simplego's two algorithms by max %.3g, mean %.3g",
						be.name, maxDiff, mean, calMax, calMean)
				}
				t.Logf("%s/%s: |Δweight| max %.2g mean %.2g (simplego large vs small: max %.2g mean %.2g)",
					tc.name, be.name, maxDiff, mean, calMax, calMean)
			}
		})
	}
}
