package models

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/gomlx_ext/dotgrad"
)

func shapesOf(dtype dtypes.DType, dims ...int) shapes.Shape { return shapes.Make(dtype, dims...) }

// BaseVar returns the value of the existing variable "<path>.<name>" (Hugging Face naming)
// checking its dimensions. It panics with the tensor name when the variable is missing or has
// another shape (graph builders panic; entry points turn it into an error).
func BaseVar(ctx *context.Context, g *Graph, path, name string, dims ...int) *Node {
	v := ctx.GetVariableByScopeAndName(PathToScope(path), name)
	if v == nil {
		panic(fmt.Errorf("model weight %q is missing", TensorName(PathToScope(path), name)))
	}
	if !slices.Equal(v.Shape().Dimensions, dims) {
		panic(fmt.Errorf("model weight %q has shape %v, the config wants %v",
			TensorName(PathToScope(path), name), v.Shape().Dimensions, dims))
	}
	return v.ValueGraph(g)
}

// MatMulT computes x·wᵀ for a weight stored [Out, In] (PyTorch/HF layout):
// x [..., In], w [Out, In] -> [..., Out].
//
// Every projection's matmul goes through it. In a training graph (ctx.IsTraining) it uses
// gomlx_ext/dotgrad, whose gradient is two matmuls instead of GoMLX v0.26.0's materialised
// batch×Out×In product; inference graphs use the plain DotGeneral.
func MatMulT(ctx *context.Context, x, w *Node) *Node {
	if useDotGrad(ctx, x.Graph()) {
		return dotgrad.MatMulTransposed(x, w)
	}
	return DotGeneral(x, []int{-1}, nil, w, []int{1}, nil)
}

// EinsumT is graph.Einsum with the training-graph gradient of MatMulT.
func EinsumT(ctx *context.Context, equation string, lhs, rhs *Node) *Node {
	if useDotGrad(ctx, lhs.Graph()) {
		return dotgrad.Einsum(equation, lhs, rhs)
	}
	return graph.Einsum(equation, lhs, rhs)
}

// ParamPlainMatMulGradient, set true in a context, makes training graphs use GoMLX's own
// DotGeneral gradient (for benchmarks and equivalence tests against it).
const ParamPlainMatMulGradient = "goswift_plain_matmul_gradient"

func useDotGrad(ctx *context.Context, g *Graph) bool {
	return ctx.IsTraining(g) && !context.GetParamOr(ctx, ParamPlainMatMulGradient, false)
}

// BaseLinear is the plain projection: y = x·Wᵀ (+ b), reading "<Path>.weight" [Out, In] and,
// when spec.Bias, "<Path>.bias" [Out]. A tied lm_head reads the embedding table.
func BaseLinear(ctx *context.Context, spec LinearSpec, x *Node) *Node {
	path := spec.Path
	if spec.TiedTo != "" {
		path = spec.TiedTo
	}
	w := BaseVar(ctx, x.Graph(), path, "weight", spec.Out, spec.In) // [Out, In]
	y := MatMulT(ctx, x, ConvertDType(w, x.DType()))                // [..., Out]
	if spec.Bias {
		bias := BaseVar(ctx, x.Graph(), spec.Path, "bias", spec.Out) // [Out]
		y = Add(y, ExpandLeftToRank(ConvertDType(bias, x.DType()), y.Rank()))
	}
	return y
}

// BaseEmbed looks tokens up in "model.embed_tokens.weight" [Vocab, Hidden]:
// tokens [B, S] int32 -> [B, S, Hidden]. Gather (not Slice) keeps it differentiable on simplego.
func BaseEmbed(ctx *context.Context, tokens *Node) *Node {
	g := tokens.Graph()
	v := ctx.GetVariableByScopeAndName(PathToScope("model.embed_tokens"), "weight")
	if v == nil {
		panic(fmt.Errorf("model weight %q is missing", "model.embed_tokens.weight"))
	}
	table := v.ValueGraph(g)                     // [Vocab, Hidden]
	return Gather(table, ExpandAxes(tokens, -1)) // [B, S, Hidden]
}

