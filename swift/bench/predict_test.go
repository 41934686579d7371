package bench

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/qlora"
)

// tinyConfig is a small Llama with grouped-query attention and biases, so every technique is
// cheap to build.
func tinyConfig() *models.Config {
	return &models.Config{ModelType: "qwen2", VocabSize: 300, HiddenSize: 64, IntermediateSize: 96, NumLayers: 5,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 16, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true,
		AttentionBias: true, MaxPositions: 64, BOSTokenID: 1, EOSTokenID: 2}
}

// TestPredictAccountsVariables: for every technique, the predictor's parameter counts and its
// weights, gradient and optimizer bytes equal what the real variables hold once the tuner is
// attached and the trainer created its AdamW moments (with the tuner's active set, as the
// benchmark runs it: LISA's moments and gradients cover only the active blocks).
func TestPredictAccountsVariables(t *testing.T) {
	backend := testutil.Backend(t)
	optimizer := map[string]int64{} // technique/untied → the optimizer bytes the variables hold
	for _, tech := range Techniques() {
		for _, untied := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/untied=%v", tech.Name, untied), func(t *testing.T) {
				cfg := tinyConfig()
				cfg.TieWordEmbeddings = !untied
				tcfg, err := tech.TunerConfig(4, 1)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.New()
				opts := models.LoadOptions{}
				if q, ok := quantizationOf(mustParse(t, tech, 4)); ok {
					opts.Store = qlora.QuantizeOnLoad(q)
				}
				if err := models.InitRandomAs(ctx, cfg, 1, opts); err != nil {
					t.Fatal(err)
				}
				m := models.New(cfg)
				tuner, err := tuners.BuildAndAttach(tcfg, ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := train.New(backend, ctx, m, data.SyntheticTokens{Batch: 1, Seq: 8, Vocab: cfg.VocabSize}, train.Config{Steps: 1,
					NoProgress: true, LRMultiplier: tuners.LRMultiplier(tuner), ActiveSet: tuners.ActiveSet(tuner)}); err != nil {
					t.Fatal(err)
				}
				got := account(ctx)
				optimizer[fmt.Sprintf("%s/%v", tech.Name, untied)] = got.Optimizer
				trainable, total := tuners.CountParams(ctx)
				p, err := Predict(PredictInput{Config: cfg, Technique: tech, Batch: 1, Seq: 8, Rank: 4})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range []struct {
					name      string
					got, want int64
				}{
					{"trainable params", trainable, p.ParamsTrainable},
					{"total params", total, p.ParamsTotal},
					{"weight bytes", got.Weights, p.WeightsBytes},
					{"gradient bytes", got.Gradients, p.GradientBytes},
					{"optimizer bytes", got.Optimizer, p.OptimizerBytes},
				} {
					if c.got != c.want {
						t.Errorf("%s: variables hold %d, predicted %d", c.name, c.got, c.want)
					}
				}
			})
		}
	}
	for _, untied := range []bool{false, true} {
		l, f := optimizer[fmt.Sprintf("lisa/%v", untied)], optimizer[fmt.Sprintf("full/%v", untied)]
		if l == 0 || l >= f {
			t.Errorf("untied=%v: lisa's optimizer state holds %d bytes, full's %d: want 0 < lisa < full", untied, l, f)
		}
	}
}

func mustParse(t *testing.T, tech Technique, rank int) tuners.Config {
	t.Helper()
	c, err := tuners.ParseConfig(tech.Tuner, tech.ConfigJSON(rank))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPredictLISA: LISA's parameters all train (as full's), but its gradients and AdamW state
