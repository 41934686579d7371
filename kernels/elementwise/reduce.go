package elementwise

import (
	"math"
	"slices"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/kernels/internal/parallel"
)

// ReduceOp is a float32 reduction.
type ReduceOp int

// Reductions, with simplego's semantics: Max starts from dtypes.Float32.LowestValue() (−Inf, so an
// all −Inf row or an empty one gives −Inf), Min from +Inf, and both propagate NaN.
const (
	ReduceSum ReduceOp = iota
	ReduceMax
	ReduceMin
)

func (op ReduceOp) init() float32 {
	switch op {
	case ReduceMax:
		return float32(math.Inf(-1))
	case ReduceMin:
		return float32(math.Inf(1))
	}
	return 0
}

// ReduceShape describes a reduction the kernel takes: the input collapsed to
// [Outer, Reduced, Inner] (each possibly 1).
type ReduceShape struct{ Outer, Reduced, Inner int }

// PlanReduce collapses dims with the given reduced axes to [outer, reduced, inner]. ok is
// false when the reduced axes do not form one block after dropping size-1 axes (e.g. axes 0
// and 2 of a rank-3 tensor), which Reduce does not handle.
func PlanReduce(dims, axes []int) (ReduceShape, bool) {
	s := ReduceShape{Outer: 1, Reduced: 1, Inner: 1}
	state := 0 // 0: outer, 1: reduced, 2: inner
	for a, d := range dims {
		if d == 1 {
			continue
		}
		red := slices.Contains(axes, a)
		switch {
		case red && state == 0:
			state = 1
		case !red && state == 1:
			state = 2
		case red && state == 2:
			return s, false
		}
		switch state {
		case 0:
			s.Outer *= d
		case 1:
			s.Reduced *= d
		default:
			s.Inner *= d
		}
	}
	return s, true
}

// Reduce reduces x over the reduced block of s: out [Outer, Inner] =
// op over r of x[Outer, r, Inner]. Each output element is reduced in one fixed order that does
// not depend on the number of workers.
func Reduce(op ReduceOp, out, x []float32, s ReduceShape) error {
	if op < ReduceSum || op > ReduceMin {
		return errors.Errorf("elementwise: unknown reduction %d", op)
	}
	if len(x) != s.Outer*s.Reduced*s.Inner || len(out) != s.Outer*s.Inner {
		return errors.Errorf("elementwise: reduce %+v: input has %d elements, output %d", s, len(x), len(out))
	}
	if len(out) == 0 {
		return nil // a zero-sized output (an empty reduced block still writes op's identity below)
	}
	if s.Inner == 1 {
		parallel.Range(s.Outer, max(1, (1<<15)/max(1, s.Reduced)), func(o0, o1 int) {
			for o := o0; o < o1; o++ {
				out[o] = reduceRow(op, x[o*s.Reduced:(o+1)*s.Reduced])
			}
		})
		return nil
	}
	if s.Inner < shortRow {
		// Short columns (e.g. pairs): whole outer blocks per task, plain loops.
		per := s.Reduced * s.Inner
		parallel.Range(s.Outer, max(1, (1<<15)/max(1, per)), func(o0, o1 int) {
			for o := o0; o < o1; o++ {
				acc := out[o*s.Inner : (o+1)*s.Inner]
				for i := range acc {
					acc[i] = op.init()
				}
				blk := x[o*per : (o+1)*per]
				for r := range s.Reduced {
					row := blk[r*s.Inner : (r+1)*s.Inner]
					for i, v := range row {
						switch op {
						case ReduceSum:
							acc[i] += v
						case ReduceMax:
							acc[i] = max(acc[i], v)
						default:
							acc[i] = min(acc[i], v)
						}
					}
				}
			}
		})
		return nil
	}
	// Columns: each task owns a slice of one outer block's inner elements.
	chunk := min(s.Inner, 1<<12)
	perOuter := (s.Inner + chunk - 1) / chunk
	parallel.For(s.Outer*perOuter, 1, func(t int) {
		o, c0 := t/perOuter, (t%perOuter)*chunk
		c1 := min(s.Inner, c0+chunk)
		acc := out[o*s.Inner+c0 : o*s.Inner+c1]
		for i := range acc {
			acc[i] = op.init()
		}
		for r := range s.Reduced {
			row := x[(o*s.Reduced+r)*s.Inner+c0:][:len(acc)]
			switch op {
			case ReduceSum:
				for i, v := range row {
					acc[i] += v
				}
			case ReduceMax:
				for i, v := range row {
					acc[i] = max(acc[i], v)
				}
			default:
				for i, v := range row {
					acc[i] = min(acc[i], v)
				}
			}
		}
	})
	return nil
}

// reduceRow reduces a contiguous row: on AVX-512 the leading multiple of 64 elements in
// vector partial sums (and maxima), the rest in 8 interleaved partial sums combined pairwise.
func reduceRow(op ReduceOp, x []float32) float32 {
	switch op {
	case ReduceSum:
		var s [8]float32
		var i int
		s[0], i = sumVec(x)
		for ; i+8 <= len(x); i += 8 {
			v := x[i : i+8 : i+8]
			s[0] += v[0]
			s[1] += v[1]
			s[2] += v[2]
			s[3] += v[3]
			s[4] += v[4]
			s[5] += v[5]
			s[6] += v[6]
			s[7] += v[7]
		}
		for j := 0; i < len(x); i, j = i+1, j+1 {
			s[j] += x[i]
		}
		return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
	case ReduceMax:
		m := op.init()
		vm, k := maxVec(x)
		if k > 0 {
			m = max(m, vm)
		}
		for _, v := range x[k:] {
			m = max(m, v)
		}
		return m
	default:
		m := op.init()
		for _, v := range x {
			m = min(m, v)
		}
		return m
	}
}
