package elementwise

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goswift/goswift/kernels/internal/parallel"
)

func randVec(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * 3)
	}
	return s
}

func ulpClose(got, want float32, ulps float64) bool {
	if math.IsNaN(float64(want)) {
		return math.IsNaN(float64(got))
	}
	if got == want {
		return true
	}
	d := math.Abs(float64(got) - float64(want))
	return d <= ulps*math.Abs(float64(want))*float64(math.Pow(2, -23))+1e-37
}

// broadcastCases: output dims and, for each, operand dims (nil = scalar).
var broadcastCases = []struct{ out, x, y []int }{
	{[]int{7}, []int{7}, []int{7}},
	{[]int{3, 5}, []int{3, 5}, nil},
	{[]int{3, 5}, nil, []int{3, 5}},
	{[]int{4, 1000}, []int{4, 1000}, []int{4, 1}},
	{[]int{4, 1000}, []int{1, 1000}, []int{4, 1000}},
	{[]int{2, 3, 4, 5}, []int{2, 1, 4, 1}, []int{1, 3, 1, 5}},
	{[]int{8, 6, 1, 33, 40}, []int{8, 6, 1, 33, 40}, []int{8, 1, 1, 33, 40}},
	{[]int{8, 6, 1, 33, 40}, []int{8, 6, 1, 33, 40}, []int{8, 6, 1, 33, 1}},
	{[]int{8, 256, 6, 24, 2}, []int{8, 256, 6, 24, 2}, []int{8, 256, 1, 24, 1}},
	{[]int{3, 70000}, []int{3, 70000}, []int{3, 1}},
	{[]int{1, 1}, nil, nil},
	{[]int{0, 4}, []int{0, 4}, []int{1, 4}},
	{[]int{}, nil, nil},
}

func TestBinary(t *testing.T) {
	for _, w := range []int{1, 3} {
		parallel.SetWorkers(w)
		for ci, c := range broadcastCases {
			for op := Add; op <= Min; op++ {
				t.Run(fmt.Sprintf("w%d/%v/%v_%v_%v", w, op, c.out, c.x, c.y), func(t *testing.T) {
					x, y := randVec(uint64(ci), size(c.x)), randVec(uint64(ci+50), size(c.y))
					if op == Div {
						for i := range y {
							y[i] += 10
						}
					}
					want := ReferenceBinary(op, c.out, x, c.x, y, c.y)
					got := make([]float32, size(c.out))
					if err := Binary(op, got, c.out, x, c.x, y, c.y); err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("differs from the reference")
					}
				})
			}
		}
	}
	parallel.SetWorkers(0)
	// In place, and errors.
	x := randVec(1, 12)
	want := ReferenceBinary(Mul, []int{3, 4}, x, []int{3, 4}, []float32{2}, nil)
	if err := Binary(Mul, x, []int{3, 4}, x, []int{3, 4}, []float32{2}, nil); err != nil || !slices.Equal(x, want) {
		t.Errorf("in place: %v", err)
	}
	if Binary(Add, make([]float32, 12), []int{3, 4}, x, []int{4, 3}, x, []int{3, 4}) == nil {
		t.Error("mismatched dims: no error")
	}
	if Binary(Add, make([]float32, 11), []int{3, 4}, x, []int{3, 4}, x, []int{3, 4}) == nil {
		t.Error("short output: no error")
	}
}

