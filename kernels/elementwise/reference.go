package elementwise

import (
	"math"
	"slices"
)

// The plain references the kernels are tested against: one output element at a time, indices
// recomputed from scratch, float64 math.

// index returns the multi-index of flat position i in dims.
func index(i int, dims []int) []int {
	idx := make([]int, len(dims))
	for a := len(dims) - 1; a >= 0; a-- {
		idx[a] = i % dims[a]
		i /= dims[a]
	}
	return idx
}

// broadcastFlat is the flat position in an operand of dims (scalar, or each dim equal to the
// output's or 1) of the output multi-index idx.
func broadcastFlat(idx, dims []int) int {
	if len(dims) == 0 {
		return 0
	}
	f := 0
	for a, d := range dims {
		f *= d
		if d != 1 {
			f += idx[a]
		}
	}
	return f
}

// ReferenceBinary is the plain definition of Binary.
func ReferenceBinary(op BinaryOp, outDims []int, x []float32, xDims []int, y []float32, yDims []int) []float32 {
	out := make([]float32, size(outDims))
	for i := range out {
		idx := index(i, outDims)
		out[i] = op.apply(x[broadcastFlat(idx, xDims)], y[broadcastFlat(idx, yDims)])
	}
	return out
}

// ReferenceUnary is the plain definition of Unary (float64 math).
func ReferenceUnary(op UnaryOp, x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		f := float64(v)
		var r float64
		switch op {
		case Neg:
			r = -f
		case Abs:
			r = math.Abs(f)
		case Exp:
			if r = math.Exp(f); f < minNormalExp {
				r = 0 // flushed, see Expf
			}
		case Log:
			r = math.Log(f)
		case Logistic:
			r = 1 / (1 + math.Exp(-f))
		case Sqrt:
			r = math.Sqrt(f)
		case Rsqrt:
			r = 1 / math.Sqrt(f)
		case Tanh:
			r = math.Tanh(f)
		}
		out[i] = float32(r)
	}
	return out
}

// ReferenceReduce reduces x [dims] over axes in float64 (any axes), as simplego defines it.
func ReferenceReduce(op ReduceOp, x []float32, dims, axes []int) []float32 {
	var outDims []int
	for a, d := range dims {
		if !slices.Contains(axes, a) {
			outDims = append(outDims, d)
		}
	}
	acc := make([]float64, size(outDims))
	for i := range acc {
		acc[i] = float64(op.init())
	}
	for i, v := range x {
		idx := index(i, dims)
		o := 0
		for a, d := range dims {
			if !slices.Contains(axes, a) {
				o = o*d + idx[a]
			}
		}
		switch op {
		case ReduceSum:
			acc[o] += float64(v)
		case ReduceMax:
			acc[o] = max(acc[o], float64(v))
		default:
			acc[o] = min(acc[o], float64(v))
		}
	}
	out := make([]float32, len(acc))
	for i, v := range acc {
		out[i] = float32(v)
	}
	return out
}

// ReferenceBroadcastInDim is the plain definition of BroadcastInDim.
func ReferenceBroadcastInDim[T any](outDims []int, x []T, xDims, axes []int) []T {
	out := make([]T, size(outDims))
	for i := range out {
		idx := index(i, outDims)
		f := 0
		for k, a := range axes {
			f *= xDims[k]
			if xDims[k] != 1 {
				f += idx[a]
			}
		}
		out[i] = x[f]
	}
	return out
}

// ReferenceTranspose is the plain definition of Transpose.
func ReferenceTranspose[T any](x []T, dims, perm []int) []T {
	od := make([]int, len(perm))
	for i, a := range perm {
		od[i] = dims[a]
	}
	out := make([]T, len(x))
	for i := range out {
		idx := index(i, od)
		src := make([]int, len(dims))
		for k, a := range perm {
			src[a] = idx[k]
		}
		f := 0
		for a, d := range dims {
			f = f*d + src[a]
		}
		out[i] = x[f]
	}
	return out
}
