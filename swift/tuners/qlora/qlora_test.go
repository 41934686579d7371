package qlora_test

import (
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/internal/peakmem"
	"github.com/goswift/goswift/internal/testmodel"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/swift/weights"
)

func load(t *testing.T, opts models.LoadOptions) (*models.Config, *context.Context) {
	t.Helper()
	ckCfg, ctx := testmodel.Stories260K(t, opts)
	return ckCfg, ctx
}

// goldenPrompt is the stories260K golden prompt ("Once upon a time, there was a little").
var goldenPrompt = []int32{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}

func logits(t *testing.T, ctx *context.Context, m *models.Model) []float32 {
	t.Helper()
	pos := make([]int32, len(goldenPrompt))
	for i := range pos {
		pos[i] = int32(i)
	}
	exec, err := context.NewExec(testutil.Backend(t), ctx, func(ctx *context.Context, tok, p *Node) *Node {
		return m.Logits(ctx, models.Inputs{Tokens: tok, Positions: p})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Exec([][]int32{goldenPrompt}, [][]int32{pos})
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// meanNLL is the prompt's mean next-token negative log-likelihood under the logits.
func meanNLL(l []float32, vocab int) float64 {
	nll := 0.0
	for i := 0; i+1 < len(goldenPrompt); i++ {
		row := l[i*vocab : (i+1)*vocab]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		nll -= float64(row[goldenPrompt[i+1]]) - mx - math.Log(s)
	}
	return nll / float64(len(goldenPrompt)-1)
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

var modes = []qlora.Quantization{{Mode: quant.NF4, DoubleQuant: true}, {Mode: quant.NF4}, {Mode: quant.Int8}}

// TestQuantizedBase: for each format, (1) QLoRA at init computes exactly the quantised base
// (quantised on load or on Attach alike), (2) the in-graph decoding equals a float32 model
// holding the host-dequantised weights (1e-5), and the golden prompt's NLL stays close.
func TestQuantizedBase(t *testing.T) {
	cfg, ctx := load(t, models.LoadOptions{})
	base := logits(t, ctx, models.New(cfg))
	baseNLL := meanNLL(base, cfg.VocabSize)
	for _, q := range modes {
		t.Run(fmt.Sprintf("%s/dq=%v", q.Mode, q.DoubleQuant), func(t *testing.T) {
			// Quantised on load, no adapter.
			_, qctx := load(t, models.LoadOptions{Store: qlora.QuantizeOnLoad(q)})
			m := models.New(cfg)
			qlora.UseQuantizedBase(m)
			quantised := logits(t, qctx, m)

			// QLoRA attached to a float32 load (quantised in place).
			_, actx := load(t, models.LoadOptions{})
			am := models.New(cfg)
			dq := q.DoubleQuant
			if _, err := tuners.BuildAndAttach(&qlora.Config{QuantType: q.Mode, DoubleQuant: &dq}, actx, am); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(quantised, logits(t, actx, am)); d != 0 {
				t.Fatalf("QLoRA at init differs from the quantised base by %g", d)
			}

			// Float32 model with the dequantised weights.
			_, fctx := load(t, models.LoadOptions{})
			for _, spec := range m.LinearSpecs() {
				if !qlora.IsQuantizable(spec.Path + ".weight") {
					continue
				}
				p, err := qlora.ReadPacked(qctx, spec.Scope(), []int{spec.Out, spec.In})
				if err != nil {
					t.Fatal(err)
				}
				fctx.GetVariableByScopeAndName(spec.Scope(), "weight").MustSetValue(
					tensors.FromFlatDataAndDimensions(p.Dequantize(), spec.Out, spec.In))
			}
			if d := maxAbsDiff(quantised, logits(t, fctx, models.New(cfg))); d > 1e-5 {
				t.Fatalf("in-graph decoding differs from the float32 dequantised model by %g > 1e-5", d)
			}
			nll := meanNLL(quantised, cfg.VocabSize)
			t.Logf("golden prompt mean NLL: float32 %.4f, %s dq=%v %.4f; max |Δlogit| %.3f",
				baseNLL, q.Mode, q.DoubleQuant, nll, maxAbsDiff(base, quantised))
			if nll > baseNLL+1 {
				t.Fatalf("quantised NLL %.3f is far from the float32 %.3f", nll, baseNLL)
			}
		})
	}
}

// stories15M is llama2.c's stories15M shape (random weights).
func stories15M() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 32000, HiddenSize: 288, IntermediateSize: 768, NumLayers: 6,
		NumHeads: 6, NumKVHeads: 6, HeadDim: 48, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true,
		RoPE: models.RoPEInterleaved, MaxPositions: 256}
}

// packedBytes sums the bytes of the packed variables and the parameters they encode.
func packedBytes(ctx *context.Context, m *models.Model) (bytes, params int64) {
	for _, spec := range m.LinearSpecs() {
		if !qlora.IsQuantizable(spec.Path + ".weight") {
			continue
		}
		params += int64(spec.Out * spec.In)
		for v := range ctx.IterVariables() {
			if v.Scope() == spec.Scope() && v.Name() != "weight" {
				bytes += int64(v.Shape().Memory())
			}
		}
	}
	return bytes, params
}

// TestBytesPerParam: the packed variables of the stories15M-shaped model hold 0.5625 bytes per
// parameter in NF4, ≤ 0.52 with double quantisation, from the variables' sizes.
func TestBytesPerParam(t *testing.T) {
	cfg := stories15M()
	for _, tc := range []struct {
		q        qlora.Quantization
		min, max float64
	}{{qlora.Quantization{Mode: quant.NF4}, 0.5625, 0.5625}, {qlora.Quantization{Mode: quant.NF4, DoubleQuant: true}, 0, 0.52},
		{qlora.Quantization{Mode: quant.Int8}, 1.0625, 1.0625}} {
		ctx := context.New()
		if err := models.InitRandom(ctx, cfg, 1); err != nil {
			t.Fatal(err)
		}
		m := models.New(cfg)
		if _, err := qlora.QuantizeInPlace(ctx, m, tc.q); err != nil {
			t.Fatal(err)
		}
		b, p := packedBytes(ctx, m)
		r := float64(b) / float64(p)
		t.Logf("%s dq=%v: %d bytes for %d parameters: %.4f bytes/param", tc.q.Mode, tc.q.DoubleQuant, b, p, r)
		if r < tc.min || r > tc.max {
			t.Errorf("%s dq=%v: %.5f bytes/param, want in [%g, %g]", tc.q.Mode, tc.q.DoubleQuant, r, tc.min, tc.max)
		}
		if _, total := tuners.CountParams(ctx); total != cfg.NumParams() {
			t.Errorf("CountParams total %d, the config has %d parameters", total, cfg.NumParams())
		}
	}
}

// wideConfig is a model whose weights are mostly block projections: 16 layers of 256×1024
// (64 MB of float32 projections, the largest tensor 1 MB).
func wideConfig() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 512, HiddenSize: 256, IntermediateSize: 1024, NumLayers: 16,
		NumHeads: 4, NumKVHeads: 4, HeadDim: 64, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true, MaxPositions: 64}
}

