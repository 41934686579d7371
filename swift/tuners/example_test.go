package tuners_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/neftune"
)

// Any tuner by name, with NEFTune noise during training; an adapter saved from it is the inner
// tuner's (modifiers act on training only).
func ExampleWithModifiers() {
	mc := &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
	ctx := context.New()
	if err := models.InitRandom(ctx, mc, 1); err != nil {
		panic(err)
	}
	cfg, err := tuners.ParseConfig("dora", []byte(`{"r": 4, "target_modules": ["q_proj", "v_proj"]}`))
	if err != nil {
		panic(err)
	}
	tn, err := tuners.BuildAndAttach(tuners.WithModifiers(cfg, &neftune.Config{Alpha: 5}), ctx, models.New(mc))
	if err != nil {
		panic(err)
	}
	_, isMerger := tuners.AsMerger(tn)
	fmt.Println(tn.Name(), tn.Scope(), isMerger, tuners.Names())
	// Output: dora /tuners/dora true [adapter dora freeze full lisa llamapro lora qlora]
}
