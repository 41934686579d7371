package weights

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

func TestDTypeSize(t *testing.T) {
	for _, tc := range []struct {
		d    DType
		size int
		isF  bool
	}{
		{F64, 8, true}, {F32, 4, true}, {F16, 2, true}, {BF16, 2, true}, {I64, 8, false}, {I32, 4, false},
		{I16, 2, false}, {I8, 1, false}, {U8, 1, false}, {BOOL, 1, false}, {U64, 8, false}, {U32, 4, false},
		{U16, 2, false}, {F8E4M3, 1, false}, {F8E5M2, 1, false}, {"F128", 0, false}, {"", 0, false},
	} {
		if got := tc.d.Size(); got != tc.size {
			t.Errorf("%q.Size() = %d, want %d", tc.d, got, tc.size)
		}
		if got := tc.d.IsFloat(); got != tc.isF {
			t.Errorf("%q.IsFloat() = %v, want %v", tc.d, got, tc.isF)
		}
	}
}

// refBF16 rounds to the nearest bfloat16 by comparing both candidates in float64 (ties to even).
func refBF16(f float32) uint16 {
	bits := math.Float32bits(f)
	lo := uint16(bits >> 16)
	hi := lo + 1
	dLo := math.Abs(float64(BF16ToFloat32(lo)) - float64(f))
	dHi := math.Abs(float64(BF16ToFloat32(hi)) - float64(f))
	if lo&0x7fff == 0x7f7f && hi&0x7fff == 0x7f80 { // hi is Inf: compare with 2^128 instead
		dHi = math.Abs(math.Copysign(math.Ldexp(1, 128), float64(f)) - float64(f))
	}
	switch {
	case dLo < dHi:
		return lo
	case dHi < dLo:
		return hi
	case lo%2 == 0:
		return lo
	}
	return hi
}

func TestFloat32ToBF16(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1.0
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above the tie
		{0x3f807fff, 0x3f80}, // below the tie
		{0x80000000, 0x8000}, // -0
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7f7fffff, 0x7f80}, // max float32 rounds to Inf
		{0x00000001, 0x0000}, // smallest subnormal rounds to 0
	} {
		if got := Float32ToBF16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("Float32ToBF16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	for _, nan := range []uint32{0x7fc00000, 0x7f800001, 0xff800001, 0x7fffffff} {
		got := Float32ToBF16(math.Float32frombits(nan))
		if f := BF16ToFloat32(got); !math.IsNaN(float64(f)) || (got>>15) != uint16(nan>>31) {
			t.Errorf("NaN %#08x -> %#04x (%v): want a NaN with the same sign", nan, got, f)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		f := math.Float32frombits(rng.Uint32())
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		if got, want := Float32ToBF16(f), refBF16(f); got != want {
			t.Fatalf("Float32ToBF16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	for b := range 1 << 16 { // every finite bfloat16 converts back exactly
		f := BF16ToFloat32(uint16(b))
		if !math.IsNaN(float64(f)) && Float32ToBF16(f) != uint16(b) {
			t.Fatalf("bf16 %#04x does not round-trip", b)
		}
	}
}

func TestF16RoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		f := F16ToFloat32(uint16(h))
		back := Float32ToF16(f)
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(F16ToFloat32(back))) {
				t.Fatalf("f16 NaN %#04x -> %#04x is not NaN", h, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("f16 %#04x -> %g -> %#04x", h, f, back)
		}
	}
	if got := F16ToFloat32(0x3c00); got != 1 {
		t.Errorf("F16 1.0 = %g", got)
	}
	if got := Float32ToF16(65520); got != 0x7c00 { // rounds to +Inf
		t.Errorf("Float32ToF16(65520) = %#04x, want Inf", got)
	}
}

// eofReaderAt returns io.EOF together with a full read at the end, as io.ReaderAt allows.
type eofReaderAt struct{ *bytes.Reader }

func (r eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.Reader.ReadAt(p, off)
	if err == nil && off+int64(n) == r.Size() {
		err = io.EOF
	}
	return n, err
}

func TestReadFloat32AtInPlace(t *testing.T) {
	// readFloat32At widens narrow dtypes in place; check every small length and both reader
	// behaviours against a straightforward decoder.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dt := range []DType{F32, BF16, F16, F64} {
		for n := 0; n < 70; n++ {
			raw := make([]byte, 16+n*dt.Size())
			for i := range raw {
				raw[i] = byte(rng.Uint32())
			}
			want := make([]float32, n)
			for i := range want {
				p := raw[16+i*dt.Size():]
				switch dt {
				case F32:
					want[i] = math.Float32frombits(binary.LittleEndian.Uint32(p))
				case BF16:
					want[i] = BF16ToFloat32(binary.LittleEndian.Uint16(p))
				case F16:
					want[i] = F16ToFloat32(binary.LittleEndian.Uint16(p))
				case F64:
					want[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(p)))
				}
			}
			got, err := readFloat32At(bytes.NewReader(raw), 16, dt, n)
			if err != nil {
				t.Fatalf("%s n=%d: %v", dt, n, err)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
					t.Fatalf("%s n=%d: element %d = %v, want %v", dt, n, i, got[i], want[i])
				}
			}
		}
	}
	if _, err := readFloat32At(bytes.NewReader(make([]byte, 10)), 0, F32, 3); err == nil {
		t.Error("short read: want an error")
	}
	if _, err := readFloat32At(bytes.NewReader(make([]byte, 10)), 0, I32, 1); err == nil {
		t.Error("I32: want an error")
	}
	if err := readAtFull(eofReaderAt{bytes.NewReader([]byte{1, 2, 3})}, make([]byte, 3), 0); err != nil {
		t.Errorf("full read ending at EOF: %v", err)
	}
	if err := readAtFull(eofReaderAt{bytes.NewReader([]byte{1, 2, 3})}, make([]byte, 4), 0); err != io.ErrUnexpectedEOF {
		t.Errorf("short read: got %v, want io.ErrUnexpectedEOF", err)
	}
}
