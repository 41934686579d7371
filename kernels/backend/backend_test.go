package backend

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestDotGeneral compares every axis arrangement of DotGeneral with simplego's.
func TestDotGeneral(t *testing.T) {
	fast, _, ref := testBackends(t)
	type tc struct {
		name           string
		lhs, rhs       []int
		lc, lb, rc, rb []int
	}
	cases := []tc{
		{"matmul", []int{13, 17}, []int{17, 9}, []int{1}, nil, []int{0}, nil},
		{"x·Wᵀ", []int{2, 5, 33}, []int{40, 33}, []int{-1}, nil, []int{1}, nil},
		{"Aᵀ·B", []int{33, 7}, []int{33, 12}, []int{0}, nil, []int{0}, nil},
		{"Aᵀ·Bᵀ", []int{20, 7}, []int{9, 20}, []int{0}, nil, []int{1}, nil},
		{"matvec", []int{1, 64}, []int{300, 64}, []int{1}, nil, []int{1}, nil},
		{"vec·vec", []int{70}, []int{70}, []int{0}, nil, []int{0}, nil},
		{"batched", []int{3, 10, 20}, []int{3, 20, 6}, []int{2}, []int{0}, []int{1}, []int{0}},
		{"batch axis last", []int{10, 20, 3}, []int{6, 3, 20}, []int{1}, []int{2}, []int{2}, []int{1}},
		{"attention scores", []int{2, 8, 3, 2, 5}, []int{2, 9, 3, 5}, []int{4}, []int{0, 2}, []int{3}, []int{0, 2}},
		{"attention values", []int{2, 3, 2, 8, 9}, []int{2, 9, 3, 5}, []int{4}, []int{0, 1}, []int{1}, []int{0, 2}},
		{"two contracting", []int{4, 6, 7}, []int{7, 6, 5}, []int{1, 2}, nil, []int{1, 0}, nil},
		{"two contracting reversed", []int{4, 6, 7}, []int{6, 7, 5}, []int{2, 1}, nil, []int{1, 0}, nil},
		{"outer product", []int{5, 3}, []int{4}, nil, nil, nil, nil},
		{"size-1 axes", []int{1, 9, 1, 8}, []int{8, 1, 4}, []int{3, 2}, nil, []int{0, 1}, nil},
		{"grad wrt W (dyᵀ·x)", []int{2, 6, 40}, []int{2, 6, 33}, []int{0, 1}, nil, []int{0, 1}, nil},
	}
	for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.BFloat16} {
		for i, c := range cases {
			t.Run(fmt.Sprintf("%s/%s", dtype, c.name), func(t *testing.T) {
				lhs := randTensor(uint64(i), shapes.Make(dtype, c.lhs...))
				rhs := randTensor(uint64(i+100), shapes.Make(dtype, c.rhs...))
				fn := func(l, r *Node) *Node { return DotGeneral(l, c.lc, c.lb, r, c.rc, c.rb) }
				want := execOn(t, ref, fn, lhs, rhs)
				got := execOn(t, fast, fn, lhs, rhs)
				if dtype == dtypes.BFloat16 {
					// Truncated to bfloat16 after float32 sums in different orders.
					assertClose(t, c.name, got, want, 0.05, 0.02)
				} else {
					assertClose(t, c.name, got, want, 1e-5, 1e-5)
				}
			})
		}
	}
}

