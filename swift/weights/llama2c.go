package weights

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// Llama2CConfig is the header of a llama2.c legacy checkpoint.
type Llama2CConfig struct {
	Dim, HiddenDim, NLayers, NHeads, NKVHeads, VocabSize, SeqLen int
	// SharedClassifier is true when the output classifier is the token embedding table (the
	// file's vocab_size is positive); false when a separate wcls array follows (negative).
	SharedClassifier bool
}

// HeadSize returns Dim / NHeads.
func (c Llama2CConfig) HeadSize() int { return c.Dim / c.NHeads }

// KVDim returns the width of the key/value projections, Dim * NKVHeads / NHeads.
func (c Llama2CConfig) KVDim() int { return c.Dim * c.NKVHeads / c.NHeads }

// Validate checks the values: all positive and within int32, Dim divisible by NHeads, NKVHeads
// dividing NHeads, an even head size (rotary pairs).
func (c Llama2CConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"dim", c.Dim}, {"hidden_dim", c.HiddenDim}, {"n_layers", c.NLayers}, {"n_heads", c.NHeads},
		{"n_kv_heads", c.NKVHeads}, {"vocab_size", c.VocabSize}, {"seq_len", c.SeqLen}} {
		if f.v <= 0 || f.v > math.MaxInt32 {
			return errors.Errorf("%s = %d, must be in [1, %d]", f.name, f.v, math.MaxInt32)
		}
	}
	switch {
	case c.Dim%c.NHeads != 0:
		return errors.Errorf("dim %d is not divisible by n_heads %d", c.Dim, c.NHeads)
	case c.NKVHeads > c.NHeads || c.NHeads%c.NKVHeads != 0:
		return errors.Errorf("n_kv_heads %d does not divide n_heads %d", c.NKVHeads, c.NHeads)
	case c.HeadSize()%2 != 0:
		return errors.Errorf("head size dim/n_heads = %d/%d = %d is odd (rotary embeddings need pairs)", c.Dim, c.NHeads, c.HeadSize())
	}
	return nil
}

// l2cArray is one array of the legacy file, in file order.
type l2cArray struct {
	name   string // run.c name, e.g. "wq"
	hf     string // Hugging Face name; "%d" for the layer when perLayer; "" when not exposed
	shape  []int  // per layer when perLayer
	layers int    // 1, or NLayers for per-layer arrays
	offset int64  // absolute byte offset in the file
	bytes  int64  // whole array (all layers)
}

// tensorName returns the Hugging Face name of the array's given layer.
func (a l2cArray) tensorName(layer int) string {
	if strings.Contains(a.hf, "%d") {
		return fmt.Sprintf(a.hf, layer)
	}
	return a.hf
}

// llama2cHeaderBytes is the size of the legacy header (7 int32).
const llama2cHeaderBytes = 28

// llama2cLayout returns the arrays of a legacy checkpoint and the total file size, with overflow
// checks (absurd headers give an error, not a wrap-around).
func llama2cLayout(c Llama2CConfig) ([]l2cArray, int64, error) {
	d, h, l, v, kv, hs := c.Dim, c.HiddenDim, c.NLayers, c.VocabSize, c.KVDim(), c.HeadSize()
	arrays := []l2cArray{
		{name: "token_embedding_table", hf: "model.embed_tokens.weight", shape: []int{v, d}, layers: 1},
		{name: "rms_att_weight", hf: "model.layers.%d.input_layernorm.weight", shape: []int{d}, layers: l},
		{name: "wq", hf: "model.layers.%d.self_attn.q_proj.weight", shape: []int{d, d}, layers: l},
		{name: "wk", hf: "model.layers.%d.self_attn.k_proj.weight", shape: []int{kv, d}, layers: l},
		{name: "wv", hf: "model.layers.%d.self_attn.v_proj.weight", shape: []int{kv, d}, layers: l},
		{name: "wo", hf: "model.layers.%d.self_attn.o_proj.weight", shape: []int{d, d}, layers: l},
		{name: "rms_ffn_weight", hf: "model.layers.%d.post_attention_layernorm.weight", shape: []int{d}, layers: l},
		{name: "w1", hf: "model.layers.%d.mlp.gate_proj.weight", shape: []int{h, d}, layers: l},
		{name: "w2", hf: "model.layers.%d.mlp.down_proj.weight", shape: []int{d, h}, layers: l},
		{name: "w3", hf: "model.layers.%d.mlp.up_proj.weight", shape: []int{h, d}, layers: l},
		{name: "rms_final_weight", hf: "model.norm.weight", shape: []int{d}, layers: 1},
		{name: "freq_cis_real", shape: []int{c.SeqLen, hs / 2}, layers: 1},
		{name: "freq_cis_imag", shape: []int{c.SeqLen, hs / 2}, layers: 1},
	}
	if !c.SharedClassifier {
		arrays = append(arrays, l2cArray{name: "wcls", hf: "lm_head.weight", shape: []int{v, d}, layers: 1})
	}
	offset := int64(llama2cHeaderBytes)
	for i := range arrays {
		a := &arrays[i]
		n := int64(4 * a.layers)
		ok := true
		for _, dim := range a.shape {
			if n, ok = checkedMul(n, int64(dim)); !ok {
				break
			}
		}
		if ok {
			a.offset = offset
			a.bytes = n
			offset, ok = checkedAdd(offset, n)
		}
		if !ok {
			return nil, 0, errors.Errorf("array %s (%d x %v float32) makes the file size overflow", a.name, a.layers, a.shape)
		}
	}
	return arrays, offset, nil
}

