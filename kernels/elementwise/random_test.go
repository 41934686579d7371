package elementwise

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goswift/goswift/kernels/internal/parallel"
)

// The random-shape equivalence tests: seeded draws of shapes (ranks 0–5, 1s, long and short
// innermost runs) checked against the Reference* definitions. A failure names the case,
// the op, the dims and the worker count, so it is reproducible from the seed alone.

// randShape draws a shape of rank 1…5 (rank 0 one time in 20): each dim 1 (25%) or 2…40;
// sometimes a long innermost axis (to reach the 16-lane vector loops and their tails). Dims
// are halved, largest first, until there are at most maxElems elements. No 0 dims: zero-sized
// tensors are TestZeroSize's.
func randShape(r *rand.Rand, maxElems int) []int {
	rank := 1 + r.IntN(5)
	if r.IntN(20) == 0 {
		rank = 0
	}
	dims := make([]int, rank)
	for a := range dims {
		dims[a] = 1
		if r.IntN(4) != 0 {
			dims[a] = 2 + r.IntN(39)
		}
	}
	if rank > 0 && r.IntN(4) == 0 {
		dims[rank-1] = 17 + r.IntN(3000)
	}
	for size(dims) > maxElems {
		a := 0
		for b, d := range dims {
			if d > dims[a] {
				a = b
			}
		}
		dims[a] = (dims[a] + 1) / 2
	}
	return dims
}

// randBroadcast draws an operand's dims broadcasting to out: a scalar (15%), else each dim
// out's or 1.
func randBroadcast(r *rand.Rand, out []int) []int {
	if r.IntN(7) == 0 {
		return nil
	}
	dims := make([]int, len(out))
	for a, d := range out {
		dims[a] = d
		if r.IntN(3) == 0 {
			dims[a] = 1
		}
	}
	return dims
}

// randSpecial is randVec with a few NaN, ±Inf and ±0 mixed in (NaN propagation of Max/Min).
func randSpecial(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	for i := range s {
		s[i] = float32(r.NormFloat64() * 3)
		if r.IntN(200) == 0 {
			s[i] = specials[r.IntN(len(specials))]
		}
	}
	return s
}

