package remat

import (
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/pkg/errors"
)

// delayRecompute makes the recomputation's inputs data-dependent on the incoming gradient. It is
// only ever false in this package's tests, to measure what the dependency buys on simplego.
var delayRecompute = true

// Checkpoint returns fn(inputs) while keeping, for the backward pass, only the inputs (and the
// values fn captures from outside) alive: fn's intermediate values are dropped after the forward
// pass and recomputed during the backward pass, which then back-propagates through the
// recomputation. See the package documentation for the contract on fn.
//
// Gradients flow to every float input and to every float value fn reads from outside (graph
// parameters such as context variables, or nodes built before the call). Non-float outputs are
// returned with StopGradient. It panics (GoMLX style) on invalid arguments.
func Checkpoint(fn func(inputs []*graph.Node) []*graph.Node, inputs ...*graph.Node) []*graph.Node {
	if fn == nil {
		panicf("remat.Checkpoint: fn is nil")
	}
	if len(inputs) == 0 {
		panicf("remat.Checkpoint: at least one input is required")
	}
	for i, x := range inputs {
		if x == nil {
			panicf("remat.Checkpoint: input #%d is nil", i)
		}
		if x.Graph() != inputs[0].Graph() {
			panicf("remat.Checkpoint: input #%d belongs to graph %q, input #0 to %q",
				i, x.Graph().Name(), inputs[0].Graph().Name())
		}
	}
	g := inputs[0].Graph()
	g.AssertBuilding()

	startID := len(g.Nodes()) // Nodes with smaller ids existed before fn ran.
	outputs := fn(slices.Clone(inputs))
	endID := len(g.Nodes())
	if len(outputs) == 0 {
		panicf("remat.Checkpoint: fn returned no outputs")
	}
	for i, y := range outputs {
		if y == nil || y.Graph() != g {
			panicf("remat.Checkpoint: fn's output #%d is nil or from another graph", i)
		}
	}

	st := &checkpoint{fn: fn, inputs: inputs, outputs: outputs, dY: make([]*graph.Node, len(outputs)),
		forwardStart: startID, forwardEnd: endID}
	st.externals = findExternals(inputs, outputs, startID)
	st.checkExternalsIndependent()

	// Links: custom-gradient identities on every differentiable input and external. Autodiff
	// reaches them through the zero term added to the outputs; their gradient functions return
	// the gradients computed by back-propagating through the recomputation.
	var links []*graph.Node
	for i, x := range inputs {
		if differentiable(x) {
			links = append(links, graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node {
				return st.gradient(i)
			}))
		}
	}
	for k, e := range st.externals {
		links = append(links, graph.IdentityWithCustomGradient(e, func(_, _ *graph.Node) *graph.Node {
			return st.gradient(len(inputs) + k)
		}))
	}
	if len(links) == 0 {
		return outputs // Nothing can receive a gradient: there is nothing to recompute.
	}

	// Captures: created after the links, so autodiff (decreasing node ids) records every dY
	// before any link asks for its gradient. Returning nil keeps autodiff out of fn's forward
	// graph, so none of its intermediate values is referenced by the backward pass.
	zero := zeroLink(links)
	results := make([]*graph.Node, len(outputs))
	for i, y := range outputs {
		if !y.DType().IsFloat() {
			results[i] = graph.StopGradient(y)
			continue
		}
		captured := graph.IdentityWithCustomGradient(y, func(_, v *graph.Node) *graph.Node {
			st.capture(i, v)
			return nil
		})
		results[i] = graph.Sub(captured, graph.ConvertDType(zero, y.DType())) // y - (+0) == y exactly.
	}
	return results
}

// checkpoint is the state shared by the closures of one Checkpoint call.
type checkpoint struct {
	fn        func([]*graph.Node) []*graph.Node
	inputs    []*graph.Node
	outputs   []*graph.Node
	externals []*graph.Node

	forwardStart, forwardEnd int // Ids of the nodes the forward call of fn created.

	dY    []*graph.Node // Gradient w.r.t. each output, captured during the current Gradient pass.
	grads []*graph.Node // Gradients w.r.t. inputs then externals; nil until computed for this pass.
	done  bool          // grads was computed: the next capture starts a new Gradient pass.
}

