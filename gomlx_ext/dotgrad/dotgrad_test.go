package dotgrad

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/pkg/errors"
)

// dotCase is one DotGeneral configuration.
type dotCase struct {
	name                     string
	lhsDims, rhsDims         []int
	lhsContracting, lhsBatch []int
	rhsContracting, rhsBatch []int
	einsum                   string // If set, the case goes through Einsum instead.
}

var fixedCases = []dotCase{
	{name: "matmul", lhsDims: []int{5, 7}, rhsDims: []int{7, 3}, lhsContracting: []int{1}, rhsContracting: []int{0}},
	{name: "linear-transposed", lhsDims: []int{3, 5, 7}, rhsDims: []int{4, 7}, lhsContracting: []int{2}, rhsContracting: []int{1}},
	{name: "batched", lhsDims: []int{2, 5, 7}, rhsDims: []int{2, 7, 3}, lhsContracting: []int{2}, lhsBatch: []int{0},
		rhsContracting: []int{1}, rhsBatch: []int{0}},
	{name: "both-transposed", lhsDims: []int{7, 5}, rhsDims: []int{3, 7}, lhsContracting: []int{0}, rhsContracting: []int{1}},
	{name: "two-contracting-swapped", lhsDims: []int{2, 3, 4, 5}, rhsDims: []int{5, 4, 6},
		lhsContracting: []int{3, 2}, rhsContracting: []int{0, 1}},
	{name: "batch-in-middle", lhsDims: []int{4, 2, 3, 5}, rhsDims: []int{5, 2, 6}, lhsContracting: []int{3}, lhsBatch: []int{1},
		rhsContracting: []int{0}, rhsBatch: []int{1}},
	{name: "two-batch-permuted", lhsDims: []int{2, 3, 4, 5}, rhsDims: []int{3, 5, 2, 6}, lhsContracting: []int{3}, lhsBatch: []int{0, 1},
		rhsContracting: []int{1}, rhsBatch: []int{2, 0}},
	{name: "outer", lhsDims: []int{3}, rhsDims: []int{4}},
	{name: "dot", lhsDims: []int{5}, rhsDims: []int{5}, lhsContracting: []int{0}, rhsContracting: []int{0}},
	{name: "negative-axes", lhsDims: []int{3, 5, 7}, rhsDims: []int{4, 7}, lhsContracting: []int{-1}, rhsContracting: []int{-1}},
	{name: "rhs-no-free", lhsDims: []int{2, 3, 5}, rhsDims: []int{2, 5}, lhsContracting: []int{2}, lhsBatch: []int{0},
		rhsContracting: []int{1}, rhsBatch: []int{0}},
	{name: "lhs-no-free", lhsDims: []int{2, 5}, rhsDims: []int{2, 5, 4}, lhsContracting: []int{1}, lhsBatch: []int{0},
		rhsContracting: []int{1}, rhsBatch: []int{0}},
	{name: "einsum-linear", einsum: "bsi,oi->bso", lhsDims: []int{2, 5, 7}, rhsDims: []int{3, 7}},
	{name: "einsum-gqa-scores", einsum: "bskgd,btkd->bkgst", lhsDims: []int{2, 5, 2, 3, 4}, rhsDims: []int{2, 6, 2, 4}},
	{name: "einsum-gqa-values", einsum: "bkgst,btkd->bskgd", lhsDims: []int{2, 2, 3, 5, 6}, rhsDims: []int{2, 6, 2, 4}},
	{name: "einsum-matmul", einsum: "ij,jk->ik", lhsDims: []int{5, 7}, rhsDims: []int{7, 3}},
	{name: "einsum-dot", einsum: "i,i->", lhsDims: []int{9}, rhsDims: []int{9}},
	{name: "einsum-outer", einsum: "i,j->ij", lhsDims: []int{3}, rhsDims: []int{4}},
	{name: "einsum-out-transposed", einsum: "bij,bjk->bki", lhsDims: []int{2, 3, 5}, rhsDims: []int{2, 5, 4}},
	{name: "einsum-lonely-axis", einsum: "abc,cd->ad", lhsDims: []int{3, 4, 5}, rhsDims: []int{5, 2}},
}

