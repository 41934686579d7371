package gemm

import "math"

// subBlock is the number of k-steps summed in two interleaved sets before being added to a
// chunk's total (see kernel_amd64.s for the order every kernel follows).
const subBlock = 16

// goKernel is the portable micro-kernel (MR = 4, NR = 8), with the assembly kernels' contract
// and arithmetic: each chunk of kc steps is summed in sub-blocks of 32, even and odd steps into
// two sets of fused multiply-adds from zero, set0 + set1 added to the chunk's total, which is
// then stored to C or added to it.
func goKernel(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int) {
	const mr, nr = 4, 8
	pa := unsafeSlice(a, (mr-1)*aRow+max(kc-1, 0)*aK+1)
	pb := unsafeSlice(b, kc*nr)
	var total [mr][nr]float32
	for s0 := 0; s0 < kc; s0 += subBlock {
		var sets [2][mr][nr]float32
		for k := s0; k < min(kc, s0+subBlock); k++ {
			set := &sets[(k-s0)&1]
			bk := (*[nr]float32)(pb[k*nr : k*nr+nr])
			for i := range mr {
				ai := pa[i*aRow+k*aK]
				for j := range nr {
					set[i][j] = fma32(ai, bk[j], set[i][j])
				}
			}
		}
		for i := range mr {
			for j := range nr {
				total[i][j] += sets[0][i][j] + sets[1][i][j]
			}
		}
	}
	pc := unsafeSlice(c, (mr-1)*ldc+nr)
	for i := range mr {
		row := pc[i*ldc : i*ldc+nr]
		if acc {
			for j := range nr {
				row[j] += total[i][j]
			}
		} else {
			copy(row, total[i][:])
		}
	}
}

// goKernelExact is goKernel's exact variant (see kernel_amd64.s): float64 sums of the exact
// products in k order, rounded to float32 once.
func goKernelExact(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int) {
	const mr, nr = 4, 8
	pa := unsafeSlice(a, (mr-1)*aRow+max(kc-1, 0)*aK+1)
	pb := unsafeSlice(b, kc*nr)
	var sums [mr][nr]float64
	for k := range kc {
		bk := (*[nr]float32)(pb[k*nr : k*nr+nr])
		for i := range mr {
			ai := float64(pa[i*aRow+k*aK])
			for j := range nr {
				sums[i][j] = math.FMA(ai, float64(bk[j]), sums[i][j])
			}
		}
	}
	pc := unsafeSlice(c, (mr-1)*ldc+nr)
	for i := range mr {
		row := pc[i*ldc : i*ldc+nr]
		for j := range nr {
			if acc {
				row[j] += float32(sums[i][j])
			} else {
				row[j] = float32(sums[i][j])
			}
		}
	}
}