func (st *checkpoint) capture(i int, v *graph.Node) {
	if st.done { // A new graph.Gradient pass: forget the previous one.
		clear(st.dY)
		st.grads, st.done = nil, false
	}
	st.dY[i] = v
}

// gradient returns the gradient w.r.t. inputs[idx] (or externals[idx-len(inputs)]), running the
// recomputation and its back-propagation the first time it is asked in a Gradient pass.
func (st *checkpoint) gradient(idx int) *graph.Node {
	if !st.done {
		st.backward()
		st.done = true
	}
	return st.grads[idx]
}

// backward recomputes fn on inputs that depend on the incoming gradient, and back-propagates
// the captured dY through the recomputation with a nested graph.Gradient.
func (st *checkpoint) backward() {
	var anyDY *graph.Node
	for _, dy := range st.dY {
		if dy != nil {
			anyDY = dy
			break
		}
	}
	if anyDY == nil {
		panicf("remat.Checkpoint: an input's gradient was requested before any output's gradient was captured " +
			"-- this is a bug in remat (or a link node was used outside of it)")
	}

	// A scalar +0 computed from dY and stopped: the recomputation cannot start before dY exists
	// (simplego's parallel scheduler runs any node whose inputs are ready, and would otherwise
	// recompute fn during the forward pass, saving nothing), and the nested Gradient cannot flow
	// back into dY's computation.
	var zero *graph.Node
	if delayRecompute {
		zero = graph.StopGradient(finiteZero(onePoint(anyDY)))
	}

	// Recomputation inputs: x - (+0), behind an identity that receives the gradient but stops it
	// (so the nested Gradient never reaches x's own history, e.g. the previous layers).
	var targets []*graph.Node
	recomputeInputs := make([]*graph.Node, len(st.inputs))
	for i, x := range st.inputs {
		xr := x
		if zero != nil && x.DType().IsFloat() {
			xr = graph.Sub(x, graph.ConvertDType(zero, x.DType())) // [same as x]
		}
		if differentiable(x) {
			xr = graph.IdentityWithCustomGradient(xr, func(_, _ *graph.Node) *graph.Node { return nil })
			targets = append(targets, xr)
		}
		recomputeInputs[i] = xr
	}
	targets = append(targets, st.externals...)

	recomputeStart := len(st.outputs[0].Graph().Nodes())
	recomputed := st.fn(recomputeInputs)
	if len(recomputed) != len(st.outputs) {
		panicf("remat.Checkpoint: fn returned %d outputs when recomputed, %d the first time: fn must be deterministic",
			len(recomputed), len(st.outputs))
	}
	st.checkNoForwardReuse(recomputed, recomputeStart)

	// Root of the nested Gradient: each recomputed output behind an identity whose gradient is
	// the captured dY. The root is never executed (nothing consumes it), only differentiated.
	var root *graph.Node
	for i, y := range recomputed {
		if y == nil || !y.Shape().Equal(st.outputs[i].Shape()) {
			panicf("remat.Checkpoint: fn's output #%d was %s, but %v when recomputed: fn must be deterministic",
				i, st.outputs[i].Shape(), y)
		}
		dy := st.dY[i]
		if dy == nil || !y.DType().IsFloat() {
			continue
		}
		term := graph.ReduceAllSum(graph.IdentityWithCustomGradient(y, func(_, _ *graph.Node) *graph.Node { return dy }))
		term = graph.ConvertDType(term, dtypes.Float32)
		if root == nil {
			root = term
		} else {
			root = graph.Add(root, term)
		}
	}
	grads := graph.Gradient(root, targets...)

	st.grads = make([]*graph.Node, len(st.inputs)+len(st.externals))
	next := 0
	for i, x := range st.inputs {
		if differentiable(x) {
			st.grads[i] = grads[next]
			next++
		}
	}
	for k := range st.externals {
		st.grads[len(st.inputs)+k] = grads[next]
		next++
	}
}

// differentiable tells whether a gradient can flow into x: float dtype, not a constant and not
// a StopGradient node.
func differentiable(x *graph.Node) bool {
	return x.DType().IsFloat() && !x.StopGradient() && x.Type() != graph.NodeTypeConstant
}