// TestQuantizeOnLoadPeakChild is the peakmem child: it loads $GOSWIFT_QLORA_MODEL quantised
// (key "nf4-dq") or as float32 (key "f32") and reports the sizes.
func TestQuantizeOnLoadPeakChild(t *testing.T) {
	key, ok := peakmem.ChildKey()
	if !ok {
		t.Skip("only runs as a peakmem child")
	}
	ck, err := models.OpenCheckpoint(os.Getenv("GOSWIFT_QLORA_MODEL"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	opts := models.LoadOptions{}
	if key == "nf4-dq" {
		opts.Store = qlora.QuantizeOnLoad(qlora.Quantization{Mode: quant.NF4, DoubleQuant: true})
	}
	start := time.Now()
	if err := models.LoadVariables(ctx, ck, opts); err != nil {
		t.Fatal(err)
	}
	var resident int64
	for v := range ctx.IterVariables() {
		resident += int64(v.Shape().Memory())
	}
	peakmem.Report(map[string]float64{"seconds": time.Since(start).Seconds(), "resident": float64(resident)})
}

// TestQuantizeOnLoadPeak: loading with QuantizeOnLoad peaks near the packed model + the largest
// tensor in float32, far below the float32 model (each load alone in a child process).
func TestQuantizeOnLoadPeak(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement skipped in -short mode")
	}
	if _, err := peakmem.ReadStatus("VmHWM"); err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	cfg := wideConfig()
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg, 3); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := models.SaveHF(dir, ctx, cfg, weights.F32); err != nil {
		t.Fatal(err)
	}
	largest := int64(4 * cfg.HiddenSize * cfg.IntermediateSize)
	res := map[string]peakmem.Result{}
	for _, key := range []string{"f32", "nf4-dq"} {
		r, err := peakmem.Run("TestQuantizeOnLoadPeakChild", key, []string{"GOSWIFT_QLORA_MODEL=" + dir})
		if err != nil {
			t.Fatalf("%+v", err)
		}
		res[key] = r
		t.Logf("%-7s load: peak RSS %6.1f MB, workload %6.1f MB, variables %6.1f MB, %.2fs", key,
			float64(r.PeakBytes)/1e6, float64(r.WorkloadBytes())/1e6, r.Values["resident"]/1e6, r.Values["seconds"])
	}
	q := res["nf4-dq"]
	bound := int64(q.Values["resident"]) + largest
	t.Logf("bound: packed model %.1f MB + largest tensor in float32 %.1f MB = %.1f MB",
		q.Values["resident"]/1e6, float64(largest)/1e6, float64(bound)/1e6)
	// Slack for the Go runtime and GoMLX (the tensors' own bookkeeping, the GC's headroom).
	const slack = 8 << 20
	if q.WorkloadBytes() > bound+slack {
		t.Errorf("quantise-on-load workload %.1f MB exceeds packed + largest + %d MB slack = %.1f MB",
			float64(q.WorkloadBytes())/1e6, slack>>20, float64(bound+slack)/1e6)
	}
}

