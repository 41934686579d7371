package backend

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Builder records a computation. Every call is also issued on a simplego builder of the whole
// graph (the shadow), which supplies shape inference and error checking, and which is compiled
// as it is when the graph routes nothing to a kernel.
type Builder struct {
	backend  *Backend
	name     string
	shadow   backends.Builder
	nodes    []*node
	params   []*node
	compiled bool
}

var _ backends.Builder = (*Builder)(nil)

// replayFn re-issues a recorded call on another builder with new input Ops.
type replayFn func(sb backends.Builder, in []backends.Op) ([]backends.Op, error)

// node is one recorded call.
type node struct {
	idx     int
	op      string // the Builder method, e.g. "Add"
	inputs  []*value
	args    []any // the call's other arguments, in order
	outputs []*value
	replay  replayFn // nil for parameters
	kernel  kernel   // non-nil when a kernel computes the node
	param   int      // parameter index, or -1
	pname   string
}

// value is one output of a node: the backends.Op handed to GoMLX.
type value struct {
	n      *node
	idx    int // output index in n.outputs
	id     int // index in Builder's value numbering (set at compile time)
	shape  shapes.Shape
	shadow backends.Op
}

// Name implements backends.Builder.
func (b *Builder) Name() string { return b.name }

func (b *Builder) values(ops []backends.Op) ([]*value, error) {
	vs := make([]*value, len(ops))
	for i, op := range ops {
		v, ok := op.(*value)
		if !ok || v == nil {
			return nil, errors.Errorf("%s builder %q: operand #%d is not an Op of this backend (%T)", Name, b.name, i, op)
		}
		if v.n == nil || v.n.idx >= len(b.nodes) || b.nodes[v.n.idx] != v.n {
			return nil, errors.Errorf("%s builder %q: operand #%d belongs to another computation", Name, b.name, i)
		}
		vs[i] = v
	}
	return vs, nil
}

// record issues the call on the shadow builder and records it.
func (b *Builder) record(op string, ins []backends.Op, args []any, replay replayFn) ([]backends.Op, error) {
	n, err := b.recordNode(op, ins, args, replay)
	if err != nil {
		return nil, err
	}
	outs := make([]backends.Op, len(n.outputs))
	for i, v := range n.outputs {
		outs[i] = v
	}
	return outs, nil
}

// recordNode records a call with its Op inputs and other arguments, and asks the routing table
// (see routes) whether a kernel computes it.
func (b *Builder) recordNode(op string, ins []backends.Op, args []any, replay replayFn) (*node, error) {
	if b.compiled {
		return nil, errors.Errorf("%s builder %q: %s called after Compile", Name, b.name, op)
	}
	vs, err := b.values(ins)
	if err != nil {
		return nil, errors.WithMessage(err, op)
	}
	shadowIns := make([]backends.Op, len(vs))
	for i, v := range vs {
		shadowIns[i] = v.shadow
	}
	shadowOuts, err := replay(b.shadow, shadowIns)
	if err != nil {
		return nil, err
	}
	n := &node{idx: len(b.nodes), op: op, inputs: vs, args: args, replay: replay, param: -1}
	for i, so := range shadowOuts {
		shape, err := b.shadow.OpShape(so)
		if err != nil {
			return nil, errors.WithMessagef(err, "%s: shape of output #%d", op, i)
		}
		n.outputs = append(n.outputs, &value{n: n, idx: i, shape: shape, shadow: so})
	}
	b.nodes = append(b.nodes, n)
	if !b.backend.opts.noKernels {
		lookThroughBroadcasts(n)
	}
	if route := routes[op]; route != nil && !b.backend.opts.noKernels {
		n.kernel = route(b.backend.opts, n, args)
	}
	return n, nil
}

// OpShape implements backends.Builder.
func (b *Builder) OpShape(op backends.Op) (shapes.Shape, error) {
	vs, err := b.values([]backends.Op{op})
	if err != nil {
		return shapes.Invalid(), errors.WithMessage(err, "OpShape")
	}
	return vs[0].shape, nil
}

// Parameter implements backends.Builder.
func (b *Builder) Parameter(name string, shape shapes.Shape, sharding *backends.ShardingSpec) (backends.Op, error) {
	if b.compiled {
		return nil, errors.Errorf("%s builder %q: Parameter called after Compile", Name, b.name)
	}
	so, err := b.shadow.Parameter(name, shape, sharding)
	if err != nil {
		return nil, err
	}
	n := &node{idx: len(b.nodes), op: "Parameter", param: len(b.params), pname: name}
	n.outputs = []*value{{n: n, shape: shape.Clone(), shadow: so}}
	b.nodes = append(b.nodes, n)
	b.params = append(b.params, n)
	return n.outputs[0], nil
}