// RMSNorm normalises the last axis: x / √(mean(x²) + eps) · w, computed in float32, with w
// read from "<path>.weight" [Hidden].
func RMSNorm(ctx *context.Context, path string, x *Node, eps float64) *Node {
	dtype := x.DType()
	width := x.Shape().Dimensions[x.Rank()-1]
	w := BaseVar(ctx, x.Graph(), path, "weight", width) // [Hidden]
	xf := ConvertDType(x, dtypes.Float32)
	meanSq := ReduceAndKeep(Square(xf), ReduceMean, -1) // [..., 1]
	normed := Div(xf, Sqrt(AddScalar(meanSq, eps)))     // Rsqrt has no gradient in GoMLX v0.26.0
	return ConvertDType(Mul(normed, ExpandLeftToRank(ConvertDType(w, dtypes.Float32), normed.Rank())), dtype)
}

// ropeTables returns cos and sin of position·θ^(-2j/D) for j < D/2:
// positions [B, S] int -> cos, sin [B, S, D/2] float32.
func ropeTables(positions *Node, headDim int, theta float64) (cos, sin *Node) {
	g := positions.Graph()
	half := headDim / 2
	invFreq := make([]float32, half)
	for j := range invFreq {
		invFreq[j] = float32(1 / math.Pow(theta, float64(2*j)/float64(headDim)))
	}
	pos := ExpandAxes(ConvertDType(positions, dtypes.Float32), -1) // [B, S, 1]
	angles := Mul(pos, Reshape(Const(g, invFreq), 1, 1, half))     // [B, S, D/2]
	return Cos(angles), Sin(angles)
}

// ApplyRoPE rotates each pair of head dimensions by its angle:
// x [B, S, H, D], cos/sin [B, S, D/2] -> [B, S, H, D].
//
// The pair (a, b) becomes (a·cos − b·sin, a·sin + b·cos). RoPEInterleaved pairs dimension 2j
// with 2j+1 (llama2.c); RoPEHalf pairs j with j+D/2 (Hugging Face). The pair swap is a
// broadcast multiply-and-sum with a constant 2×2 rotation, not a Slice (whose gradient needs
// Pad, missing on simplego).
func ApplyRoPE(x, cos, sin *Node, style RoPEStyle) *Node {
	dims := x.Shape().Dimensions
	b, s, h, d := dims[0], dims[1], dims[2], dims[3]
	g := x.Graph()
	dtype := x.DType()
	xf := ConvertDType(x, dtypes.Float32)
	// rot maps the pair (a, b) to (−b, a): rot[from][to].
	rot := Const(g, [][]float32{{0, 1}, {-1, 0}})
	var out *Node
	switch style {
	case RoPEInterleaved:
		pairs := Reshape(xf, b, s, h, d/2, 2)                                                // [B, S, H, D/2, 2]
		swapped := ReduceSum(Mul(ExpandAxes(pairs, -1), Reshape(rot, 1, 1, 1, 1, 2, 2)), -2) // [B, S, H, D/2, 2]
		c := Reshape(cos, b, s, 1, d/2, 1)
		sn := Reshape(sin, b, s, 1, d/2, 1)
		out = Add(Mul(pairs, c), Mul(swapped, sn))
	default:
		halves := Reshape(xf, b, s, h, 2, d/2)                                                // [B, S, H, 2, D/2]
		swapped := ReduceSum(Mul(ExpandAxes(halves, -2), Reshape(rot, 1, 1, 1, 2, 2, 1)), -3) // [B, S, H, 2, D/2]
		c := Reshape(cos, b, s, 1, 1, d/2)
		sn := Reshape(sin, b, s, 1, 1, d/2)
		out = Add(Mul(halves, c), Mul(swapped, sn))
	}
	return ConvertDType(Reshape(out, b, s, h, d), dtype)
}
