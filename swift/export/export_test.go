package export_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/export"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tokenizers"
	"github.com/goswift/goswift/swift/tuners"
	_ "github.com/goswift/goswift/swift/tuners/all"
	"github.com/goswift/goswift/swift/tuners/dora"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/swift/weights"
)

func load(t *testing.T, path string, opts models.LoadOptions) (*models.Model, *context.Context) {
	t.Helper()
	ck, err := models.OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	ctx := context.New()
	if err := models.LoadVariables(ctx, ck, opts); err != nil {
		t.Fatal(err)
	}
	return models.New(ck.Config), ctx
}

func storiesPath(t *testing.T) string { return fixtures.Path(t, "models/stories260K/stories260K.bin") }

func logitsOf(t *testing.T, ctx *context.Context, m *models.Model, ids []int32) []float32 {
	t.Helper()
	pos := make([]int32, len(ids))
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
	out, err := exec.Exec([][]int32{ids}, [][]int32{pos})
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

var probe = []int32{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// perturb moves every trainable variable as a short training run would: adapter weights get
// small seeded values (B included), trained base weights a small relative change.
func perturb(ctx *context.Context, tn tuners.Tuner) {
	rng := rand.New(rand.NewPCG(9, 9))
	for v := range ctx.IterVariables() {
		if !tn.Trainable(v) {
			continue
		}
		data := tensors.MustCopyFlatData[float32](v.MustValue())
		for i := range data {
			switch {
			case tuners.IsBase(v) || v.Name() == dora.MagnitudeVar || strings.Contains(v.Scope(), "layers/") && strings.HasPrefix(v.Scope(), "/tuners/llamapro"):
				data[i] *= float32(1 + 0.05*rng.NormFloat64())
			default:
				data[i] = float32(0.01 * rng.NormFloat64())
			}
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...))
	}
}

type goldenFile struct {
	Prompt     string    `json:"prompt"`
	PromptIDs  []int     `json:"prompt_ids"`
	LastLogits []float64 `json:"last_logits"`
}

// TestMergedStories260KReproducesGolden: stories260K exported as a plain HF checkpoint (q/k rows
// permuted, tok512 converted to tokenizer.json), read back through the HF path, reproduces the
// stories260K golden: the prompt's ids through tokenizer.json and the last logits within 1e-3.
func TestMergedStories260KReproducesGolden(t *testing.T) {
	m, ctx := load(t, storiesPath(t), models.LoadOptions{})
	tokPath := fixtures.Path(t, "models/stories260K/tok512.bin")
	tok, err := tokenizers.LoadLlama2C(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := export.SaveMerged(dir, ctx, m, nil, export.Options{Tokenizer: tok, TokenizerFile: tokPath}); err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	raw, err := os.ReadFile(fixtures.Path(t, "golden/stories260K.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	hf, err := tokenizers.Load(dir) // the directory's tokenizer.json
	if err != nil {
		t.Fatal(err)
	}
	ids := tokenizers.EncodeWithSpecial(hf, g.Prompt)
	if !slices.Equal(ids, g.PromptIDs) {
		t.Fatalf("tokenizer.json encodes the golden prompt as %v, golden %v", ids, g.PromptIDs)
	}
	hm, hctx := load(t, dir, models.LoadOptions{})
	if hm.Config.RoPE != models.RoPEHalf {
		t.Fatal("reloaded with interleaved RoPE: not the HF path")
	}
	ids32 := make([]int32, len(ids))
	for i, id := range ids {
		ids32[i] = int32(id)
	}
	l := logitsOf(t, hctx, hm, ids32)
	v := hm.Config.VocabSize
	last := l[len(l)-v:]
	d := 0.0
	for i, want := range g.LastLogits {
		d = math.Max(d, math.Abs(float64(last[i])-want))
	}
	if d > 1e-3 {
		t.Fatalf("exported model's last logits differ from the golden by %g > 1e-3", d)
	}
	t.Logf("exported stories260K: golden prompt ids identical, last logits within %.2g of the golden", d)
}

// TestSaveMerged: for each tuner kind, the merged export read back through the HF path gives
// the adapter model's logits within 1e-5, and the model is unmerged afterwards; the Adapter
// tuner cannot be merged.
func TestSaveMerged(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		cfg         func() tuners.Config
		wantErr     string
	}{
		{"lora/tiny_llama", "golden/hf/tiny_llama", func() tuners.Config { return &lora.Config{Rank: 4} }, ""},
		{"lora/stories260K", "", func() tuners.Config { return &lora.Config{Rank: 4} }, ""},
		{"dora/stories260K", "", func() tuners.Config { return &dora.Config{Config: lora.Config{Rank: 4}} }, ""},
		{"qlora/stories260K", "", func() tuners.Config { return &qlora.Config{} }, ""},
		{"full/tiny_qwen2", "golden/hf/tiny_qwen2", func() tuners.Config { return mustConfig(t, "full") }, ""},
		{"lisa/stories260K", "", func() tuners.Config { return mustConfig(t, "lisa") }, ""},
		{"llamapro/stories260K", "", func() tuners.Config { return mustConfig(t, "llamapro") }, ""},
		{"adapter/stories260K", "", func() tuners.Config { return mustConfig(t, "adapter") }, "cannot be folded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := storiesPath(t)
			if tc.model != "" {
				path = fixtures.Path(t, tc.model)
			}
			m, ctx := load(t, path, models.LoadOptions{})
			tn, err := tuners.BuildAndAttach(tc.cfg(), ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			perturb(ctx, tn)
			want := logitsOf(t, ctx, m, probe)
			dir := t.TempDir()
			err = export.SaveMerged(dir, ctx, m, []tuners.Tuner{tn}, export.Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Unmerged again afterwards (LoRA subtracts its delta: float32 rounding, as in the
			// conformance table's 1e-5).
			if d := maxAbsDiff(want, logitsOf(t, ctx, m, probe)); d > 1e-5 {
				t.Fatalf("the export changed the model in memory (logits moved by %g)", d)
			}
			hm, hctx := load(t, dir, models.LoadOptions{})
			d := maxAbsDiff(want, logitsOf(t, hctx, hm, probe))
			if d > 1e-5 {
				t.Fatalf("merged export reloaded: logits differ by %g > 1e-5", d)
			}
			t.Logf("merged (%d layers) reloaded through the HF path: max |Δlogit| %.2g", hm.Config.NumLayers, d)
		})
	}
}

func mustConfig(t *testing.T, name string) tuners.Config {
	c, err := tuners.NewConfig(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestQuantizedExport: SaveQuantized → LoadQuantized gives exactly the logits of quantising the
// HF export of the same model, for each format; the file uses bitsandbytes' names for NF4; a
// packed base in HF layout is copied byte for byte (identical logits to the model it came from).
func TestQuantizedExport(t *testing.T) {
	for _, q := range []qlora.Quantization{{Mode: quant.NF4, DoubleQuant: true}, {Mode: quant.NF4}, {Mode: quant.Int8}} {
		t.Run(string(q.Mode)+map[bool]string{true: "-dq", false: ""}[q.DoubleQuant], func(t *testing.T) {
			m, ctx := load(t, storiesPath(t), models.LoadOptions{})
			dir := t.TempDir()
			if err := export.SaveQuantized(dir, ctx, m, nil, q, export.Options{}); err != nil {
				t.Fatal(err)
			}
			cfg, qctx, err := export.LoadQuantized(dir)
			if err != nil {
				t.Fatal(err)
			}
			qm := models.New(cfg)
			qlora.UseQuantizedBase(qm)
			got := logitsOf(t, qctx, qm, probe)

			hfDir := t.TempDir()
			if err := models.SaveHF(hfDir, ctx, m.Config, weights.F32); err != nil {
				t.Fatal(err)
			}
			hm, hctx := load(t, hfDir, models.LoadOptions{Store: qlora.QuantizeOnLoad(q)})
			qlora.UseQuantizedBase(hm)
			if d := maxAbsDiff(logitsOf(t, hctx, hm, probe), got); d != 0 {
				t.Fatalf("reloaded quantised export differs from the quantised HF export by %g", d)
			}
			checkQuantizedFile(t, dir, q)
		})
	}
	t.Run("packed-copy/tiny_llama", func(t *testing.T) {
		q := qlora.Quantization{Mode: quant.NF4, DoubleQuant: true}
		m, ctx := load(t, fixtures.Path(t, "golden/hf/tiny_llama"), models.LoadOptions{Store: qlora.QuantizeOnLoad(q)})
		qlora.UseQuantizedBase(m)
		want := logitsOf(t, ctx, m, []int32{1, 5, 9, 3})
		dir := t.TempDir()
		if err := export.SaveQuantized(dir, ctx, m, nil, q, export.Options{}); err != nil {
			t.Fatal(err)
		}
		cfg, qctx, err := export.LoadQuantized(dir)
		if err != nil {
			t.Fatal(err)
		}
		qm := models.New(cfg)
		qlora.UseQuantizedBase(qm)
		if d := maxAbsDiff(want, logitsOf(t, qctx, qm, []int32{1, 5, 9, 3})); d != 0 {
			t.Fatalf("packed export reloaded differs by %g", d)
		}
	})
}

func checkQuantizedFile(t *testing.T, dir string, q qlora.Quantization) {
	t.Helper()
	src, err := weights.OpenSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := "model.layers.0.self_attn.q_proj.weight"
	want := map[string]weights.DType{p: weights.U8, p + ".quant_map": weights.F32, p + ".absmax": weights.F32,
		p + ".quant_state.bitsandbytes__nf4": weights.U8}
	if q.DoubleQuant {
		want[p+".absmax"] = weights.U8
		want[p+".nested_absmax"] = weights.F32
		want[p+".nested_quant_map"] = weights.F32
	}
	if q.Mode == quant.Int8 {
		want = map[string]weights.DType{p: weights.I8, p + ".absmax": weights.F32, p + ".quant_state.goswift__int8": weights.U8}
	}
	for name, dt := range want {
		info, ok := src.Info(name)
		if !ok || info.DType != dt {
			t.Fatalf("tensor %q: %v (present %v), want %s", name, info.DType, ok, dt)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	qc, _ := doc["quantization_config"].(map[string]any)
	if q.Mode == quant.NF4 && (qc["quant_method"] != "bitsandbytes" || qc["bnb_4bit_quant_type"] != "nf4" || qc["load_in_4bit"] != true) {
		t.Fatalf("quantization_config %v", qc)
	}
}
