package elementwise

import (
	"sync"

	"github.com/pkg/errors"
)

// BinaryOp is an element-wise float32 operation of two operands.
type BinaryOp int

// Binary operations, with GoMLX's (simplego's) semantics: Max and Min propagate NaN.
const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
	Max
	Min
)

var binaryNames = [...]string{"Add", "Sub", "Mul", "Div", "Max", "Min"}

func (op BinaryOp) String() string { return binaryNames[op] }

// BinaryOpByName returns the operation named as GoMLX's backend method (e.g. "Add").
func BinaryOpByName(name string) (BinaryOp, bool) {
	for i, n := range binaryNames {
		if n == name {
			return BinaryOp(i), true
		}
	}
	return 0, false
}

func (op BinaryOp) apply(x, y float32) float32 {
	switch op {
	case Add:
		return x + y
	case Sub:
		return x - y
	case Mul:
		return x * y
	case Div:
		return x / y
	case Max:
		return max(x, y)
	default:
		return min(x, y)
	}
}

// checkBroadcast validates an operand's dims against the output's: same rank with each dim
// equal or 1, or a scalar.
func checkBroadcast(name string, dims, outDims []int, n int) error {
	if n != size(dims) {
		return errors.Errorf("elementwise: %s has %d elements, its dims %v need %d", name, n, dims, size(dims))
	}
	if len(dims) == 0 {
		return nil
	}
	if len(dims) != len(outDims) {
		return errors.Errorf("elementwise: %s dims %v: rank differs from the output's %v", name, dims, outDims)
	}
	for a, d := range dims {
		if d != outDims[a] && d != 1 {
			return errors.Errorf("elementwise: %s dims %v do not broadcast to %v", name, dims, outDims)
		}
	}
	return nil
}

// Binary sets out = op(x, y), out contiguous [outDims]; x and y have the output's rank with each
// dim equal to the output's or 1 (broadcast), or are scalars. out may be x or y itself when
// that operand has the output's dims.
func Binary(op BinaryOp, out []float32, outDims []int, x []float32, xDims []int, y []float32, yDims []int) error {
	if op < Add || op > Min {
		return errors.Errorf("elementwise: unknown binary op %d", op)
	}
	if len(out) != size(outDims) {
		return errors.Errorf("elementwise: output has %d elements, dims %v need %d", len(out), outDims, size(outDims))
	}
	if err := checkBroadcast("x", xDims, outDims, len(x)); err != nil {
		return err
	}
	if err := checkBroadcast("y", yDims, outDims, len(y)); err != nil {
		return err
	}
	it := newIter(outDims, broadcastStrides(xDims, outDims), broadcastStrides(yDims, outDims))
	if it.short() {
		bi := it.blocked()
		scratch := sync.Pool{New: func() any { s := make([]float32, 2*bi.n); return &s }}
		bi.run(func(dst int, bases []int) {
			sp := scratch.Get().(*[]float32)
			xs := take(&bi, 0, x, bases[0], (*sp)[:bi.n])
			ys := take(&bi, 1, y, bases[1], (*sp)[bi.n:])
			binaryRow(op, out[dst:dst+bi.n], xs, 1, ys, 1)
			scratch.Put(sp)
		})
		return nil
	}
	sx, sy := it.inStr[0], it.inStr[1]
	it.run(func(dst int, offs []int, n int) {
		binaryRow(op, out[dst:dst+n], x[offs[0]:], sx, y[offs[1]:], sy)
	})
	return nil
}

// binaryRow computes one run; x and y advance by sx, sy ∈ {0, 1}.
func binaryRow(op BinaryOp, d, x []float32, sx int, y []float32, sy int) {
	if sx|sy != 0 {
		if k := binVec(op, d, x, sx, y, sy); k > 0 {
			d = d[k:]
			if sx == 1 {
				x = x[k:]
			}
			if sy == 1 {
				y = y[k:]
			}
		}
	}
	n := len(d)
	switch {
	case sx == 1 && sy == 1:
		x, y = x[:n], y[:n]
		switch op {
		case Add:
			for i := range d {
				d[i] = x[i] + y[i]
			}
		case Sub:
			for i := range d {
				d[i] = x[i] - y[i]
			}
		case Mul:
			for i := range d {
				d[i] = x[i] * y[i]
			}
		case Div:
			for i := range d {
				d[i] = x[i] / y[i]
			}
		case Max:
			for i := range d {
				d[i] = max(x[i], y[i])
			}
		case Min:
			for i := range d {
				d[i] = min(x[i], y[i])
			}
		}
	case sx == 1:
		x = x[:n]
		v := y[0]
		switch op {
		case Add:
			for i := range d {
				d[i] = x[i] + v
			}
		case Sub:
			for i := range d {
				d[i] = x[i] - v
			}
		case Mul:
			for i := range d {
				d[i] = x[i] * v
			}
		case Div:
			for i := range d {
				d[i] = x[i] / v
			}
		case Max:
			for i := range d {
				d[i] = max(x[i], v)
			}
		case Min:
			for i := range d {
				d[i] = min(x[i], v)
			}
		}
	case sy == 1:
		y = y[:n]
		v := x[0]
		switch op {
		case Add:
			for i := range d {
				d[i] = v + y[i]
			}
		case Sub:
			for i := range d {
				d[i] = v - y[i]
			}
		case Mul:
			for i := range d {
				d[i] = v * y[i]
			}
		case Div:
			for i := range d {
				d[i] = v / y[i]
			}
		case Max:
			for i := range d {
				d[i] = max(v, y[i])
			}
		case Min:
			for i := range d {
				d[i] = min(v, y[i])
			}
		}
	default:
		fill(d, op.apply(x[0], y[0]))
	}
}
