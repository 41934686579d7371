package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/pkg/errors"
)

// Tensor is a named float32 tensor to write. DType is the dtype to store: "" or F32 (exact), BF16
// (round-to-nearest-even), F16 (round-to-nearest-even) or F64.
type Tensor struct {
	Name  string
	Shape []int
	DType DType
	Data  []float32
}

// storeDType returns the dtype to store ("" means F32).
func (t *Tensor) storeDType() DType {
	if t.DType == "" {
		return F32
	}
	return t.DType
}

// byteSize returns the stored size in bytes.
func (t *Tensor) byteSize() int64 { return int64(len(t.Data)) * int64(t.storeDType().Size()) }

// validateTensors checks names (non-empty, unique, not "__metadata__"), dtypes and that each
// shape matches its data.
func validateTensors(tensors []Tensor) error {
	seen := make(map[string]bool, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		switch {
		case t.Name == "":
			return errors.Errorf("tensor #%d has an empty name", i)
		case !utf8.ValidString(t.Name):
			return errors.Errorf("tensor #%d: name %q is not valid UTF-8", i, t.Name)
		case t.Name == "__metadata__":
			return errors.Errorf("tensor #%d: the name %q is reserved", i, t.Name)
		case seen[t.Name]:
			return errors.Errorf("tensor %q: duplicate name", t.Name)
		}
		seen[t.Name] = true
		switch t.storeDType() {
		case F32, BF16, F16, F64:
		default:
			return errors.Errorf("tensor %q: cannot store float32 data as dtype %q (use F32, BF16, F16 or F64)", t.Name, t.DType)
		}
		shape := make([]int64, len(t.Shape))
		for j, d := range t.Shape {
			shape[j] = int64(d)
		}
		n, err := numElements(shape)
		if err != nil {
			return errors.Wrapf(err, "tensor %q", t.Name)
		}
		if n != int64(len(t.Data)) {
			return errors.Errorf("tensor %q: shape %v has %d elements but Data has %d", t.Name, t.Shape, n, len(t.Data))
		}
	}
	return nil
}

// WriteSafetensors writes tensors to a safetensors file at path, atomically. Tensors are sorted by
// name in the header and data; metadata, when not empty, becomes the "__metadata__" entry.
func WriteSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	if err := validateTensors(tensors); err != nil {
		return errors.WithMessagef(err, "writing safetensors %q", path)
	}
	ptrs := make([]*Tensor, len(tensors))
	for i := range tensors {
		ptrs[i] = &tensors[i]
	}
	return writeSafetensorsFile(path, ptrs, metadata)
}

// writeSafetensorsFile writes already validated tensors.
func writeSafetensorsFile(path string, tensors []*Tensor, metadata map[string]string) error {
	sorted := append([]*Tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header, err := safetensorsHeader(sorted, metadata)
	if err != nil {
		return errors.WithMessagef(err, "writing safetensors %q", path)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(header); err != nil {
			return err
		}
		buf := make([]byte, 1<<16)
		for _, t := range sorted {
			if err := encodeTensor(w, t.storeDType(), t.Data, buf); err != nil {
				return errors.Wrapf(err, "tensor %q", t.Name)
			}
		}
		return nil
	})
}

// safetensorsHeader builds the JSON header (padded with spaces to a multiple of 8 bytes) for
// tensors already sorted by name, with contiguous data offsets.
func safetensorsHeader(sorted []*Tensor, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	writeString := func(s string) error {
		if err := enc.Encode(s); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode appends a newline
		return nil
	}
	b.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return nil, errors.Errorf("metadata %q: %q is not valid UTF-8", k, metadata[k])
			}
		}
		b.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeString(k); err != nil {
				return nil, err
			}
			b.WriteByte(':')
			if err := writeString(metadata[k]); err != nil {
				return nil, err
			}
		}
		b.WriteByte('}')
		first = false
	}
	var offset int64
	for _, t := range sorted {
		if !first {
			b.WriteByte(',')
		}
		first = false
		if err := writeString(t.Name); err != nil {
			return nil, err
		}
		b.WriteString(`:{"dtype":"`)
		b.WriteString(string(t.storeDType()))
		b.WriteString(`","shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		end := offset + t.byteSize()
		b.WriteString(`],"data_offsets":[`)
		b.WriteString(strconv.FormatInt(offset, 10))
		b.WriteByte(',')
		b.WriteString(strconv.FormatInt(end, 10))
		b.WriteString(`]}`)
		offset = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes(), nil
}

// encodeTensor writes data as dtype dt (little-endian), using buf as scratch space.
func encodeTensor(w io.Writer, dt DType, data []float32, buf []byte) error {
	if dt == F32 && littleEndianHost && len(data) > 0 {
		_, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data)))
		return err
	}
	size := dt.Size()
	per := len(buf) / size
	for i := 0; i < len(data); i += per {
		chunk := data[i:min(i+per, len(data))]
		out := buf[:size*len(chunk)]
		switch dt {
		case F32:
			for j, v := range chunk {
				binary.LittleEndian.PutUint32(out[4*j:], math.Float32bits(v))
			}
		case BF16:
			for j, v := range chunk {
				binary.LittleEndian.PutUint16(out[2*j:], Float32ToBF16(v))
			}
		case F16:
			for j, v := range chunk {
				binary.LittleEndian.PutUint16(out[2*j:], Float32ToF16(v))
			}
		case F64:
			for j, v := range chunk {
				binary.LittleEndian.PutUint64(out[8*j:], math.Float64bits(float64(v)))
			}
		default:
			return errors.Errorf("cannot encode dtype %q", dt)
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}
