package remat

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/goswift/goswift/gomlx_ext/dotgrad"
	"github.com/pkg/errors"
)

// testBackendConfig is the project's default simplego configuration (xla.DefaultGoConfig):
// simplego's default config (what testutil.Backend uses) can deadlock on 2 cores when several
// DotGenerals are ready at once.
const testBackendConfig = "parallelism=-1"

var (
	backendOnce sync.Once
	backendInst backends.Backend
	backendErr  error
)

func testBackend(tb testing.TB) backends.Backend {
	tb.Helper()
	backendOnce.Do(func() { backendInst, backendErr = simplego.New(testBackendConfig) })
	if backendErr != nil {
		tb.Fatalf("creating simplego backend %q: %v", testBackendConfig, backendErr)
	}
	return backendInst
}

type node = graph.Node

// mlpBlock is a residual MLP block: x + tanh(x·W1ᵀ)·W2ᵀ, x [batch, dim], W1 [hidden, dim],
// W2 [dim, hidden]. matmul is graph.Einsum-based or dotgrad's.
func mlpBlock(matmul func(x, w *node) *node, x, w1, w2 *node) *node {
	h := graph.Tanh(matmul(x, w1))                                  // [batch, hidden]
	return graph.Add(x, graph.Mul(matmul(h, w2), graph.Sigmoid(x))) // [batch, dim]
}

func einsumLinear(x, w *node) *node { return graph.Einsum("bi,oi->bo", x, w) }

// model builds the loss of a stack of blocks in one of several checkpointing styles.
type modelFn func(ckpt bool, x *node, w1, w2 []*node, pos *node) []*node

func ckptOrCall(ckpt bool, fn func([]*node) []*node, inputs ...*node) []*node {
	if ckpt {
		return Checkpoint(fn, inputs...)
	}
	return fn(inputs)
}

var modelCases = []struct {
	name  string
	model modelFn
}{
	{"explicit-weights", func(ckpt bool, x *node, w1, w2 []*node, _ *node) []*node {
		for l := range w1 {
			x = ckptOrCall(ckpt, func(in []*node) []*node {
				return []*node{mlpBlock(einsumLinear, in[0], in[1], in[2])}
			}, x, w1[l], w2[l])[0]
		}
		return []*node{x}
	}},
	{"captured-weights", func(ckpt bool, x *node, w1, w2 []*node, _ *node) []*node {
		for l := range w1 {
			x = ckptOrCall(ckpt, func(in []*node) []*node {
				return []*node{mlpBlock(einsumLinear, in[0], w1[l], w2[l])}
			}, x)[0]
		}
		return []*node{x}
	}},
	{"dotgrad-inside", func(ckpt bool, x *node, w1, w2 []*node, _ *node) []*node {
		for l := range w1 {
			x = ckptOrCall(ckpt, func(in []*node) []*node {
				return []*node{mlpBlock(dotgrad.MatMulTransposed, in[0], in[1], w2[l])}
			}, x, w1[l])[0]
		}
		return []*node{x}
	}},
	{"multi-output-int-input", func(ckpt bool, x *node, w1, w2 []*node, pos *node) []*node {
		var extra *node
		for l := range w1 {
			outs := ckptOrCall(ckpt, func(in []*node) []*node {
				shift := graph.ConvertDType(graph.InsertAxes(in[1], -1), in[0].DType()) // [batch, 1]
				y := mlpBlock(einsumLinear, graph.Add(in[0], graph.MulScalar(shift, 0.01)), w1[l], w2[l])
				unused := graph.Exp(y)
				return []*node{y, unused, graph.ReduceSum(graph.Square(y), -1), graph.ArgMax(y, -1)}
			}, x, pos)
			x = outs[0]
			if extra == nil {
				extra = outs[2]
			} else {
				extra = graph.Add(extra, outs[2])
			}
		}
		return []*node{x, extra}
	}},
	{"passthrough-and-nested", func(ckpt bool, x *node, w1, w2 []*node, _ *node) []*node {
		var skip *node
		for l := 0; l+1 < len(w1); l += 2 {
			outs := ckptOrCall(ckpt, func(in []*node) []*node {
				h := in[0]
				for k := l; k < l+2; k++ {
					h = ckptOrCall(ckpt, func(in2 []*node) []*node {
						return []*node{mlpBlock(einsumLinear, in2[0], w1[k], w2[k])}
					}, h)[0]
				}
				return []*node{h, in[0]} // The input itself as a second output.
			}, x)
			x, skip = outs[0], outs[1]
		}
		return []*node{x, skip}
	}},
}

