//go:build linux

package xla

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
)

// captureFd1 runs fn with file descriptor 1 redirected to a pipe and returns what was written.
func captureFd1(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(w.Fd()), 1, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	func() {
		defer func() {
			_ = syscall.Dup3(saved, 1, 0)
			_ = syscall.Close(saved)
			_ = w.Close()
		}()
		fn()
	}()
	out := <-done
	_ = r.Close()
	return out
}

func TestWithoutStdoutLine(t *testing.T) {
	out := captureFd1(t, func() {
		withoutStdoutLine(simplegoParallelismLine, func() {
			fmt.Printf("keep 1\n%s 3\nkeep 2\n", simplegoParallelismLine)
		})
		fmt.Println("after")
	})
	if want := "keep 1\nkeep 2\nafter\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
}

// TestNewQuietParallelism: simplego's "parallelism set to" line never reaches stdout.
func TestNewQuietParallelism(t *testing.T) {
	for _, config := range []string{"", "go:parallelism=2", GoConfigSequential} {
		out := captureFd1(t, func() {
			opts := hermetic(t, "cpu")
			opts.GoConfig = config
			b, _, err := New(opts)
			if err != nil {
				t.Errorf("New: %v", err)
				return
			}
			b.Finalize()
		})
		if strings.Contains(out, "SimpleGo") {
			t.Errorf("config %q: stdout got %q", config, out)
		}
	}
}