// randomCases draws DotGeneral configurations with 0-2 batch, contracting and free axes per
// side, odd sizes, and the axes of each operand shuffled.
func randomCases(n int) []dotCase {
	rng := rand.New(rand.NewPCG(7, 11))
	var cases []dotCase
	for i := range n {
		nb, nc, nlf, nrf := rng.IntN(3), rng.IntN(3), rng.IntN(3), rng.IntN(3)
		dim := func() int { return 1 + rng.IntN(6) }
		batchDims, contractDims := make([]int, nb), make([]int, nc)
		for j := range batchDims {
			batchDims[j] = dim()
		}
		for j := range contractDims {
			contractDims[j] = dim()
		}
		build := func(nf int, batchOrder, contractOrder []int) (dims, contracting, batch []int) {
			rank := nb + nc + nf
			perm := rng.Perm(rank) // perm[k] = position of logical axis k.
			dims = make([]int, rank)
			batch = make([]int, nb)
			contracting = make([]int, nc)
			for j := range nb {
				pos := perm[j]
				dims[pos] = batchDims[batchOrder[j]]
				batch[j] = pos
			}
			for j := range nc {
				pos := perm[nb+j]
				dims[pos] = contractDims[contractOrder[j]]
				contracting[j] = pos
			}
			for j := range nf {
				dims[perm[nb+nc+j]] = dim()
			}
			return
		}
		// Both sides list pairs in the same logical order (pair j = batch/contract j).
		ident := func(k int) []int { return iota(0, k) }
		c := dotCase{name: fmt.Sprintf("random-%02d", i)}
		c.lhsDims, c.lhsContracting, c.lhsBatch = build(nlf, ident(nb), ident(nc))
		c.rhsDims, c.rhsContracting, c.rhsBatch = build(nrf, ident(nb), ident(nc))
		cases = append(cases, c)
	}
	return cases
}

// randomTensor returns a float64 tensor with values in [-1, 1).
func randomTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]float64, size)
	for i := range data {
		data[i] = 2*rng.Float64() - 1
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func (c dotCase) apply(ours bool, lhs, rhs *graph.Node) *graph.Node {
	switch {
	case c.einsum != "" && ours:
		return Einsum(c.einsum, lhs, rhs)
	case c.einsum != "":
		return graph.Einsum(c.einsum, lhs, rhs)
	case ours:
		return DotGeneral(lhs, c.lhsContracting, c.lhsBatch, rhs, c.rhsContracting, c.rhsBatch)
	default:
		return graph.DotGeneral(lhs, c.lhsContracting, c.lhsBatch, rhs, c.rhsContracting, c.rhsBatch)
	}
}

// relErr returns ‖got-want‖/‖want‖ (or ‖got-want‖ when want is zero).
func relErr(got, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := got[i] - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func flat(t *tensors.Tensor) []float64 { return tensors.MustCopyFlatData[float64](t) }

// TestDotGeneralMatchesGoMLX checks, per case and dtype, that the forward equals graph.DotGeneral
// bit for bit and that the gradients of a random-weighted sum of the output w.r.t. both operands
// match GoMLX's own gradient.
func TestDotGeneralMatchesGoMLX(t *testing.T) {
	backend := testBackend(t)
	cases := append(append([]dotCase{}, fixedCases...), randomCases(24)...)
	tolerances := map[dtypes.DType]float64{dtypes.Float64: 1e-12, dtypes.Float32: 1e-5, dtypes.BFloat16: 1e-2}
	for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32, dtypes.BFloat16} {
		for ci, c := range cases {
			t.Run(fmt.Sprintf("%s/%s", dtype, c.name), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(ci), 3))
				lhsT, rhsT := randomTensor(rng, c.lhsDims...), randomTensor(rng, c.rhsDims...)
				exec := graph.MustNewExec(backend, func(inputs []*graph.Node) []*graph.Node {
					lhs, rhs := graph.ConvertDType(inputs[0], dtype), graph.ConvertDType(inputs[1], dtype)
					ref := c.apply(false, lhs, rhs)
					w := graph.ConvertDType(inputs[2], dtype)
					ours := c.apply(true, lhs, rhs)
					if !ours.Shape().Equal(ref.Shape()) {
						panic(errors.Errorf("shape mismatch: ours %s, GoMLX %s", ours.Shape(), ref.Shape()))
					}
					gOurs := graph.Gradient(graph.ReduceAllSum(graph.Mul(ours, w)), lhs, rhs)
					gRef := graph.Gradient(graph.ReduceAllSum(graph.Mul(ref, w)), lhs, rhs)
					// float64 truth on the same (rounded) inputs, for the low-precision dtypes.
					lhs64, rhs64, w64 := graph.ConvertDType(lhs, dtypes.Float64), graph.ConvertDType(rhs, dtypes.Float64), graph.ConvertDType(w, dtypes.Float64)
					gTruth := graph.Gradient(graph.ReduceAllSum(graph.Mul(c.apply(false, lhs64, rhs64), w64)), lhs64, rhs64)
					outs := []*graph.Node{ours, ref, gOurs[0], gOurs[1], gRef[0], gRef[1], gTruth[0], gTruth[1]}
					for i := range outs {
						outs[i] = graph.ConvertDType(outs[i], dtypes.Float64)
					}
					return outs
				})
				wT := randomTensor(rng, outputDims(backend, c)...) // Weights of the output's sum.
				res := exec.MustExec(lhsT, rhsT, wT)
				ours, ref := flat(res[0]), flat(res[1])
				for i := range ref {
					if ours[i] != ref[i] {
						t.Fatalf("forward differs at flat index %d: ours %v, GoMLX %v", i, ours[i], ref[i])
					}
				}
				tol := tolerances[dtype]
				for k, name := range []string{"lhs", "rhs"} {
					ours, gomlx, truth := flat(res[2+k]), flat(res[4+k]), flat(res[6+k])
					if dtype == dtypes.BFloat16 {
						// Both bfloat16 gradients round differently: compare each to the float64 truth.
						eOurs, eGoMLX := relErr(ours, truth), relErr(gomlx, truth)
						if eOurs > tol {
							t.Errorf("bfloat16 gradient w.r.t. %s: relative error to float64 %.3g > %.3g (GoMLX's own: %.3g)",
								name, eOurs, tol, eGoMLX)
						}
						continue
					}
					if e := relErr(ours, gomlx); e > tol {
						t.Errorf("gradient w.r.t. %s: relative error %.3g > %.3g", name, e, tol)
					}
				}
			})
		}
	}
}

