package weights

import "github.com/pkg/errors"

// PermuteRotaryInterleavedToHalf reorders the output rows of a q_proj or k_proj weight (or bias)
// from llama2.c's interleaved rotary convention, which rotates the pairs (2i, 2i+1) of each head,
// to the Hugging Face rotate-half convention, which rotates the pairs (i, i+headSize/2): within
// each head, new row i is old row 2i and new row headSize/2+i is old row 2i+1. w is
// [nHeads*headSize, cols] row-major; nHeads is the number of heads the projection produces
// (NKVHeads for k_proj). Attention computed with the permuted weights and rotate-half RoPE equals
// attention computed with the original weights and interleaved RoPE. This is the inverse of
// llama2.c export.py's permute_reverse.
func PermuteRotaryInterleavedToHalf(w []float32, nHeads, cols int) ([]float32, error) {
	return permuteRotary(w, nHeads, cols, true)
}

// PermuteRotaryHalfToInterleaved is the inverse of [PermuteRotaryInterleavedToHalf]: it turns a
// Hugging Face q_proj/k_proj weight into llama2.c's interleaved order (export.py's
// permute_reverse).
func PermuteRotaryHalfToInterleaved(w []float32, nHeads, cols int) ([]float32, error) {
	return permuteRotary(w, nHeads, cols, false)
}

func permuteRotary(w []float32, nHeads, cols int, toHalf bool) ([]float32, error) {
	if nHeads <= 0 || cols <= 0 || len(w)%cols != 0 {
		return nil, errors.Errorf("permuting rotary rows: %d values are not [rows, %d] with %d heads", len(w), cols, nHeads)
	}
	rows := len(w) / cols
	if rows%nHeads != 0 || (rows/nHeads)%2 != 0 {
		return nil, errors.Errorf("permuting rotary rows: %d rows do not split into %d heads of even size", rows, nHeads)
	}
	headSize, half := rows/nHeads, rows/nHeads/2
	out := make([]float32, len(w))
	for h := range nHeads {
		base := h * headSize
		for i := range half {
			for a := range 2 {
				halfRow := base + a*half + i // rotate-half position
				interRow := base + 2*i + a   // interleaved position
				dst, src := halfRow, interRow
				if !toHalf {
					dst, src = interRow, halfRow
				}
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out, nil
}
