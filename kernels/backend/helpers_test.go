package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

var (
	backendsOnce      sync.Once
	fastB             *Backend // every DotGeneral (dotmin=0) goes to the kernel
	defaultB          *Backend // default routing
	refB              backends.Backend
	errCreateBackends error
)

// testBackends returns the backend under test (kernels for every product), the backend with
// the default routing and the simplego reference.
func testBackends(t testing.TB) (fast, dflt *Backend, ref backends.Backend) {
	t.Helper()
	backendsOnce.Do(func() {
		if fastB, errCreateBackends = New("dotmin=0,ewmin=0,ops_sequential"); errCreateBackends != nil {
			return
		}
		if defaultB, errCreateBackends = New("ops_sequential"); errCreateBackends != nil {
			return
		}
		refB, errCreateBackends = simplego.New("ops_sequential")
	})
	if errCreateBackends != nil {
		t.Fatal(errCreateBackends)
	}
	return fastB, defaultB, refB
}

// randTensor returns a seeded random tensor of the shape (float32, float64, bfloat16 or ints).
func randTensor(seed uint64, shape shapes.Shape) *tensors.Tensor {
	r := rand.New(rand.NewPCG(seed, uint64(shape.Size())))
	t := tensors.FromShape(shape)
	err := t.MutableFlatData(func(flat any) {
		switch s := flat.(type) {
		case []float32:
			for i := range s {
				s[i] = float32(r.NormFloat64())
			}
		case []float64:
			for i := range s {
				s[i] = r.NormFloat64()
			}
		case []bfloat16.BFloat16:
			for i := range s {
				s[i] = bfloat16.FromFloat32(float32(r.NormFloat64()))
			}
		case []int32:
			for i := range s {
				s[i] = int32(r.IntN(7))
			}
		default:
			panic(fmt.Sprintf("randTensor: dtype %s", shape.DType))
		}
	})
	if err != nil {
		panic(err)
	}
	return t
}

// toFloat64 returns a tensor's values as float64.
func toFloat64(t *tensors.Tensor) []float64 {
	var out []float64
	t.ConstFlatData(func(flat any) {
		switch f := flat.(type) {
		case []float32:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []float64:
			out = append(out, f...)
		case []bfloat16.BFloat16:
			for _, v := range f {
				out = append(out, float64(v.Float32()))
			}
		case []int32:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []uint64:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []bool:
			for _, v := range f {
				if v {
					out = append(out, 1)
				} else {
					out = append(out, 0)
				}
			}
		default:
			panic(fmt.Sprintf("toFloat64: %T", flat))
		}
	})
	return out
}

// assertClose compares outputs element-wise: |got − want| ≤ atol + rtol·|want|.
func assertClose(t *testing.T, what string, got, want []*tensors.Tensor, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !got[i].Shape().Equal(want[i].Shape()) {
			t.Fatalf("%s: output #%d has shape %s, want %s", what, i, got[i].Shape(), want[i].Shape())
		}
		g, w := toFloat64(got[i]), toFloat64(want[i])
		worst, at := 0.0, -1
		for j := range w {
			d := math.Abs(g[j] - w[j])
			if math.IsNaN(g[j]) != math.IsNaN(w[j]) || d > atol+rtol*math.Abs(w[j]) {
				if d > worst || at < 0 {
					worst, at = d, j
				}
			}
		}
		if at >= 0 {
			t.Fatalf("%s: output #%d element %d: got %g, want %g (|diff| %g)", what, i, at, g[at], w[at], worst)
		}
	}
}

// execOn runs fn on backend with the given inputs.
func execOn(t *testing.T, backend backends.Backend, fn any, inputs ...*tensors.Tensor) []*tensors.Tensor {
	t.Helper()
	exec, err := NewExecAny(backend, fn)
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		c, err := in.LocalClone() // a tensor cannot be used on two backends
		if err != nil {
			t.Fatal(err)
		}
		args[i] = c
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatalf("executing on %s: %+v", backend.Name(), err)
	}
	return outs
}