// outputDims returns the output dimensions of the case (built on a throw-away graph).
func outputDims(backend backends.Backend, c dotCase) []int {
	g := graph.NewGraph(backend, "shape-probe")
	defer g.Finalize()
	lhs := graph.Parameter(g, "lhs", shapeOf(c.lhsDims))
	rhs := graph.Parameter(g, "rhs", shapeOf(c.rhsDims))
	return c.apply(false, lhs, rhs).Shape().Dimensions
}

func shapeOf(dims []int) shapes.Shape { return shapes.Make(dtypes.Float64, dims...) }

func TestPanics(t *testing.T) {
	backend := testBackend(t)
	for _, tc := range []struct {
		name, want string
		fn         func(lhs, rhs *graph.Node) *graph.Node
	}{
		{"dims-mismatch", "dimensions", func(l, r *graph.Node) *graph.Node { return DotGeneral(l, []int{1}, nil, r, []int{1}, nil) }},
		{"axis-range", "out of range", func(l, r *graph.Node) *graph.Node { return DotGeneral(l, []int{2}, nil, r, []int{0}, nil) }},
		{"duplicate-axis", "more than once", func(l, r *graph.Node) *graph.Node {
			return DotGeneral(l, []int{1}, []int{1}, r, []int{0}, []int{0})
		}},
		{"pairs-length", "same length", func(l, r *graph.Node) *graph.Node { return DotGeneral(l, []int{1}, nil, r, nil, nil) }},
		{"einsum-arrow", "->", func(l, r *graph.Node) *graph.Node { return Einsum("ij,jk", l, r) }},
		{"einsum-rank", "described by", func(l, r *graph.Node) *graph.Node { return Einsum("ijk,jk->ik", l, r) }},
		{"matmul-transposed", "must match", func(l, r *graph.Node) *graph.Node { return MatMulTransposed(l, r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.NewGraph(backend, tc.name)
			defer g.Finalize()
			lhs := graph.Parameter(g, "lhs", shapeOf([]int{3, 4}))
			rhs := graph.Parameter(g, "rhs", shapeOf([]int{5, 3}))
			err := catch(func() { tc.fn(lhs, rhs) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a panic containing %q, got %v", tc.want, err)
			}
		})
	}
}

func catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = errors.Errorf("%v", r)
			}
		}
	}()
	fn()
	return nil
}