// TestGraphs checks the cutting of graphs around kernels: kernels feeding ops and kernels,
// parameters and constants as outputs and kernel inputs, repeated outputs, multi-output ops,
// unused parameters, and graphs with no kernel at all.
func TestGraphs(t *testing.T) {
	fast, dflt, ref := testBackends(t)
	f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	type tc struct {
		name   string
		inputs []shapes.Shape
		fn     any
	}
	cases := []tc{
		{"mlp", []shapes.Shape{f32(8, 16), f32(16, 32), f32(32, 4)}, func(x, w1, w2 *Node) *Node {
			return MatMul(Tanh(MatMul(x, w1)), w2)
		}},
		{"chain of kernels", []shapes.Shape{f32(6, 6)}, func(x *Node) *Node {
			return MatMul(MatMul(MatMul(x, x), x), Transpose(x, 0, 1))
		}},
		{"param and kernel outputs", []shapes.Shape{f32(5, 7), f32(7, 3)}, func(x, w *Node) []*Node {
			y := MatMul(x, w)
			return []*Node{y, x, Neg(y), y}
		}},
		{"constant into kernel", []shapes.Shape{f32(4, 9)}, func(x *Node) *Node {
			c := Const(x.Graph(), [][]float32{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}, {13, 14}, {15, 16}, {17, 18}})
			return MatMul(x, c)
		}},
		{"unused parameter", []shapes.Shape{f32(4, 4), f32(3)}, func(x, _ *Node) *Node { return MatMul(x, x) }},
		{"no kernel", []shapes.Shape{f32(3, 4)}, func(x *Node) *Node { return ReduceSum(Exp(x), -1) }},
		{"ops between and after", []shapes.Shape{f32(2, 10, 12), f32(12, 12)}, func(x, w *Node) []*Node {
			h := Einsum("bsi,oi->bso", x, w)
			s := Softmax(Einsum("bsi,bti->bst", h, x), -1)
			return []*Node{ReduceAllSum(s), Einsum("bst,bti->bsi", s, h), ArgMax(h, -1)}
		}},
		{"multi-output op", []shapes.Shape{f32(8, 8)}, func(x *Node) []*Node {
			rng := Const(x.Graph(), []uint64{1, 2, 3})
			state, noise := RandomNormal(rng, x.Shape())
			return []*Node{MatMul(Add(x, noise), x), state}
		}},
		{"elementwise zoo", []shapes.Shape{f32(4, 6, 5), f32(4, 1, 5), shapes.Make(dtypes.Int32, 4, 6, 5)}, func(x, y, k *Node) []*Node {
			g := x.Graph()
			m := ReduceAndKeep(x, ReduceMax, -1)
			lsm := Sub(Sub(x, m), Log(ReduceAndKeep(Exp(Sub(x, m)), ReduceSum, -1)))
			mask := GreaterThan(k, Const(g, int32(3)))
			return []*Node{
				lsm, Div(x, Add(Abs(y), Const(g, float32(1)))), Max(x, y), Min(y, x), Neg(Sigmoid(x)), Tanh(x),
				Sqrt(Abs(x)), Rsqrt(AddScalar(Abs(x), 1)), ReduceMin(x, 0, 1), ReduceMax(x, 1), ReduceSum(x, 0, 2),
				Where(mask, x, Const(g, float32(-1))), Where(mask, ZerosLike(x), BroadcastToDims(y, 4, 6, 5)),
				TransposeAllDims(x, 2, 0, 1), TransposeAllDims(k, 1, 2, 0), TransposeAllDims(mask, 2, 1, 0),
				BroadcastToDims(Reshape(mask, 4, 6, 5, 1), 4, 6, 5, 3), BroadcastToDims(Reshape(k, 4, 6, 5, 1), 4, 6, 5, 2),
				ReduceAllSum(x), Mul(x, BroadcastToDims(y, 4, 6, 5)), Sub(BroadcastToDims(Const(g, float32(2)), 4, 6, 5), x),
			}
		}},
		{"ints and bools", []shapes.Shape{f32(6, 6), shapes.Make(dtypes.Int32, 6)}, func(x, idx *Node) []*Node {
			y := MatMul(x, x)
			return []*Node{Gather(y, ExpandAxes(idx, -1)), GreaterThan(y, ZerosLike(y))}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inputs := make([]*tensors.Tensor, len(c.inputs))
			for i, s := range c.inputs {
				inputs[i] = randTensor(uint64(i+1), s)
			}
			want := execOn(t, ref, c.fn, inputs...)
			for _, b := range []backends.Backend{fast, dflt} {
				got := execOn(t, b, c.fn, inputs...)
				assertClose(t, c.name, got, want, 1e-5, 1e-5)
			}
		})
	}
}

