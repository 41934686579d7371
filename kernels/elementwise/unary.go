package elementwise

import (
	"math"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/kernels/internal/parallel"
)

// UnaryOp is an element-wise float32 operation of one operand.
type UnaryOp int

// Unary operations. Exp (and Logistic, which uses it) is a float32 polynomial within 2 ulp of
// the correctly rounded result; the others round the float64 math function.
const (
	Neg UnaryOp = iota
	Abs
	Exp
	Log
	Logistic
	Sqrt
	Rsqrt
	Tanh
)

var unaryNames = [...]string{"Neg", "Abs", "Exp", "Log", "Logistic", "Sqrt", "Rsqrt", "Tanh"}

func (op UnaryOp) String() string { return unaryNames[op] }

// UnaryOpByName returns the operation named as GoMLX's backend method (e.g. "Exp").
func UnaryOpByName(name string) (UnaryOp, bool) {
	for i, n := range unaryNames {
		if n == name {
			return UnaryOp(i), true
		}
	}
	return 0, false
}

// Unary sets out[i] = op(x[i]); out may be x.
func Unary(op UnaryOp, out, x []float32) error {
	if op < Neg || op > Tanh {
		return errors.Errorf("elementwise: unknown unary op %d", op)
	}
	if len(out) != len(x) {
		return errors.Errorf("elementwise: output has %d elements, input %d", len(out), len(x))
	}
	parallel.Range(len(x), 1<<15, func(i0, i1 int) { unaryRow(op, out[i0:i1], x[i0:i1]) })
	return nil
}

func unaryRow(op UnaryOp, d, x []float32) {
	x = x[:len(d)]
	switch op {
	case Neg:
		for i, v := range x {
			d[i] = -v
		}
	case Abs:
		for i, v := range x {
			d[i] = math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
		}
	case Exp:
		k := expVec(d, x, 0, 1)
		for i, v := range x[k:] {
			d[k+i] = Expf(v)
		}
	case Log:
		for i, v := range x {
			d[i] = float32(math.Log(float64(v)))
		}
	case Logistic:
		for i, v := range x {
			if v >= 0 {
				d[i] = 1 / (1 + Expf(-v))
			} else {
				e := Expf(v)
				d[i] = e / (1 + e)
			}
		}
	case Sqrt:
		for i, v := range x {
			d[i] = float32(math.Sqrt(float64(v)))
		}
	case Rsqrt:
		for i, v := range x {
			d[i] = float32(1 / math.Sqrt(float64(v)))
		}
	case Tanh:
		for i, v := range x {
			d[i] = float32(math.Tanh(float64(v)))
		}
	}
}

// minNormalExp is ln of the smallest normal float32: below it Expf returns 0 instead of a
// subnormal (arithmetic on subnormals is many times slower, and a softmax's masked entries
// would all become subnormal).
const minNormalExp = -87.33654

// Expf is e^x in float32 (Cephes' expf polynomial; within 2 ulp), flushed to 0 below
// minNormalExp. Other arguments beyond ±87 and NaN go through math.Exp. On AVX-512, Unary
// computes the same polynomial 16 lanes at a time (with fused multiply-adds, so the last bit
// may differ from Expf's).
func Expf(x float32) float32 {
	if !(x > -87 && x < 87) { // also NaN
		if x < minNormalExp {
			return 0
		}
		return float32(math.Exp(float64(x)))
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
		magic = 12582912 // 1.5·2²³: adding it rounds to an integer
	)
	t := x*log2e + magic
	n := t - magic
	r := x - n*c1 - n*c2
	z := r * r
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*z + r + 1
	return p * math.Float32frombits((math.Float32bits(t)-0x4B400000+127)<<23)
}
