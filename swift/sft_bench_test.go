package swift_test

import (
	"testing"
	"time"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/templates"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// BenchmarkSFT measures supervised fine-tuning of stories260K with LoRA r8 on the BFCL
// tool-calling set (compact template, 100-200 tokens an example), 8 rows a batch: rows padded
// to a power-of-two bucket or to a multiple of 64, against packing into rows of 256 or 512. It
// reports samples/s and tokens/s (real tokens, padding excluded) and the share of positions
// that are padding.
func BenchmarkSFT(b *testing.B) {
	items, _, err := data.ReadFile(fixtures.Path(b, "datasets/bfcl_BFCL_v4_simple_python.json"), data.ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	samples, _, err := data.ToolCallVariants(items, data.VariantConfig{Functions: 16, Train: 400, HeldOut: 1, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		packing bool
		maxLen  int
		bucket  int
	}{
		{"bucketed-pow2", false, 512, 0},
		{"bucketed-x64", false, 512, 64},
		{"packed-256", true, 256, 0},
		{"packed-512", true, 512, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, err := swift.Load(fixtures.Path(b, "models/stories260K/stories260K.bin"), swift.LoadOptions{Device: "cpu"})
			if err != nil {
				b.Fatal(err)
			}
			exs, err := templates.EncodeSamples(templates.CompactTools, m.Tokenizer, samples, templates.Options{})
			if err != nil {
				b.Fatal(err)
			}
			ds, err := data.NewSFTDataset(exs, exs[:8], data.SFTConfig{BatchSize: 8, MaxLength: c.maxLen, Packing: c.packing,
				BucketMultiple: c.bucket, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.Attach(&lora.Config{Rank: 8}); err != nil {
				b.Fatal(err)
			}
			tr, err := m.Trainer(ds, train.Config{Steps: 1 << 30, LR: 1e-3, NoProgress: true})
			if err != nil {
				b.Fatal(err)
			}
			// Compile every shape of the epoch outside the timing: step until each was seen.
			shapes := map[int]bool{}
			for k := range ds.Stats().BatchesPerEpoch {
				batch, _ := ds.TrainBatch(k, 0)
				shapes[batch.S] = true
			}
			for i := 0; len(shapes) > 0 && i < ds.Stats().BatchesPerEpoch; i++ {
				batch, _ := ds.TrainBatch(tr.StepsDone(), 0)
				if _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
				delete(shapes, batch.S)
			}
			samplesDone, tokens, positions := 0, 0, 0
			var elapsed time.Duration
			b.ResetTimer()
			for range b.N {
				batch, _ := ds.TrainBatch(tr.StepsDone(), 0)
				start := time.Now()
				if _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				positions += batch.B * batch.S
				for r := range batch.B {
					last := int32(0)
					for j := range batch.S {
						if s := batch.Segments[r*batch.S+j]; s != 0 {
							tokens++
							last = s
						}
					}
					samplesDone += int(last)
				}
			}
			b.ReportMetric(float64(samplesDone)/elapsed.Seconds(), "samples/s")
			b.ReportMetric(float64(tokens)/elapsed.Seconds(), "tokens/s")
			b.ReportMetric(100*(1-float64(tokens)/float64(positions)), "%padding")
		})
	}
}