// findExternals lists the differentiable values fn's outputs depend on that are not among the
// inputs: nodes created before fn ran (ids < startID), and graph parameters (e.g. context
// variables) first read inside fn. The walk stops at the inputs and at pre-existing nodes.
func findExternals(inputs, outputs []*graph.Node, startID int) []*graph.Node {
	isInput := make(map[*graph.Node]bool, len(inputs))
	for _, x := range inputs {
		isInput[x] = true
	}
	visited := make(map[*graph.Node]bool)
	var externals []*graph.Node
	var visit func(n *graph.Node)
	visit = func(n *graph.Node) {
		if visited[n] || isInput[n] {
			return
		}
		visited[n] = true
		if n.StopGradient() {
			return // Nothing flows through it, nor into what it depends on.
		}
		if int(n.Id()) < startID || n.Type() == graph.NodeTypeParameter {
			if differentiable(n) {
				externals = append(externals, n)
			}
			return
		}
		for _, in := range n.Inputs() {
			visit(in)
		}
	}
	for _, y := range outputs {
		visit(y)
	}
	return externals
}

// checkNoForwardReuse panics if the recomputation reads a differentiable value the forward call
// of fn created (a node memoised by fn across calls): the nested Gradient could not follow it
// back to the inputs. Parameters (context variables) and constants are expected to be shared.
func (st *checkpoint) checkNoForwardReuse(recomputed []*graph.Node, recomputeStart int) {
	visited := make(map[*graph.Node]bool)
	var visit func(n *graph.Node)
	visit = func(n *graph.Node) {
		if visited[n] {
			return
		}
		visited[n] = true
		if id := int(n.Id()); id < recomputeStart {
			if id >= st.forwardStart && id < st.forwardEnd && differentiable(n) && n.Type() != graph.NodeTypeParameter {
				panicf("remat.Checkpoint: the recomputation of fn reads %s, created by fn's first call: "+
					"fn must build its graph afresh on each call (no nodes memoised across calls)", n)
			}
			return
		}
		for _, in := range n.Inputs() {
			visit(in)
		}
	}
	for _, y := range recomputed {
		visit(y)
	}
}

// checkExternalsIndependent panics if an external value depends on another: the nested
// Gradient would count the path between them twice (once itself, once in the outer pass).
func (st *checkpoint) checkExternalsIndependent() {
	if len(st.externals) < 2 {
		return
	}
	isExternal := make(map[*graph.Node]bool, len(st.externals))
	for _, e := range st.externals {
		isExternal[e] = true
	}
	visited := make(map[*graph.Node]bool)
	var visit func(n *graph.Node, from *graph.Node)
	visit = func(n, from *graph.Node) {
		for _, in := range n.Inputs() {
			if isExternal[in] {
				panicf("remat.Checkpoint: fn reads both %s and %s, which is computed from it: "+
					"pass the derived value (or both) as explicit inputs of Checkpoint instead", in, from)
			}
			if !visited[in] && !in.StopGradient() {
				visited[in] = true
				visit(in, from)
			}
		}
	}
	for _, e := range st.externals {
		visit(e, e)
	}
}

// zeroLink returns a scalar float32 exactly +0 that depends (differentiably) on each link, at
// O(1) cost per link: one element of each, summed, guarded against Inf/NaN, times 0.
func zeroLink(links []*graph.Node) *graph.Node {
	var sum *graph.Node
	for _, link := range links {
		s := graph.ConvertDType(onePoint(link), dtypes.Float32)
		if sum == nil {
			sum = s
		} else {
			sum = graph.Add(sum, s)
		}
	}
	return finiteZero(sum)
}

// onePoint returns one element of x as a scalar (a Gather, O(1)); the sum for empty/scalar x.
func onePoint(x *graph.Node) *graph.Node {
	if x.IsScalar() || x.Shape().Size() == 0 {
		return graph.ReduceAllSum(x)
	}
	return graph.Gather(x, graph.Const(x.Graph(), make([]int32, x.Rank())))
}

// finiteZero returns |s|·0 with non-finite s replaced by 0: always +0, yet data-dependent on s.
func finiteZero(s *graph.Node) *graph.Node {
	zero := graph.ScalarZero(s.Graph(), s.DType())
	return graph.Mul(graph.Abs(graph.Where(graph.IsFinite(s), s, zero)), zero)
}

// panicf panics with an error built from format and args, the way GoMLX graph builders do.
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}
