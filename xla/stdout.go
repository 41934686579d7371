//go:build unix

package xla

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
)

// stdoutMu serialises withoutStdoutLine: file descriptor 1 is process-wide.
var stdoutMu sync.Mutex

// withoutStdoutLine runs fn with os.Stdout's file descriptor (1, unless something like an
// Example test swapped os.Stdout) redirected to a pipe, then writes what was captured back to
// stdout, except the lines starting with prefix. The redirection is done on the file descriptor,
// not on the os.Stdout variable, so other goroutines writing to stdout meanwhile lose nothing
// (their output is only delayed) and there is no data race. If the redirection cannot be set up,
// fn runs unchanged.
func withoutStdoutLine(prefix string, fn func()) {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		fn()
		return
	}
	stdout := os.Stdout
	fd := int(stdout.Fd())
	saved, err := syscall.Dup(fd)
	if err != nil {
		_, _ = r.Close(), w.Close()
		fn()
		return
	}
	if err := dupTo(int(w.Fd()), fd); err != nil {
		_, _, _ = syscall.Close(saved), r.Close(), w.Close()
		fn()
		return
	}
	var captured bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&captured, r)
		close(done)
	}()
	defer func() {
		_ = dupTo(saved, fd)
		_ = syscall.Close(saved)
		_ = w.Close()
		<-done
		_ = r.Close()
		if rest := dropLines(captured.String(), prefix); rest != "" {
			_, _ = stdout.WriteString(rest)
		}
	}()
	fn()
}

// dropLines removes the lines of s that start with prefix.
func dropLines(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(line, prefix) {
			b.WriteString(line)
		}
	}
	return b.String()
}
