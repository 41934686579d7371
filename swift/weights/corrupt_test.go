package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildST assembles a safetensors file from a header string and a data section.
func buildST(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func bytesReaderAt(b []byte) io.ReaderAt { return bytes.NewReader(b) }

// sparseReaderAt claims size bytes: data followed by zeros (a huge "file" that costs nothing).
type sparseReaderAt struct {
	data []byte
	size int64
}

func (r sparseReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off+int64(n) < r.size {
		if i := off + int64(n); i < int64(len(r.data)) {
			p[n] = r.data[i]
		} else {
			p[n] = 0
		}
		n++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// validSmallST is a valid two-tensor file used as the base of corrupted variants.
func validSmallST(t testing.TB) []byte {
	path := filepath.Join(t.TempDir(), "valid.safetensors")
	tensors := []Tensor{
		{Name: "model.norm.weight", Shape: []int{4}, Data: []float32{1, 2, 3, 4}},
		{Name: "model.embed_tokens.weight", Shape: []int{2, 3}, DType: BF16, Data: []float32{1, 2, 3, 4, 5, 6}},
	}
	if err := WriteSafetensors(path, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCorruptSafetensors(t *testing.T) {
	valid := validSmallST(t)
	entry := func(dtype, shape, offsets string) string {
		return `{"dtype":` + dtype + `,"shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	one := func(name, e string) string { return `{"` + name + `":` + e + `}` }
	const name = "bad.safetensors"
	for _, tc := range []struct {
		name  string
		file  []byte
		size  int64 // when > len(file), the reader is sparse
		wants []string
	}{
		{"empty file", nil, 0, []string{"0 bytes, too short"}},
		{"7 bytes", []byte{1, 2, 3, 4, 5, 6, 7}, 0, []string{"7 bytes, too short"}},
		{"truncated data", valid[:len(valid)-5], 0, []string{`tensor "model.norm.weight"`, "beyond the data section", "truncated"}},
		{"truncated header", valid[:40], 0, []string{"header length", "beyond the end of the file"}},
		{"header length beyond file", buildST("{}", nil)[:8], 0, []string{"header length 2 goes beyond the end of the file (8 bytes)"}},
		{"header length over limit", buildST(strings.Repeat(" ", 8), nil)[:8], 0, nil}, // patched below
		{"invalid JSON", buildST(`{"a":`, nil), 0, []string{"invalid header JSON"}},
		{"not an object", buildST(`[1,2]`, nil), 0, []string{"not a JSON object"}},
		{"trailing data", buildST(`{} {}`, nil), 0, []string{"after the top-level JSON object"}},
		{"offsets outside data", buildST(one("w", entry(`"F32"`, `[2]`, `[0,8]`)), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "data_offsets [0, 8] go beyond the data section (4 bytes"}},
		{"end before start", buildST(one("w", entry(`"F32"`, `[1]`, `[10,4]`)), make([]byte, 12)), 0,
			[]string{`tensor "w"`, "data_offsets [10, 4]: end before start"}},
		{"size mismatch", buildST(one("w", entry(`"F32"`, `[3]`, `[0,8]`)), make([]byte, 12)), 0,
			[]string{`tensor "w"`, "hold 8 bytes but shape [3] of F32 needs 12"}},
		{"overlap", buildST(`{"a":`+entry(`"F32"`, `[2]`, `[0,8]`)+`,"b":`+entry(`"F32"`, `[2]`, `[4,12]`)+`}`, make([]byte, 12)), 0,
			[]string{`tensor "b"`, `overlap tensor "a"`}},
		{"unknown dtype", buildST(one("w", entry(`"F128"`, `[1]`, `[0,16]`)), make([]byte, 16)), 0,
			[]string{`tensor "w"`, `unknown dtype "F128"`}},
		{"dtype not a string", buildST(one("w", entry(`7`, `[1]`, `[0,4]`)), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "invalid entry"}},
		{"missing dtype", buildST(one("w", `{"shape":[1],"data_offsets":[0,4]}`), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "missing dtype"}},
		{"missing shape", buildST(one("w", `{"dtype":"F32","data_offsets":[0,4]}`), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "missing shape"}},
		{"negative shape", buildST(one("w", entry(`"F32"`, `[-1,4]`, `[0,4]`)), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "negative dimension -1"}},
		{"overflowing shape", buildST(one("w", entry(`"F32"`, `[4294967296,4294967296]`, `[0,4]`)), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "too many elements (overflow)"}},
		{"overflowing bytes", buildST(one("w", entry(`"F64"`, `[4611686018427387904]`, `[0,4]`)), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "overflow"}},
		{"huge dimension", buildST(one("w", entry(`"F32"`, `[99999999999999999999]`, `[0,4]`)), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "shape dimension 0", "not an integer in range"}},
		{"fractional dimension", buildST(one("w", entry(`"F32"`, `[1.5]`, `[0,4]`)), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "shape dimension 0 is \"1.5\""}},
		{"string dimension", buildST(one("w", entry(`"F32"`, `["1"]`, `[0,4]`)), make([]byte, 4)), 0,
			[]string{`tensor "w"`, "shape dimension 0"}},
		{"three offsets", buildST(one("w", entry(`"F32"`, `[1]`, `[0,4,8]`)), make([]byte, 8)), 0,
			[]string{`tensor "w"`, "data_offsets must have 2 entries, got 3"}},
		{"negative offset", buildST(one("w", entry(`"F32"`, `[1]`, `[-4,0]`)), make([]byte, 8)), 0,
			[]string{`tensor "w"`, "data_offsets[0]"}},
		{"duplicate tensor", buildST(`{"w":`+entry(`"F32"`, `[1]`, `[0,4]`)+`,"w":`+entry(`"F32"`, `[1]`, `[4,8]`)+`}`, make([]byte, 8)), 0,
			[]string{`tensor "w"`, "duplicate tensor name"}},
		{"metadata not strings", buildST(`{"__metadata__":{"n":1}}`, nil), 0, []string{"__metadata__ must be an object of string values"}},
		{"duplicate metadata", buildST(`{"__metadata__":{},"__metadata__":{}}`, nil), 0, []string{"duplicate __metadata__"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, size := tc.file, int64(len(tc.file))
			wants := tc.wants
			if tc.name == "header length over limit" {
				// The header length says 150 MB and the (sparse) file is 200 MB: the limit must
				// trigger before anything of that size is allocated.
				binary.LittleEndian.PutUint64(file, 150_000_000)
				size = 200_000_000
				wants = []string{"header length 150000000 exceeds the 100000000-byte limit"}
			}
			var r io.ReaderAt = bytes.NewReader(file)
			if size > int64(len(file)) {
				r = sparseReaderAt{file, size}
			}
			st, err := ParseSafetensors(r, size, name)
			if err == nil {
				t.Fatalf("no error; parsed %v", st.Names())
			}
			mustContain(t, err, append([]string{`safetensors "bad.safetensors"`}, wants...)...)
			if strings.Count(err.Error(), "bad.safetensors") != 1 {
				t.Errorf("file named more than once: %v", err)
			}
		})
	}
}

func TestCorruptSharded(t *testing.T) {
	// Build a valid two-shard checkpoint, then break it in different ways.
	tensors := []Tensor{
		{Name: "a", Shape: []int{4}, Data: []float32{1, 2, 3, 4}},
		{Name: "b", Shape: []int{4}, Data: []float32{5, 6, 7, 8}},
	}
	writeIndex := func(t *testing.T, dir string, weightMap map[string]string) string {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 32}, "weight_map": weightMap})
		p := filepath.Join(dir, IndexFileName)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		if err := WriteSharded(dir, tensors, 16, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	const s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, dir string)
		wants   []string
	}{
		{"missing shard", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, s2)) },
			[]string{IndexFileName, s2, `tensor "b"`, "no such file"}},
		{"tensor missing from its shard", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": s1, "b": s1})
		}, []string{IndexFileName, `tensor "b"`, "not found in its shard", s1}},
		{"duplicate across shards", func(t *testing.T, dir string) {
			if err := WriteSafetensors(filepath.Join(dir, s2), []Tensor{tensors[0], tensors[1]}, nil); err != nil {
				t.Fatal(err)
			}
		}, []string{IndexFileName, `tensor "a" is in both`, s1, s2}},
		{"invalid index JSON", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map": [`), 0o644)
		}, []string{IndexFileName, "invalid JSON"}},
		{"empty weight_map", func(t *testing.T, dir string) { writeIndex(t, dir, map[string]string{}) },
			[]string{IndexFileName, "empty \"weight_map\""}},
		{"shard outside the directory", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": "../" + s1, "b": s2})
		}, []string{IndexFileName, `tensor "a"`, "not a local path"}},
		{"corrupt shard", func(t *testing.T, dir string) {
			p := filepath.Join(dir, s1)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-2], 0o644)
		}, []string{IndexFileName, s1, `tensor "a"`, "beyond the data section"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := setup(t)
			tc.corrupt(t, dir)
			src, err := OpenDir(dir)
			if err == nil {
				src.Close()
			}
			mustContain(t, err, tc.wants...)
		})
	}
	t.Run("duplicate across loose files", func(t *testing.T) {
		dir := t.TempDir()
		for _, f := range []string{"x.safetensors", "y.safetensors"} {
			if err := WriteSafetensors(filepath.Join(dir, f), tensors[:1], nil); err != nil {
				t.Fatal(err)
			}
		}
		_, err := OpenDir(dir)
		mustContain(t, err, dir, `tensor "a" is in both`, "x.safetensors", "y.safetensors")
	})
	t.Run("no files", func(t *testing.T) {
		dir := t.TempDir()
		_, err := OpenDir(dir)
		mustContain(t, err, dir, "no model.safetensors.index.json")
	})
}