// TestGradients: gradients of a small network (matmuls with batch axes, softmax, tanh) agree
// with simplego's.
func TestGradients(t *testing.T) {
	fast, _, ref := testBackends(t)
	fn := func(x, w1, w2 *Node) []*Node {
		h := Tanh(Einsum("bsi,io->bso", x, w1))
		att := Softmax(Einsum("bso,bto->bst", h, h), -1)
		y := Einsum("bst,bto->bso", att, h)
		loss := ReduceAllSum(Square(Einsum("bso,op->bsp", y, w2)))
		return append([]*Node{loss}, Gradient(loss, x, w1, w2)...)
	}
	x := randTensor(1, shapes.Make(dtypes.Float32, 3, 7, 10))
	w1 := randTensor(2, shapes.Make(dtypes.Float32, 10, 12))
	w2 := randTensor(3, shapes.Make(dtypes.Float32, 12, 5))
	want := execOn(t, ref, fn, x, w1, w2)
	got := execOn(t, fast, fn, x, w1, w2)
	assertClose(t, "gradients", got, want, 1e-3, 1e-4)
}

// TestDonation: donated inputs (variables updated in place) give the same results, repeatedly.
func TestDonation(t *testing.T) {
	fast, _, ref := testBackends(t)
	fn := func(w, x *Node) (*Node, *Node) {
		y := MatMul(x, w)
		return Sub(w, MulScalar(MatMul(Transpose(x, 0, 1), y), 0.01)), ReduceAllSum(y)
	}
	run := func(b backends.Backend) []*tensors.Tensor {
		exec := MustNewExec(b, fn)
		w := randTensor(1, shapes.Make(dtypes.Float32, 16, 16))
		x := randTensor(2, shapes.Make(dtypes.Float32, 8, 16))
		var sum *tensors.Tensor
		for range 4 {
			donated, err := DonateTensorBuffer(w, b, 0)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := exec.Exec(donated, x)
			if err != nil {
				t.Fatal(err)
			}
			w, sum = outs[0], outs[1]
		}
		return []*tensors.Tensor{w, sum}
	}
	assertClose(t, "donated steps", run(fast), run(ref), 1e-4, 1e-4)
}

// TestConcurrent runs one executable from several goroutines at once.
func TestConcurrent(t *testing.T) {
	fast, _, ref := testBackends(t)
	fn := func(x, w *Node) *Node { return ReduceSum(Tanh(MatMul(Tanh(MatMul(x, w)), w)), -1) }
	x := randTensor(1, shapes.Make(dtypes.Float32, 32, 64))
	w := randTensor(2, shapes.Make(dtypes.Float32, 64, 64))
	want := execOn(t, ref, fn, x, w)
	x, _ = x.LocalClone()
	w, _ = w.LocalClone()
	// Move the inputs to the device before the goroutines start: in GoMLX v0.26.0 the first
	// transfer of a local tensor to a shared buffer drops its local copy under the tensor's lock,
	// but graph.Exec calls Tensor.CheckValid without it, so a concurrent first use can see neither
	// copy ("Tensor has no local or on-device representation"). That race is GoMLX's, not the
	// executable's, which is what this test is about.
	for _, in := range []*tensors.Tensor{x, w} {
		if err := in.MaterializeOnDevice(fast, true, 0); err != nil {
			t.Fatal(err)
		}
	}
	exec := MustNewExec(fast, fn)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	results := make([][]*tensors.Tensor, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				outs, err := exec.Exec(x, w)
				if err != nil {
					errs <- err
					return
				}
				results[g] = outs
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, r := range results {
		assertClose(t, "concurrent", r, want, 1e-4, 1e-4)
	}
}

func TestConfig(t *testing.T) {
	for _, bad := range []string{"dotmin=x", "dotmin=-1", "no_such_option"} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q): no error", bad)
		}
	}
	b, err := backends.NewWithConfig(Name + ":nokernels,ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != Name || !strings.Contains(b.Name(), Name) {
		t.Errorf("String() = %q, Name() = %q", b.String(), b.Name())
	}
}
