package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// kernel computes a node from its input buffers (the backend's simplego buffers).
type kernel interface {
	// name for error messages and statistics, e.g. "gemm".
	name() string
	// run returns one buffer per output of the node (shapes as recorded). reuse[k] says input
	// k is not needed after this call: the kernel may return it as an output, overwritten.
	run(b *Backend, in []backends.Buffer, reuse []bool, outShapes []shapes.Shape) ([]backends.Buffer, error)
}

// step is one stage of an execution: a compiled simplego segment or a kernel call.
type step struct {
	seg       backends.Executable // nil for a kernel step
	kern      *node               // the kernel's node, for kernel steps
	ins       []int               // value ids read
	outs      []int               // value ids written
	last      []bool              // per input: this step is its last reader (and it is no graph output)
	outShapes []shapes.Shape
}

// plan cuts the recorded graph into steps.
//
// Each value gets a level: parameters and nodes without inputs 0; an ordinary node the maximum
// level of its inputs; a kernel node one more than that. Segment L holds the ordinary nodes of
// level L; the kernels of level L run after segment L−1 and before segment L. So every input of
// a kernel is ready before it runs, every input of a segment node comes from an earlier step or
// the same segment, and there are as many segments as kernel calls on the longest chain (plus
// one), whatever the number of kernel calls.
func (b *Builder) plan(outs []*value) (*executable, error) {
	nodes := b.reachable(outs)
	e := &executable{backend: b.backend, name: b.name}

	// Number the values of the reachable nodes.
	for _, n := range nodes {
		for _, v := range n.outputs {
			v.id = e.numValues
			e.numValues++
		}
	}
	level := make([]int, e.numValues)
	nodeLevel := make(map[*node]int, len(nodes))
	maxLevel := 0
	for _, n := range nodes {
		l := 0
		for _, in := range n.inputs {
			l = max(l, level[in.id])
		}
		if n.kernel != nil {
			l++
		}
		nodeLevel[n] = l
		maxLevel = max(maxLevel, l)
		for _, v := range n.outputs {
			level[v.id] = l
		}
	}
	for _, p := range b.params {
		e.paramNames = append(e.paramNames, p.pname)
		e.paramShapes = append(e.paramShapes, p.outputs[0].shape)
		id := -1 // a parameter no output needs
		if _, used := nodeLevel[p]; used {
			id = p.outputs[0].id
		}
		e.paramIDs = append(e.paramIDs, id)
	}
	keep := make([]bool, e.numValues)
	for _, v := range outs {
		e.outIDs = append(e.outIDs, v.id)
		e.outShapes = append(e.outShapes, v.shape)
		keep[v.id] = true
	}

	// consumers[id] lists the nodes reading a value.
	consumers := make([][]*node, e.numValues)
	for _, n := range nodes {
		for _, in := range n.inputs {
			consumers[in.id] = append(consumers[in.id], n)
		}
	}

	segNodes := make([][]*node, maxLevel+1)
	kernNodes := make([][]*node, maxLevel+1)
	for _, n := range nodes {
		switch l := nodeLevel[n]; {
		case n.param >= 0:
		case n.kernel != nil:
			kernNodes[l] = append(kernNodes[l], n)
		default:
			segNodes[l] = append(segNodes[l], n)
		}
	}
	for l := 0; l <= maxLevel; l++ {
		for _, n := range kernNodes[l] {
			st := step{kern: n}
			for _, in := range n.inputs {
				st.ins = append(st.ins, in.id)
			}
			for _, v := range n.outputs {
				st.outs = append(st.outs, v.id)
				st.outShapes = append(st.outShapes, v.shape)
			}
			e.steps = append(e.steps, st)
		}
		if len(segNodes[l]) > 0 {
			st, err := b.segment(fmt.Sprintf("%s#%d", b.name, l), segNodes[l], consumers, keep)
			if err != nil {
				e.Finalize()
				return nil, err
			}
			e.steps = append(e.steps, st)
		}
	}

	// Last readers.
	lastUse := make([]int, e.numValues)
	for i := range lastUse {
		lastUse[i] = -1
	}
	for si, st := range e.steps {
		for _, id := range st.ins {
			lastUse[id] = si
		}
	}
	for si := range e.steps {
		st := &e.steps[si]
		st.last = make([]bool, len(st.ins))
		for k, id := range st.ins {
			st.last[k] = lastUse[id] == si && !keep[id]
		}
	}
	return e, nil
}

// segment compiles nodes (one level's ordinary nodes, in recording order) as a simplego
// executable whose parameters are the values they read from outside and whose outputs are the
// values read outside (or kept as graph outputs).
func (b *Builder) segment(name string, nodes []*node, consumers [][]*node, keep []bool) (step, error) {
	inSeg := make(map[*node]bool, len(nodes))
	for _, n := range nodes {
		inSeg[n] = true
	}
	sb := b.backend.Backend.Builder(name)
	ops := make(map[int]backends.Op)
	var st step
	for _, n := range nodes {
		ins := make([]backends.Op, len(n.inputs))
		for i, in := range n.inputs {
			op, ok := ops[in.id]
			if !ok {
				if inSeg[in.n] {
					return st, errors.Errorf("segment %s: node %s reads %s before it is computed", name, n, in.n)
				}
				var err error
				if op, err = sb.Parameter(fmt.Sprintf("v%d", in.id), in.shape, nil); err != nil {
					return st, errors.WithMessagef(err, "segment %s: parameter for %s", name, in.n)
				}
				ops[in.id] = op
				st.ins = append(st.ins, in.id)
			}
			ins[i] = op
		}
		outs, err := n.replay(sb, ins)
		if err != nil {
			return st, errors.WithMessagef(err, "segment %s: replaying %s", name, n)
		}
		for i, v := range n.outputs {
			ops[v.id] = outs[i]
		}
	}
	var outOps []backends.Op
	for _, n := range nodes {
		for _, v := range n.outputs {
			needed := keep[v.id]
			for _, c := range consumers[v.id] {
				needed = needed || !inSeg[c]
			}
			if needed {
				outOps = append(outOps, ops[v.id])
				st.outs = append(st.outs, v.id)
				st.outShapes = append(st.outShapes, v.shape)
			}
		}
	}
	exec, err := sb.Compile(outOps, nil)
	if err != nil {
		return st, errors.WithMessagef(err, "segment %s", name)
	}
	st.seg = exec
	return st, nil
}
