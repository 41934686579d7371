package gemm

import "github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"

// source reads operand elements as float32.
type source interface {
	// gather sets dst[i·dstStride] = float32(src[off + i·srcStride]) for i < n.
	gather(dst []float32, dstStride, off, srcStride, n int)
}

type f32src []float32

func (s f32src) gather(dst []float32, dstStride, off, srcStride, n int) {
	if n == 0 {
		return
	}
	switch {
	case dstStride == 1 && srcStride == 1:
		copy(dst[:n], s[off:off+n])
	case dstStride == 1:
		src := s[off : off+(n-1)*srcStride+1]
		for i := range dst[:n] {
			dst[i] = src[i*srcStride]
		}
	case srcStride == 1:
		d := dst[:(n-1)*dstStride+1]
		for i, v := range s[off : off+n] {
			d[i*dstStride] = v
		}
	default:
		d := dst[:(n-1)*dstStride+1]
		src := s[off : off+(n-1)*srcStride+1]
		for i := range n {
			d[i*dstStride] = src[i*srcStride]
		}
	}
}

type bf16src []bfloat16.BFloat16

func (s bf16src) gather(dst []float32, dstStride, off, srcStride, n int) {
	if n == 0 {
		return
	}
	d := dst[:(n-1)*dstStride+1]
	src := s[off : off+(n-1)*srcStride+1]
	if dstStride == 1 && srcStride == 1 {
		for i, v := range src {
			d[i] = v.Float32()
		}
		return
	}
	for i := range n {
		d[i*dstStride] = src[i*srcStride].Float32()
	}
}
