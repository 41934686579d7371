package weights

import (
	"math"
	"sync"

	"github.com/x448/float16"
)

// DType is a tensor element type, spelled as in the safetensors header ("F32", "BF16", ...).
type DType string

// The safetensors dtypes this package knows. Only the floating-point ones (F64, F32, F16, BF16)
// can be read as float32 or written by the writers; the others can be parsed, validated and read
// as raw bytes.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL"

	// Further safetensors dtypes that can be parsed and read with ReadBytes only.
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
)

// Size returns the number of bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, BOOL, F8E4M3, F8E5M2:
		return 1
	}
	return 0
}

// IsFloat reports whether values of this dtype can be converted to float32 by ReadFloat32.
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// BF16ToFloat32 converts bfloat16 bits to float32 (exact: the bits become the upper half).
func BF16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// Float32ToBF16 rounds a float32 to bfloat16 bits with round-to-nearest-even. NaNs stay NaNs
// (the sign is kept and the result is a quiet NaN); values beyond the bfloat16 range become ±Inf.
func Float32ToBF16(f float32) uint16 {
	bits := math.Float32bits(f)
	if bits&0x7fffffff > 0x7f800000 { // NaN: truncate and force a quiet-NaN bit.
		return uint16(bits>>16) | 0x0040
	}
	rounding := uint32(0x7fff) + (bits>>16)&1
	return uint16((bits + rounding) >> 16)
}

// F16ToFloat32 converts IEEE 754 half-precision bits to float32 (exact).
func F16ToFloat32(h uint16) float32 { return f16Table()[h] }

// Float32ToF16 rounds a float32 to IEEE 754 half-precision bits (round-to-nearest-even; overflow
// gives ±Inf, NaN stays NaN).
func Float32ToF16(f float32) uint16 { return float16.Fromfloat32(f).Bits() }

var f16TableOnce = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = float16.Frombits(uint16(i)).Float32()
	}
	return &t
})

// f16Table returns a lookup table for all 65536 half-precision values (256 KiB, built once).
func f16Table() *[1 << 16]float32 { return f16TableOnce() }
