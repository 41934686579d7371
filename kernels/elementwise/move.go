package elementwise

import (
	"github.com/pkg/errors"
)

// BroadcastInDim sets out [outDims] from x [xDims] with GoMLX's BroadcastInDim semantics: x's
// axis i becomes the output's axis axes[i] (its dim equal to the output's, or 1 to repeat it);
// the other output axes repeat x.
func BroadcastInDim[T any](out []T, outDims []int, x []T, xDims, axes []int) error {
	if len(axes) != len(xDims) {
		return errors.Errorf("elementwise: BroadcastInDim: %d axes for an operand of rank %d", len(axes), len(xDims))
	}
	if len(out) != size(outDims) || len(x) != size(xDims) {
		return errors.Errorf("elementwise: BroadcastInDim: sizes %d, %d do not match dims %v, %v", len(out), len(x), outDims, xDims)
	}
	xs := rowMajorStrides(xDims)
	st := make([]int, len(outDims))
	for i, a := range axes {
		if a < 0 || a >= len(outDims) || (xDims[i] != outDims[a] && xDims[i] != 1) {
			return errors.Errorf("elementwise: BroadcastInDim: x dims %v cannot go to axes %v of %v", xDims, axes, outDims)
		}
		if xDims[i] == outDims[a] {
			st[a] = xs[i]
		}
	}
	copyStrided(out, outDims, x, st)
	return nil
}

// Transpose sets out to x [dims] with its axes permuted: output axis i is x's axis perm[i].
func Transpose[T any](out, x []T, dims, perm []int) error {
	if len(perm) != len(dims) || len(out) != len(x) || len(x) != size(dims) {
		return errors.Errorf("elementwise: Transpose: dims %v, permutation %v, %d and %d elements", dims, perm, len(x), len(out))
	}
	xs := rowMajorStrides(dims)
	od := make([]int, len(dims))
	st := make([]int, len(dims))
	seen := make([]bool, len(dims))
	for i, a := range perm {
		if a < 0 || a >= len(dims) || seen[a] {
			return errors.Errorf("elementwise: Transpose: %v is not a permutation of %d axes", perm, len(dims))
		}
		seen[a] = true
		od[i], st[i] = dims[a], xs[a]
	}
	copyStrided(out, od, x, st)
	return nil
}

// copyStrided sets out (contiguous [dims]) from x read with the given strides.
func copyStrided[T any](out []T, dims []int, x []T, strides []int) {
	it := newIter(dims, strides)
	if it.short() {
		bi := it.blocked()
		bi.run(func(dst int, bases []int) {
			d := out[dst : dst+bi.n]
			if bi.contig[0] {
				copy(d, x[bases[0]:bases[0]+bi.n])
				return
			}
			for j, off := range bi.tables[0] {
				d[j] = x[bases[0]+off]
			}
		})
		return
	}
	s := it.inStr[0]
	it.run(func(dst int, offs []int, n int) {
		d := out[dst : dst+n]
		src := x[offs[0]:]
		switch s {
		case 1:
			copy(d, src[:n])
		case 0:
			fill(d, src[0])
		default:
			src = src[:(n-1)*s+1]
			for i := range d {
				d[i] = src[i*s]
			}
		}
	})
}

// Where sets out[i] = onTrue[i] where cond[i], else onFalse[i]; each operand has the output's
// dims (or dims of 1 to broadcast) or is a scalar.
func Where[T any](out []T, outDims []int, cond []bool, condDims []int, onTrue []T, tDims []int, onFalse []T, fDims []int) error {
	if len(out) != size(outDims) {
		return errors.Errorf("elementwise: Where: output has %d elements, dims %v", len(out), outDims)
	}
	for _, c := range []struct {
		name string
		dims []int
		n    int
	}{{"cond", condDims, len(cond)}, {"onTrue", tDims, len(onTrue)}, {"onFalse", fDims, len(onFalse)}} {
		if err := checkBroadcast(c.name, c.dims, outDims, c.n); err != nil {
			return err
		}
	}
	it := newIter(outDims, broadcastStrides(condDims, outDims), broadcastStrides(tDims, outDims), broadcastStrides(fDims, outDims))
	if it.short() {
		bi := it.blocked()
		bi.run(func(dst int, bases []int) {
			d := out[dst : dst+bi.n]
			tc, tt, tf := bi.tables[0], bi.tables[1], bi.tables[2]
			for j := range d {
				if cond[bases[0]+tc[j]] {
					d[j] = onTrue[bases[1]+tt[j]]
				} else {
					d[j] = onFalse[bases[2]+tf[j]]
				}
			}
		})
		return nil
	}
	sc, st, sf := it.inStr[0], it.inStr[1], it.inStr[2]
	it.run(func(dst int, offs []int, n int) {
		d := out[dst : dst+n]
		c, t, f := cond[offs[0]:], onTrue[offs[1]:], onFalse[offs[2]:]
		for i := range d {
			if c[i*sc] {
				d[i] = t[i*st]
			} else {
				d[i] = f[i*sf]
			}
		}
	})
	return nil
}

// fill sets every element of d to v: one element, then doubling copies (memmove speed).
func fill[T any](d []T, v T) {
	if len(d) == 0 {
		return
	}
	d[0] = v
	for n := 1; n < len(d); n *= 2 {
		copy(d[n:], d[:n])
	}
}
