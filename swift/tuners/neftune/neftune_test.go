package neftune

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// TestNoiseOnlyWhenTraining: the hook adds uniform noise within ±alpha/√(L·d) in a training
// graph (spread over the whole range) and nothing at all otherwise.
func TestNoiseOnlyWhenTraining(t *testing.T) {
	const b, s, d, alpha = 2, 16, 64, 5.0
	n := &NEFTune{Alpha: alpha}
	zeros := func(_ *context.Context, tok *Node) *Node {
		return Zeros(tok.Graph(), shapes.Make(dtypes.Float32, b, s, d))
	}
	for _, training := range []bool{false, true} {
		ctx := context.New()
		if err := ctx.SetRNGStateFromSeed(1); err != nil {
			t.Fatal(err)
		}
		exec, err := context.NewExec(testutil.Backend(t), ctx, func(ctx *context.Context, tok *Node) *Node {
			ctx.SetTraining(tok.Graph(), training)
			return n.wrap(zeros)(ctx, tok)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(tensors.FromShape(shapes.Make(dtypes.Int32, b, s)))
		if err != nil {
			t.Fatal(err)
		}
		noise := tensors.MustCopyFlatData[float32](out[0])
		mag := alpha / math.Sqrt(s*d)
		maxAbs := 0.0
		for _, v := range noise {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		switch {
		case !training && maxAbs != 0:
			t.Fatalf("eval graph: noise %g, want none", maxAbs)
		case training && (maxAbs > mag || maxAbs < 0.9*mag):
			t.Fatalf("training graph: max |noise| %g, want just under alpha/√(L·d) = %g", maxAbs, mag)
		}
	}
}

// TestEvalLogitsUnchanged: LoRA with NEFTune gives the same eval logits as LoRA alone.
func TestEvalLogitsUnchanged(t *testing.T) {
	mc := &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
	run := func(cfg tuners.Config) []float32 {
		ctx := context.New()
		if err := models.InitRandom(ctx, mc, 1); err != nil {
			t.Fatal(err)
		}
		m := models.New(mc)
		if _, err := tuners.BuildAndAttach(cfg, ctx, m); err != nil {
			t.Fatal(err)
		}
		exec, err := context.NewExec(testutil.Backend(t), ctx, func(ctx *context.Context, tok, pos *Node) *Node {
			return m.Logits(ctx, models.Inputs{Tokens: tok, Positions: pos})
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec([][]int32{{1, 2, 3, 4}}, [][]int32{{0, 1, 2, 3}})
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	plain := run(&lora.Config{})
	noisy := run(tuners.WithModifiers(&lora.Config{}, &Config{Alpha: 10}))
	for i := range plain {
		if plain[i] != noisy[i] {
			t.Fatalf("logit %d: %g without NEFTune, %g with", i, plain[i], noisy[i])
		}
	}
}

func TestConfig(t *testing.T) {
	if _, err := tuners.ParseModifierConfig(Name, []byte(`{"alpha": -1}`)); err == nil {
		t.Fatal("negative alpha accepted")
	}
	if _, err := tuners.ParseModifierConfig(Name, []byte(`{"beta": 1}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
	c, err := tuners.ParseModifierConfig(Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := c.BuildModifier()
	if m.(*NEFTune).Alpha != 5 {
		t.Fatalf("default alpha %g", m.(*NEFTune).Alpha)
	}
}