// sameBits: equal bit patterns, any NaN equal to any NaN.
func sameBits(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// TestBinaryRandom: every binary op on 60 seeded random broadcast shapes, with a random worker
// count and sometimes in place, bit-identical to ReferenceBinary (NaN, ±Inf and ±0 included).

func TestBinaryRandom(t *testing.T) {
	defer parallel.SetWorkers(0)
	r := rand.New(rand.NewPCG(20261201, 3))
	for c := range 60 {
		out := randShape(r, 200_000)
		xd, yd := randBroadcast(r, out), randBroadcast(r, out)
		workers := 1 + r.IntN(3)
		inPlace := len(xd) == len(out) && size(xd) == size(out) && r.IntN(3) == 0
		x, y := randSpecial(r, size(xd)), randSpecial(r, size(yd))
		t.Run(fmt.Sprintf("%02d/%v_%v_%v", c, out, xd, yd), func(t *testing.T) {
			parallel.SetWorkers(workers)
			for op := Add; op <= Min; op++ {
				want := ReferenceBinary(op, out, x, xd, y, yd)
				got := make([]float32, size(out))
				xs := x
				if inPlace {
					xs = append([]float32(nil), x...)
					got = xs
				}
				if err := Binary(op, got, out, xs, xd, y, yd); err != nil {
					t.Fatalf("%v: %v", op, err)
				}
				for i := range want {
					if !sameBits(got[i], want[i]) {
						t.Fatalf("%v (%d workers, in place %v): element %d: got %g, want %g", op, workers, inPlace, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// TestZeroSize: zero-sized tensors are valid input (GoMLX allows 0 dims): every kernel
// returns without error and writes nothing.
func TestZeroSize(t *testing.T) {
	for _, c := range []struct{ out, x, y []int }{
		{[]int{0}, []int{0}, []int{0}},
		{[]int{2, 0}, []int{2, 0}, []int{2, 0}},
		{[]int{2, 0}, []int{2, 1}, []int{2, 0}},
		{[]int{3, 0}, nil, []int{3, 0}},
		{[]int{0, 3}, []int{1, 3}, []int{0, 3}},
		{[]int{3, 0, 2}, []int{3, 1, 2}, []int{3, 0, 2}},
		{[]int{7, 17, 0}, []int{7, 17, 1}, []int{7, 17, 0}},
	} {
		x, y := randVec(1, size(c.x)), randVec(2, size(c.y))
		if err := Binary(Add, nil, c.out, x, c.x, y, c.y); err != nil {
			t.Errorf("Binary %v = %v + %v: %v", c.out, c.x, c.y, err)
		}
		perm := make([]int, len(c.out))
		for a := range perm {
			perm[a] = len(perm) - 1 - a
		}
		if err := Transpose(nil, []float32{}, c.out, perm); err != nil {
			t.Errorf("Transpose %v %v: %v", c.out, perm, err)
		}
		for a := range c.out {
			s, ok := PlanReduce(c.out, []int{a})
			if !ok {
				continue
			}
			if err := Reduce(ReduceSum, make([]float32, s.Outer*s.Inner), nil, s); err != nil {
				t.Errorf("Reduce %v over axis %d: %v", c.out, a, err)
			}
		}
	}
}

// TestReduceEmpty: reducing an empty block writes the reduction's identity, as XLA does.
func TestReduceEmpty(t *testing.T) {
	for _, dims := range [][]int{{3, 0}, {3, 0, 1}, {2, 0, 40}} {
		s, ok := PlanReduce(dims, []int{1})
		if !ok {
			t.Fatalf("PlanReduce(%v, [1]) refused", dims)
		}
		for _, c := range []struct {
			op   ReduceOp
			want float32
		}{{ReduceSum, 0}, {ReduceMax, float32(math.Inf(-1))}, {ReduceMin, float32(math.Inf(1))}} {
			out := randVec(3, s.Outer*s.Inner)
			if err := Reduce(c.op, out, nil, s); err != nil {
				t.Fatalf("Reduce %v over an empty axis: %v", dims, err)
			}
			for i, v := range out {
				if v != c.want {
					t.Fatalf("Reduce op %d of %v over an empty axis: out[%d] = %g, want %g", c.op, dims, i, v, c.want)
				}
			}
		}
	}
}

// TestTransposeRandom: Transpose with random shapes and permutations equals ReferenceTranspose.
func TestTransposeRandom(t *testing.T) {
	defer parallel.SetWorkers(0)
	r := rand.New(rand.NewPCG(20261201, 4))
	for c := range 40 {
		dims := randShape(r, 100_000)
		perm := r.Perm(len(dims))
		parallel.SetWorkers(1 + r.IntN(3))
		x := randSpecial(r, size(dims))
		got := make([]float32, len(x))
		if err := Transpose(got, x, dims, perm); err != nil {
			t.Fatalf("case %d: Transpose %v %v: %v", c, dims, perm, err)
		}
		want := ReferenceTranspose(x, dims, perm)
		for i := range want {
			if !sameBits(got[i], want[i]) {
				t.Fatalf("case %d: Transpose %v %v: element %d: got %g, want %g", c, dims, perm, i, got[i], want[i])
			}
		}
	}
}

// TestReduceRandom: Reduce over a random block of adjacent axes of random shapes against
// ReferenceReduce: Max and Min exactly, Sum within 3e-6·(reduced length)·max|x| (float32
// accumulation against float64).
func TestReduceRandom(t *testing.T) {
	defer parallel.SetWorkers(0)
	r := rand.New(rand.NewPCG(20261201, 5))
	for c := range 40 {
		dims := randShape(r, 100_000)
		if len(dims) == 0 {
			dims = []int{1 + r.IntN(50)}
		}
		lo := r.IntN(len(dims))
		hi := lo + 1 + r.IntN(len(dims)-lo)
		var axes []int
		for a := lo; a < hi; a++ {
			axes = append(axes, a)
		}
		s, ok := PlanReduce(dims, axes)
		if !ok {
			t.Fatalf("case %d: PlanReduce refused adjacent axes %v of %v", c, axes, dims)
		}
		workers := 1 + r.IntN(3)
		parallel.SetWorkers(workers)
		x := randVec(uint64(c), size(dims))
		var amax float64
		for _, v := range x {
			amax = max(amax, math.Abs(float64(v)))
		}
		for op := ReduceSum; op <= ReduceMin; op++ {
			want := ReferenceReduce(op, x, dims, axes)
			got := make([]float32, len(want))
			if err := Reduce(op, got, x, s); err != nil {
				t.Fatalf("case %d: reduce %d of %v over %v: %v", c, op, dims, axes, err)
			}
			tol := 0.0
			if op == ReduceSum {
				tol = 3e-6 * float64(s.Reduced) * amax
			}
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > tol || (tol == 0 && !sameBits(got[i], want[i])) {
					t.Fatalf("case %d: reduce %d of %v over %v (%d workers): element %d: got %g, want %g",
						c, op, dims, axes, workers, i, got[i], want[i])
				}
			}
		}
	}
}