// llama2cFile builds a legacy checkpoint image with the given header values and byte count.
func llama2cFile(header [7]int32, nbytes int) []byte {
	b := make([]byte, max(nbytes, 28))
	for i, v := range header {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return b[:nbytes]
}

func TestCorruptLlama2C(t *testing.T) {
	// dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab 10, seq 4, shared: 28 + 4*(80 + 16 +
	// 128 + 64 + 64 + 128 + 16 + 192*3 + 8 + 8 + 8) bytes (kv_dim 4).
	good := [7]int32{8, 12, 2, 2, 1, 10, 4}
	const goodSize = 28 + 4*(80+16+128+64+64+128+16+192*3+8+8+8)
	unshared := good
	unshared[5] = -10
	const name = "bad.bin"
	for _, tc := range []struct {
		name  string
		file  []byte
		wants []string
	}{
		{"valid control", llama2cFile(good, goodSize), nil},
		{"short", []byte{1, 2, 3}, []string{"3 bytes, too short for the 28-byte header"}},
		{"zero dim", llama2cFile([7]int32{0, 12, 2, 2, 1, 10, 4}, goodSize), []string{"dim = 0"}},
		{"negative layers", llama2cFile([7]int32{8, 12, -2, 2, 1, 10, 4}, goodSize), []string{"n_layers = -2"}},
		{"zero vocab", llama2cFile([7]int32{8, 12, 2, 2, 1, 0, 4}, goodSize), []string{"vocab_size = 0"}},
		{"dim not divisible", llama2cFile([7]int32{9, 12, 2, 2, 1, 10, 4}, goodSize), []string{"dim 9 is not divisible by n_heads 2"}},
		{"kv heads", llama2cFile([7]int32{12, 12, 2, 3, 2, 10, 4}, goodSize), []string{"n_kv_heads 2 does not divide n_heads 3"}},
		{"more kv heads", llama2cFile([7]int32{8, 12, 2, 2, 4, 10, 4}, goodSize), []string{"n_kv_heads 4 does not divide n_heads 2"}},
		{"odd head size", llama2cFile([7]int32{6, 12, 2, 2, 1, 10, 4}, goodSize), []string{"head size", "is odd"}},
		{"absurd sizes", llama2cFile([7]int32{1 << 30, 1 << 30, 1 << 30, 2, 1, 1 << 30, 1 << 30}, goodSize), []string{"overflow"}},
		{"large but not overflowing", llama2cFile([7]int32{1 << 20, 1 << 20, 64, 2, 1, 1 << 20, 8}, goodSize), []string{"implies", "truncated inside array 1 of 13, token_embedding_table"}},
		{"truncated", llama2cFile(good, goodSize-100), []string{"file is", "truncated inside array 10 of 13, w3"}},
		{"trailing bytes", llama2cFile(good, goodSize+4), []string{"4 unexpected bytes after the last array freq_cis_imag"}},
		{"unshared classifier with positive vocab", llama2cFile(good, goodSize+4*80), []string{"a separate classifier with a positive vocab_size"}},
		{"missing wcls", llama2cFile(unshared, goodSize), []string{"truncated inside array 14 of 14, wcls", "a shared classifier with a negative vocab_size"}},
		{"missing freq_cis", llama2cFile(good, goodSize-4*16), []string{"freq_cis_real", "omits them"}},
		{"version 1 export", append([]byte("24ka\x01\x00\x00\x00"), make([]byte, 300)...), []string{"export version 1", "only the legacy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseLlama2C(bytes.NewReader(tc.file), int64(len(tc.file)), name)
			if tc.wants == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(l.Names()) != 1+2*9+1 {
					t.Errorf("names = %v", l.Names())
				}
				return
			}
			mustContain(t, err, append([]string{`llama2.c "bad.bin"`}, tc.wants...)...)
		})
	}
}
