package tuners_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testmodel"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/models/vlm"
	"github.com/goswift/goswift/swift/tokenizers"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	_ "github.com/goswift/goswift/swift/tuners/all" // every registered tuner
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/neftune"
	"github.com/goswift/goswift/swift/tuners/qlora"
)

// identityAtInit is implemented by tuners whose attached model computes exactly what the base
// computed until training moves it (LoRA: B = 0).
type identityAtInit interface{ IdentityAtInit() bool }

// conformanceRow is one tuner configuration of the conformance table, with what it promises.
// Every registered tuner and modifier must appear in a row (TestConformanceTableCoversRegistry).
type conformanceRow struct {
	name   string
	tuner  string               // registered name
	config func() tuners.Config // nil: the tuner's default config
	// initTol: 0 means the logits are bit-identical to the base's right after Attach; > 0 a
	// tolerance; < 0 not applicable, with initWhy saying why.
	initTol float64
	initWhy string
	// noMerge, when set, says why the tuner has no Merger (the test asserts it has none).
	noMerge string
}

var conformanceTable = []conformanceRow{
	{name: "lora", tuner: "lora"},
	// LoRA+ at ratio 4: at the table's learning rate, 16 grows B so far in 3 steps that the
	// merged-vs-adapter check measures float32 rounding of large logits (LoRA+'s own test
	// checks ratio 16).
	{name: "lora+loraplus", tuner: "lora", config: func() tuners.Config { return &lora.Config{LoRAPlusRatio: 4} }},
	{name: "lora+rslora", tuner: "lora", config: func() tuners.Config { return &lora.Config{Rank: 4, RSLoRA: true} }},
	{name: "lora+neftune", tuner: "lora", config: func() tuners.Config {
		return tuners.WithModifiers(&lora.Config{}, &neftune.Config{Alpha: 5})
	}},
	{name: "qlora-nf4-dq", tuner: "qlora", initTol: -1,
		initWhy: "the base is NF4-quantised: QLoRA starts at the quantised base (checked exactly in qlora's tests)"},
	{name: "qlora-int8", tuner: "qlora", config: func() tuners.Config { return &qlora.Config{QuantType: quant.Int8} }, initTol: -1,
		initWhy: "the base is int8-quantised: QLoRA starts at the quantised base (checked exactly in qlora's tests)"},
	{name: "dora", tuner: "dora", initTol: 1e-4,
		initWhy: "m/‖W‖ is 1 up to float32 rounding (m is computed on the host, ‖W‖ in the graph)"},
	{name: "full", tuner: "full", noMerge: "trains the base weights in place: the model already is the merged model"},
	{name: "freeze", tuner: "freeze", noMerge: "trains base weights in place: the model already is the merged model"},
	{name: "lisa", tuner: "lisa", noMerge: "trains base weights in place: the model already is the merged model"},
	{name: "llamapro", tuner: "llamapro", noMerge: "adds decoder blocks: its merged export is the expanded model " +
		"(tuners.Expander, checked in swift/export)"},
	{name: "adapter", tuner: "adapter", noMerge: "a nonlinear bottleneck cannot be folded into the base weights"},
}

// TestConformanceTableCoversRegistry: a new tuner or modifier must get a row.
func TestConformanceTableCoversRegistry(t *testing.T) {
	covered := map[string]bool{}
	for _, row := range conformanceTable {
		covered[row.tuner] = true
		if row.config != nil {
			if tn, err := row.config().Build(); err == nil {
				if m, ok := tn.(*tuners.Modified); ok {
					for _, mod := range m.Modifiers {
						covered[mod.Name()] = true
					}
				}
			}
		}
	}
	for _, name := range append(tuners.Names(), tuners.ModifierNames()...) {
		if !covered[name] {
			t.Errorf("%q is registered but has no row in the conformance table", name)
		}
	}
}

// loadBase loads stories260K into a fresh context.
func loadBase(t *testing.T) (*models.Config, *context.Context) {
	t.Helper()
	ckCfg, ctx := testmodel.Stories260K(t, models.LoadOptions{})
	return ckCfg, ctx
}

var probeTokens = [][]int32{{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}, {1, 66, 300, 12, 77, 401, 222, 9, 18, 45}}

// baseLoader returns a fresh copy of a base model and its variables (deterministic).
type baseLoader func(t *testing.T) (*context.Context, *models.Model)

func loadText(t *testing.T) (*context.Context, *models.Model) {
	cfg, ctx := loadBase(t)
	return ctx, models.New(cfg)
}

