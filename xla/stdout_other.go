//go:build !unix

package xla

import (
	"os"
	"sync"
)

var stdoutMu sync.Mutex

// withoutStdoutLine runs fn with os.Stdout pointing at os.Stderr, so the line simplego prints goes
// to stderr. (On unix the file descriptor is redirected instead; see stdout.go.)
func withoutStdoutLine(_ string, fn func()) {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	saved := os.Stdout
	os.Stdout = os.Stderr
	defer func() { os.Stdout = saved }()
	fn()
}
