package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"

	"github.com/pkg/errors"
)

// MaxHeaderBytes bounds the JSON header of a safetensors file (the reference implementation uses
// the same 100 MB limit). A larger header length is rejected before anything is allocated.
const MaxHeaderBytes = 100_000_000

// Safetensors is one parsed safetensors file. Its header is validated when it is opened; tensor
// data is read on demand. It implements [Source] and is safe for concurrent reads.
type Safetensors struct {
	path      string
	r         io.ReaderAt
	closer    io.Closer // nil when the reader is not owned
	size      int64     // bytes in the file
	dataStart int64     // 8 + header length
	metadata  map[string]string
	entries   map[string]stEntry
	names     []string
	closed    bool
}

// stEntry is one tensor's header entry; begin and end are relative to the data section.
type stEntry struct {
	info       TensorInfo
	begin, end int64
}

var _ Source = (*Safetensors)(nil)

// OpenSafetensors opens and validates a safetensors file. Close it when done.
func OpenSafetensors(path string) (*Safetensors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrapf(err, "safetensors %q", path)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, errors.Wrapf(err, "safetensors %q", path)
	}
	s, err := ParseSafetensors(f, st.Size(), path)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s.closer = f
	return s, nil
}

// ParseSafetensors parses the safetensors data held by r (size bytes). name identifies it in
// errors and is returned by Path. The reader is not closed by Close.
func ParseSafetensors(r io.ReaderAt, size int64, name string) (*Safetensors, error) {
	s := &Safetensors{path: name, r: r, size: size}
	if size < 8 {
		return nil, s.errorf("", "file is %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := readAtFull(r, lenBuf[:], 0); err != nil {
		return nil, errors.Wrapf(err, "safetensors %q: reading the header length", name)
	}
	headerLen := binary.LittleEndian.Uint64(lenBuf[:])
	if headerLen > uint64(size-8) {
		return nil, s.errorf("", "header length %d goes beyond the end of the file (%d bytes): truncated or not a safetensors file", headerLen, size)
	}
	if headerLen > MaxHeaderBytes {
		return nil, s.errorf("", "header length %d exceeds the %d-byte limit", headerLen, MaxHeaderBytes)
	}
	header := make([]byte, headerLen)
	if err := readAtFull(r, header, 8); err != nil {
		return nil, errors.Wrapf(err, "safetensors %q: reading the %d-byte header", name, headerLen)
	}
	s.dataStart = 8 + int64(headerLen)
	if err := s.parseHeader(header); err != nil {
		return nil, err
	}
	return s, nil
}

// errorf builds an error naming the file and, when tensor is not empty, the tensor.
func (s *Safetensors) errorf(tensor, format string, args ...any) error {
	msg := errors.Errorf(format, args...)
	if tensor != "" {
		return errors.Wrapf(msg, "safetensors %q: tensor %q", s.path, tensor)
	}
	return errors.Wrapf(msg, "safetensors %q", s.path)
}

// parseHeader decodes and validates the JSON header.
func (s *Safetensors) parseHeader(header []byte) error {
	dec := json.NewDecoder(bytes.NewReader(header))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return s.errorf("", "invalid header: not a JSON object (starts with %s)", truncateForError(header))
	}
	s.entries = make(map[string]stEntry)
	seenMetadata := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return s.errorf("", "invalid header JSON: %v", err)
		}
		key, _ := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return s.errorf(key, "invalid header JSON: %v", err)
		}
		if key == "__metadata__" {
			if seenMetadata {
				return s.errorf("", "duplicate __metadata__ entry in header")
			}
			seenMetadata = true
			if err := json.Unmarshal(raw, &s.metadata); err != nil {
				return s.errorf("", "__metadata__ must be an object of string values: %v", err)
			}
			continue
		}
		if _, dup := s.entries[key]; dup {
			return s.errorf(key, "duplicate tensor name in header")
		}
		e, err := s.parseEntry(key, raw)
		if err != nil {
			return err
		}
		s.entries[key] = e
		s.names = append(s.names, key)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return s.errorf("", "invalid header JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return s.errorf("", "invalid header JSON after the top-level object: %v", err)
		}
		return s.errorf("", "invalid header: unexpected %v after the top-level JSON object", tok)
	}
	sort.Strings(s.names)
	return s.checkOverlaps()
}