// probeVision is the conformance VLM's vision tower: 8×8 gray images in 4×4 patches, so one
// image is 4 placeholder tokens (stories260K's byte token <0x00>, id 3).
var probeVision = vlm.VisionConfig{HiddenSize: 16, IntermediateSize: 32, NumLayers: 1, NumHeads: 2, ImageSize: 8,
	PatchSize: 4, NumChannels: 1, LayerNormEps: 1e-6}

const probeImageToken = 3

// vlmProbeTokens put one image (4 placeholders) in each probe row.
var vlmProbeTokens = [][]int32{{1, 3, 3, 3, 3, 261, 378, 432, 383, 286}, {1, 66, 300, 3, 3, 3, 3, 9, 18, 45}}

// probeImages returns n deterministic 8×8 gray images [n, 1, 1, 8, 8].
func probeImages(n int, seed uint64) *tensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 17))
	px := make([]float32, n*64)
	for i := range px {
		px[i] = float32(2*rng.Float64() - 1)
	}
	return tensors.FromFlatDataAndDimensions(px, n, 1, 1, 8, 8)
}

// loadVLM is stories260K with a seeded vision tower (frozen with its projector by
// vlm.Freeze after the tuner attaches, so the tuner's promises are checked on the LM).
func loadVLM(t *testing.T) (*context.Context, *models.Model) {
	cfg, ctx := loadBase(t)
	vcfg := &vlm.Config{Vision: probeVision, Text: cfg, ImageTokenID: probeImageToken, ImageMean: []float32{0.5}, ImageStd: []float32{0.5}}
	if err := vlm.InitVision(ctx, vcfg, 3); err != nil {
		t.Fatal(err)
	}
	return ctx, vlm.New(vcfg)
}