// l2cTensor locates one exposed tensor.
type l2cTensor struct {
	info   TensorInfo
	offset int64
}

// Llama2C is a llama2.c legacy checkpoint exposed under Hugging Face Llama names (see the package
// doc). It implements [Source]; all tensors are F32. The freq_cis arrays are not exposed as
// tensors (see ReadFreqCis).
type Llama2C struct {
	Config  Llama2CConfig
	path    string
	r       io.ReaderAt
	closer  io.Closer
	arrays  []l2cArray
	tensors map[string]l2cTensor
	names   []string
	closed  bool
}

var _ Source = (*Llama2C)(nil)

// OpenLlama2C opens and validates a llama2.c legacy checkpoint (run.c's format).
func OpenLlama2C(path string) (*Llama2C, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrapf(err, "llama2.c %q", path)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, errors.Wrapf(err, "llama2.c %q", path)
	}
	l, err := ParseLlama2C(f, st.Size(), path)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	l.closer = f
	return l, nil
}

// ParseLlama2C parses a llama2.c legacy checkpoint held by r (size bytes); name identifies it in
// errors. The file size must match the header exactly. r is not closed by Close.
func ParseLlama2C(r io.ReaderAt, size int64, name string) (*Llama2C, error) {
	fail := func(format string, args ...any) error {
		return errors.Wrapf(errors.Errorf(format, args...), "llama2.c %q", name)
	}
	if size < llama2cHeaderBytes {
		return nil, fail("file is %d bytes, too short for the %d-byte header", size, llama2cHeaderBytes)
	}
	var hdr [llama2cHeaderBytes]byte
	if err := readAtFull(r, hdr[:], 0); err != nil {
		return nil, errors.Wrapf(err, "llama2.c %q: reading the header", name)
	}
	if string(hdr[:4]) == "24ka" { // uint32 0x616b3432 "ak42" little-endian: export.py version >= 1
		return nil, fail("this is a llama2.c export version %d file (magic \"ak42\"); only the legacy (version 0) format is supported", int32(binary.LittleEndian.Uint32(hdr[4:])))
	}
	var v [7]int
	for i := range v {
		v[i] = int(int32(binary.LittleEndian.Uint32(hdr[4*i:])))
	}
	cfg := Llama2CConfig{Dim: v[0], HiddenDim: v[1], NLayers: v[2], NHeads: v[3], NKVHeads: v[4],
		VocabSize: v[5], SeqLen: v[6], SharedClassifier: v[5] > 0}
	if cfg.VocabSize < 0 {
		cfg.VocabSize = -cfg.VocabSize // int, so -MinInt32 does not overflow
	}
	if err := cfg.Validate(); err != nil {
		return nil, fail("bad header %v: %v", v, err)
	}
	arrays, total, err := llama2cLayout(cfg)
	if err != nil {
		return nil, fail("bad header %v: %v", v, err)
	}
	if size != total {
		return nil, fail("%s", sizeMismatch(cfg, arrays, total, size))
	}
	l := &Llama2C{Config: cfg, path: name, r: r, arrays: arrays, tensors: make(map[string]l2cTensor)}
	for _, a := range arrays {
		if a.hf == "" {
			continue
		}
		per := a.bytes / int64(a.layers)
		for layer := range a.layers {
			hf := a.tensorName(layer)
			l.tensors[hf] = l2cTensor{
				info:   TensorInfo{Name: hf, DType: F32, Shape: slices.Clone(a.shape)},
				offset: a.offset + int64(layer)*per,
			}
			l.names = append(l.names, hf)
		}
	}
	sort.Strings(l.names)
	return l, nil
}

