package data

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// examples makes n examples of random lengths in [lo, hi] with ids encoding (example, index)
// and the second half of each weighted.
func examples(n, lo, hi int, seed uint64) []Example {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]Example, n)
	for i := range out {
		l := lo + rng.IntN(hi-lo+1)
		e := Example{IDs: make([]int32, l), Weights: make([]float32, l)}
		for j := range l {
			e.IDs[j] = int32((i*7 + j) % 500)
			if j >= l/2 {
				e.Weights[j] = 1
			}
		}
		out[i] = e
	}
	return out
}

func TestBucket(t *testing.T) {
	tests := []struct {
		cfg  SFTConfig
		n    int
		want int
	}{
		{SFTConfig{MaxLength: 512}, 1, 32},
		{SFTConfig{MaxLength: 512}, 33, 64},
		{SFTConfig{MaxLength: 512}, 300, 512},
		{SFTConfig{MaxLength: 300}, 299, 512},
		{SFTConfig{MaxLength: 512, BucketMultiple: 64}, 65, 128},
		{SFTConfig{MaxLength: 200, BucketMultiple: 64}, 199, 256},
		{SFTConfig{MaxLength: 512, MinBucket: 8}, 5, 8},
	}
	for _, tc := range tests {
		if got := tc.cfg.Bucket(tc.n); got != tc.want {
			t.Errorf("%+v Bucket(%d) = %d, want %d", tc.cfg, tc.n, got, tc.want)
		}
	}
}

// checkBatch verifies a batch's layout against the examples: every row holds whole examples,
// each in its own segment with positions from 0, targets shifted by one, padding inert.
func checkBatch(t *testing.T, b *Batch, exs []Example) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for r := range b.B {
		j := 0
		for seg := int32(1); j < b.S && b.Segments[r*b.S+j] == seg; seg++ {
			start := j
			var ids []int32
			for j < b.S && b.Segments[r*b.S+j] == seg {
				k := r*b.S + j
				if b.Positions[k] != int32(j-start) {
					t.Fatalf("row %d position %d: RoPE position %d, want %d", r, j, b.Positions[k], j-start)
				}
				if j > start && b.Tokens[k] != b.Targets[k-1] {
					t.Fatalf("row %d position %d: token is not the previous target", r, j)
				}
				ids = append(ids, b.Tokens[k])
				j++
			}
			ids = append(ids, b.Targets[r*b.S+j-1])
			seen[fmt.Sprint(ids)]++
		}
		for ; j < b.S; j++ {
			k := r*b.S + j
			if b.Segments[k] != 0 || b.Weights[k] != 0 {
				t.Fatalf("row %d position %d: padding with segment %d weight %v", r, j, b.Segments[k], b.Weights[k])
			}
		}
	}
	known := map[string]bool{}
	for _, e := range exs {
		known[fmt.Sprint(e.IDs)] = true
	}
	for ids := range seen {
		if !known[ids] {
			t.Fatalf("batch holds a sequence that is no example: %s", ids)
		}
	}
	return seen
}