// cover the non-block weights and its 2 active blocks only, byte-exactly what the trainer
// holds: less than full's, and exactly full's minus the inactive blocks' share; with gradient
// accumulation the accumulators follow the moments.
func TestPredictLISA(t *testing.T) {
	cfg := tinyConfig()
	predict := func(name string, accum int) *Prediction {
		t.Helper()
		tech, err := LookupTechnique(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Predict(PredictInput{Config: cfg, Technique: tech, Batch: 2, Seq: 16, GradAccum: accum})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	full, ls := predict("full", 1), predict("lisa", 1)
	if ls.ParamsTrainable != full.ParamsTrainable || ls.WeightsBytes != full.WeightsBytes {
		t.Errorf("lisa trains %d params in %d weight bytes, full %d in %d: want equal", ls.ParamsTrainable,
			ls.WeightsBytes, full.ParamsTrainable, full.WeightsBytes)
	}
	if ls.OptimizerBytes >= full.OptimizerBytes || ls.GradientBytes >= full.GradientBytes {
		t.Errorf("lisa optimizer %d / gradient %d bytes, full %d / %d: want less", ls.OptimizerBytes,
			ls.GradientBytes, full.OptimizerBytes, full.GradientBytes)
	}
	// One block's parameters: two norms, q/k/v with biases, o, gate, up, down.
	h, q, kv, ff := int64(cfg.HiddenSize), int64(cfg.QDim()), int64(cfg.KVDim()), int64(cfg.IntermediateSize)
	block := 2*h + h*q + q + 2*(h*kv+kv) + q*h + 3*h*ff
	inactive := int64(cfg.NumLayers-2) * block
	if got, want := ls.GradientBytes, full.GradientBytes-4*inactive; got != want {
		t.Errorf("lisa gradient bytes %d, want full's %d minus 4×%d inactive = %d", got, full.GradientBytes, inactive, want)
	}
	if got, want := ls.OptimizerBytes, full.OptimizerBytes-8*inactive; got != want {
		t.Errorf("lisa optimizer bytes %d, want %d", got, want)
	}
	if got, want := predict("lisa", 2).OptimizerBytes, ls.OptimizerBytes*3/2; got != want {
		t.Errorf("lisa optimizer bytes with accumulation %d, want moments + accumulators %d", got, want)
	}
	if ls.FLOPsPerStep >= full.FLOPsPerStep {
		t.Errorf("lisa %g FLOPs/step, full %g: want fewer (no weight gradients of inactive blocks)",
			ls.FLOPsPerStep, full.FLOPsPerStep)
	}
}

// TestAccountedOrdering: weights + gradients + optimizer state order QLoRA-NF4 < LoRA < full on
// every built-in shape, and LoRA's trainable parameters are under 1% of full's on stories15M.
func TestAccountedOrdering(t *testing.T) {
	for _, shape := range models.ShapeNames() {
		t.Run(shape, func(t *testing.T) {
			var acc []int64
			for _, tech := range []string{"qlora-nf4", "lora", "full"} {
				p, err := predictShape(shape, tech, 1, 64, 8)
				if err != nil {
					t.Fatal(err)
				}
				acc = append(acc, p.AccountedBytes)
			}
			if !(acc[0] < acc[1] && acc[1] < acc[2]) {
				t.Errorf("accounted bytes qlora-nf4 %d, lora %d, full %d: want increasing", acc[0], acc[1], acc[2])
			}
		})
	}
	l, err := predictShape("stories15m", "lora", 4, 128, 8)
	if err != nil {
		t.Fatal(err)
	}
	f, err := predictShape("stories15m", "full", 4, 128, 8)
	if err != nil {
		t.Fatal(err)
	}
	if frac := float64(l.ParamsTrainable) / float64(f.ParamsTrainable); frac >= 0.01 {
		t.Errorf("lora trains %.3f%% of full's parameters on stories15m, want < 1%%", 100*frac)
	}
}

// TestPredictErrors: bad inputs are errors naming the field.
func TestPredictErrors(t *testing.T) {
	lora, err := LookupTechnique("lora")
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig()
	for _, tc := range []struct {
		name string
		in   PredictInput
	}{
		{"no config", PredictInput{Technique: lora, Batch: 1, Seq: 8}},
		{"batch", PredictInput{Config: cfg, Technique: lora, Batch: 0, Seq: 8}},
		{"dtype", PredictInput{Config: cfg, Technique: lora, Batch: 1, Seq: 8, DType: "f16"}},
		{"tuner", PredictInput{Config: cfg, Technique: Technique{Name: "x", Tuner: "nope"}, Batch: 1, Seq: 8}},
	} {
		if _, err := Predict(tc.in); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
