package dora_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/dora"
	"github.com/goswift/goswift/swift/tuners/lora"
)

func tiny() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
}

// TestMagnitudeInit: m starts as the L2 norm of each output row of W (PEFT's
// lora_magnitude_vector), one per adapted projection.
func TestMagnitudeInit(t *testing.T) {
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		t.Fatal(err)
	}
	m := models.New(tiny())
	tn, err := tuners.BuildAndAttach(&dora.Config{Config: lora.Config{Rank: 2, TargetModules: []string{"q_proj", "down_proj"}}}, ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	d := tn.(*dora.DoRA)
	if len(d.Targets()) != 4 {
		t.Fatalf("targets %v", d.Targets())
	}
	for _, spec := range m.LinearSpecs() {
		mv := ctx.GetVariableByScopeAndName(dora.Scope+spec.Scope(), dora.MagnitudeVar)
		if (spec.Name == "q_proj" || spec.Name == "down_proj") != (mv != nil) {
			t.Fatalf("%s: magnitude present %v", spec.Path, mv != nil)
		}
		if mv == nil {
			continue
		}
		w := tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName(spec.Scope(), "weight").MustValue())
		mag := tensors.MustCopyFlatData[float32](mv.MustValue())
		for o := range spec.Out {
			s := 0.0
			for _, v := range w[o*spec.In : (o+1)*spec.In] {
				s += float64(v) * float64(v)
			}
			if math.Abs(math.Sqrt(s)-float64(mag[o])) > 1e-6 {
				t.Fatalf("%s row %d: m %g, ‖W‖ %g", spec.Path, o, mag[o], math.Sqrt(s))
			}
		}
	}
	if err := (&dora.Config{Config: lora.Config{Rank: -1}}).Validate(); err == nil {
		t.Fatal("rank -1 accepted")
	}
}

// DoRA r4 on q and v: A, B and a magnitude per projection train.
func ExampleConfig() {
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		panic(err)
	}
	cfg := &dora.Config{Config: lora.Config{Rank: 4, TargetModules: []string{"q_proj", "v_proj"}}}
	if _, err := tuners.BuildAndAttach(cfg, ctx, models.New(tiny())); err != nil {
		panic(err)
	}
	trainable, _ := tuners.CountParams(ctx)
	// per layer: q (4·16 + 16·4 + 16) + v (4·16 + 8·4 + 8)
	fmt.Println(trainable)
	// Output: 496
}
