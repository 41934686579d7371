package quantmm

import (
	"github.com/pkg/errors"

	"github.com/goswift/goswift/kernels/gemm"
)

// Mode is the code format.
type Mode int

// Code formats.
const (
	NF4  Mode = iota // 4-bit NormalFloat, two codes per byte, first in the high nibble
	Int8             // one int8 code per byte
)

// BlockSize is the number of consecutive elements sharing one scale.
const BlockSize = 64

// NF4Levels are bitsandbytes' 16 NormalFloat-4 values (the same table as gomlx_ext/quant's).
var NF4Levels = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// Weight is a block-quantised weight [Out, In].
type Weight struct {
	Mode    Mode
	Out, In int
	Codes   []byte    // NF4: ceil(Out·In/2) bytes; Int8: Out·In bytes (two's complement)
	Scales  []float32 // the decoded absmax of every block of 64 elements
}

// Validate checks the sizes of the codes and scales.
func (w *Weight) Validate() error {
	n := w.Out * w.In
	if w.Out <= 0 || w.In <= 0 {
		return errors.Errorf("quantmm: weight dims [%d, %d]", w.Out, w.In)
	}
	want := n
	switch w.Mode {
	case NF4:
		want = (n + 1) / 2
	case Int8:
	default:
		return errors.Errorf("quantmm: unknown mode %d", w.Mode)
	}
	if len(w.Codes) != want {
		return errors.Errorf("quantmm: %d code bytes for a [%d, %d] weight, want %d", len(w.Codes), w.Out, w.In, want)
	}
	if nb := (n + BlockSize - 1) / BlockSize; len(w.Scales) != nb {
		return errors.Errorf("quantmm: %d scales for a [%d, %d] weight, want %d", len(w.Scales), w.Out, w.In, nb)
	}
	return nil
}

// Len implements gemm.Decoder: the number of elements.
func (w *Weight) Len() int { return w.Out * w.In }

// Decode implements gemm.Decoder: dst[i·dstStride] = W's flat element off + i·srcStride.
func (w *Weight) Decode(dst []float32, dstStride, off, srcStride, n int) {
	if srcStride != 1 {
		for i := range n {
			dst[i*dstStride] = w.at(off + i*srcStride)
		}
		return
	}
	// A contiguous run, one block at a time.
	for n > 0 {
		b := off / BlockSize
		run := min(n, (b+1)*BlockSize-off)
		scale := w.Scales[b]
		d := dst[: (run-1)*dstStride+1 : (run-1)*dstStride+1]
		if w.Mode == NF4 {
			var lv [16]float32
			for c, l := range NF4Levels {
				lv[c] = l * scale
			}
			i, e := 0, off
			if e&1 == 1 { // starts on a low nibble
				d[0] = lv[w.Codes[e>>1]&15]
				i, e = 1, e+1
			}
			for ; i+1 < run; i, e = i+2, e+2 {
				c := w.Codes[e>>1]
				d[i*dstStride] = lv[c>>4]
				d[(i+1)*dstStride] = lv[c&15]
			}
			if i < run {
				d[i*dstStride] = lv[w.Codes[e>>1]>>4]
			}
		} else {
			s := scale / 127
			codes := w.Codes[off : off+run]
			for i, c := range codes {
				d[i*dstStride] = float32(int8(c)) * s
			}
		}
		dst = dst[min(len(dst), run*dstStride):]
		off += run
		n -= run
	}
}

// at decodes one element.
func (w *Weight) at(i int) float32 {
	scale := w.Scales[i/BlockSize]
	if w.Mode == NF4 {
		c := w.Codes[i>>1]
		if i&1 == 0 {
			c >>= 4
		}
		return NF4Levels[c&15] * scale
	}
	return float32(int8(w.Codes[i])) * (scale / 127)
}

// Dequantize returns W decoded, [Out, In] row-major.
func (w *Weight) Dequantize() []float32 {
	out := make([]float32, w.Len())
	w.Decode(out, 1, 0, 1, len(out))
	return out
}

// MatMulT sets y [m, Out] = x [m, In] · Wᵀ (float32), decoding W while it is packed (see the
// package documentation). y and x are row-major.
func MatMulT(y, x []float32, m int, w *Weight) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if len(x) != m*w.In || len(y) != m*w.Out {
		return errors.Errorf("quantmm: x has %d elements and y %d, want %d·%d and %d·%d", len(x), len(y), m, w.In, m, w.Out)
	}
	d := gemm.Dims{Batch: 1, M: m, N: w.Out, K: w.In}
	// B = Wᵀ: element (k, n) is W's flat element n·In + k.
	b := gemm.DecodedMatrix{Src: w, RowStride: 1, ColStride: w.In}
	return gemm.Float32Decoded(d, gemm.RowMajor(x, m, w.In), b, y)
}

// Reference is the plain definition: W dequantised, then y = x·Wᵀ summed in float64.
func Reference(x []float32, m int, w *Weight) []float32 {
	wf := w.Dequantize()
	y := make([]float32, m*w.Out)
	for i := range m {
		for o := range w.Out {
			var s float64
			for k := range w.In {
				s += float64(x[i*w.In+k]) * float64(wf[o*w.In+k])
			}
			y[i*w.Out+o] = float32(s)
		}
	}
	return y
}
