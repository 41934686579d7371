package train_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/full"
)

// optimModel is a tiny qwen2-style model (q/k/v biases, RMSNorm weights, untied head) with
// every weight trainable (the full tuner): it has matrices, norms and biases to tell apart.
func optimModel(t *testing.T) (*context.Context, *models.Model) {
	t.Helper()
	cfg := &models.Config{ModelType: "qwen2", VocabSize: 64, HiddenSize: 16, IntermediateSize: 32, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-6, RopeTheta: 10000, AttentionBias: true, MaxPositions: 32}
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg, 1); err != nil {
		t.Fatal(err)
	}
	// InitRandom zeroes the biases, and decaying zero changes nothing: give them values.
	for v := range ctx.IterVariables() {
		if v.Name() == "bias" {
			n := v.Shape().Size()
			b := make([]float32, n)
			for i := range b {
				b[i] = 0.5 + float32(i%5)*0.1
			}
			v.SetValue(tensors.FromFlatDataAndDimensions(b, n))
		}
	}
	m := models.New(cfg)
	if _, err := tuners.BuildAndAttach(&full.Config{}, ctx, m); err != nil {
		t.Fatal(err)
	}
	return ctx, m
}

// trainableValues copies every trainable variable's value, by scope/name.
func trainableValues(ctx *context.Context) map[string][]float32 {
	out := map[string][]float32{}
	for _, v := range tuners.TrainableVariables(ctx) {
		out[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	return out
}

// oneStep trains a fresh optimModel for one step with cfg and returns the weights before and
// after, the variables' ranks and the step's result.
func oneStep(t *testing.T, cfg train.Config) (before, after map[string][]float32, rank map[string]int, res train.StepResult) {
	t.Helper()
	ctx, m := optimModel(t)
	rank = map[string]int{}
	for _, v := range tuners.TrainableVariables(ctx) {
		rank[v.ScopeAndName()] = v.Shape().Rank()
	}
	before = trainableValues(ctx)
	cfg.Steps, cfg.NoProgress = 1, true
	tr, err := train.New(testutil.Backend(t), ctx, m, data.SyntheticTokens{Batch: 2, Seq: 8, Vocab: 64}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res, err = tr.Step(); err != nil {
		t.Fatal(err)
	}
	return before, trainableValues(ctx), rank, res
}

// TestWeightDecaySkipsNormsAndBiases: AdamW's decoupled decay subtracts lr·wd·w from matrices
// only. One step with weight decay vs the same step without it (same data, same gradients):
// every matrix (embeddings, projections, head) differs by exactly lr·wd·w₀ (float rounding
// aside), every norm weight and bias is bit-identical.
func TestWeightDecaySkipsNormsAndBiases(t *testing.T) {
	const lr, wd = 1e-2, 0.5
	w0, plain, rank, _ := oneStep(t, train.Config{LR: lr})
	_, decayed, _, _ := oneStep(t, train.Config{LR: lr, WeightDecay: wd})
	var matrices, norms, biases int
	for name, before := range w0 {
		p, d := plain[name], decayed[name]
		if rank[name] < 2 {
			if !slices.Equal(p, d) {
				t.Fatalf("%s (rank %d) was decayed: norms and biases must not be", name, rank[name])
			}
			switch {
			case strings.HasSuffix(name, "/bias"):
				biases++
			case strings.Contains(name, "norm"):
				norms++
			}
			continue
		}
		matrices++
		for i := range before {
			want := lr * wd * float64(before[i]) // plain − decayed
			got := float64(p[i]) - float64(d[i])
			if math.Abs(got-want) > 1e-3*math.Abs(want)+1e-8 {
				t.Fatalf("%s[%d]: decay moved it by %g, want lr·wd·w = %g (w %g)", name, i, got, want, before[i])
			}
		}
	}
	if matrices == 0 || norms == 0 || biases == 0 {
		t.Fatalf("checked %d matrices, %d norms, %d biases: the model must have each", matrices, norms, biases)
	}
	t.Logf("%d matrices decayed by lr·wd·w; %d norm weights and %d biases untouched", matrices, norms, biases)
}

// updateNorm is ‖after − before‖₂ over every variable.
func updateNorm(before, after map[string][]float32) float64 {
	sum := 0.0
	for name, b := range before {
		for i, x := range after[name] {
			d := float64(x) - float64(b[i])
			sum += d * d
		}
	}
	return math.Sqrt(sum)
}

// TestClipNormBoundsUpdate: global-norm clipping scales the gradient g to g' with ‖g'‖ = c when
// ‖g‖ > c. AdamW's first step moves each weight by lr·g'ᵢ/(|g'ᵢ| + ε) (bias-corrected moments,
// no decay), so |g'ᵢ|/(c+ε) ≤ |Δᵢ|/lr ≤ |g'ᵢ|/ε and
//
//	lr·c/(c+ε) ≤ ‖Δ‖₂ ≤ lr·c/ε.
//
// With c = ε/100 that pins ‖Δ‖ within 1% of lr/100, where the unclipped step moves each weight
// by ≈ lr. The reported gradient norm is the one before clipping. A clip above ‖g‖ is a no-op.
func TestClipNormBoundsUpdate(t *testing.T) {
	const lr, eps = 1.0, 1e-8
	const c = eps / 100
	before, clipped, _, cres := oneStep(t, train.Config{LR: lr, Epsilon: eps, ClipNorm: c})
	_, unclipped, _, ures := oneStep(t, train.Config{LR: lr, Epsilon: eps, ClipNorm: -1})
	_, loose, _, _ := oneStep(t, train.Config{LR: lr, Epsilon: eps, ClipNorm: 1e9})
	if cres.GradNorm != ures.GradNorm || !(cres.GradNorm > 100*c) {
		t.Fatalf("reported gradient norms %g (clipped) and %g (unclipped): want equal, pre-clip, ≫ %g", cres.GradNorm, ures.GradNorm, c)
	}
	lo, hi := lr*c/(c+eps), lr*c/eps
	got := updateNorm(before, clipped)
	t.Logf("gradient norm %.4g clipped to %g: ‖Δ‖ = %.6g in [%.6g, %.6g]; unclipped ‖Δ‖ = %.4g",
		cres.GradNorm, c, got, lo, hi, updateNorm(before, unclipped))
	if got < lo*(1-1e-3) || got > hi*(1+1e-3) {
		t.Fatalf("clipped update norm %.6g outside AdamW's bounds [%.6g, %.6g]", got, lo, hi)
	}
	if u := updateNorm(before, unclipped); u < 100*got {
		t.Fatalf("unclipped update norm %.4g is not ≫ the clipped %.4g: clipping had no effect?", u, got)
	}
	for name, w := range unclipped {
		if !slices.Equal(w, loose[name]) {
			t.Fatalf("%s: a clip norm above the gradient norm changed the update", name)
		}
	}
}
