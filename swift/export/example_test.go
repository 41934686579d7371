package export_test

import (
	"fmt"
	"os"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/export"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/llamapro"
)

// A LLaMA Pro-expanded model exported as a plain Hugging Face checkpoint with 4 + 2 layers.
func ExampleSaveMerged() {
	mc := &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 4,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
	ctx := context.New()
	if err := models.InitRandom(ctx, mc, 1); err != nil {
		panic(err)
	}
	m := models.New(mc)
	tn, err := tuners.BuildAndAttach(&llamapro.Config{NumNewBlocks: 2}, ctx, m)
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "merged")
	defer os.RemoveAll(dir)
	if err := export.SaveMerged(dir, ctx, m, []tuners.Tuner{tn}, export.Options{}); err != nil {
		panic(err)
	}
	ck, err := models.OpenCheckpoint(dir)
	if err != nil {
		panic(err)
	}
	defer ck.Close()
	fmt.Println(ck.Format, ck.Config.NumLayers)
	// Output: hf 6
}
