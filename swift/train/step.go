package train

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/kernels/xent"
	"github.com/goswift/goswift/swift/models"
)

// Optimizer state scopes: "<scope><variable's scope>/<variable's name>".
const (
	scopeMoment1 = "/optimizer/adam_m"
	scopeMoment2 = "/optimizer/adam_v"
	scopeAccum   = "/optimizer/grad_acc"
)

// TokenLoss is the plain reference of the weighted next-token cross-entropy (LogSoftmax +
// Gather with GoMLX's autodiff); training graphs use its fast path, kernels/xent.TokenLoss
// (same contract: a log-sum-exp forward and the logits' gradient given directly, never the
// [B·S, V] log-probabilities), tested equal in kernels/xent and in TestFusedLossMatchesPlain.
//
//	logits [B, S, V] float32, targets [B, S] int32, weights [B, S] float32
//	-> sum over positions of weight·(−log p(target)) (scalar), and the count of positions with
//	   weight > 0 (scalar): the loss is sum / count, with count taken over the whole accumulated
//	   batch.
func TokenLoss(logits, targets, weights *Node) (sum, count *Node) {
	g := logits.Graph()
	dims := logits.Shape().Dimensions
	b, s, v := dims[0], dims[1], dims[2]
	logp := Reshape(LogSoftmax(logits, -1), b*s, v) // [B·S, V]
	rows := Iota(g, shapes.Make(dtypes.Int32, b*s, 1), 0)
	idx := Concatenate([]*Node{rows, Reshape(targets, b*s, 1)}, -1) // [B·S, 2]
	picked := Gather(logp, idx)                                     // [B·S]
	w := Reshape(weights, b*s)
	sum = Neg(ReduceAllSum(Mul(picked, w)))
	count = ReduceAllSum(ConvertDType(GreaterThan(w, ZerosLike(w)), dtypes.Float32))
	return sum, count
}

// stepInputs are the graph inputs of a training micro-step, in order.
const (
	inTokens = iota
	inTargets
	inPositions
	inSegments
	inWeights
	inInvTotal // scalar: 1 / (weighted positions in the whole accumulated batch)
	inLR       // scalar learning rate for this step
	inBias1    // scalar 1/(1−β1^t); with Config.ActiveSet [len(vars)], t counted per variable
	inBias2    // scalar 1/(1−β2^t); with Config.ActiveSet [len(vars)], as inBias1
	inLRScale  // [len(vars)] per-variable learning-rate multipliers for this step
	numInputs
	// A batch with images ([B, K, C, H, W] float32, a vision-language model) passes them as one
	// more input after the others (after inWeights in the eval graph).
)

// optionalInput returns in[i], or nil when the graph has no such input.
func optionalInput(in []*Node, i int) *Node {
	if len(in) > i {
		return in[i]
	}
	return nil
}

