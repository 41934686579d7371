package main

import (
	"flag"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/xla"
)

type smokeArgs struct{ device string }

func (a *smokeArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.device, "device", "cuda", "cuda, auto or cpu")
}

// run loads the plugin and multiplies two 1024×1024 bf16 matrices, checking one value.
func (a *smokeArgs) run() (map[string]any, error) {
	start := time.Now()
	backend, choice, err := xla.New(xla.Options{Want: a.device, PJRTOptions: map[string]any{"preallocate": false}})
	if err != nil {
		return nil, errors.WithMessage(err, "stage 0: loading the PJRT plugin")
	}
	exec, err := NewExec(backend, func(g *Graph) *Node {
		x := Ones(g, shapes.Make(dtypes.BFloat16, 1024, 1024))
		return ConvertDType(ReduceAllMax(MatMul(x, x)), dtypes.Float32)
	})
	if err != nil {
		return nil, errors.Wrap(err, "stage 0: building a matmul")
	}
	out, err := exec.Exec()
	if err != nil {
		return nil, errors.Wrap(err, "stage 0: running a matmul (does go-xla's PJRT C API 0.83 load this plugin?)")
	}
	if v := tensors.ToScalar[float32](out[0]); v != 1024 {
		return nil, errors.Errorf("stage 0: 1024×1024 ones squared gave max %g, want 1024", v)
	}
	return map[string]any{"stage": "smoke", "ok": true, "backend": xla.Describe(backend, choice),
		"devices": backend.NumDevices(), "seconds": time.Since(start).Seconds()}, nil
}
