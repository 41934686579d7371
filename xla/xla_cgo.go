//go:build cgo && ((linux && amd64) || darwin) && !noxla

package xla

import (
	"github.com/gomlx/gomlx/backends"
	gomlxxla "github.com/gomlx/gomlx/backends/xla"
)

// XLACompiled reports whether GoMLX's XLA backend is compiled in: false with the noxla build
// tag, without cgo, or on platforms GoMLX's XLA backend does not support (it needs linux/amd64 or
// darwin).
const XLACompiled = true

// disableAutoInstall switches off GoMLX's PJRT plugin auto-installer.
func disableAutoInstall() { gomlxxla.EnableAutoInstall(false) }

// newXLA creates GoMLX's XLA backend; config is what follows "xla:".
func newXLA(config string, pjrtOptions map[string]any) (backends.Backend, error) {
	return gomlxxla.NewWithOptions(config, pjrtOptions)
}