// sizeMismatch explains why a file's size differs from what its header implies: which array the
// file ends in, and hints for the usual causes.
func sizeMismatch(cfg Llama2CConfig, arrays []l2cArray, want, got int64) string {
	msg := fmt.Sprintf("file is %d bytes but the header %+v implies %d", got, cfg, want)
	if got > want {
		msg += fmt.Sprintf(": %d unexpected bytes after the last array %s", got-want, arrays[len(arrays)-1].name)
		if embed := arrays[0].bytes; cfg.SharedClassifier && got == want+embed {
			msg += " (exactly one more [vocab, dim] array: a separate classifier with a positive vocab_size? it should be negative)"
		}
		return msg
	}
	for i, a := range arrays {
		if got < a.offset+a.bytes {
			msg += fmt.Sprintf(": truncated inside array %d of %d, %s (bytes [%d, %d))", i+1, len(arrays), a.name, a.offset, a.offset+a.bytes)
			break
		}
	}
	var freq int64
	for _, a := range arrays {
		if strings.HasPrefix(a.name, "freq_cis") {
			freq += a.bytes
		}
	}
	switch {
	case got == want-freq:
		msg += " (exactly the size of the freq_cis_real/freq_cis_imag arrays is missing: an exporter that omits them?)"
	case !cfg.SharedClassifier && got == want-arrays[0].bytes:
		msg += " (exactly one [vocab, dim] array is missing: a shared classifier with a negative vocab_size?)"
	}
	return msg
}

// Path returns the file path (or the name given to ParseLlama2C).
func (l *Llama2C) Path() string { return l.path }

// Names returns the Hugging Face tensor names, sorted.
func (l *Llama2C) Names() []string { return slices.Clone(l.names) }

// Info returns a tensor's description (always F32).
func (l *Llama2C) Info(name string) (TensorInfo, bool) {
	t, ok := l.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	info := t.info
	info.Shape = slices.Clone(info.Shape)
	return info, true
}

// ReadFloat32 reads a tensor ([out, in] row-major for matrices).
func (l *Llama2C) ReadFloat32(name string) ([]float32, error) {
	if l.closed {
		return nil, errors.Errorf("llama2.c %q: tensor %q: read after Close", l.path, name)
	}
	t, ok := l.tensors[name]
	if !ok {
		return nil, errors.Errorf("llama2.c %q: tensor %q: no such tensor", l.path, name)
	}
	out, err := readFloat32At(l.r, t.offset, F32, t.info.NumElements())
	if err != nil {
		return nil, errors.Wrapf(err, "llama2.c %q: tensor %q: reading at offset %d", l.path, name, t.offset)
	}
	return out, nil
}

// ReadBytes reads a tensor's raw little-endian float32 bytes.
func (l *Llama2C) ReadBytes(name string) ([]byte, error) {
	t, ok := l.tensors[name]
	if !ok || l.closed {
		return nil, errors.Errorf("llama2.c %q: tensor %q: no such tensor or closed", l.path, name)
	}
	buf := make([]byte, 4*t.info.NumElements())
	if err := readAtFull(l.r, buf, t.offset); err != nil {
		return nil, errors.Wrapf(err, "llama2.c %q: tensor %q: reading at offset %d", l.path, name, t.offset)
	}
	return buf, nil
}

// ReadFreqCis reads the stored rotary tables, each [SeqLen, HeadSize/2] row-major.
func (l *Llama2C) ReadFreqCis() (real, imag []float32, err error) {
	for _, a := range l.arrays {
		var dst *[]float32
		switch a.name {
		case "freq_cis_real":
			dst = &real
		case "freq_cis_imag":
			dst = &imag
		default:
			continue
		}
		if *dst, err = readFloat32At(l.r, a.offset, F32, int(a.bytes/4)); err != nil {
			return nil, nil, errors.Wrapf(err, "llama2.c %q: reading %s", l.path, a.name)
		}
	}
	return real, imag, nil
}

// Close closes the file opened by OpenLlama2C (a no-op for ParseLlama2C's reader).
func (l *Llama2C) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	if l.closer != nil {
		return errors.Wrapf(l.closer.Close(), "closing llama2.c %q", l.path)
	}
	return nil
}
