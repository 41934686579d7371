package weights

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/pkg/errors"
)

// Hugging Face file names for safetensors checkpoints.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// shardFilePattern matches the shard names written by WriteSharded (and transformers).
var shardFilePattern = regexp.MustCompile(`^model-\d{5}-of-\d{5}\.safetensors$`)

// Sharded is a set of safetensors files seen as one [Source]: a Hugging Face sharded checkpoint
// (an index json and its shards) or a directory of *.safetensors files. Each tensor name lives in
// exactly one file.
type Sharded struct {
	path      string // index file or directory
	files     []*Safetensors
	owner     map[string]*Safetensors
	names     []string
	indexMeta map[string]string
}

var _ Source = (*Sharded)(nil)

// OpenSharded opens a sharded checkpoint from its index ("model.safetensors.index.json":
// {"metadata": {...}, "weight_map": {tensor: shard file}}). Every shard is opened and validated;
// every tensor of the weight map must be in the shard it names, and no tensor may be in two
// shards. Tensors present in a shard but missing from the weight map are exposed too.
func OpenSharded(indexPath string) (Source, error) {
	s, err := openSharded(indexPath)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func openSharded(indexPath string) (*Sharded, error) {
	fail := func(format string, args ...any) error {
		return errors.Wrapf(errors.Errorf(format, args...), "shard index %q", indexPath)
	}
	st, err := os.Stat(indexPath)
	if err != nil {
		return nil, errors.Wrapf(err, "shard index %q", indexPath)
	}
	if st.Size() > MaxHeaderBytes {
		return nil, fail("file is %d bytes, over the %d-byte limit", st.Size(), MaxHeaderBytes)
	}
	raw, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, errors.Wrapf(err, "shard index %q", indexPath)
	}
	var index struct {
		Metadata  map[string]json.RawMessage `json:"metadata"`
		WeightMap map[string]string          `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		return nil, fail("invalid JSON: %v", err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fail("missing or empty \"weight_map\"")
	}
	// Group tensors by shard file, and open each shard once, in sorted order.
	byFile := make(map[string][]string)
	for tensor, file := range index.WeightMap {
		byFile[file] = append(byFile[file], tensor)
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
		sort.Strings(byFile[f])
	}
	sort.Strings(files)
	dir := filepath.Dir(indexPath)
	s := &Sharded{path: indexPath, owner: make(map[string]*Safetensors), indexMeta: make(map[string]string)}
	for k, v := range index.Metadata {
		var str string
		if json.Unmarshal(v, &str) == nil {
			s.indexMeta[k] = str
		} else {
			s.indexMeta[k] = string(v)
		}
	}
	for _, file := range files {
		if !filepath.IsLocal(file) {
			_ = s.Close()
			return nil, fail("tensor %q: shard file %q is not a local path inside the index's directory", byFile[file][0], file)
		}
		shard, err := OpenSafetensors(filepath.Join(dir, file))
		if err != nil {
			_ = s.Close()
			return nil, errors.WithMessagef(err, "shard index %q: shard %q (holding tensor %q)", indexPath, file, byFile[file][0])
		}
		s.files = append(s.files, shard)
		for _, tensor := range byFile[file] {
			if _, ok := shard.Info(tensor); !ok {
				_ = s.Close()
				return nil, fail("tensor %q: not found in its shard %q", tensor, file)
			}
		}
	}
	if err := s.collect(); err != nil {
		_ = s.Close()
		return nil, errors.WithMessagef(err, "shard index %q", indexPath)
	}
	return s, nil
}

// collect builds the name -> file map, rejecting a name found in two files.
func (s *Sharded) collect() error {
	for _, f := range s.files {
		for _, name := range f.names {
			if prev, dup := s.owner[name]; dup {
				return errors.Errorf("tensor %q is in both %q and %q", name, prev.Path(), f.Path())
			}
			s.owner[name] = f
			s.names = append(s.names, name)
		}
	}
	sort.Strings(s.names)
	return nil
}

// OpenDir opens the safetensors checkpoint in a directory: "model.safetensors.index.json" if
// present (see [OpenSharded]); else "model.safetensors"; else all "*.safetensors" files together
// (no tensor name may appear in two files).
func OpenDir(dir string) (Source, error) {
	index := filepath.Join(dir, IndexFileName)
	if _, err := os.Stat(index); err == nil {
		return OpenSharded(index)
	}
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err == nil {
		return asSource(OpenSafetensors(single))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errors.Wrapf(err, "opening checkpoint directory %q", dir)
	}
	s := &Sharded{path: dir, owner: make(map[string]*Safetensors)}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".safetensors") {
			continue
		}
		f, err := OpenSafetensors(filepath.Join(dir, name))
		if err != nil {
			_ = s.Close()
			return nil, errors.WithMessagef(err, "opening checkpoint directory %q", dir)
		}
		s.files = append(s.files, f)
	}
	if len(s.files) == 0 {
		return nil, errors.Errorf("opening checkpoint directory %q: no %s, %s or *.safetensors file", dir, IndexFileName, SingleFileName)
	}
	if err := s.collect(); err != nil {
		_ = s.Close()
		return nil, errors.WithMessagef(err, "opening checkpoint directory %q", dir)
	}
	return s, nil
}

// Path returns the index file or the directory this set was opened from.
func (s *Sharded) Path() string { return s.path }

// Files returns the paths of the safetensors files, sorted.
func (s *Sharded) Files() []string {
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.Path()
	}
	return out
}

// Metadata returns the "__metadata__" of the first file (WriteSharded gives every shard the same).
func (s *Sharded) Metadata() map[string]string { return s.files[0].Metadata() }

// IndexMetadata returns the index's "metadata" object; non-string values (such as "total_size")
// are given as their JSON text. Nil when not opened from an index.
func (s *Sharded) IndexMetadata() map[string]string {
	if s.indexMeta == nil {
		return nil
	}
	m := make(map[string]string, len(s.indexMeta))
	for k, v := range s.indexMeta {
		m[k] = v
	}
	return m
}

// Names returns all tensor names, sorted.
func (s *Sharded) Names() []string { return slices.Clone(s.names) }

// Info returns a tensor's description.
func (s *Sharded) Info(name string) (TensorInfo, bool) {
	f, ok := s.owner[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// FileOf returns the path of the file holding a tensor.
func (s *Sharded) FileOf(name string) (string, bool) {
	f, ok := s.owner[name]
	if !ok {
		return "", false
	}
	return f.Path(), true
}

// ReadFloat32 reads a tensor from its file, converted to float32.
func (s *Sharded) ReadFloat32(name string) ([]float32, error) {
	f, ok := s.owner[name]
	if !ok {
		return nil, errors.Errorf("checkpoint %q: tensor %q: no such tensor", s.path, name)
	}
	return f.ReadFloat32(name)
}

// ReadBytes reads a tensor's raw bytes from its file.
func (s *Sharded) ReadBytes(name string) ([]byte, error) {
	f, ok := s.owner[name]
	if !ok {
		return nil, errors.Errorf("checkpoint %q: tensor %q: no such tensor", s.path, name)
	}
	return f.ReadBytes(name)
}

// Close closes every file, returning the first error.
func (s *Sharded) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// WriteSharded writes tensors as a Hugging Face checkpoint in dir (created if needed). Tensors are
// packed in the given order into shards of at most maxShardBytes of tensor data (a larger tensor
// gets a shard of its own; maxShardBytes <= 0 means no limit). A single shard is written as
// "model.safetensors"; several as "model-00001-of-0000N.safetensors", ... plus
// "model.safetensors.index.json" (metadata.total_size and weight_map), written last. Every file is
// written atomically; metadata goes into each file's header. Files of a previous checkpoint in dir
// under these names that are not part of the new one are removed afterwards.
func WriteSharded(dir string, tensors []Tensor, maxShardBytes int64, metadata map[string]string) error {
	if err := validateTensors(tensors); err != nil {
		return errors.WithMessagef(err, "writing checkpoint to %q", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "writing checkpoint to %q", dir)
	}
	var shards [][]*Tensor
	var cur int64
	var total int64
	for i := range tensors {
		t := &tensors[i]
		size := t.byteSize()
		total += size
		if len(shards) == 0 || (maxShardBytes > 0 && cur > 0 && cur+size > maxShardBytes) {
			shards = append(shards, nil)
			cur = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], t)
		cur += size
	}
	keep := make(map[string]bool)
	if len(shards) <= 1 {
		if err := writeSafetensorsFile(filepath.Join(dir, SingleFileName), firstOrNil(shards), metadata); err != nil {
			return err
		}
		keep[SingleFileName] = true
		return removeStale(dir, keep)
	}
	weightMap := make(map[string]string, len(tensors))
	for i, shard := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		if err := writeSafetensorsFile(filepath.Join(dir, name), shard, metadata); err != nil {
			return err
		}
		keep[name] = true
		for _, t := range shard {
			weightMap[t.Name] = name
		}
	}
	index := struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}{map[string]any{"total_size": total}, weightMap}
	data, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return errors.Wrapf(err, "writing checkpoint to %q: index", dir)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(filepath.Join(dir, IndexFileName), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return err
	}
	keep[IndexFileName] = true
	return removeStale(dir, keep)
}

func firstOrNil(shards [][]*Tensor) []*Tensor {
	if len(shards) == 0 {
		return nil
	}
	return shards[0]
}

// removeStale deletes checkpoint files of a previous save (model.safetensors, its index and
// model-XXXXX-of-YYYYY.safetensors) that are not in keep.
func removeStale(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return errors.Wrapf(err, "writing checkpoint to %q: listing", dir)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || keep[name] {
			continue
		}
		if name == SingleFileName || name == IndexFileName || shardFilePattern.MatchString(name) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return errors.Wrapf(err, "writing checkpoint to %q: removing stale %q", dir, name)
			}
		}
	}
	return nil
}
