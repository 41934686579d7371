// Package atomicfile writes files and directories so that a crash or a kill never leaves a
// partial file at the destination: data goes to a temporary file beside it, is fsynced, and is
// renamed over the destination only when complete.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"

	"github.com/pkg/errors"
)

// Write writes a file through write: into a temporary file in path's directory, which
// is flushed, fsynced, closed and renamed to path only if everything succeeded. On failure the
// temporary file is removed and path is untouched.
func Write(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return errors.Wrapf(err, "writing %q", path)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return errors.WithMessagef(err, "writing %q", path)
	}
	if err = bw.Flush(); err != nil {
		return errors.Wrapf(err, "writing %q", path)
	}
	if err = f.Chmod(0o644); err != nil {
		return errors.Wrapf(err, "writing %q", path)
	}
	if err = f.Sync(); err != nil {
		return errors.Wrapf(err, "writing %q: fsync", path)
	}
	if err = f.Close(); err != nil {
		return errors.Wrapf(err, "writing %q: close", path)
	}
	if err = os.Rename(tmp, path); err != nil {
		return errors.Wrapf(err, "writing %q: rename", path)
	}
	syncDir(dir)
	return nil
}

// syncDir fsyncs a directory so a rename survives a crash; best effort (not all platforms allow
// it).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// WriteBytes writes data to path atomically.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteDir fills a new directory atomically: fill writes into a temporary directory beside
// path, which is then renamed to path. path must not exist yet (use a fresh name per
// checkpoint); on failure the temporary directory is removed.
func WriteDir(path string, fill func(tmpDir string) error) (err error) {
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return errors.Wrapf(err, "creating %q", parent)
	}
	if _, err := os.Stat(path); err == nil {
		return errors.Errorf("writing %q: it already exists", path)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return errors.Wrapf(err, "writing %q", path)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err = fill(tmp); err != nil {
		return errors.WithMessagef(err, "writing %q", path)
	}
	if err = os.Chmod(tmp, 0o755); err != nil {
		return errors.Wrapf(err, "writing %q", path)
	}
	syncDir(tmp)
	if err = os.Rename(tmp, path); err != nil {
		return errors.Wrapf(err, "writing %q: rename", path)
	}
	syncDir(parent)
	return nil
}
