//go:build !(cgo && ((linux && amd64) || darwin) && !noxla)

package xla

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/pkg/errors"
)

// XLACompiled reports whether GoMLX's XLA backend is compiled in: false with the noxla build
// tag, without cgo, or on platforms GoMLX's XLA backend does not support (it needs linux/amd64 or
// darwin).
const XLACompiled = false

// disableAutoInstall has nothing to do without the XLA backend.
func disableAutoInstall() {}

// newXLA fails: the XLA backend is not compiled in.
func newXLA(config string, _ map[string]any) (backends.Backend, error) {
	return nil, errors.Errorf("XLA backend %q requested, but this binary was built without XLA (build tag noxla or unsupported platform)", config)
}