// parseEntry validates one tensor entry of the header.
func (s *Safetensors) parseEntry(name string, raw json.RawMessage) (stEntry, error) {
	var rt struct {
		DType       *string           `json:"dtype"`
		Shape       []json.RawMessage `json:"shape"`
		DataOffsets []json.RawMessage `json:"data_offsets"`
	}
	if err := json.Unmarshal(raw, &rt); err != nil {
		return stEntry{}, s.errorf(name, "invalid entry %s: %v", truncateForError(raw), err)
	}
	if rt.DType == nil {
		return stEntry{}, s.errorf(name, "missing dtype")
	}
	dt := DType(*rt.DType)
	if dt.Size() == 0 {
		return stEntry{}, s.errorf(name, "unknown dtype %q", *rt.DType)
	}
	if rt.Shape == nil {
		return stEntry{}, s.errorf(name, "missing shape")
	}
	shape64 := make([]int64, len(rt.Shape))
	for i, d := range rt.Shape {
		v, err := strconv.ParseInt(string(bytes.TrimSpace(d)), 10, 64)
		if err != nil {
			return stEntry{}, s.errorf(name, "shape dimension %d is %s, not an integer in range", i, truncateForError(d))
		}
		shape64[i] = v
	}
	numel, err := numElements(shape64)
	if err != nil {
		return stEntry{}, s.errorf(name, "%v", err)
	}
	nbytes, ok := checkedMul(numel, int64(dt.Size()))
	if !ok {
		return stEntry{}, s.errorf(name, "shape %v of %s is too large (overflow)", shape64, dt)
	}
	if len(rt.DataOffsets) != 2 {
		return stEntry{}, s.errorf(name, "data_offsets must have 2 entries, got %d", len(rt.DataOffsets))
	}
	var offs [2]int64
	for i, o := range rt.DataOffsets {
		v, err := strconv.ParseInt(string(bytes.TrimSpace(o)), 10, 64)
		if err != nil || v < 0 {
			return stEntry{}, s.errorf(name, "data_offsets[%d] is %s, not a non-negative integer in range", i, truncateForError(o))
		}
		offs[i] = v
	}
	begin, end := offs[0], offs[1]
	if end < begin {
		return stEntry{}, s.errorf(name, "data_offsets [%d, %d]: end before start", begin, end)
	}
	if end-begin != nbytes {
		return stEntry{}, s.errorf(name, "data_offsets [%d, %d] hold %d bytes but shape %v of %s needs %d", begin, end, end-begin, shape64, dt, nbytes)
	}
	if dataSize := s.size - s.dataStart; end > dataSize {
		return stEntry{}, s.errorf(name, "data_offsets [%d, %d] go beyond the data section (%d bytes; file %d bytes): truncated file?", begin, end, dataSize, s.size)
	}
	shape := make([]int, len(shape64))
	for i, d := range shape64 {
		shape[i] = int(d) // fits: numElements checked the product against MaxInt
	}
	return stEntry{info: TensorInfo{Name: name, DType: dt, Shape: shape}, begin: begin, end: end}, nil
}

// checkOverlaps rejects tensors whose byte ranges overlap (gaps are tolerated).
func (s *Safetensors) checkOverlaps() error {
	order := slices.Clone(s.names)
	sort.Slice(order, func(i, j int) bool {
		a, b := s.entries[order[i]], s.entries[order[j]]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		return a.end < b.end
	})
	var prev string
	var prevEnd int64
	for _, name := range order {
		e := s.entries[name]
		if e.end == e.begin {
			continue // empty tensors occupy no bytes
		}
		if prev != "" && e.begin < prevEnd {
			p := s.entries[prev]
			return s.errorf(name, "data_offsets [%d, %d] overlap tensor %q at [%d, %d]", e.begin, e.end, prev, p.begin, p.end)
		}
		prev, prevEnd = name, e.end
	}
	return nil
}

// truncateForError quotes at most 40 bytes of b for an error message.
func truncateForError(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:40])) + "..."
	}
	return strconv.Quote(string(b))
}

// Path returns the file path (or the name given to ParseSafetensors).
func (s *Safetensors) Path() string { return s.path }

// Metadata returns a copy of the header's "__metadata__" map (nil when absent).
func (s *Safetensors) Metadata() map[string]string {
	if s.metadata == nil {
		return nil
	}
	m := make(map[string]string, len(s.metadata))
	for k, v := range s.metadata {
		m[k] = v
	}
	return m
}

// Names returns the tensor names, sorted.
func (s *Safetensors) Names() []string { return slices.Clone(s.names) }

// Info returns a tensor's description.
func (s *Safetensors) Info(name string) (TensorInfo, bool) {
	e, ok := s.entries[name]
	if !ok {
		return TensorInfo{}, false
	}
	info := e.info
	info.Shape = slices.Clone(info.Shape)
	return info, true
}

// DataRange returns where a tensor's bytes lie in the file: [start, end) as absolute offsets.
func (s *Safetensors) DataRange(name string) (start, end int64, ok bool) {
	e, ok := s.entries[name]
	if !ok {
		return 0, 0, false
	}
	return s.dataStart + e.begin, s.dataStart + e.end, true
}

func (s *Safetensors) lookup(name string) (stEntry, error) {
	if s.closed {
		return stEntry{}, s.errorf(name, "read after Close")
	}
	e, ok := s.entries[name]
	if !ok {
		return stEntry{}, s.errorf(name, "no such tensor")
	}
	return e, nil
}

// ReadFloat32 reads a tensor, converting F32/F16/BF16/F64 to float32.
func (s *Safetensors) ReadFloat32(name string) ([]float32, error) {
	e, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	if !e.info.DType.IsFloat() {
		return nil, s.errorf(name, "dtype %s cannot be read as float32 (use ReadBytes)", e.info.DType)
	}
	out, err := readFloat32At(s.r, s.dataStart+e.begin, e.info.DType, e.info.NumElements())
	if err != nil {
		return nil, errors.Wrapf(err, "safetensors %q: tensor %q: reading %d bytes at offset %d", s.path, name, e.end-e.begin, s.dataStart+e.begin)
	}
	return out, nil
}

// ReadBytes reads a tensor's raw little-endian bytes, whatever its dtype.
func (s *Safetensors) ReadBytes(name string) ([]byte, error) {
	e, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, e.end-e.begin)
	if err := readAtFull(s.r, buf, s.dataStart+e.begin); err != nil {
		return nil, errors.Wrapf(err, "safetensors %q: tensor %q: reading %d bytes at offset %d", s.path, name, len(buf), s.dataStart+e.begin)
	}
	return buf, nil
}

// Close closes the file opened by OpenSafetensors (a no-op for ParseSafetensors' reader).
// Reads after Close fail.
func (s *Safetensors) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.closer != nil {
		return errors.Wrapf(s.closer.Close(), "closing safetensors %q", s.path)
	}
	return nil
}
