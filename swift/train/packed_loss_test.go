package train_test

import (
	"math"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testmodel"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tokenizers"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// packedServed serves fixed batches: TrainBatch(step, 0) is batches[step], EvalBatches the first.
type packedServed struct{ batches []*data.Batch }

func (p packedServed) TrainBatch(step, _ int) (*data.Batch, error) { return p.batches[step], nil }
func (p packedServed) EvalBatches() ([]*data.Batch, error)         { return p.batches[:1], nil }

// packedExamples tokenizes short stories with the stories260K tokenizer: the first third of each
// untrained (a prompt), the rest trained with weight 1, or 2 (a loss scale) for every other one.
func packedExamples(t *testing.T) []data.Example {
	t.Helper()
	tok, err := tokenizers.LoadLlama2C(fixtures.Path(t, "models/stories260K/tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	stories := []string{
		"Once upon a time, there was a little girl named Lily.",
		"Tom had a red ball. He liked to throw it high in the sky and catch it.",
		"The cat sat on the mat.",
		"One day, a big dog came to the park and wanted to play with the kids. They ran and laughed all day.",
		"Sue saw a bird.",
		"Mom said, \"Let's bake a cake!\" Ben was very happy and helped her mix the flour and the eggs.",
		"The sun was hot, so they went to the lake to swim.",
		"Max found a shiny stone under a tree and showed it to his friend.",
		"It was raining.",
	}
	exs := make([]data.Example, len(stories))
	for i, s := range stories {
		ids := tokenizers.EncodeWithSpecial(tok, s)
		e := data.Example{IDs: make([]int32, len(ids)), Weights: make([]float32, len(ids))}
		for j, id := range ids {
			e.IDs[j] = int32(id)
			if j > len(ids)/3 {
				e.Weights[j] = float32(1 + i%2)
			}
		}
		exs[i] = e
	}
	return exs
}

// TestPackedLossIsTokenWeighted: the trainer's loss — the training step's own graph (the fused
// cross-entropy kernels/xent.TokenLoss on the model's logits with segments and positions, as
// train.Trainer.Step runs it) — on a batch packed by data.SFTDataset (several stories per row,
// block-diagonal attention, restarted positions) equals the token-weighted combination of the
// same trainer's losses on each story alone, Σ loss_i·n_i / Σ n_i with n_i its trained
// positions, within 1e-4 relative. Evaluate (the eval graph) gives the packed batch the same
// loss. Every step runs with a learning-rate multiplier of 0, so all losses see the same weights
// (asserted).
func TestPackedLossIsTokenWeighted(t *testing.T) {
	ckCfg, ctx := testmodel.Stories260K(t, models.LoadOptions{})
	m := models.New(ckCfg)
	if _, err := tuners.BuildAndAttach(&lora.Config{Rank: 4, Seed: 2}, ctx, m); err != nil {
		t.Fatal(err)
	}
	exs := packedExamples(t)
	packedDS, err := data.NewSFTDataset(exs[:1], exs, data.SFTConfig{BatchSize: 4, MaxLength: 128, Packing: true})
	if err != nil {
		t.Fatal(err)
	}
	packed, err := packedDS.EvalBatches()
	if err != nil {
		t.Fatal(err)
	}
	if len(packed) != 1 {
		t.Fatalf("the stories pack into %d batches, want 1", len(packed))
	}
	if maxSeg := slices.Max(packed[0].Segments); maxSeg < 3 {
		t.Fatalf("rows hold at most %d stories: nothing was really packed", maxSeg)
	}
	aloneDS, err := data.NewSFTDataset(exs[:1], exs, data.SFTConfig{BatchSize: 1, MaxLength: 128})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := aloneDS.EvalBatches()
	if err != nil {
		t.Fatal(err)
	}
	if len(alone) != len(exs) {
		t.Fatalf("%d one-story batches, want %d", len(alone), len(exs))
	}
	batches := append([]*data.Batch{packed[0]}, alone...)
	tr, err := train.New(testutil.Backend(t), ctx, m, packedServed{batches}, train.Config{
		Steps: len(batches), LR: 1e-2, NoProgress: true, Seed: 1,
		LRMultiplier: func(int, *context.Variable) float64 { return 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	for _, v := range tuners.TrainableVariables(ctx) {
		before[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	evalLoss, err := tr.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	var results []train.StepResult
	for range batches {
		r, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	for _, v := range tuners.TrainableVariables(ctx) {
		if !slices.Equal(before[v.ScopeAndName()], tensors.MustCopyFlatData[float32](v.MustValue())) {
			t.Fatalf("%s moved under a learning-rate multiplier of 0: the losses saw different weights", v.ScopeAndName())
		}
	}
	packedRes := results[0]
	sum, tokens := 0.0, 0
	for i, r := range results[1:] {
		if want := alone[i].NumTargets(); r.Tokens != want {
			t.Fatalf("story batch %d: the step counted %d trained positions, the batch has %d", i, r.Tokens, want)
		}
		sum += r.Loss * float64(r.Tokens)
		tokens += r.Tokens
	}
	combined := sum / float64(tokens)
	t.Logf("packed loss %.6f over %d positions; token-weighted per-story %.6f over %d; eval %.6f",
		packedRes.Loss, packedRes.Tokens, combined, tokens, evalLoss)
	if packedRes.Tokens != tokens {
		t.Fatalf("the packed step counted %d trained positions, the stories alone %d", packedRes.Tokens, tokens)
	}
	if rel := math.Abs(packedRes.Loss-combined) / combined; rel > 1e-4 {
		t.Fatalf("packed loss %.7f vs token-weighted per-story %.7f: relative difference %.2g > 1e-4", packedRes.Loss, combined, rel)
	}
	if rel := math.Abs(evalLoss-packedRes.Loss) / packedRes.Loss; rel > 1e-5 {
		t.Fatalf("Evaluate %.7f vs the training step %.7f on the packed batch: relative difference %.2g", evalLoss, packedRes.Loss, rel)
	}
}
