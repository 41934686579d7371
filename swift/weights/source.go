package weights

import (
	"encoding/binary"
	"io"
	"math"
	"os"
	"strings"
	"unsafe"

	"github.com/pkg/errors"
)

// TensorInfo describes one stored tensor.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
}

// NumElements returns the product of the shape's dimensions (1 for a scalar). Readers validate
// shapes before exposing them, so this never overflows for a TensorInfo returned by a Source.
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Source is a read-only set of named tensors, read lazily one at a time (so a loader can stream
// and quantise tensor by tensor: peak memory ~ one tensor).
type Source interface {
	// Names returns the tensor names, sorted.
	Names() []string
	// Info returns a tensor's name, dtype and shape.
	Info(name string) (TensorInfo, bool)
	// ReadFloat32 reads a tensor in row-major order, converting F32/F16/BF16/F64 to float32.
	// Other dtypes give an error.
	ReadFloat32(name string) ([]float32, error)
	// Close releases the underlying files.
	Close() error
}

// Open opens a checkpoint by looking at path: a directory ([OpenDir]), a "*.index.json" shard
// index ([OpenSharded]), a "*.safetensors" file ([OpenSafetensors]) or anything else as a
// llama2.c legacy checkpoint ([OpenLlama2C]).
func Open(path string) (Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, errors.Wrapf(err, "opening checkpoint %q", path)
	}
	switch {
	case st.IsDir():
		return OpenDir(path)
	case strings.HasSuffix(path, ".index.json"):
		return OpenSharded(path)
	case strings.HasSuffix(path, ".safetensors"):
		return asSource(OpenSafetensors(path))
	}
	return asSource(OpenLlama2C(path))
}

// asSource converts a concrete reader to a Source without turning a nil pointer into a non-nil
// interface.
func asSource[T Source](s T, err error) (Source, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// checkedMul returns a*b and whether it fits in an int64 (a, b >= 0).
func checkedMul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt64/b {
		return 0, false
	}
	return a * b, true
}

// checkedAdd returns a+b and whether it fits in an int64 (a, b >= 0).
func checkedAdd(a, b int64) (int64, bool) {
	if a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// numElements returns the product of shape's dimensions, checking for negative dimensions and
// for overflow of int (and int64). The error is a bare description for the caller to wrap.
func numElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, errors.Errorf("negative dimension %d in shape %v", d, shape)
		}
		var ok bool
		if n, ok = checkedMul(n, d); !ok || n > math.MaxInt {
			return 0, errors.Errorf("shape %v has too many elements (overflow)", shape)
		}
	}
	return n, nil
}

// readChunkBytes is the chunk size used when a dtype cannot be decoded in place (F64).
const readChunkBytes = 1 << 20

// readFloat32At reads numel elements of dtype dt at offset off of r and converts them to float32.
// The caller has checked that the bytes lie within r. It allocates only the result: narrower
// dtypes are read into the tail of the result's memory and widened in place.
func readFloat32At(r io.ReaderAt, off int64, dt DType, numel int) ([]float32, error) {
	out := make([]float32, numel)
	if numel == 0 {
		return out, nil
	}
	switch dt {
	case F32, BF16, F16:
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*numel) // aliases out
		size := dt.Size()
		src := raw[(4-size)*numel:] // the last size*numel bytes
		if err := readAtFull(r, src, off); err != nil {
			return nil, err
		}
		// Element i is written to raw[4i:4i+4] after element i's source raw[(4-size)n+size*i:...]
		// has been read; later sources lie at or beyond raw[4i+4] (see the test for the proof by
		// exhaustion), so front-to-back widening never clobbers unread input.
		switch dt {
		case F32:
			if !littleEndianHost {
				for i := range out {
					out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				}
			}
		case BF16:
			widenBF16(out, src)
		case F16:
			widenF16(out, src)
		}
		return out, nil
	case F64:
		buf := make([]byte, min(readChunkBytes, 8*numel))
		for i := 0; i < numel; {
			n := min(len(buf)/8, numel-i)
			if err := readAtFull(r, buf[:8*n], off+8*int64(i)); err != nil {
				return nil, err
			}
			for j := range n {
				out[i+j] = float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*j:])))
			}
			i += n
		}
		return out, nil
	}
	return nil, errors.Errorf("dtype %s cannot be read as float32 (only F32, F16, BF16, F64)", dt)
}

// widenBF16 converts the little-endian bfloat16 values in src to out, four at a time. src may be
// the tail of out's own memory (see readFloat32At): each step reads its 8 bytes before writing
// 16, and never writes past the bytes still to be read.
func widenBF16(out []float32, src []byte) {
	n, i := len(out), 0
	for ; i+4 <= n; i += 4 {
		v := binary.LittleEndian.Uint64(src[2*i : 2*i+8])
		o := out[i : i+4 : i+4]
		o[0] = math.Float32frombits(uint32(v) << 16)
		o[1] = math.Float32frombits(uint32(v>>16) << 16)
		o[2] = math.Float32frombits(uint32(v>>32) << 16)
		o[3] = math.Float32frombits(uint32(v>>48) << 16)
	}
	for ; i < n; i++ {
		out[i] = BF16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// widenF16 is widenBF16 for IEEE half precision, through a lookup table.
func widenF16(out []float32, src []byte) {
	table := f16Table()
	n, i := len(out), 0
	for ; i+4 <= n; i += 4 {
		v := binary.LittleEndian.Uint64(src[2*i : 2*i+8])
		o := out[i : i+4 : i+4]
		o[0] = table[uint16(v)]
		o[1] = table[uint16(v>>16)]
		o[2] = table[uint16(v>>32)]
		o[3] = table[uint16(v>>48)]
	}
	for ; i < n; i++ {
		out[i] = table[binary.LittleEndian.Uint16(src[2*i:])]
	}
}

var littleEndianHost = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// readAtFull reads len(p) bytes at off; io.EOF together with a full read is success (as the
// io.ReaderAt contract allows), a short read is io.ErrUnexpectedEOF.
func readAtFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