// TestStepPeakRSS compares the peak RSS of a LoRA and a QLoRA training step (2×16 tokens) on
// the projection-heavy wideConfig (64 MB of float32 projections), each alone in a child that
// loads the model (QLoRA: quantised on load).
// Opt-in: GOSWIFT_PEAK=1.
func TestStepPeakRSS(t *testing.T) {
	if os.Getenv("GOSWIFT_PEAK") == "" {
		t.Skip("set GOSWIFT_PEAK=1 to measure LoRA vs QLoRA step memory")
	}
	cfg := wideConfig()
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg, 3); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := models.SaveHF(dir, ctx, cfg, weights.F32); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"lora", "qlora"} {
		r, err := peakmem.Run("TestStepPeakChild", key, []string{"GOSWIFT_QLORA_MODEL=" + dir})
		if err != nil {
			t.Fatalf("%+v", err)
		}
		t.Logf("%-6s step on %s: peak RSS %6.1f MB, step %.2fs", key, wideConfig(), float64(r.PeakBytes)/1e6, r.Values["seconds"])
	}
}

// TestStepPeakChild is TestStepPeakRSS's child: key "lora" or "qlora" (quantised on load).
func TestStepPeakChild(t *testing.T) {
	key, ok := peakmem.ChildKey()
	if !ok {
		t.Skip("only runs as a peakmem child")
	}
	ck, err := models.OpenCheckpoint(os.Getenv("GOSWIFT_QLORA_MODEL"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ck.Config
	ctx := context.New()
	var tc tuners.Config = &lora.Config{}
	opts := models.LoadOptions{}
	if key == "qlora" {
		opts.Store = qlora.QuantizeOnLoad(qlora.Quantization{Mode: quant.NF4, DoubleQuant: true})
		tc = &qlora.Config{}
	}
	if err := models.LoadVariables(ctx, ck, opts); err != nil {
		t.Fatal(err)
	}
	m := models.New(cfg)
	if _, err := tuners.BuildAndAttach(tc, ctx, m); err != nil {
		t.Fatal(err)
	}
	tr, err := train.New(testutil.Backend(t), ctx, m, data.SyntheticTokens{Batch: 2, Seq: 16, Vocab: cfg.VocabSize}, train.Config{Steps: 10, LR: 1e-3, NoProgress: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	peakmem.Report(map[string]float64{"seconds": time.Since(start).Seconds()})
}
