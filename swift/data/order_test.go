package data

import (
	"fmt"
	"reflect"
	"testing"
)

// orderSteps is how many optimizer steps of data order the tests compare.
const orderSteps = 12

// trainOrder returns the first orderSteps × micro training batches of ds, in order.
func trainOrder(t *testing.T, ds Dataset, micro int) []*Batch {
	t.Helper()
	var out []*Batch
	for step := range orderSteps {
		for m := range micro {
			b, err := ds.TrainBatch(step, m)
			if err != nil {
				t.Fatalf("TrainBatch(%d, %d): %v", step, m, err)
			}
			out = append(out, b)
		}
	}
	return out
}

// TestSeededDataOrder: the training data order is a function of the seed. Two datasets built
// with the same seed serve identical batches for every (step, micro); a different seed serves a
// different order; within one seed consecutive steps differ (the order is not constant). Both
// producers of a training order are covered: the text dataset (random windows) and the SFT
// dataset (a shuffled permutation per epoch, bucketed or packed).
func TestSeededDataOrder(t *testing.T) {
	tokens := make([]int, 5000)
	for i := range tokens {
		tokens[i] = (i*131 + i/7) % 500
	}
	exs := examples(97, 5, 60, 2)
	builders := []struct {
		name  string
		micro int
		build func(seed uint64) (Dataset, error)
	}{
		{"text", 2, func(seed uint64) (Dataset, error) {
			return NewTextDataset(tokens, TextConfig{SeqLen: 16, BatchSize: 3, Seed: seed})
		}},
		{"sft", 2, func(seed uint64) (Dataset, error) {
			return NewSFTDataset(exs, nil, SFTConfig{BatchSize: 4, GradAccum: 2, MaxLength: 64, Seed: seed})
		}},
		{"sft-packed", 1, func(seed uint64) (Dataset, error) {
			return NewSFTDataset(exs, nil, SFTConfig{BatchSize: 2, MaxLength: 64, Packing: true, Seed: seed})
		}},
	}
	for _, bc := range builders {
		t.Run(bc.name, func(t *testing.T) {
			order := func(seed uint64) []*Batch {
				ds, err := bc.build(seed)
				if err != nil {
					t.Fatal(err)
				}
				return trainOrder(t, ds, bc.micro)
			}
			a, again, other := order(7), order(7), order(8)
			if !reflect.DeepEqual(a, again) {
				t.Fatal("seed 7 served two different orders")
			}
			same := 0
			for i := range a {
				if reflect.DeepEqual(a[i], other[i]) {
					same++
				}
			}
			// Identical batches at the same index by chance must be rare, not the rule.
			if same > len(a)/4 {
				t.Fatalf("seeds 7 and 8 served the same batch at %d of %d positions", same, len(a))
			}
			distinct := map[string]bool{}
			for _, b := range a {
				distinct[fmt.Sprint(b.Tokens)] = true
			}
			if len(distinct) < len(a)/2 {
				t.Fatalf("only %d distinct batches in %d: the order barely changes with the step", len(distinct), len(a))
			}
		})
	}
}

// TestSFTEpochsReshuffle: each SFT epoch is a fresh permutation of the seed (epoch 1's order is
// not epoch 0's), and the reshuffled epoch still serves every example.
func TestSFTEpochsReshuffle(t *testing.T) {
	exs := examples(40, 5, 30, 3)
	ds, err := NewSFTDataset(exs, nil, SFTConfig{BatchSize: 4, MaxLength: 32, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	n := ds.Stats().BatchesPerEpoch
	epoch := func(e int) (order []string, served map[string]int) {
		served = map[string]int{}
		for k := range n {
			b, err := ds.TrainBatch(e*n+k, 0)
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, fmt.Sprint(b.Tokens))
			for ids, c := range checkBatch(t, b, exs) {
				served[ids] += c
			}
		}
		return order, served
	}
	e0, _ := epoch(0)
	e1, served := epoch(1)
	if reflect.DeepEqual(e0, e1) {
		t.Fatal("epoch 1 repeats epoch 0's order")
	}
	for i, ex := range exs {
		if served[fmt.Sprint(ex.IDs)] == 0 {
			t.Fatalf("epoch 1 did not serve example %d", i)
		}
	}
}
