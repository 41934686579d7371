package data

import (
	"strings"
	"testing"
)

// TestSFTTruncationKeepsImagesWhole: an example with images that is longer than MaxLength is
// dropped — counted in SFTStats.Dropped and in the stats line — under every truncation policy
// but error, even left and right, because cutting it could cut its image placeholders away from
// the images; a text example of the same length is cut as asked. TruncateError names the image
// example.
func TestSFTTruncationKeepsImagesWhole(t *testing.T) {
	img := Image{Channels: 1, Height: 2, Width: 2, Pixels: []float32{0, 0.25, 0.5, 1}}
	// ids: BOS, 4 placeholders (id 3, weight 0), prompt, answer.
	longImage := Example{IDs: []int32{1, 3, 3, 3, 3, 40, 41, 42}, Weights: []float32{0, 0, 0, 0, 0, 0, 1, 1}, Images: []Image{img}}
	shortImage := Example{IDs: []int32{1, 3, 3, 3, 3, 40}, Weights: []float32{0, 0, 0, 0, 0, 1}, Images: []Image{img}}
	longText := Example{IDs: []int32{1, 10, 11, 12, 13, 14, 15, 16}, Weights: []float32{0, 0, 0, 0, 1, 1, 1, 1}}
	in := []Example{longImage, shortImage, longText}
	tests := []struct {
		trunc              Truncation
		train              int
		dropped, truncated int
		err                string
	}{
		{TruncateLeft, 2, 1, 1, ""},
		{TruncateRight, 2, 1, 1, ""},
		{TruncateDrop, 1, 2, 0, ""},
		{TruncateError, 0, 0, 0, "training example 0 has 8 tokens, more than --max-length 6"},
	}
	for _, tc := range tests {
		t.Run(string(tc.trunc), func(t *testing.T) {
			ds, err := NewSFTDataset(in, nil, SFTConfig{BatchSize: 2, MaxLength: 6, Truncation: tc.trunc})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := ds.Stats()
			if st.Train != tc.train || st.Dropped != tc.dropped || st.Truncated != tc.truncated || st.NoTargets != 0 {
				t.Fatalf("stats %+v, want %d kept, %d dropped, %d truncated", st, tc.train, tc.dropped, tc.truncated)
			}
			if want := "too long dropped"; !strings.Contains(st.String(), want) {
				t.Fatalf("stats line %q does not report the drop", st.String())
			}
			// The image example kept is whole: all its placeholders and its image are in the batch.
			b, err := ds.TrainBatch(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			placeholders := 0
			for _, id := range b.Tokens {
				if id == 3 {
					placeholders++
				}
			}
			// Rows wrap around to fill the batch, so the short image example may appear twice.
			if b.Images == nil || placeholders != 4*b.Images.K*countImageRows(b) || placeholders == 0 {
				t.Fatalf("batch holds %d placeholders and images %+v: the image example is not whole", placeholders, b.Images)
			}
			for i := range ds.train {
				if e := ds.train[i]; len(e.Images) > 0 && len(e.IDs) != len(shortImage.IDs) {
					t.Fatalf("kept image example has %d ids, want the short one's %d", len(e.IDs), len(shortImage.IDs))
				}
			}
		})
	}
}

// countImageRows counts the rows of b whose first image is not the zero padding image.
func countImageRows(b *Batch) int {
	ib := b.Images
	size := ib.K * ib.C * ib.H * ib.W
	n := 0
	for r := range b.B {
		for _, p := range ib.Pixels[r*size : (r+1)*size] {
			if p != 0 {
				n++
				break
			}
		}
	}
	return n
}