// buildStep returns the graph of one micro-step. With apply=false it adds the micro-batch's
// gradient (of sum·invTotal) into the accumulators; with apply=true it adds the accumulated
// gradients, clips by global norm and applies AdamW — skipping the update entirely when the
// gradient norm is not finite, so a NaN never reaches the weights.
//
// vars are the variables it trains (every trainable variable, or Config.ActiveSet's subset):
// the gradient is taken with respect to them only, so a frozen weight costs no weight-gradient
// matmul, and only their optimizer state is read and written. perVarBias: the bias-correction
// inputs are [len(vars)] vectors (each variable's own step count since its moments were
// created) instead of scalars.
//
// Outputs: [loss sum, weighted count] (+ [gradient norm] when applying).
func (t *Trainer) buildStep(apply bool, vars []*context.Variable, perVarBias bool) func(ctx *context.Context, in []*Node) []*Node {
	cfg := t.cfg
	return func(ctx *context.Context, in []*Node) []*Node {
		g := in[0].Graph()
		ctx.SetTraining(g, true)
		logits := t.model.Logits(ctx, models.Inputs{Tokens: in[inTokens], Positions: in[inPositions],
			Segments: in[inSegments], Images: optionalInput(in, numInputs)}) // [B, S, V]
		sum, count := xent.TokenLoss(logits, in[inTargets], in[inWeights])
		loss := Mul(sum, in[inInvTotal])
		values := make([]*Node, len(vars))
		for i, v := range vars {
			values[i] = v.ValueGraph(g)
		}
		grads := Gradient(loss, values...)
		for i := range grads { // gradients, moments and the update in float32 (bf16 weights too)
			grads[i] = ConvertDType(grads[i], dtypes.Float32)
		}
		if !apply {
			for i, v := range vars {
				acc := stateVar(ctx, scopeAccum, v)
				acc.SetValueGraph(Add(acc.ValueGraph(g), grads[i]))
			}
			return []*Node{sum, count}
		}
		if t.accumulates() { // the earlier micro-steps' (or shards') gradients
			for i, v := range vars {
				acc := stateVar(ctx, scopeAccum, v)
				grads[i] = Add(acc.ValueGraph(g), grads[i])
				acc.SetValueGraph(ZerosLike(grads[i]))
			}
		}
		normSq := ScalarZero(g, dtypes.Float32)
		for _, gr := range grads {
			normSq = Add(normSq, ReduceAllSum(Square(gr)))
		}
		norm := Sqrt(normSq)
		factor := ScalarOne(g, dtypes.Float32)
		if cfg.ClipNorm > 0 {
			factor = Min(factor, Div(Scalar(g, dtypes.Float32, cfg.ClipNorm), AddScalar(norm, 1e-6)))
		}
		finite := LogicalAnd(IsFinite(norm), IsFinite(sum))
		pick := func(x *Node, i int) *Node { return Reshape(Gather(x, Const(g, []int32{int32(i)}))) } // scalar
		for i, v := range vars {
			scale := pick(in[inLRScale], i)
			// A variable whose multiplier is 0 this step keeps its weights and moments.
			update := LogicalAnd(finite, GreaterThan(scale, ZerosLike(scale)))
			bias1, bias2 := in[inBias1], in[inBias2]
			if perVarBias {
				bias1, bias2 = pick(bias1, i), pick(bias2, i)
			}
			t.adamW(ctx, v, Mul(grads[i], factor), update, Mul(in[inLR], scale), bias1, bias2)
		}
		return []*Node{sum, count, norm}
	}
}

// adamW applies one AdamW update to v (decoupled weight decay, only on matrices).
func (t *Trainer) adamW(ctx *context.Context, v *context.Variable, grad, update, lr, bias1, bias2 *Node) {
	cfg := t.cfg
	g := grad.Graph()
	m1, m2 := stateVar(ctx, scopeMoment1, v), stateVar(ctx, scopeMoment2, v)
	w := ConvertDType(v.ValueGraph(g), dtypes.Float32) // a no-op for float32 weights
	m := Add(MulScalar(m1.ValueGraph(g), cfg.Beta1), MulScalar(grad, 1-cfg.Beta1))
	s := Add(MulScalar(m2.ValueGraph(g), cfg.Beta2), MulScalar(Square(grad), 1-cfg.Beta2))
	step := Div(Mul(m, bias1), AddScalar(Sqrt(Mul(s, bias2)), cfg.Epsilon))
	if cfg.WeightDecay > 0 && v.Shape().Rank() >= 2 {
		step = Add(step, MulScalar(w, cfg.WeightDecay))
	}
	keep := func(newV, old *Node) *Node { return Where(update, newV, old) }
	v.SetValueGraph(keep(ConvertDType(Sub(w, Mul(step, lr)), v.DType()), v.ValueGraph(g)))
	m1.SetValueGraph(keep(m, m1.ValueGraph(g)))
	m2.SetValueGraph(keep(s, m2.ValueGraph(g)))
}

// stateVar is the optimizer state variable of v under scope (it must exist: created by New,
// or when v joined the active set).
func stateVar(ctx *context.Context, scope string, v *context.Variable) *context.Variable {
	sv := ctx.GetVariableByScopeAndName(scope+v.Scope(), v.Name())
	if sv == nil {
		panic("train: optimizer state for " + v.ScopeAndName() + " missing under " + scope)
	}
	return sv
}

// buildEval returns the graph computing [loss sum, weighted count] without gradients.
func (t *Trainer) buildEval() func(ctx *context.Context, in []*Node) []*Node {
	return func(ctx *context.Context, in []*Node) []*Node {
		logits := t.model.Logits(ctx, models.Inputs{Tokens: in[inTokens], Positions: in[inPositions],
			Segments: in[inSegments], Images: optionalInput(in, inWeights+1)}) // [B, S, V]
		sum, count := xent.TokenLoss(logits, in[inTargets], in[inWeights])
		return []*Node{sum, count}
	}
}