func TestUnary(t *testing.T) {
	x := randVec(7, 100_003)
	x = append(x, 0, -0, 1, -1, 87.5, -87.5, 88.7, -103, -200, 200, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	for op := Neg; op <= Tanh; op++ {
		t.Run(op.String(), func(t *testing.T) {
			in := slices.Clone(x)
			if op == Log || op == Sqrt || op == Rsqrt {
				for i := range in {
					in[i] = float32(math.Abs(float64(in[i])))
				}
			}
			want := ReferenceUnary(op, in)
			got := make([]float32, len(in))
			if err := Unary(op, got, in); err != nil {
				t.Fatal(err)
			}
			ulps := 0.5
			if op == Exp || op == Logistic {
				ulps = 2
			}
			for i := range want {
				if !ulpClose(got[i], want[i], ulps) {
					t.Fatalf("%s(%g) = %g, want %g", op, in[i], got[i], want[i])
				}
			}
		})
	}
}

func TestReduce(t *testing.T) {
	cases := []struct {
		dims, axes []int
	}{
		{[]int{5, 7}, []int{1}}, {[]int{5, 7}, []int{0}}, {[]int{5, 7}, []int{0, 1}},
		{[]int{2048, 1000}, []int{1}}, {[]int{8, 256, 288}, []int{0, 1}}, {[]int{4, 6, 5}, []int{1}},
		{[]int{3, 1, 4, 1, 5}, []int{2}}, {[]int{8, 6, 1, 256, 33}, []int{4}}, {[]int{2, 3, 4, 5}, []int{1, 2}},
		{[]int{9}, []int{0}}, {[]int{1, 3}, []int{0}}, {[]int{6, 0}, []int{1}},
	}
	for _, w := range []int{1, 3} {
		parallel.SetWorkers(w)
		for ci, c := range cases {
			for op := ReduceSum; op <= ReduceMin; op++ {
				t.Run(fmt.Sprintf("w%d/%d/%v_%v", w, op, c.dims, c.axes), func(t *testing.T) {
					x := randVec(uint64(ci), size(c.dims))
					s, ok := PlanReduce(c.dims, c.axes)
					if !ok {
						t.Fatalf("PlanReduce refused %v %v", c.dims, c.axes)
					}
					want := ReferenceReduce(op, x, c.dims, c.axes)
					got := make([]float32, len(want))
					if err := Reduce(op, got, x, s); err != nil {
						t.Fatal(err)
					}
					for i := range want {
						tol := 0.0
						if op == ReduceSum {
							tol = 1e-6 * float64(s.Reduced) * 3
						}
						if math.Abs(float64(got[i]-want[i])) > tol {
							t.Fatalf("element %d: got %g, want %g", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
	parallel.SetWorkers(0)
	if _, ok := PlanReduce([]int{3, 4, 5}, []int{0, 2}); ok {
		t.Error("PlanReduce accepted non-adjacent reduced axes")
	}
	if _, ok := PlanReduce([]int{3, 1, 5}, []int{0, 2}); !ok {
		t.Error("PlanReduce refused reduced axes separated by a size-1 axis")
	}
	// An all −Inf row reduces to −Inf, as simplego's (dtypes.Float32.LowestValue()).
	inf := float32(math.Inf(-1))
	out := []float32{0}
	_ = Reduce(ReduceMax, out, []float32{inf, inf}, ReduceShape{1, 2, 1})
	if out[0] != inf {
		t.Errorf("max of −Inf row = %g", out[0])
	}
}

func TestMove(t *testing.T) {
	for ci, c := range []struct{ dims, perm []int }{
		{[]int{3, 4}, []int{1, 0}}, {[]int{8, 6, 1, 25, 48}, []int{0, 3, 1, 2, 4}}, {[]int{2, 3, 4, 5}, []int{3, 2, 1, 0}},
		{[]int{300, 500}, []int{1, 0}}, {[]int{5}, []int{0}}, {[]int{2, 1, 3}, []int{1, 2, 0}},
	} {
		x := randVec(uint64(ci), size(c.dims))
		got := make([]float32, len(x))
		if err := Transpose(got, x, c.dims, c.perm); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ReferenceTranspose(x, c.dims, c.perm)) {
			t.Errorf("Transpose %v %v differs from the reference", c.dims, c.perm)
		}
	}
	for ci, c := range []struct{ out, x, axes []int }{
		{[]int{4, 5}, []int{}, []int{}}, {[]int{4, 5}, []int{5}, []int{1}}, {[]int{4, 5}, []int{4}, []int{0}},
		{[]int{8, 256, 288}, []int{8, 256, 1}, []int{0, 1, 2}}, {[]int{8, 6, 3, 7}, []int{8, 1, 7}, []int{0, 2, 3}},
		{[]int{2048, 3000}, []int{}, []int{}},
	} {
		x := randVec(uint64(ci), size(c.x))
		got := make([]float32, size(c.out))
		if err := BroadcastInDim(got, c.out, x, c.x, c.axes); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ReferenceBroadcastInDim(c.out, x, c.x, c.axes)) {
			t.Errorf("BroadcastInDim %v %v %v differs from the reference", c.out, c.x, c.axes)
		}
	}
	if BroadcastInDim(make([]float32, 20), []int{4, 5}, make([]float32, 3), []int{3}, []int{1}) == nil {
		t.Error("BroadcastInDim with a bad dim: no error")
	}
	if Transpose(make([]float32, 6), make([]float32, 6), []int{2, 3}, []int{0, 0}) == nil {
		t.Error("Transpose with a bad permutation: no error")
	}
}

func TestWhere(t *testing.T) {
	dims := []int{6, 7}
	r := rand.New(rand.NewPCG(1, 2))
	cond := make([]bool, 42)
	for i := range cond {
		cond[i] = r.IntN(2) == 0
	}
	a, b := randVec(1, 42), randVec(2, 7)
	got := make([]float32, 42)
	if err := Where(got, dims, cond, dims, a, dims, b, []int{1, 7}); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		want := b[i%7]
		if cond[i] {
			want = a[i]
		}
		if got[i] != want {
			t.Fatalf("element %d: got %g, want %g", i, got[i], want)
		}
	}
	if err := Where(got, dims, []bool{true}, nil, []float32{1}, nil, b, []int{1, 7}); err != nil || got[41] != 1 {
		t.Errorf("scalar condition: %v, %g", err, got[41])
	}
}
