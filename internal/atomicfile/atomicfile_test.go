package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFailureKeepsOld: a write that fails half-way leaves the previous file untouched and
// no temporary file behind.
func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteBytes(path, []byte("good")); err != nil {
		t.Fatal(err)
	}
	err := Write(path, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return errors.New("killed")
	})
	if err == nil {
		t.Fatal("expected an error")
	}
	if got, _ := os.ReadFile(path); string(got) != "good" {
		t.Fatalf("file now holds %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("leftovers: %v", entries)
	}
}

// TestWriteDir: a directory appears whole or not at all; an existing one is refused.
func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt")
	err := WriteDir(path, func(tmp string) error {
		_ = os.WriteFile(filepath.Join(tmp, "a"), []byte("x"), 0o644)
		return errors.New("killed")
	})
	if err == nil {
		t.Fatal("expected an error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("leftovers after a failed WriteDir: %v", entries)
	}
	if err := WriteDir(path, func(tmp string) error { return os.WriteFile(filepath.Join(tmp, "a"), []byte("x"), 0o644) }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(path, "a")); err != nil || string(b) != "x" {
		t.Fatalf("content %q, %v", b, err)
	}
	if err := WriteDir(path, func(string) error { return nil }); err == nil {
		t.Fatal("WriteDir over an existing directory must fail")
	}
}