// TestCheckpointGradientsMatch compares, for each checkpointing style, the gradients of a
// weighted sum of the outputs w.r.t. the input and all weights with and without Checkpoint.
func TestCheckpointGradientsMatch(t *testing.T) {
	backend := testBackend(t)
	const batch, dim, hidden, layers = 5, 6, 7, 4
	rng := rand.New(rand.NewPCG(3, 4))
	args := []any{randomTensor(rng, batch, dim), tensors.FromValue([]int32{0, 1, 2, 3, 4})}
	for range layers {
		args = append(args, randomTensor(rng, hidden, dim), randomTensor(rng, dim, hidden))
	}
	for _, tc := range []struct {
		dtype dtypes.DType
		tol   float64
	}{{dtypes.Float64, 1e-12}, {dtypes.Float32, 1e-5}, {dtypes.BFloat16, 1e-2}} {
		for _, mc := range modelCases {
			t.Run(tc.dtype.String()+"/"+mc.name, func(t *testing.T) {
				exec := graph.MustNewExec(backend, func(inputs []*node) []*node {
					x, pos := graph.ConvertDType(inputs[0], tc.dtype), inputs[1]
					var w1, w2 []*node
					for l := range layers {
						w1 = append(w1, graph.ConvertDType(inputs[2+2*l], tc.dtype))
						w2 = append(w2, graph.ConvertDType(inputs[3+2*l], tc.dtype))
					}
					targets := append(append([]*node{x}, w1...), w2...)
					var all []*node
					for _, ckpt := range []bool{true, false} {
						outs := mc.model(ckpt, x, w1, w2, pos)
						loss := graph.ReduceAllSum(graph.Mul(outs[0], graph.Cos(outs[0])))
						for _, o := range outs[1:] {
							loss = graph.Add(loss, graph.ReduceAllSum(graph.Tanh(o)))
						}
						all = append(all, outs[0])
						all = append(all, graph.Gradient(loss, targets...)...)
					}
					for i := range all {
						all[i] = graph.ConvertDType(all[i], dtypes.Float64)
					}
					return all
				})
				res := exec.MustExec(args...)
				half := len(res) / 2
				if e := relErr(flat(res[0]), flat(res[half])); e != 0 {
					t.Errorf("forward output differs: relative error %.3g, want 0", e)
				}
				for k := 1; k < half; k++ {
					if e := relErr(flat(res[k]), flat(res[half+k])); e > tc.tol {
						t.Errorf("gradient #%d: relative error %.3g > %.3g", k, e, tc.tol)
					}
				}
			})
		}
	}
}

