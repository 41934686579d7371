package backend

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/pkg/errors"
)

//go:generate go run ./internal/genops .

// Name is the name the backend is registered under: GOMLX_BACKEND="goswift[:config]".
const Name = "goswift"

func init() {
	backends.Register(Name, func(config string) (backends.Backend, error) {
		b, err := New(config)
		if err != nil {
			return nil, err // not a nil *Backend in a non-nil interface
		}
		return b, nil
	})
}

// Backend is GoMLX's simplego backend with the hot ops of each graph handed to kernels/. Its
// buffers, devices and capabilities are simplego's own.
type Backend struct {
	backends.Backend // the simplego backend doing everything but the kernels
	config           string
	opts             options
	prof             profile
}

// options are the backend's own config keys; the other keys go to simplego.
type options struct {
	noKernels  bool // route nothing: every graph runs whole on simplego (debugging)
	dotMinMACs int  // smallest DotGeneral (batch·M·N·K multiply-adds) given to the GEMM kernel
	ewMin      int  // smallest output (elements) of an element-wise op given to a kernel
}

// DefaultDotMinMACs is the smallest DotGeneral, in multiply-adds, that goes to the GEMM kernel:
// 0, every one. The kernel sums each element in an order that depends only on the contracting
// size, so a row's result is the same whether it is computed alone (a KV-cache decoding step)
// or inside a larger product (the recomputation of the whole sequence); simplego's two
// DotGeneral algorithms sum in different orders, so a size threshold would break that.
const DefaultDotMinMACs = 0

// New creates the backend. config is a comma separated list: the backend's own keys
// "nokernels" (route nothing to the kernels), "dotmin=N" (see DefaultDotMinMACs) and "ewmin=N"
// (see DefaultEWMin), and
// simplego's ("parallelism=N", "ops_sequential", ...), passed on to simplego.New.
func New(config string) (*Backend, error) {
	opts := options{dotMinMACs: DefaultDotMinMACs, ewMin: DefaultEWMin}
	var rest []string
	for _, part := range strings.Split(config, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch key {
		case "":
		case "nokernels":
			opts.noKernels = true
		case "dotmin":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return nil, errors.Errorf("%s backend: dotmin=%q: want a non-negative integer", Name, value)
			}
			opts.dotMinMACs = n
		case "ewmin":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return nil, errors.Errorf("%s backend: ewmin=%q: want a non-negative integer", Name, value)
			}
			opts.ewMin = n
		default:
			rest = append(rest, part)
		}
	}
	sg, err := simplego.New(strings.Join(rest, ","))
	if err != nil {
		return nil, errors.WithMessagef(err, "%s backend: creating its simplego backend", Name)
	}
	return &Backend{Backend: sg, config: config, opts: opts}, nil
}

// Name implements backends.Backend: "GoSwift (goswift)", as simplego's is "SimpleGo (go)".
func (b *Backend) Name() string { return "GoSwift (" + Name + ")" }

// String implements backends.Backend.
func (b *Backend) String() string { return Name }

// Description implements backends.Backend.
func (b *Backend) Description() string {
	return fmt.Sprintf("GoSwift CPU kernels over %s (config %q)", b.Backend.Description(), b.config)
}

// Builder implements backends.Backend: a recording builder (see the package documentation).
func (b *Backend) Builder(name string) backends.Builder {
	return &Builder{backend: b, name: name, shadow: b.Backend.Builder(name)}
}

// Simplego returns the simplego backend underneath.
func (b *Backend) Simplego() backends.Backend { return b.Backend }
