package models

import (
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
)

// TestSpliceImages checks the image-token splice against a loop: the j-th placeholder of a row
// takes feature j, other positions keep their embedding, placeholders beyond the features get
// zeros, and the output shape is the embeddings'.
func TestSpliceImages(t *testing.T) {
	const imageID, h = 7, 3
	backend := testutil.Backend(t)
	tests := []struct {
		name   string
		tokens [][]int32
		f      int // features per row
	}{
		{"one block", [][]int32{{1, 7, 7, 7, 5, 6}}, 3},
		{"two rows, different places", [][]int32{{7, 7, 4, 4, 0, 0}, {1, 2, 3, 7, 7, 9}}, 2},
		{"no placeholders", [][]int32{{1, 2, 3, 4}}, 2},
		{"split blocks (two images)", [][]int32{{1, 7, 7, 2, 7, 7}}, 4},
		{"more placeholders than features", [][]int32{{7, 7, 7, 1}}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, s := len(tc.tokens), len(tc.tokens[0])
			embeds := make([]float32, b*s*h)
			for i := range embeds {
				embeds[i] = float32(i%17) + 0.5
			}
			feats := make([]float32, b*tc.f*h)
			for i := range feats {
				feats[i] = -float32(i) - 100
			}
			exec := context.MustNewExec(backend, context.New(), func(ctx *context.Context, e, tok, f *Node) *Node {
				return SpliceImages(ctx, e, tok, f, imageID)
			})
			out, err := exec.Exec(tensors.FromFlatDataAndDimensions(embeds, b, s, h), tc.tokens,
				tensors.FromFlatDataAndDimensions(feats, b, tc.f, h))
			if err != nil {
				t.Fatal(err)
			}
			if got := out[0].Shape().Dimensions; len(got) != 3 || got[0] != b || got[1] != s || got[2] != h {
				t.Fatalf("shape %v, want [%d %d %d]", got, b, s, h)
			}
			got := tensors.MustCopyFlatData[float32](out[0])
			for r := range b {
				j := 0
				for p := range s {
					for c := range h {
						want := embeds[(r*s+p)*h+c]
						if tc.tokens[r][p] == imageID {
							want = 0
							if j < tc.f {
								want = feats[(r*tc.f+j)*h+c]
							}
						}
						if g := got[(r*s+p)*h+c]; g != want {
							t.Fatalf("row %d position %d channel %d: got %v, want %v", r, p, c, g, want)
						}
					}
					if tc.tokens[r][p] == imageID {
						j++
					}
				}
			}
		})
	}
}
