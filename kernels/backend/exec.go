package backend

import (
	"reflect"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// executable runs the steps of a planned graph. Buffers are the simplego backend's; every
// intermediate buffer is handed to (donated to) its last reader or freed right after it.
type executable struct {
	backend     *Backend
	name        string
	numValues   int
	paramIDs    []int // value id of each parameter (-1 if unused)
	paramNames  []string
	paramShapes []shapes.Shape
	outIDs      []int
	outShapes   []shapes.Shape
	steps       []step
}

var _ backends.Executable = (*executable)(nil)

// Finalize implements backends.Executable.
func (e *executable) Finalize() {
	for _, st := range e.steps {
		if st.seg != nil {
			st.seg.Finalize()
		}
	}
	e.steps = nil
}

// Inputs implements backends.Executable.
func (e *executable) Inputs() ([]string, []shapes.Shape) { return e.paramNames, e.paramShapes }

// Outputs implements backends.Executable.
func (e *executable) Outputs() []shapes.Shape { return e.outShapes }

// Execute implements backends.Executable.
func (e *executable) Execute(inputs []backends.Buffer, donate []bool, dev backends.DeviceNum) (outputs []backends.Buffer, err error) {
	be := e.backend.Backend
	if e.steps == nil {
		return nil, errors.Errorf("%s executable %q: used after Finalize", Name, e.name)
	}
	if len(inputs) != len(e.paramIDs) {
		return nil, errors.Errorf("%s executable %q: %d inputs given, %d expected", Name, e.name, len(inputs), len(e.paramIDs))
	}
	slots := make([]backends.Buffer, e.numValues)
	owned := make([]bool, e.numValues)
	var unusedDonated []backends.Buffer
	for i, in := range inputs {
		if in == nil {
			return nil, errors.Errorf("%s executable %q: input #%d is nil", Name, e.name, i)
		}
		shape, err := be.BufferShape(in)
		if err != nil {
			return nil, errors.WithMessagef(err, "%s executable %q: input #%d", Name, e.name, i)
		}
		if !shape.Equal(e.paramShapes[i]) {
			return nil, errors.Errorf("%s executable %q: parameter %q (input #%d): expected shape %s, got %s",
				Name, e.name, e.paramNames[i], i, e.paramShapes[i], shape)
		}
		isDonated := i < len(donate) && donate[i]
		if id := e.paramIDs[i]; id >= 0 {
			slots[id], owned[id] = in, isDonated
		} else if isDonated {
			unusedDonated = append(unusedDonated, in)
		}
	}
	defer func() {
		// Free what this execution still owns (everything, after an error).
		for _, buf := range unusedDonated {
			_ = be.BufferFinalize(buf)
		}
		for id, buf := range slots {
			if buf != nil && owned[id] {
				_ = be.BufferFinalize(buf)
			}
		}
		if err != nil {
			for _, buf := range outputs {
				if buf != nil {
					_ = be.BufferFinalize(buf)
				}
			}
			outputs = nil
		}
	}()

	prof := e.backend.prof.on()
	for _, st := range e.steps {
		var start time.Time
		if prof {
			start = time.Now()
		}
		ins := make([]backends.Buffer, len(st.ins))
		for k, id := range st.ins {
			if ins[k] = slots[id]; ins[k] == nil {
				return nil, errors.Errorf("%s executable %q: value %d not computed before it is read (bug)", Name, e.name, id)
			}
		}
		var outs []backends.Buffer
		if st.seg != nil {
			don := make([]bool, len(ins))
			for k, id := range st.ins {
				don[k] = owned[id] && st.last[k]
			}
			if outs, err = st.seg.Execute(ins, don, dev); err != nil {
				return nil, err
			}
			for k, id := range st.ins {
				if don[k] {
					slots[id], owned[id] = nil, false
				}
			}
		} else {
			reuse := make([]bool, len(ins))
			for k, id := range st.ins {
				// Only the first of repeated inputs (Mul(x, x)) may be reused and freed.
				reuse[k] = owned[id] && st.last[k] && !slices.Contains(st.ins[:k], id)
			}
			if outs, err = st.kern.kernel.run(e.backend, ins, reuse, st.outShapes); err != nil {
				return nil, errors.WithMessagef(err, "%s kernel for %s", st.kern.kernel.name(), st.kern)
			}
			for k, id := range st.ins {
				if reuse[k] {
					if !slices.Contains(outs, ins[k]) { // not overwritten in place
						_ = be.BufferFinalize(slots[id])
					}
					slots[id], owned[id] = nil, false
				}
			}
		}
		for k, id := range st.outs {
			slots[id], owned[id] = outs[k], true
		}
		if prof {
			kind := "simplego"
			if st.kern != nil {
				kind = st.kern.kernel.name()
				if e.backend.prof.detailed {
					kind += " " + st.outShapes[0].String()
				}
			}
			e.backend.prof.add(kind, start)
		}
	}

	outputs = make([]backends.Buffer, len(e.outIDs))
	for i, id := range e.outIDs {
		if owned[id] {
			// Handed over; a second output of the same value gets a copy.
			outputs[i], owned[id] = slots[id], false
			continue
		}
		if outputs[i], err = e.backend.cloneBuffer(slots[id]); err != nil {
			return nil, err
		}
	}
	return outputs, nil
}

// cloneBuffer returns a new buffer with a copy of buf's data.
func (b *Backend) cloneBuffer(buf backends.Buffer) (backends.Buffer, error) {
	if buf == nil {
		return nil, errors.New("cloneBuffer: nil buffer (bug)")
	}
	shape, err := b.Backend.BufferShape(buf)
	if err != nil {
		return nil, err
	}
	src, err := b.Backend.BufferData(buf)
	if err != nil {
		return nil, err
	}
	out, dst, err := b.Backend.NewSharedBuffer(0, shape)
	if err != nil {
		return nil, err
	}
	reflect.Copy(reflect.ValueOf(dst), reflect.ValueOf(src))
	return out, nil
}