// TestSFTDatasetEpochs: an epoch serves every example exactly once (bucketed or packed; the
// last batch may wrap around), shapes stay within the buckets, and TrainBatch is a pure
// function of (step, micro).
func TestSFTDatasetEpochs(t *testing.T) {
	exs := examples(203, 5, 120, 1)
	for _, packing := range []bool{false, true} {
		t.Run(fmt.Sprintf("packing=%v", packing), func(t *testing.T) {
			cfg := SFTConfig{BatchSize: 4, GradAccum: 2, MaxLength: 128, Packing: packing, Seed: 3}
			ds, err := NewSFTDataset(exs, exs[:10], cfg)
			if err != nil {
				t.Fatal(err)
			}
			st := ds.Stats()
			counts := map[string]int{}
			for k := range st.BatchesPerEpoch {
				b, err := ds.TrainBatch(k/2, k%2)
				if err != nil {
					t.Fatal(err)
				}
				if b.B != 4 || (packing && b.S != 128) || (!packing && b.S != 32 && b.S != 64 && b.S != 128) {
					t.Fatalf("batch %d has shape [%d, %d]", k, b.B, b.S)
				}
				for ids, n := range checkBatch(t, b, exs) {
					counts[ids] += n
				}
			}
			extra := 0
			for _, e := range exs {
				n := counts[fmt.Sprint(e.IDs)]
				if n == 0 {
					t.Fatalf("an example was not served in the first epoch")
				}
				extra += n - 1
			}
			if extra >= 4*(1+127/5) { // at most the wrapped-around rows of the last batch
				t.Fatalf("%d examples served twice in one epoch", extra)
			}
			if packing && st.Fill < 0.8 {
				t.Fatalf("packing fills only %.0f%% of the rows", 100*st.Fill)
			}
			if !packing && len(st.Shapes) > 4 {
				t.Fatalf("too many shapes: %v", st.Shapes)
			}
			// Pure: a fresh dataset serves the same batch for (step, micro), in any order.
			ds2, _ := NewSFTDataset(exs, nil, cfg)
			for _, k := range []int{500, 3, 77} {
				a, _ := ds.TrainBatch(k, 1)
				b, _ := ds2.TrainBatch(k, 1)
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("TrainBatch(%d, 1) differs between two datasets", k)
				}
			}
			ev, err := ds.EvalBatches()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, b := range ev {
				for _, c := range checkBatch(t, b, exs) {
					n += c
				}
			}
			if n != 10 {
				t.Fatalf("eval batches hold %d examples, want 10", n)
			}
			if _, err := ds.TrainBatch(0, 2); err == nil {
				t.Fatal("micro-batch beyond grad-accum accepted")
			}
		})
	}
}

func TestSFTTruncation(t *testing.T) {
	long := Example{IDs: []int32{1, 2, 3, 4, 5, 6}, Weights: []float32{0, 0, 0, 1, 1, 1}}
	short := Example{IDs: []int32{1, 2, 3}, Weights: []float32{0, 1, 1}}
	noTarget := Example{IDs: []int32{1, 2, 3}, Weights: []float32{1, 0, 0}}
	tests := []struct {
		trunc     Truncation
		train     int
		dropped   int
		truncated int
		noTargets int
		err       string
	}{
		{TruncateDrop, 1, 1, 0, 1, ""},
		{TruncateLeft, 2, 0, 1, 1, ""},
		{TruncateRight, 2, 0, 1, 1, ""},
		{TruncateError, 0, 0, 0, 0, "more than --max-length 4"},
	}
	for _, tc := range tests {
		ds, err := NewSFTDataset([]Example{long, short, noTarget}, nil, SFTConfig{BatchSize: 1, MaxLength: 4, Truncation: tc.trunc})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v", tc.trunc, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.trunc, err)
		}
		st := ds.Stats()
		if st.Train != tc.train || st.Dropped != tc.dropped || st.Truncated != tc.truncated || st.NoTargets != tc.noTargets {
			t.Errorf("%s: stats %+v", tc.trunc, st)
		}
		if _, err := ds.EvalBatches(); err == nil {
			t.Errorf("%s: eval batches without eval examples", tc.trunc)
		}
	}
	if _, err := NewSFTDataset([]Example{noTarget}, nil, SFTConfig{}); err == nil || !strings.Contains(err.Error(), "no training examples") {
		t.Fatalf("all examples without targets: %v", err)
	}
	if _, err := ParseTruncation("middle"); err == nil {
		t.Fatal("unknown truncation accepted")
	}
}

func TestSplitHeldOut(t *testing.T) {
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	tr, ho := SplitHeldOut(items, 0.1, 5, 7)
	if len(tr) != 95 || len(ho) != 5 {
		t.Fatalf("split %d/%d", len(tr), len(ho))
	}
	tr2, ho2 := SplitHeldOut(items, 0.1, 5, 7)
	if !reflect.DeepEqual(tr, tr2) || !reflect.DeepEqual(ho, ho2) {
		t.Fatal("split is not deterministic")
	}
	if _, ho := SplitHeldOut(items[:3], 0.01, 0, 1); len(ho) != 1 {
		t.Fatalf("tiny fraction held out %d items, want 1", len(ho))
	}
}
