package backend

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/kernels/elementwise"
)

// routeFn decides whether a kernel computes a recorded node (nil: simplego does). args are the
// call's non-Op arguments, in order.
type routeFn func(o options, n *node, args []any) kernel

// routes maps Builder methods to their kernel routing.
var routes = map[string]routeFn{}

func init() {
	routes["DotGeneral"] = routeDot
	for _, name := range []string{"Add", "Sub", "Mul", "Div", "Max", "Min"} {
		routes[name] = routeBinary
	}
	for _, name := range []string{"Neg", "Abs", "Exp", "Log", "Logistic", "Sqrt", "Rsqrt", "Tanh"} {
		routes[name] = routeUnary
	}
	for _, name := range []string{"ReduceSum", "ReduceMax", "ReduceMin"} {
		routes[name] = routeReduce
	}
	routes["BroadcastInDim"] = routeBroadcast
	routes["Transpose"] = routeTranspose
	routes["Where"] = routeWhere
}

// DefaultEWMin is the smallest output (in elements) of an element-wise, reduction or data
// movement op given to kernels/elementwise.
const DefaultEWMin = 1 << 17

// bigFloat32 tells whether n's output is float32 and large enough for a kernel.
func bigFloat32(o options, n *node) bool {
	s := n.outputs[0].shape
	return s.DType == dtypes.Float32 && s.Size() >= o.ewMin
}

// ewKernel is an element-wise kernel: compute fills out from the inputs' flat data.
type ewKernel struct {
	kind    string
	inPlace []int // inputs whose buffer may become the output (same shape as the output)
	compute func(out any, in []any) error
}

func (k *ewKernel) name() string { return k.kind }

func (k *ewKernel) run(b *Backend, in []backends.Buffer, reuse []bool, outShapes []shapes.Shape) ([]backends.Buffer, error) {
	be := b.Backend
	flats := make([]any, len(in))
	for i, buf := range in {
		f, err := be.BufferData(buf)
		if err != nil {
			return nil, err
		}
		flats[i] = f
	}
	var out backends.Buffer
	var flat any
	for _, k := range k.inPlace {
		if reuse[k] {
			out, flat = in[k], flats[k]
			break
		}
	}
	if out == nil {
		var err error
		if out, flat, err = be.NewSharedBuffer(0, outShapes[0]); err != nil {
			return nil, err
		}
	}
	if err := k.compute(flat, flats); err != nil {
		if !slices.Contains(in, out) {
			_ = be.BufferFinalize(out)
		}
		return nil, err
	}
	return []backends.Buffer{out}, nil
}

// sameShapeInputs lists the inputs of n with its output's shape.
func sameShapeInputs(n *node) []int {
	var ks []int
	for k, in := range n.inputs {
		if in.shape.Equal(n.outputs[0].shape) {
			ks = append(ks, k)
		}
	}
	return ks
}

func routeBinary(o options, n *node, _ []any) kernel {
	if !bigFloat32(o, n) {
		return nil
	}
	op, _ := elementwise.BinaryOpByName(n.op)
	outDims := n.outputs[0].shape.Dimensions
	xDims, yDims := n.inputs[0].shape.Dimensions, n.inputs[1].shape.Dimensions
	return &ewKernel{kind: n.op, inPlace: sameShapeInputs(n), compute: func(out any, in []any) error {
		return elementwise.Binary(op, out.([]float32), outDims, in[0].([]float32), xDims, in[1].([]float32), yDims)
	}}
}

func routeUnary(o options, n *node, _ []any) kernel {
	if !bigFloat32(o, n) {
		return nil
	}
	op, _ := elementwise.UnaryOpByName(n.op)
	return &ewKernel{kind: n.op, inPlace: []int{0}, compute: func(out any, in []any) error {
		return elementwise.Unary(op, out.([]float32), in[0].([]float32))
	}}
}

// routeReduce: args = [axes] (none: all axes).
func routeReduce(o options, n *node, args []any) kernel {
	x := n.inputs[0].shape
	if x.DType != dtypes.Float32 || x.Size() < o.ewMin {
		return nil
	}
	axes := normAxes(args[0].([]int), x.Rank())
	if len(axes) == 0 { // no axes: all of them
		for a := range x.Rank() {
			axes = append(axes, a)
		}
	}
	s, ok := elementwise.PlanReduce(x.Dimensions, axes)
	if !ok {
		return nil
	}
	op := map[string]elementwise.ReduceOp{"ReduceSum": elementwise.ReduceSum, "ReduceMax": elementwise.ReduceMax,
		"ReduceMin": elementwise.ReduceMin}[n.op]
	return &ewKernel{kind: n.op, compute: func(out any, in []any) error {
		return elementwise.Reduce(op, out.([]float32), in[0].([]float32), s)
	}}
}

// moveable tells whether data movement kernels take n's dtype.
func moveable(o options, n *node) bool {
	s := n.outputs[0].shape
	switch s.DType {
	case dtypes.Float32, dtypes.Int32, dtypes.Bool:
		return s.Size() >= o.ewMin
	}
	return false
}

// routeBroadcast: args = [output shape, broadcast axes].
func routeBroadcast(o options, n *node, args []any) kernel {
	if !moveable(o, n) {
		return nil
	}
	outDims, xDims := n.outputs[0].shape.Dimensions, n.inputs[0].shape.Dimensions
	axes := args[1].([]int)
	return &ewKernel{kind: n.op, compute: func(out any, in []any) error {
		switch o := out.(type) {
		case []float32:
			return elementwise.BroadcastInDim(o, outDims, in[0].([]float32), xDims, axes)
		case []int32:
			return elementwise.BroadcastInDim(o, outDims, in[0].([]int32), xDims, axes)
		case []bool:
			return elementwise.BroadcastInDim(o, outDims, in[0].([]bool), xDims, axes)
		}
		return errors.Errorf("BroadcastInDim: dtype %T (bug)", out)
	}}
}

// routeTranspose: args = [permutation].
func routeTranspose(o options, n *node, args []any) kernel {
	if !moveable(o, n) {
		return nil
	}
	dims := n.inputs[0].shape.Dimensions
	perm := normAxes(args[0].([]int), len(dims))
	return &ewKernel{kind: n.op, compute: func(out any, in []any) error {
		switch o := out.(type) {
		case []float32:
			return elementwise.Transpose(o, in[0].([]float32), dims, perm)
		case []int32:
			return elementwise.Transpose(o, in[0].([]int32), dims, perm)
		case []bool:
			return elementwise.Transpose(o, in[0].([]bool), dims, perm)
		}
		return errors.Errorf("Transpose: dtype %T (bug)", out)
	}}
}

func routeWhere(o options, n *node, _ []any) kernel {
	if !bigFloat32(o, n) {
		return nil
	}
	outDims := n.outputs[0].shape.Dimensions
	c, t, f := n.inputs[0].shape.Dimensions, n.inputs[1].shape.Dimensions, n.inputs[2].shape.Dimensions
	var inPlace []int
	for _, k := range sameShapeInputs(n) {
		if k > 0 {
			inPlace = append(inPlace, k)
		}
	}
	return &ewKernel{kind: n.op, inPlace: inPlace, compute: func(out any, in []any) error {
		return elementwise.Where(out.([]float32), outDims, in[0].([]bool), c, in[1].([]float32), t, in[2].([]float32), f)
	}}
}