// Constant implements backends.Builder. Like simplego, it keeps a reference to flat.
func (b *Builder) Constant(flat any, dims ...int) (backends.Op, error) {
	dims = slices.Clone(dims)
	outs, err := b.record("Constant", nil, []any{flat, dims}, func(sb backends.Builder, _ []backends.Op) ([]backends.Op, error) {
		o, err := sb.Constant(flat, dims...)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// DistributedSPMD implements backends.Builder: one device only (as simplego).
func (b *Builder) DistributedSPMD(numDevices int) error { return b.shadow.DistributedSPMD(numDevices) }

// DistributedAutoSharding implements backends.Builder: one device only (as simplego).
func (b *Builder) DistributedAutoSharding(meshes ...backends.Mesh) error {
	return b.shadow.DistributedAutoSharding(meshes...)
}

// DeviceAssignment implements backends.Builder.
func (b *Builder) DeviceAssignment(devices ...backends.DeviceNum) error {
	return b.shadow.DeviceAssignment(devices...)
}

// Compile implements backends.Builder: a graph that routes nothing to a kernel is the shadow
// simplego graph compiled as it is; otherwise it is cut into simplego segments and kernel
// calls (see plan).
func (b *Builder) Compile(outputs []backends.Op, shardings []*backends.ShardingSpec) (backends.Executable, error) {
	if b.compiled {
		return nil, errors.Errorf("%s builder %q: Compile called twice", Name, b.name)
	}
	outs, err := b.values(outputs)
	if err != nil {
		return nil, errors.WithMessage(err, "Compile")
	}
	b.compiled = true
	shadowOuts := make([]backends.Op, len(outs))
	for i, v := range outs {
		shadowOuts[i] = v.shadow
	}
	if len(shardings) == 0 {
		outs = b.readThroughIdentities(outs)
		b.fuse(outs)
	}
	b.debugSummary(outs)
	if len(shardings) != 0 || !b.usesKernels(outs) {
		return b.shadow.Compile(shadowOuts, shardings)
	}
	exec, err := b.plan(outs)
	if err != nil {
		return nil, errors.WithMessagef(err, "%s builder %q: compiling", Name, b.name)
	}
	return exec, nil
}

// readThroughIdentities makes every reader of an Identity (a copy in simplego) read its input
// instead, and returns outs likewise.
func (b *Builder) readThroughIdentities(outs []*value) []*value {
	resolve := func(v *value) *value {
		for v.n.op == "Identity" && v.n.kernel == nil {
			v = v.n.inputs[0]
		}
		return v
	}
	outs = slices.Clone(outs)
	for i, v := range outs {
		outs[i] = resolve(v)
	}
	for _, n := range b.nodes {
		for i, in := range n.inputs {
			n.inputs[i] = resolve(in)
		}
	}
	return outs
}

// usesKernels tells whether any node needed by outs runs on a kernel.
func (b *Builder) usesKernels(outs []*value) bool {
	for _, n := range b.reachable(outs) {
		if n.kernel != nil {
			return true
		}
	}
	return false
}

// reachable returns the nodes outs depend on, in recording (topological) order.
func (b *Builder) reachable(outs []*value) []*node {
	seen := make([]bool, len(b.nodes))
	var visit func(n *node)
	visit = func(n *node) {
		if seen[n.idx] {
			return
		}
		seen[n.idx] = true
		for _, in := range n.inputs {
			visit(in.n)
		}
	}
	for _, v := range outs {
		visit(v.n)
	}
	var nodes []*node
	for i, n := range b.nodes {
		if seen[i] {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// cloneArg copies the slice arguments simplego may modify in place (it rewrites axis lists).
func cloneArg[T any](x T) T {
	switch v := any(x).(type) {
	case []int:
		return any(slices.Clone(v)).(T)
	case [][2]int:
		return any(slices.Clone(v)).(T)
	case [][]int:
		c := make([][]int, len(v))
		for i := range v {
			c[i] = slices.Clone(v[i])
		}
		return any(c).(T)
	case []backends.PadAxis:
		return any(slices.Clone(v)).(T)
	case backends.ConvolveAxesConfig:
		return any(v.Clone()).(T)
	case shapes.Shape:
		return any(v.Clone()).(T)
	}
	return x
}

func (n *node) String() string { return fmt.Sprintf("#%d %s", n.idx, n.op) }

// implicitBroadcastOps accept operands of the output's rank with dims of 1 (and scalars) and
// broadcast them themselves (simplego too).
var implicitBroadcastOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Max": true, "Min": true}

// lookThroughBroadcasts makes an element-wise binary op read the operand of a BroadcastInDim
// input instead of the broadcast tensor, when that operand is a scalar or has the output's rank
// with the same axes (dims of 1 repeated): the op broadcasts it itself, and the broadcast
// tensor — often as large as the logits — is never built.
func lookThroughBroadcasts(n *node) {
	if !implicitBroadcastOps[n.op] || len(n.outputs) != 1 {
		return
	}
	out := n.outputs[0].shape
	for k, in := range n.inputs {
		bn := in.n
		if bn.op != "BroadcastInDim" {
			continue
		}
		x := bn.inputs[0]
		if x.shape.DType != out.DType {
			continue
		}
		if x.shape.Rank() == 0 {
			n.inputs[k] = x
			continue
		}
		if x.shape.Rank() != out.Rank() {
			continue
		}
		ok := true
		for i, a := range bn.args[1].([]int) {
			ok = ok && a == i
		}
		for a, d := range x.shape.Dimensions {
			ok = ok && (d == 1 || d == out.Dimensions[a])
		}
		if ok {
			n.inputs[k] = x
		}
	}
}