// TestCheckpointContextVariables checks that context variables read inside fn (created by the
// first call, in the forward pass) get the same gradients as without Checkpoint.
func TestCheckpointContextVariables(t *testing.T) {
	backend := testBackend(t)
	ctx := context.New()
	const layers = 3
	var vars []*context.Variable
	exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, x *node) []*node {
		block := func(ctx *context.Context, x *node) *node {
			ctx = ctx.Checked(false) // fn runs twice: the second call finds the variables existing.
			rng := rand.New(rand.NewPCG(9, 9))
			w1 := ctx.VariableWithValue("w1", randomMatrix(rng, 7, 6))
			w2 := ctx.VariableWithValue("w2", randomMatrix(rng, 6, 7))
			if len(vars) < 2*layers {
				vars = append(vars, w1, w2)
			}
			g := x.Graph()
			return mlpBlock(dotgrad.MatMulTransposed, x, w1.ValueGraph(g), w2.ValueGraph(g))
		}
		var outs []*node
		for _, ckpt := range []bool{true, false} {
			h := x
			for l := range layers {
				lctx := ctx.In(fmt.Sprintf("layer_%d", l))
				h = ckptOrCall(ckpt, func(in []*node) []*node { return []*node{block(lctx, in[0])} }, h)[0]
			}
			loss := graph.ReduceAllSum(graph.Square(h))
			targets := []*node{x}
			for _, v := range vars {
				targets = append(targets, v.ValueGraph(x.Graph()))
			}
			outs = append(outs, graph.Gradient(loss, targets...)...)
		}
		return outs
	})
	rng := rand.New(rand.NewPCG(1, 1))
	res := exec.MustExec(randomTensor(rng, 5, 6))
	half := len(res) / 2
	if half != 1+2*layers {
		t.Fatalf("got %d gradients per variant, want %d", half, 1+2*layers)
	}
	for k := range half {
		if e := relErr(flat(res[k]), flat(res[half+k])); e > 1e-12 {
			t.Errorf("gradient #%d: relative error %.3g > 1e-12", k, e)
		}
	}
}

func TestCheckpointPanics(t *testing.T) {
	backend := testBackend(t)
	for _, tc := range []struct {
		name, want string
		fn         func(x, w *node)
	}{
		{"nil-fn", "fn is nil", func(x, _ *node) { Checkpoint(nil, x) }},
		{"no-inputs", "at least one input", func(_, _ *node) {
			Checkpoint(func(in []*node) []*node { return in })
		}},
		{"no-outputs", "no outputs", func(x, _ *node) {
			Checkpoint(func([]*node) []*node { return nil }, x)
		}},
		{"memoised-node", "afresh", func(x, w *node) {
			var memo *node
			y := Checkpoint(func(in []*node) []*node {
				if memo == nil {
					memo = graph.Tanh(in[0])
				}
				return []*node{graph.Mul(memo, in[0])}
			}, x)[0]
			graph.Gradient(graph.ReduceAllSum(y), x)
		}},
		{"dependent-captures", "computed from it", func(x, w *node) {
			wt := graph.Transpose(w, 0, 1)
			Checkpoint(func(in []*node) []*node {
				return []*node{graph.Add(einsumLinear(in[0], w), graph.ReduceAllSum(wt))}
			}, x)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.NewGraph(backend, tc.name)
			defer g.Finalize()
			x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 2, 3))
			w := graph.Parameter(g, "w", shapes.Make(dtypes.Float32, 3, 3))
			err := catch(func() { tc.fn(x, w) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a panic containing %q, got %v", tc.want, err)
			}
		})
	}
}

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

func randomMatrix(rng *rand.Rand, rows, cols int) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = make([]float64, cols)
		for j := range m[i] {
			m[i][j] = 2*rng.Float64() - 1
		}
	}
	return m
}

func flat(t *tensors.Tensor) []float64 { return tensors.MustCopyFlatData[float64](t) }

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

// TestTwoGradientPasses checks the per-pass state: the second graph.Gradient only uses one of
// the two outputs, so the other's dY from the first pass must not leak into it.
func TestTwoGradientPasses(t *testing.T) {
	backend := testBackend(t)
	rng := rand.New(rand.NewPCG(8, 8))
	exec := graph.MustNewExec(backend, func(x, w *node) []*node {
		var outs []*node
		for _, ckpt := range []bool{true, false} {
			ys := ckptOrCall(ckpt, func(in []*node) []*node {
				h := graph.Tanh(einsumLinear(in[0], w)) // [batch, out]
				return []*node{h, graph.Sigmoid(h)}
			}, x)
			outs = append(outs, graph.Gradient(graph.ReduceAllSum(graph.Mul(ys[0], ys[1])), x, w)...)
			outs = append(outs, graph.Gradient(graph.ReduceAllSum(ys[1]), x, w)...)
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
