//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

var hasAVX512 = cpu.X86.HasAVX512F

// transpose16 sets dst[k·dstStride + r] = src[r·srcStride + k] for r, k < 16 (AVX-512).
//
//go:noescape
func transpose16(dst *float32, dstStride int, src *float32, srcStride int)

// packTransposed packs a full strip of B = Wᵀ (B's columns j0..j0+nr−1 are W's rows, contiguous
// in k, row stride ld) into dst [k][nr] with 16×16 register transposes, and returns how many k
// it packed (a multiple of 16; the caller packs the rest). 0 without AVX-512 or for nr % 16 ≠ 0.
func packTransposed(dst, src []float32, off, ld, k, nr int) int {
	kk := k &^ 15
	if !hasAVX512 || nr%16 != 0 || kk == 0 {
		return 0
	}
	_ = src[off+(nr-1)*ld+kk-1]
	_ = dst[(kk-1)*nr+nr-1]
	for p := 0; p < kk; p += 16 {
		for c := 0; c < nr; c += 16 {
			transpose16(&dst[p*nr+c], nr, &src[off+c*ld+p], ld)
		}
	}
	return kk
}
