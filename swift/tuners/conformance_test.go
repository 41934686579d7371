package tuners_test

import (
	"bytes"
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tokenizers"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	_ "github.com/goswift/goswift/swift/tuners/all" // every registered tuner
)

// IdentityAtInit is implemented by tuners whose attached model computes exactly what the base
// computed until training moves it (LoRA: B = 0).
type identityAtInit interface{ IdentityAtInit() bool }

// loadBase loads stories260K into a fresh context.
func loadBase(t *testing.T) (*models.Config, *context.Context) {
	t.Helper()
	ck, err := models.OpenCheckpoint(fixtures.Path(t, "models/stories260K/stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	ctx := context.New()
	if err := models.LoadVariables(ctx, ck, models.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return ck.Config, ctx
}

var probeTokens = [][]int32{{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}, {1, 66, 300, 12, 77, 401, 222, 9, 18, 45}}

// logits runs the model (hooks included) on the probe tokens.
func logits(t *testing.T, ctx *context.Context, m *models.Model) []float32 {
	t.Helper()
	pos := make([][]int32, len(probeTokens))
	for r := range pos {
		pos[r] = make([]int32, len(probeTokens[r]))
		for j := range pos[r] {
			pos[r][j] = int32(j)
		}
	}
	exec, err := context.NewExec(testutil.Backend(t), ctx, func(ctx *context.Context, tok, p *Node) *Node {
		return m.Logits(ctx, models.Inputs{Tokens: tok, Positions: p})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Exec(probeTokens, pos)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// snapshot copies every variable's bytes.
func snapshot(ctx *context.Context) map[string][]byte {
	out := map[string][]byte{}
	for v := range ctx.IterVariables() {
		_ = v.MustValue().ConstBytes(func(b []byte) { out[v.ScopeAndName()] = append([]byte(nil), b...) })
	}
	return out
}

// TestConformance is the table every registered tuner must pass (DESIGN.md convention 5):
// output unchanged at init where promised; after a few training steps the logits moved (by
// more than 1e-3), only trainable variables changed (frozen base bytes identical); merged logits
// equal adapter logits (1e-5) and unmerge restores the base (1e-6); the adapter saved and
// loaded into a fresh model gives the same logits.
func TestConformance(t *testing.T) {
	names := tuners.Names()
	if len(names) == 0 {
		t.Fatal("no tuner registered")
	}
	tok, err := tokenizers.LoadLlama2C(fixtures.Path(t, "models/stories260K/tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.LoadTextFile(fixtures.Path(t, "datasets/tinyshakespeare.txt"), tok,
		data.TextConfig{SeqLen: 32, BatchSize: 4, Seed: 1, EvalBatches: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			cfg, ctx := loadBase(t)
			m := models.New(cfg)
			base := logits(t, ctx, m)
			tcfg, err := tuners.NewConfig(name)
			if err != nil {
				t.Fatal(err)
			}
			tn, err := tuners.BuildAndAttach(tcfg, ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if id, ok := tn.(identityAtInit); ok && id.IdentityAtInit() {
				if d := maxAbsDiff(base, logits(t, ctx, m)); d != 0 {
					t.Fatalf("logits changed by %g at init", d)
				}
			}
			trainable, _ := tuners.CountParams(ctx)
			if trainable == 0 {
				t.Fatal("no trainable parameters")
			}
			before := snapshot(ctx)
			tr, err := train.New(testutil.Backend(t), ctx, m, ds, train.Config{Steps: 3, LR: 1e-2, NoProgress: true})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := tr.Step(); err != nil {
					t.Fatal(err)
				}
			}
			adapted := logits(t, ctx, m)
			if d := maxAbsDiff(base, adapted); d <= 1e-3 {
				t.Fatalf("training moved the logits by only %g (<= 1e-3): the checks below would pass trivially", d)
			}
			after := snapshot(ctx)
			for v := range ctx.IterVariables() {
				key := v.ScopeAndName()
				old, existed := before[key]
				if existed && !v.Trainable && !bytes.Equal(old, after[key]) && !isTrainerState(key) {
					t.Fatalf("frozen variable %s changed during training", key)
				}
			}
			if mg, ok := tn.(tuners.Merger); ok {
				checkMerge(t, ctx, m, mg, adapted, before)
			}
			checkSaveLoad(t, tn, ctx, adapted)
		})
	}
}

// isTrainerState: the RNG advances during training; it is not a weight.
func isTrainerState(key string) bool { return key == "/#rngState" }

func checkMerge(t *testing.T, ctx *context.Context, m *models.Model, mg tuners.Merger, adapted []float32, before map[string][]byte) {
	t.Helper()
	frozenBase := map[string][]byte{}
	for v := range ctx.IterVariables() {
		if models.IsBaseScope(v.Scope()) && !v.Trainable {
			frozenBase[v.ScopeAndName()] = tensorBytes(v)
		}
	}
	if err := mg.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	if !mg.Merged() {
		t.Fatal("Merged() false after Merge")
	}
	if d := maxAbsDiff(adapted, logits(t, ctx, m)); d > 1e-5 {
		t.Fatalf("merged logits differ from adapter logits by %g > 1e-5", d)
	}
	if err := mg.Unmerge(ctx); err != nil {
		t.Fatal(err)
	}
	for v := range ctx.IterVariables() {
		want, ok := frozenBase[v.ScopeAndName()]
		if !ok {
			continue
		}
		if d := maxAbsDiffBytes(want, tensorBytes(v)); d > 1e-6 {
			t.Fatalf("unmerge left %s off by %g > 1e-6", v.ScopeAndName(), d)
		}
	}
	if d := maxAbsDiff(adapted, logits(t, ctx, m)); d > 1e-5 {
		t.Fatalf("after unmerge the logits differ from the adapter's by %g", d)
	}
	_ = before
}

func checkSaveLoad(t *testing.T, tn tuners.Tuner, ctx *context.Context, adapted []float32) {
	t.Helper()
	dir := t.TempDir()
	if err := tuners.SaveAdapter(dir, ctx, tn, "stories260K"); err != nil {
		t.Fatal(err)
	}
	cfg, fresh := loadBase(t)
	m2 := models.New(cfg)
	if _, err := tuners.LoadAdapter(dir, fresh, m2); err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(adapted, logits(t, fresh, m2)); d > 1e-6 {
		t.Fatalf("saved+loaded adapter logits differ by %g", d)
	}
}

func tensorBytes(v *context.Variable) []byte {
	var out []byte
	_ = v.MustValue().ConstBytes(func(b []byte) { out = append([]byte(nil), b...) })
	return out
}

func maxAbsDiffBytes(a, b []byte) float64 {
	fa := bytesToFloats(a)
	fb := bytesToFloats(b)
	return maxAbsDiff(fa, fb)
}

func bytesToFloats(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return out
}
