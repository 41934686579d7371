package peft_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/dora"
	_ "github.com/goswift/goswift/swift/tuners/full" // a tuner without a PEFT form
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/peft"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/swift/weights"
)

func loadModel(t *testing.T, path string) (*models.Model, *context.Context) {
	t.Helper()
	ck, err := models.OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	ctx := context.New()
	if err := models.LoadVariables(ctx, ck, models.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return models.New(ck.Config), ctx
}

func stories(t *testing.T) string { return fixtures.Path(t, "models/stories260K/stories260K.bin") }

var probe = []int32{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}

func logits(t *testing.T, ctx *context.Context, m *models.Model) []float32 {
	t.Helper()
	pos := make([]int32, len(probe))
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
	out, err := exec.Exec([][]int32{probe}, [][]int32{pos})
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// randomise gives every adapter variable of t seeded random values (B included), as training
// would: a round trip with B = 0 would prove nothing.
func randomise(t *testing.T, ctx *context.Context, tn tuners.Tuner) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	for v := range ctx.IterVariables() {
		if !tn.Trainable(v) {
			continue
		}
		data := tensors.MustCopyFlatData[float32](v.MustValue())
		for i := range data {
			if v.Name() == dora.MagnitudeVar {
				data[i] *= float32(1 + 0.2*(rng.Float64()-0.5))
			} else {
				data[i] = float32(0.05 * rng.NormFloat64())
			}
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...))
	}
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

var roundTrips = []struct {
	name      string
	cfg       func() tuners.Config
	quantised bool
}{
	{"lora", func() tuners.Config { return &lora.Config{Rank: 4, Alpha: 8} }, false},
	{"rslora-qv", func() tuners.Config {
		return &lora.Config{Rank: 4, Alpha: 8, RSLoRA: true, TargetModules: []string{"q_proj", "v_proj"}}
	}, false},
	{"lora-regex", func() tuners.Config { return &lora.Config{TargetRegex: `model\.layers\.[13]\.self_attn\.[qk]_proj`} }, false},
	{"dora", func() tuners.Config { return &dora.Config{Config: lora.Config{Rank: 4}} }, false},
	{"qlora", func() tuners.Config { return &qlora.Config{} }, true},
}

// TestRoundTrip: export to PEFT, import into a fresh model (through tuners.LoadAdapter, which
// detects the format): identical logits. A QLoRA adapter imports as LoRA over the same
// quantised base.
func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTrips {
		t.Run(tc.name, func(t *testing.T) {
			m, ctx := loadModel(t, stories(t))
			tn, err := tuners.BuildAndAttach(tc.cfg(), ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			randomise(t, ctx, tn)
			want := logits(t, ctx, m)
			dir := t.TempDir()
			if err := peft.Save(dir, ctx, tn, m, "stories260K"); err != nil {
				t.Fatal(err)
			}
			checkFiles(t, dir, tn)
			m2, ctx2 := loadModel(t, stories(t))
			if tc.quantised {
				if _, err := qlora.QuantizeInPlace(ctx2, m2, tn.Config().(*qlora.Config).Quantization()); err != nil {
					t.Fatal(err)
				}
				qlora.UseQuantizedBase(m2)
			}
			if _, err := tuners.LoadAdapter(dir, ctx2, m2); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(want, logits(t, ctx2, m2)); d != 0 {
				t.Fatalf("imported adapter's logits differ by %g", d)
			}
		})
	}
}

// TestExportedBaseAgrees: a PEFT adapter exported from the llama2.c model applies to the HF
// export of the same model (rotate-half RoPE, q/k rows permuted) with the same logits (1e-5):
// the lora_B rows are permuted consistently with the base. (The two RoPE layouts sum in a
// different order: the bare base already differs by ~1e-6 to 1e-5 at these logit magnitudes, so
// the bound is 5e-5 — a wrong permutation is off by O(1).)
func TestExportedBaseAgrees(t *testing.T) {
	for _, tc := range roundTrips[:4] {
		t.Run(tc.name, func(t *testing.T) {
			m, ctx := loadModel(t, stories(t))
			base := t.TempDir()
			if err := models.SaveHF(base, ctx, m.Config, weights.F32); err != nil {
				t.Fatal(err)
			}
			tn, err := tuners.BuildAndAttach(tc.cfg(), ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			randomise(t, ctx, tn)
			want := logits(t, ctx, m)
			dir := t.TempDir()
			if err := peft.Save(dir, ctx, tn, m, base); err != nil {
				t.Fatal(err)
			}
			hm, hctx := loadModel(t, base)
			if hm.Config.RoPE != models.RoPEHalf {
				t.Fatal("the HF export is not rotate-half")
			}
			if _, err := peft.Load(dir, hctx, hm); err != nil {
				t.Fatal(err)
			}
			d := maxAbsDiff(want, logits(t, hctx, hm))
			if d > 5e-5 {
				t.Fatalf("adapter on the HF export differs by %g > 5e-5", d)
			}
			t.Logf("adapter on the HF export: max |Δlogit| %.2g", d)
		})
	}
}

// readSafetensors parses a safetensors file knowing only the format's spec: an 8-byte
// little-endian header length, a JSON header of name -> {dtype, shape, data_offsets}, the data.
func readSafetensors(t *testing.T, path string) map[string]struct {
	DType   string  `json:"dtype"`
	Shape   []int   `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
} {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	out := map[string]struct {
		DType   string  `json:"dtype"`
		Shape   []int   `json:"shape"`
		Offsets []int64 `json:"data_offsets"`
	}{}
	for k, v := range header {
		if k == "__metadata__" {
			continue
		}
		e := out[k]
		if err := json.Unmarshal(v, &e); err != nil {
			t.Fatal(err)
		}
		size := int64(4)
		for _, d := range e.Shape {
			size *= int64(d)
		}
		if e.Offsets[1]-e.Offsets[0] != size || 8+int64(n)+e.Offsets[1] > int64(len(raw)) {
			t.Fatalf("%s: offsets %v do not hold %v F32", k, e.Offsets, e.Shape)
		}
		out[k] = e
	}
	return out
}

var peftName = regexp.MustCompile(`^base_model\.model\.model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector)$`)

// checkFiles: the exported names, shapes and config keys follow PEFT's conventions.
func checkFiles(t *testing.T, dir string, tn tuners.Tuner) {
	t.Helper()
	f := tuners.Unwrap(tn).(lora.Family)
	c := f.LoRAConfig()
	entries := readSafetensors(t, filepath.Join(dir, peft.WeightsFile))
	per := 2
	if f.UsesDoRA() {
		per = 3
	}
	if len(entries) != per*len(f.Targets()) {
		t.Fatalf("%d tensors for %d targets", len(entries), len(f.Targets()))
	}
	var names []string
	for name, e := range entries {
		names = append(names, name)
		if !peftName.MatchString(name) {
			t.Fatalf("tensor %q is not named as PEFT names LoRA weights", name)
		}
		switch {
		case e.DType != "F32":
			t.Fatalf("%s: dtype %s", name, e.DType)
		case strings.HasSuffix(name, "lora_A.weight") && e.Shape[0] != c.Rank:
			t.Fatalf("%s: shape %v, want [r=%d, in]", name, e.Shape, c.Rank)
		case strings.HasSuffix(name, "lora_B.weight") && e.Shape[1] != c.Rank:
			t.Fatalf("%s: shape %v, want [out, r=%d]", name, e.Shape, c.Rank)
		case strings.HasSuffix(name, "magnitude_vector") && len(e.Shape) != 1:
			t.Fatalf("%s: shape %v, want [out]", name, e.Shape)
		}
	}
	sort.Strings(names)
	var cfg map[string]any
	data, err := os.ReadFile(filepath.Join(dir, peft.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": float64(c.Rank), "lora_alpha": c.Alpha,
		"use_rslora": c.RSLoRA, "use_dora": f.UsesDoRA(), "bias": "none", "lora_dropout": c.Dropout,
		"base_model_name_or_path": "stories260K"}
	for k, v := range want {
		if cfg[k] != v {
			t.Fatalf("adapter_config.json %q = %v, want %v", k, cfg[k], v)
		}
	}
	if _, ok := cfg["target_modules"]; !ok {
		t.Fatal("adapter_config.json has no target_modules")
	}
}

func TestImportErrors(t *testing.T) {
	m, ctx := loadModel(t, stories(t))
	tn, err := tuners.BuildAndAttach(&lora.Config{Rank: 2, TargetModules: []string{"q_proj"}}, ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	good := t.TempDir()
	if err := peft.Save(good, ctx, tn, m, "x"); err != nil {
		t.Fatal(err)
	}
	edit := func(key string, value any) string {
		dir := t.TempDir()
		data, _ := os.ReadFile(filepath.Join(good, peft.ConfigFile))
		var cfg map[string]any
		_ = json.Unmarshal(data, &cfg)
		cfg[key] = value
		js, _ := json.Marshal(cfg)
		_ = os.WriteFile(filepath.Join(dir, peft.ConfigFile), js, 0o644)
		w, _ := os.ReadFile(filepath.Join(good, peft.WeightsFile))
		_ = os.WriteFile(filepath.Join(dir, peft.WeightsFile), w, 0o644)
		return dir
	}
	for _, tc := range []struct {
		dir, want string
	}{
		{edit("peft_type", "IA3"), `peft_type "IA3" is not supported`},
		{edit("modules_to_save", []string{"lm_head"}), "modules_to_save"},
		{edit("target_modules", []string{"q_proj", "v_proj"}), "v_proj.lora_A.weight\" is missing"},
		{edit("r", 3), "has shape [2 64], the model wants [3 64]"},
	} {
		m2, ctx2 := loadModel(t, stories(t))
		if _, err := tuners.LoadAdapter(tc.dir, ctx2, m2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one mentioning %q", err, tc.want)
		}
	}
	if err := peft.Save(t.TempDir(), ctx, mustTuner(t, "full"), m, ""); err == nil || !strings.Contains(err.Error(), "no PEFT LoRA form") {
		t.Errorf("saving full fine-tuning as PEFT: error %v", err)
	}
}

func mustTuner(t *testing.T, name string) tuners.Tuner {
	t.Helper()
	c, err := tuners.NewConfig(name)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tn
}
