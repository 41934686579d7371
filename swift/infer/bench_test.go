package infer

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/models"
)

// BenchmarkGenerate measures greedy generation with the KV cache (new tokens/s, prefill
// included) on stories260K and on a stories15M-shaped model with random weights.
func BenchmarkGenerate(b *testing.B) {
	backend := testutil.Backend(b)
	stories15M, err := models.Shape("stories15m")
	if err != nil {
		b.Fatal(err)
	}
	stories15M.EOSTokenID = -1
	for _, name := range []string{"stories260K", "stories15M-shape"} {
		for _, batch := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/b%d", name, batch), func(b *testing.B) {
				var gen *Generator
				if name == "stories260K" {
					gen, _, _ = loadStories(b)
				} else {
					ctx := context.New()
					if err := models.InitRandom(ctx, stories15M, 1); err != nil {
						b.Fatal(err)
					}
					gen = NewGenerator(backend, ctx, models.New(stories15M))
				}
				prompts := make([][]int, batch)
				for r := range prompts {
					prompts[r] = []int{1, 403, 407, 261, 378, 432, 383, 286}[:8-r]
				}
				const newTokens = 32
				noEOS := -1
				opts := Options{MaxNewTokens: newTokens, EOS: &noEOS}
				if _, err := gen.Generate(prompts, opts); err != nil { // compile outside the timing
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if _, err := gen.Generate(prompts, opts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch*newTokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
