package data_test

import (
	"slices"
	"testing"

	"github.com/goswift/goswift/swift/data"
)

func TestSyntheticTokens(t *testing.T) {
	ds := data.SyntheticTokens{Batch: 3, Seq: 17, Vocab: 101, Seed: 5}
	a, _ := ds.TrainBatch(4, 1)
	b, _ := ds.TrainBatch(4, 1)
	c, _ := ds.TrainBatch(5, 1)
	other, _ := data.SyntheticTokens{Batch: 3, Seq: 17, Vocab: 101, Seed: 6}.TrainBatch(4, 1)
	if a.B != 3 || a.S != 17 || len(a.Tokens) != 3*17 {
		t.Fatalf("batch %d×%d with %d tokens, want 3×17", a.B, a.S, len(a.Tokens))
	}
	if !slices.Equal(a.Tokens, b.Tokens) || slices.Equal(a.Tokens, c.Tokens) || slices.Equal(a.Tokens, other.Tokens) {
		t.Error("want the same batch for the same (step, micro, seed) and another for another step or seed")
	}
	for i, id := range a.Tokens {
		if id < 0 || id >= 101 || a.Targets[i] < 0 || a.Targets[i] >= 101 {
			t.Fatalf("position %d: token %d, target %d outside the vocabulary of 101", i, id, a.Targets[i])
		}
		if a.Positions[i] != int32(i%17) || a.Weights[i] != 1 || a.Segments[i] != 1 {
			t.Fatalf("position %d: position %d weight %g segment %d", i, a.Positions[i], a.Weights[i], a.Segments[i])
		}
	}
}
