package elementwise

// Row primitives for fused kernels (kernels/xent): one goroutine, one contiguous row, the same
// arithmetic as the ops above.

// RowMax is the maximum of x (−MaxFloat32 for an empty or all −Inf row; NaN if any is NaN).
func RowMax(x []float32) float32 { return reduceRow(ReduceMax, x) }

// RowSum is the sum of x in ReduceSum's order.
func RowSum(x []float32) float32 { return reduceRow(ReduceSum, x) }

// ExpShiftScale sets d[i] = e^(x[i] − shift)·scale (Expf's accuracy, flushed to 0 below the
// smallest normal float32). d may be x.
func ExpShiftScale(d, x []float32, shift, scale float32) {
	x = x[:len(d)]
	k := expVec(d, x, shift, scale)
	for i, v := range x[k:] {
		d[k+i] = Expf(v-shift) * scale
	}
}
