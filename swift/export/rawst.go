package export

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"sort"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/weights"
)

// rawTensor is a tensor of any dtype, already encoded little-endian.
type rawTensor struct {
	Name  string
	DType weights.DType
	Shape []int
	Data  []byte
}

func f32Raw(name string, shape []int, data []float32) rawTensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return rawTensor{Name: name, DType: weights.F32, Shape: shape, Data: b}
}

// writeRawSafetensors writes tensors of any dtype (weights' writer takes float32 data only) to
// path atomically: the header's entries and the data sorted by name.
func writeRawSafetensors(path string, ts []rawTensor, metadata map[string]string) error {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, t := range ts {
		n := int64(t.DType.Size())
		for _, d := range t.Shape {
			n *= int64(d)
		}
		if n != int64(len(t.Data)) {
			return errors.Errorf("export: tensor %q: %v %s needs %d bytes, has %d", t.Name, t.Shape, t.DType, n, len(t.Data))
		}
		if _, dup := header[t.Name]; dup {
			return errors.Errorf("export: duplicate tensor %q", t.Name)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{"dtype": string(t.DType), "shape": shape, "data_offsets": []int64{off, off + n}}
		off += n
	}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return errors.Wrap(err, "export: safetensors header")
	}
	h := bytes.TrimRight(hb.Bytes(), "\n")
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(h)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(h); err != nil {
			return err
		}
		for _, t := range ts {
			if _, err := w.Write(t.Data); err != nil {
				return errors.Wrapf(err, "tensor %q", t.Name)
			}
		}
		return nil
	})
}
