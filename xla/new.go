package xla

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/pkg/errors"

	kbackend "github.com/goswift/goswift/kernels/backend"
)

// init makes sure nothing in the process can run GoMLX's PJRT auto-installer: it sets
// $GOMLX_NO_AUTO_INSTALL (for GoMLX code and child processes), switches the installer off in the
// GoMLX xla package and points backends.DefaultConfig at the CPU backend (BareGoConfig), so a
// bare backends.New() with $GOMLX_BACKEND unset gets it instead of "xla".
func init() {
	if _, found := os.LookupEnv(EnvNoAutoInstall); !found {
		_ = os.Setenv(EnvNoAutoInstall, "1")
	}
	disableAutoInstall()
	backends.DefaultConfig = BareGoConfig
}

// New chooses a backend (see Choose) and creates it. GoMLX panics are returned as errors.
//
// In "auto" mode (Options.Want "" or "auto", $GOMLX_BACKEND unset), a CUDA plugin that fails to
// load falls back to the CPU backend; the returned Choice's Reason says so.
func New(opts Options) (backends.Backend, Choice, error) {
	c, err := Choose(opts)
	if err != nil {
		return nil, c, err
	}
	b, err := create(c, opts)
	if err == nil {
		return b, c, nil
	}
	if c.Source != "auto" || c.Kind == KindGo {
		return nil, c, errors.WithMessagef(err, "creating backend %q", c.Config)
	}
	fallback := opts.goChoice("auto", fmt.Sprintf("CUDA PJRT plugin %s failed to load (%v): using the CPU backend",
		c.Plugin, firstLine(err.Error())), c.Searched)
	b, err = create(fallback, opts)
	if err != nil {
		return nil, fallback, errors.WithMessagef(err, "creating backend %q", fallback.Config)
	}
	return b, fallback, nil
}

// create builds the backend of a Choice.
func create(c Choice, opts Options) (b backends.Backend, err error) {
	disableAutoInstall()
	for k, v := range c.Env {
		if err := os.Setenv(k, v); err != nil {
			return nil, errors.Wrapf(err, "setting $%s", k)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			b = nil
			if e, ok := r.(error); ok {
				err = errors.WithMessage(e, "panic")
			} else {
				err = errors.Errorf("panic: %v", r)
			}
		}
	}()
	name, rest := splitConfig(c.Config)
	switch {
	case name == "go":
		if strings.Contains(rest, "parallelism") {
			// simplego prints "SimpleGo backend: parallelism set to N" on stdout.
			withoutStdoutLine(simplegoParallelismLine, func() { b, err = simplego.New(rest) })
			return b, err
		}
		return simplego.New(rest)
	case name == kbackend.Name:
		var kb *kbackend.Backend
		if strings.Contains(rest, "parallelism") {
			withoutStdoutLine(simplegoParallelismLine, func() { kb, err = kbackend.New(rest) })
		} else {
			kb, err = kbackend.New(rest)
		}
		if err != nil {
			return nil, err
		}
		return kb, nil
	case xlaNames[name]:
		return newXLA(rest, opts.PJRTOptions)
	default:
		return backends.NewWithConfig(c.Config)
	}
}

// simplegoParallelismLine is the start of the line simplego.New prints on stdout.
const simplegoParallelismLine = "SimpleGo backend: parallelism set to"

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

var (
	defaultOnce    sync.Once
	defaultBackend backends.Backend
	defaultChoice  Choice
	defaultErr     error
)

// Default returns the process-wide backend, created at the first call with
// Options{Want: $GOSWIFT_DEVICE, or "auto" if unset}. Later calls return the same backend (or the
// same error). It never finalizes it.
func Default() (backends.Backend, error) {
	b, _, err := DefaultWithChoice()
	return b, err
}

// DefaultWithChoice is Default that also returns the Choice made.
func DefaultWithChoice() (backends.Backend, Choice, error) {
	defaultOnce.Do(func() {
		want := os.Getenv(EnvDevice)
		if want == "" {
			want = "auto"
		}
		defaultBackend, defaultChoice, defaultErr = New(Options{Want: want})
		if defaultErr != nil {
			defaultErr = errors.WithMessagef(defaultErr, "default backend (%s=%q)", EnvDevice, want)
		}
	})
	return defaultBackend, defaultChoice, defaultErr
}

// Describe returns a one-line description for logs: backend, kind, config, devices, plugin and
// the reason of the choice. b may be nil.
func Describe(b backends.Backend, c Choice) string {
	var parts []string
	if b != nil {
		parts = append(parts, fmt.Sprintf("backend %s", b.Name()))
	}
	parts = append(parts, fmt.Sprintf("kind %s", c.Kind), fmt.Sprintf("config %q", c.Config))
	if b != nil && !b.IsFinalized() {
		n := b.NumDevices()
		var devs []string
		for i := 0; i < n && i < 4; i++ {
			devs = append(devs, b.DeviceDescription(backends.DeviceNum(i)))
		}
		if n > 4 {
			devs = append(devs, fmt.Sprintf("+%d more", n-4))
		}
		parts = append(parts, fmt.Sprintf("%d device(s) [%s]", n, strings.Join(devs, "; ")))
	}
	if c.Plugin != "" {
		parts = append(parts, "plugin "+c.Plugin)
	}
	if v := c.Env[EnvXLAFlags]; v != "" {
		parts = append(parts, fmt.Sprintf("%s=%q", EnvXLAFlags, v))
	}
	s := strings.Join(parts, ", ")
	if c.Reason != "" {
		s += ": " + c.Reason
	}
	return s
}
