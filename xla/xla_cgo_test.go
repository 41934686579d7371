//go:build cgo && ((linux && amd64) || darwin) && !noxla

package xla

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gomlxxla "github.com/gomlx/gomlx/backends/xla"
)

// TestXLAAutoInstallOff asks GoMLX's own xla backend for the "cpu" plugin by name, which with
// auto-install on would download it into ~/.local/lib/go-xla: with a fake $HOME, nothing may be
// written there.
func TestXLAAutoInstallOff(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	b, err := gomlxxla.New("cpu")
	if err == nil {
		b.Finalize()
		t.Skip("a CPU PJRT plugin is installed on this machine: can't tell")
	}
	if strings.Contains(err.Error(), "auto-install") {
		t.Errorf("GoMLX tried to auto-install: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "lib", "go-xla")); err == nil {
		t.Errorf("auto-install wrote into %s", home)
	}
}