// vlmDataset is SFT data for the conformance VLM: text runs from tinyshakespeare with an image
// spliced into each example, random images.
func vlmDataset(t *testing.T, tok tokenizers.Tokenizer) data.Dataset {
	text := tok.Encode("ROMEO: But soft, what light through yonder window breaks? It is the east, and Juliet is the sun.")
	var exs []data.Example
	for i := range 16 {
		ids := []int32{1}
		for range 4 {
			ids = append(ids, probeImageToken)
		}
		for _, id := range text[i%5 : i%5+20] {
			ids = append(ids, int32(id))
		}
		w := make([]float32, len(ids))
		for j := 5; j < len(w); j++ {
			w[j] = 1
		}
		img := tensors.MustCopyFlatData[float32](probeImages(1, uint64(i)))
		exs = append(exs, data.Example{IDs: ids, Weights: w, Images: []data.Image{{Channels: 1, Height: 8, Width: 8, Pixels: img}}})
	}
	ds, err := data.NewSFTDataset(exs, exs[:4], data.SFTConfig{BatchSize: 4, MaxLength: 32, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

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
	args := []any{probeTokens, pos}
	if m.Vision != nil {
		args = []any{vlmProbeTokens, pos, probeImages(2, 99)}
	}
	exec, err := context.NewExec(testutil.Backend(t), ctx, func(ctx *context.Context, in []*Node) *Node {
		var images *Node
		if len(in) > 2 {
			images = in[2]
		}
		return m.Logits(ctx, models.Inputs{Tokens: in[0], Positions: in[1], Images: images})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Exec(args...)
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
// output unchanged at init where promised (and the row says why not where not); after a few
// training steps the logits moved (by more than 1e-3), only trainable variables changed (frozen
// base bytes identical); merged logits equal adapter logits (1e-5) and unmerge restores the base
// (float32 within 1e-6, packed bytes exactly) — or the row says why the tuner has no merge; the
// adapter saved and loaded into a fresh model gives the same logits.
func TestConformance(t *testing.T) {
	tok, err := tokenizers.LoadLlama2C(fixtures.Path(t, "models/stories260K/tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.LoadTextFile(fixtures.Path(t, "datasets/tinyshakespeare.txt"), tok,
		data.TextConfig{SeqLen: 32, BatchSize: 4, Seed: 1, EvalBatches: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range conformanceTable {
		t.Run(row.name, func(t *testing.T) { runConformance(t, row, loadText, ds) })
	}
}

// TestConformanceVLM runs the LoRA rows of the table on a vision-language model (stories260K
// with a vision tower, images spliced into every probe and training row): LoRA attaches to its
// language model unchanged.
func TestConformanceVLM(t *testing.T) {
	tok, err := tokenizers.LoadLlama2C(fixtures.Path(t, "models/stories260K/tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ds := vlmDataset(t, tok)
	for _, row := range conformanceTable {
		if row.tuner != "lora" {
			continue
		}
		t.Run(row.name, func(t *testing.T) { runConformance(t, row, loadVLM, ds) })
	}
}

// runConformance checks one row on one base model (see TestConformance).
func runConformance(t *testing.T, row conformanceRow, load baseLoader, ds data.Dataset) {
	ctx, m := load(t)
	base := logits(t, ctx, m)
	tcfg, err := tuners.NewConfig(row.tuner)
	if err != nil {
		t.Fatal(err)
	}
	if row.config != nil {
		tcfg = row.config()
	}
	tn, err := tuners.BuildAndAttach(tcfg, ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if m.Vision != nil {
		if _, err := (vlm.Freeze{ViT: true, Aligner: true}).Apply(ctx); err != nil {
			t.Fatal(err)
		}
	}
	id, _ := tuners.Unwrap(tn).(identityAtInit)
	switch d := maxAbsDiff(base, logits(t, ctx, m)); {
	case row.initTol == 0:
		if id == nil || !id.IdentityAtInit() {
			t.Fatalf("the row promises bit-identical logits at init, the tuner does not (IdentityAtInit)")
		}
		if d != 0 {
			t.Fatalf("logits changed by %g at init", d)
		}
	case row.initTol > 0:
		if d > row.initTol {
			t.Fatalf("logits changed by %g > %g at init", d, row.initTol)
		}
		t.Logf("at init: logits within %.2g of the base (%s)", d, row.initWhy)
	default:
		t.Logf("at init: not applicable: %s (logits differ by %.3g)", row.initWhy, d)
	}
	trainable, _ := tuners.CountParams(ctx)
	if trainable == 0 {
		t.Fatal("no trainable parameters")
	}
	before := snapshot(ctx)
	tr, err := train.New(testutil.Backend(t), ctx, m, ds, train.Config{Steps: 3, LR: 1e-2, NoProgress: true,
		LRMultiplier: tuners.LRMultiplier(tn), ActiveSet: tuners.ActiveSet(tn)})
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
	mg, isMerger := tuners.AsMerger(tn)
	switch {
	case row.noMerge == "" && !isMerger:
		t.Fatal("the row expects a Merger; the tuner has none (set noMerge with the reason)")
	case row.noMerge != "" && isMerger:
		t.Fatalf("the row says no merge (%s) but the tuner is a Merger", row.noMerge)
	case isMerger:
		checkMerge(t, ctx, m, mg, adapted)
	default:
		t.Logf("merge: not applicable: %s", row.noMerge)
	}
	checkSaveLoad(t, tn, ctx, adapted, load)
}

// isTrainerState: the RNG advances during training; it is not a weight.
func isTrainerState(key string) bool { return key == "/#rngState" }

func checkMerge(t *testing.T, ctx *context.Context, m *models.Model, mg tuners.Merger, adapted []float32) {
	t.Helper()
	frozenBase := map[string]*context.Variable{}
	frozenBytes := map[string][]byte{}
	for v := range ctx.IterVariables() {
		if models.IsBaseScope(v.Scope()) && !v.Trainable {
			frozenBase[v.ScopeAndName()] = v
			frozenBytes[v.ScopeAndName()] = tensorBytes(v)
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
	for key, old := range frozenBase {
		scope, name := old.Scope(), old.Name()
		v := ctx.GetVariableByScopeAndName(scope, name)
		if v == nil {
			t.Fatalf("unmerge did not restore %s", key)
		}
		want, got := frozenBytes[key], tensorBytes(v)
		if v.DType() != dtypes.Float32 {
			if !bytes.Equal(want, got) {
				t.Fatalf("unmerge left the %s bytes of %s changed", v.DType(), key)
			}
			continue
		}
		if d := maxAbsDiffBytes(want, got); d > 1e-6 {
			t.Fatalf("unmerge left %s off by %g > 1e-6", key, d)
		}
	}
	if d := maxAbsDiff(adapted, logits(t, ctx, m)); d > 1e-5 {
		t.Fatalf("after unmerge the logits differ from the adapter's by %g", d)
	}
}

func checkSaveLoad(t *testing.T, tn tuners.Tuner, ctx *context.Context, adapted []float32, load baseLoader) {
	t.Helper()
	dir := t.TempDir()
	if err := tuners.SaveAdapter(dir, ctx, tn, "stories260K"); err != nil {
		t.Fatal(err)
	}
	fresh, m2 := load(t)
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
