//go:build amd64 && !purego

package elementwise

import (
	"math"

	"golang.org/x/sys/cpu"
)

//go:noescape
func expAVX512(dst, src *float32, n int, shift, scale float32)

//go:noescape
func binAVX512(op, mode int, d, x, y *float32, n int)

// binVec computes the leading multiple of 16 elements of a binary row (Add, Sub, Mul, Div;
// sx, sy ∈ {0, 1}, not both 0) and returns how many that is.
func binVec(op BinaryOp, d, x []float32, sx int, y []float32, sy int) int {
	n := len(d) &^ 15
	if !hasAVX512 || n == 0 || op > Div {
		return 0
	}
	mode := 0
	switch {
	case sy == 0:
		mode = 1
	case sx == 0:
		mode = 2
	}
	binAVX512(int(op), mode, &d[0], &x[0], &y[0], n)
	return n
}

//go:noescape
func sumAVX512(x *float32, n int) float32

//go:noescape
func maxAVX512(x *float32, n int) (m float32, nan bool)

var hasAVX512 = cpu.X86.HasAVX512F

// expVec sets d[i] = e^(x[i] − shift)·scale for the leading multiple of 16 elements it
// handles and returns how many that is (0 without AVX-512).
func expVec(d, x []float32, shift, scale float32) int {
	n := len(d) &^ 15
	if !hasAVX512 || n == 0 {
		return 0
	}
	expAVX512(&d[0], &x[0], n, shift, scale)
	return n
}

// sumVec returns the sum of the leading multiple of 64 elements of x and how many those are.
func sumVec(x []float32) (float32, int) {
	n := len(x) &^ 63
	if !hasAVX512 || n == 0 {
		return 0, 0
	}
	return sumAVX512(&x[0], n), n
}

// maxVec returns the maximum (NaN if any) of the leading multiple of 64 elements of x, and how
// many those are.
func maxVec(x []float32) (float32, int) {
	n := len(x) &^ 63
	if !hasAVX512 || n == 0 {
		return 0, 0
	}
	m, nan := maxAVX512(&x[0], n)
	if nan {
		return float32(math.NaN()), n
	}
	return m, n
}