// TestChainOfLinears checks a second use in a bigger graph: y = tanh(x·W1ᵀ)·W2ᵀ, gradients
// w.r.t. x, W1 and W2, with the same operand feeding two products (x·xᵀ added to the loss).
func TestChainOfLinears(t *testing.T) {
	backend := testBackend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	xT, w1T, w2T := randomTensor(rng, 2, 9, 5), randomTensor(rng, 11, 5), randomTensor(rng, 3, 11)
	wOutT := randomTensor(rng, 2, 9, 3)
	for _, tc := range []struct {
		dtype dtypes.DType
		tol   float64
	}{{dtypes.Float64, 1e-12}, {dtypes.Float32, 1e-5}} {
		t.Run(tc.dtype.String(), func(t *testing.T) {
			exec := graph.MustNewExec(backend, func(inputs []*graph.Node) []*graph.Node {
				for i := range inputs {
					inputs[i] = graph.ConvertDType(inputs[i], tc.dtype)
				}
				x, w1, w2, wOut := inputs[0], inputs[1], inputs[2], inputs[3]
				loss := func(matmul func(x, w *graph.Node) *graph.Node, einsum func(string, *graph.Node, *graph.Node) *graph.Node) *graph.Node {
					h := graph.Tanh(matmul(x, w1))              // [2, 9, 11]
					y := matmul(h, w2)                          // [2, 9, 3]
					gram := einsum("bsi,bti->bst", x, x)        // [2, 9, 9]: the same node as both operands.
					l := graph.ReduceAllSum(graph.Mul(y, wOut)) // scalar
					return graph.Add(l, graph.ReduceAllSum(graph.Square(gram)))
				}
				ref := func(x, w *graph.Node) *graph.Node { return graph.Einsum("bsi,oi->bso", x, w) }
				gOurs := graph.Gradient(loss(MatMulTransposed, Einsum), x, w1, w2)
				gRef := graph.Gradient(loss(ref, graph.Einsum), x, w1, w2)
				outs := append(gOurs, gRef...)
				for i := range outs {
					outs[i] = graph.ConvertDType(outs[i], dtypes.Float64)
				}
				return outs
			})
			res := exec.MustExec(xT, w1T, w2T, wOutT)
			for k, name := range []string{"x", "W1", "W2"} {
				if e := relErr(flat(res[k]), flat(res[3+k])); e > tc.tol {
					t.Errorf("gradient w.r.t. %s: relative error %.3g > %.3g", name, e, tc.tol)
				}
			}
		})
	}
}

// TestFrozenOperandSkipsItsGradient checks that when only x needs a gradient (a frozen weight),
// the backward builds exactly one DotGeneral (dx) and no node larger than the operands —
// GoMLX's own VJP would build the [batch, Out, In] product.
func TestFrozenOperandSkipsItsGradient(t *testing.T) {
	backend := testBackend(t)
	g := graph.NewGraph(backend, "frozen")
	defer g.Finalize()
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 64, 32)) // [batch, In]
	w := graph.Parameter(g, "w", shapes.Make(dtypes.Float32, 48, 32)) // [Out, In]
	y := MatMulTransposed(x, w)                                       // [batch, Out]
	before := len(g.Nodes())
	grads := graph.Gradient(graph.ReduceAllSum(graph.Square(y)), x)
	numDots, maxSize := 0, 0
	for _, n := range g.Nodes()[before:] {
		if n.Type() == graph.NodeTypeDotGeneral {
			numDots++
		}
		maxSize = max(maxSize, n.Shape().Size())
	}
	if numDots != 1 {
		t.Errorf("backward built %d DotGenerals, want 1 (dx only)", numDots)
	}
	if limit := 64 * 48; maxSize > limit {
		t.Errorf("backward built a node of %d elements, want ≤ %d (no batch×Out×In product)", maxSize, limit)
	}
	if !grads[0].Shape().Equal(x.Shape()) {
		t.Errorf("gradient shape %s, want %s", grads[0].Shape(), x.Shape())
	}
}

// TestIntegerForward checks that integer operands take the plain path (no gradient machinery).
func TestIntegerForward(t *testing.T) {
	backend := testBackend(t)
	got := graph.MustExecOnce(backend, func(a, b *graph.Node) *graph.Node {
		return Einsum("ij,kj->ik", a, b)
	}, [][]int32{{1, 2}, {3, 4}}, [][]int32{{5, 6}})
	if v := got.Value().([][]int32); v[0][0] != 17 || v[1][0] != 39 {
		t.Fatalf("got %v, want [[17] [39]]", v)
	}
}

// TestTwoGradientPasses checks that the captured dy is per graph.Gradient call: two losses of the
// same product, differentiated one after the other in the same graph.
func TestTwoGradientPasses(t *testing.T) {
	backend := testBackend(t)
	rng := rand.New(rand.NewPCG(4, 4))
	exec := graph.MustNewExec(backend, func(x, w *graph.Node) []*graph.Node {
		var outs []*graph.Node
		for _, ours := range []bool{true, false} {
			var y *graph.Node
			if ours {
				y = MatMulTransposed(x, w)
			} else {
				y = graph.Einsum("bi,oi->bo", x, w)
			}
			outs = append(outs, graph.Gradient(graph.ReduceAllSum(y), x, w)...)
			outs = append(outs, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), x, w)...)
		}
		return outs
	})
	res := exec.MustExec(randomTensor(rng, 4, 3), randomTensor(rng, 5, 3))
	for k := range 4 {
		if e := relErr(flat(res[k]), flat(res[4+k])); e > 1e-12 {
			t.Errorf("gradient #%d: relative error %.3g > 1e-12", k, e)
		}
	}
}
