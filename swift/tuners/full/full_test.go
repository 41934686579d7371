package full_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/full"
)

// Every base weight trains.
func ExampleConfig() {
	mc := &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
	ctx := context.New()
	if err := models.InitRandom(ctx, mc, 1); err != nil {
		panic(err)
	}
	if _, err := tuners.BuildAndAttach(&full.Config{}, ctx, models.New(mc)); err != nil {
		panic(err)
	}
	trainable, total := tuners.CountParams(ctx)
	fmt.Println(trainable == total, total == mc.NumParams())
	// Output: true true
}
