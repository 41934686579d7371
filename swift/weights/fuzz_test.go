package weights

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// corruptVariants returns a few damaged copies of a valid file: truncations, flipped bytes and a
// lying length field.
func corruptVariants(valid []byte) [][]byte {
	var out [][]byte
	for _, n := range []int{0, 4, 8, 9, len(valid) / 2, len(valid) - 1} {
		if n <= len(valid) {
			out = append(out, bytes.Clone(valid[:n]))
		}
	}
	for _, i := range []int{0, 3, 8, 9, 20, len(valid) / 3, len(valid) - 2} {
		if i < len(valid) {
			b := bytes.Clone(valid)
			b[i] ^= 0x5a
			out = append(out, b)
		}
	}
	b := bytes.Clone(valid)
	if len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, 1<<62)
		out = append(out, b)
	}
	return out
}

func FuzzParseSafetensors(f *testing.F) {
	dir := f.TempDir()
	seeds := [][]Tensor{
		roundTripTensors(F32),
		roundTripTensors(BF16),
		roundTripTensors(F16),
		{{Name: "x", Shape: []int{2, 2}, DType: F64, Data: []float32{1, 2, 3, 4}}},
		nil,
	}
	for i, tensors := range seeds {
		path := filepath.Join(dir, "seed.safetensors")
		if err := WriteSafetensors(path, tensors, map[string]string{"format": "pt", "i": string(rune('a' + i))}); err != nil {
			f.Fatal(err)
		}
		valid, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(valid)
		for _, b := range corruptVariants(valid) {
			f.Add(b)
		}
	}
	f.Add(buildST(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[],"data_offsets":[8,9]}}`, make([]byte, 9)))
	f.Add(buildST(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseSafetensors(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
		if err != nil {
			if st != nil {
				t.Fatal("non-nil result with an error")
			}
			return
		}
		for _, name := range st.Names() {
			info, ok := st.Info(name)
			if !ok {
				t.Fatalf("Info(%q) missing", name)
			}
			start, end, _ := st.DataRange(name)
			if start < 0 || end < start || end > int64(len(data)) || end-start != int64(info.NumElements()*info.DType.Size()) {
				t.Fatalf("%q: range [%d, %d) invalid for %+v in %d bytes", name, start, end, info, len(data))
			}
			if raw, err := st.ReadBytes(name); err != nil || int64(len(raw)) != end-start {
				t.Fatalf("ReadBytes(%q): %d bytes, %v", name, len(raw), err)
			}
			vals, err := st.ReadFloat32(name)
			if info.DType.IsFloat() {
				if err != nil || len(vals) != info.NumElements() {
					t.Fatalf("ReadFloat32(%q): %d values, %v", name, len(vals), err)
				}
			} else if err == nil {
				t.Fatalf("ReadFloat32(%q) of %s: want an error", name, info.DType)
			}
		}
	})
}

func FuzzParseLlama2C(f *testing.F) {
	dir := f.TempDir()
	for i, cfg := range []Llama2CConfig{
		{Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 2, NKVHeads: 1, VocabSize: 10, SeqLen: 4, SharedClassifier: true},
		{Dim: 8, HiddenDim: 4, NLayers: 1, NHeads: 4, NKVHeads: 4, VocabSize: 3, SeqLen: 2, SharedClassifier: false},
		{Dim: 2, HiddenDim: 1, NLayers: 1, NHeads: 1, NKVHeads: 1, VocabSize: 1, SeqLen: 1, SharedClassifier: true},
	} {
		path := filepath.Join(dir, "seed.bin")
		if err := WriteLlama2C(path, cfg, randomLlama(cfg, uint64(i))); err != nil {
			f.Fatal(err)
		}
		valid, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(valid)
		for _, b := range corruptVariants(valid) {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLlama2C(t, bytes.NewReader(data), int64(len(data)))
		// Mutations rarely keep the size consistent with the header: also parse the same bytes as
		// a file of exactly the size the header implies (zero-padded or cut), when that is small.
		if len(data) >= 28 {
			var v [7]int
			for i := range v {
				v[i] = int(int32(binary.LittleEndian.Uint32(data[4*i:])))
			}
			cfg := Llama2CConfig{Dim: v[0], HiddenDim: v[1], NLayers: v[2], NHeads: v[3], NKVHeads: v[4], VocabSize: max(v[5], -v[5]), SeqLen: v[6], SharedClassifier: v[5] > 0}
			if cfg.Validate() == nil {
				if _, total, err := llama2cLayout(cfg); err == nil && total <= 1<<20 {
					checkLlama2C(t, sparseReaderAt{data, total}, total)
				}
			}
		}
	})
}

// checkLlama2C parses r and, when that succeeds, checks the invariants of the result.
func checkLlama2C(t *testing.T, r io.ReaderAt, size int64) {
	t.Helper()
	l, err := ParseLlama2C(r, size, "fuzz.bin")
	if err != nil {
		return
	}
	if err := l.Config.Validate(); err != nil {
		t.Fatalf("parsed an invalid config: %v", err)
	}
	_, total, err := llama2cLayout(l.Config)
	if err != nil || total != size {
		t.Fatalf("parsed a file of %d bytes whose layout says %d (%v)", size, total, err)
	}
	n := 0
	for _, name := range l.Names() {
		info, _ := l.Info(name)
		vals, err := l.ReadFloat32(name)
		if err != nil || len(vals) != info.NumElements() {
			t.Fatalf("ReadFloat32(%q): %d values, %v", name, len(vals), err)
		}
		n += len(vals)
	}
	real, imag, err := l.ReadFreqCis()
	if err != nil {
		t.Fatal(err)
	}
	if int64(28+4*(n+len(real)+len(imag))) != size {
		t.Fatalf("tensors cover %d floats of a %d-byte file", n+len(real)+len(imag), size)
	}
}

// FuzzOpenSharded feeds index bytes (model.safetensors.index.json) beside two valid shards to
// OpenSharded: it must open or fail with an error, never panic, never read outside the
// directory, and every tensor it exposes must be readable at its stated size.
func FuzzOpenSharded(f *testing.F) {
	dir := f.TempDir()
	for i, name := range []string{"a.safetensors", "b.safetensors"} {
		ts := []Tensor{{Name: string(rune('x' + i)), Shape: []int{2}, DType: F32, Data: []float32{1, 2}}}
		if err := WriteSafetensors(filepath.Join(dir, name), ts, nil); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range []string{
		`{"metadata":{"total_size":16},"weight_map":{"x":"a.safetensors","y":"b.safetensors"}}`,
		`{"weight_map":{"x":"b.safetensors"}}`,
		`{"weight_map":{"x":"../a.safetensors"}}`,
		`{"weight_map":{"x":"/etc/passwd"}}`,
		`{"weight_map":{"x":"a.safetensors","z":"a.safetensors"}}`,
		`{"weight_map":{}}`, `{"weight_map":null}`, `{"metadata":7}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, index []byte) {
		path := filepath.Join(dir, IndexFileName)
		if err := os.WriteFile(path, index, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := OpenSharded(path)
		if err != nil {
			return
		}
		defer src.Close()
		for _, name := range src.Names() {
			info, _ := src.Info(name)
			data, err := src.ReadFloat32(name)
			if err != nil {
				t.Fatalf("tensor %q listed but unreadable: %v", name, err)
			}
			if n := shapeSize(info.Shape); len(data) != n {
				t.Fatalf("tensor %q: %d values for shape %v", name, len(data), info.Shape)
			}
		}
	})
}

func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
