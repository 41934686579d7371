package gemm

import "github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"

// Reference is the plain definition, for tests: c[b][i][j] = Σ_k a(b,i,k)·b(b,k,j), summed in
// float64 in increasing k, rounded to float32. It does not check its arguments.
func Reference[T Elem](d Dims, a, b Matrix[T], c []float32) {
	for bi := range d.Batch {
		for i := range d.M {
			for j := range d.N {
				var s float64
				for k := range d.K {
					s += float64(toF32(a.Data[a.Offset+bi*a.BatchStride+i*a.RowStride+k*a.ColStride])) *
						float64(toF32(b.Data[b.Offset+bi*b.BatchStride+k*b.RowStride+j*b.ColStride]))
				}
				c[(bi*d.M+i)*d.N+j] = float32(s)
			}
		}
	}
}

func toF32[T Elem](v T) float32 {
	switch x := any(v).(type) {
	case float32:
		return x
	case bfloat16.BFloat16:
		return x.Float32()
	}
	panic("unreachable")
}
