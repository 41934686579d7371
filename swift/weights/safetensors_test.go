package weights

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

// rawHeader decodes a safetensors header with plain encoding/json, independently of the reader.
type rawEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

func rawHeader(t *testing.T, path string) (entries map[string]rawEntry, metadata map[string]string, dataStart int64, headerBytes []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	headerBytes = b[8 : 8+n]
	var m map[string]json.RawMessage
	if err := json.Unmarshal(headerBytes, &m); err != nil {
		t.Fatal(err)
	}
	entries = make(map[string]rawEntry)
	for k, v := range m {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &metadata); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var e rawEntry
		if err := json.Unmarshal(v, &e); err != nil {
			t.Fatal(err)
		}
		entries[k] = e
	}
	return entries, metadata, int64(8 + n), headerBytes
}

// rawValue decodes element i of a tensor straight from the file bytes.
func rawValue(t *testing.T, path string, e rawEntry, dataStart int64, i int) float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := b[dataStart+e.DataOffsets[0]:]
	switch DType(e.DType) {
	case F32:
		return math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	case BF16:
		return math.Float32frombits(uint32(binary.LittleEndian.Uint16(p[2*i:])) << 16)
	}
	t.Fatalf("unexpected dtype %s", e.DType)
	return 0
}

// hfConfig is the part of a Hugging Face config.json the shape checks need.
type hfConfig struct {
	HiddenSize        int  `json:"hidden_size"`
	IntermediateSize  int  `json:"intermediate_size"`
	NumHiddenLayers   int  `json:"num_hidden_layers"`
	NumAttentionHeads int  `json:"num_attention_heads"`
	NumKeyValueHeads  int  `json:"num_key_value_heads"`
	HeadDim           int  `json:"head_dim"`
	VocabSize         int  `json:"vocab_size"`
	TieWordEmbeddings bool `json:"tie_word_embeddings"`
}

// expectedHFShapes lists the Llama/Qwen2 tensor shapes implied by a config.
func expectedHFShapes(c hfConfig, biases bool) map[string][]int {
	d, h, q, kv := c.HiddenSize, c.IntermediateSize, c.NumAttentionHeads*c.HeadDim, c.NumKeyValueHeads*c.HeadDim
	want := map[string][]int{"model.embed_tokens.weight": {c.VocabSize, d}, "model.norm.weight": {d}}
	if !c.TieWordEmbeddings {
		want["lm_head.weight"] = []int{c.VocabSize, d}
	}
	for i := range c.NumHiddenLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		want[p+"input_layernorm.weight"] = []int{d}
		want[p+"post_attention_layernorm.weight"] = []int{d}
		want[p+"self_attn.q_proj.weight"] = []int{q, d}
		want[p+"self_attn.k_proj.weight"] = []int{kv, d}
		want[p+"self_attn.v_proj.weight"] = []int{kv, d}
		want[p+"self_attn.o_proj.weight"] = []int{d, q}
		want[p+"mlp.gate_proj.weight"] = []int{h, d}
		want[p+"mlp.up_proj.weight"] = []int{h, d}
		want[p+"mlp.down_proj.weight"] = []int{d, h}
		if biases {
			want[p+"self_attn.q_proj.bias"] = []int{q}
			want[p+"self_attn.k_proj.bias"] = []int{kv}
			want[p+"self_attn.v_proj.bias"] = []int{kv}
		}
	}
	return want
}

func readHFConfig(t *testing.T, dir string) hfConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c hfConfig
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkShapes compares a source's tensors with the expected names, shapes and dtype.
func checkShapes(t *testing.T, src Source, want map[string][]int, dtype DType) {
	t.Helper()
	names := src.Names()
	if !sort.StringsAreSorted(names) {
		t.Errorf("Names() not sorted: %v", names)
	}
	if len(names) != len(want) {
		t.Errorf("%d tensors, want %d: %v", len(names), len(want), names)
	}
	for name, shape := range want {
		info, ok := src.Info(name)
		if !ok {
			t.Errorf("missing tensor %q", name)
			continue
		}
		if info.Name != name || !slices.Equal(info.Shape, shape) || info.DType != dtype {
			t.Errorf("%q: got %+v, want shape %v dtype %s", name, info, shape, dtype)
		}
	}
}

func TestTinyQwen2(t *testing.T) {
	dir := fixtures.Path(t, "golden", "hf", "tiny_qwen2")
	path := filepath.Join(dir, "model.safetensors")
	st, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := readHFConfig(t, dir)
	checkShapes(t, st, expectedHFShapes(cfg, true), F32)
	if got := st.Metadata(); got["format"] != "pt" {
		t.Errorf("metadata = %v, want format=pt", got)
	}
	if st.Path() != path {
		t.Errorf("Path() = %q", st.Path())
	}
	entries, _, dataStart, _ := rawHeader(t, path)
	for _, name := range []string{"model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.k_proj.bias",
		"model.layers.1.self_attn.v_proj.bias", "model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight"} {
		data, err := st.ReadFloat32(name)
		if err != nil {
			t.Fatal(err)
		}
		e := entries[name]
		for _, i := range []int{0, len(data) / 2, len(data) - 1} {
			if want := rawValue(t, path, e, dataStart, i); data[i] != want {
				t.Errorf("%s[%d] = %v, want %v (raw bytes)", name, i, data[i], want)
			}
		}
		start, end, _ := st.DataRange(name)
		if start != dataStart+e.DataOffsets[0] || end != dataStart+e.DataOffsets[1] {
			t.Errorf("%s: DataRange [%d, %d), want [%d, %d)", name, start, end, dataStart+e.DataOffsets[0], dataStart+e.DataOffsets[1])
		}
	}
	// A bias is not all zeros (the fixture has real biases).
	bias, _ := st.ReadFloat32("model.layers.0.self_attn.q_proj.bias")
	if slices.Max(bias) == 0 && slices.Min(bias) == 0 {
		t.Error("q_proj.bias is all zeros")
	}
}

func TestTinyLlamaDir(t *testing.T) {
	dir := fixtures.Path(t, "golden", "hf", "tiny_llama")
	src, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg := readHFConfig(t, dir)
	want := expectedHFShapes(cfg, false)
	if len(want) != 21 {
		t.Fatalf("expected 21 tensors from config, got %d", len(want))
	}
	checkShapes(t, src, want, BF16)
	sh, ok := src.(*Sharded)
	if !ok {
		t.Fatalf("OpenDir returned %T, want *Sharded", src)
	}
	if files := sh.Files(); len(files) != 2 || !strings.HasSuffix(files[0], "model-00001-of-00002.safetensors") {
		t.Errorf("Files() = %v", files)
	}
	if sh.Metadata()["format"] != "pt" {
		t.Errorf("Metadata() = %v", sh.Metadata())
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatal(err)
	}
	for name, file := range index.WeightMap {
		got, _ := sh.FileOf(name)
		if filepath.Base(got) != file {
			t.Errorf("FileOf(%q) = %q, want %q", name, got, file)
		}
		path := filepath.Join(dir, file)
		entries, _, dataStart, _ := rawHeader(t, path)
		data, err := src.ReadFloat32(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, len(data) - 1} {
			if want := rawValue(t, path, entries[name], dataStart, i); data[i] != want {
				t.Errorf("%s[%d] = %v, want %v (raw bytes)", name, i, data[i], want)
			}
		}
	}
}

// roundTripTensors returns a varied set of tensors: matrices, a vector, a scalar, an empty one.
func roundTripTensors(dtype DType) []Tensor {
	rng := rand.New(rand.NewPCG(5, 6))
	return []Tensor{
		{Name: "b.weight", Shape: []int{7, 3}, DType: dtype, Data: randomData(rng, 21, 3)},
		{Name: "a.weight", Shape: []int{5, 8}, DType: dtype, Data: randomData(rng, 40, 1e-2)},
		{Name: "norm", Shape: []int{9}, DType: dtype, Data: randomData(rng, 9, 100)},
		{Name: "scalar", Shape: []int{}, DType: dtype, Data: []float32{-1.25}},
		{Name: "empty", Shape: []int{0, 4}, DType: dtype, Data: []float32{}},
		{Name: "special", Shape: []int{4}, DType: dtype, Data: []float32{float32(math.Inf(1)), float32(math.Inf(-1)), 0, 1}},
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		dtype, stored DType
		round         func(float32) float32
	}{
		{"", F32, func(f float32) float32 { return f }},
		{F32, F32, func(f float32) float32 { return f }},
		{BF16, BF16, func(f float32) float32 { return BF16ToFloat32(Float32ToBF16(f)) }},
		{F16, F16, func(f float32) float32 { return F16ToFloat32(Float32ToF16(f)) }},
		{F64, F64, func(f float32) float32 { return f }},
	} {
		t.Run(string(tc.stored)+"/"+string(tc.dtype), func(t *testing.T) {
			tensors := roundTripTensors(tc.dtype)
			path := filepath.Join(t.TempDir(), "x.safetensors")
			meta := map[string]string{"format": "pt", "note": "<&> \"quoted\" ünïcode"}
			if err := WriteSafetensors(path, tensors, meta); err != nil {
				t.Fatal(err)
			}
			noTempFiles(t, filepath.Dir(path))
			st, err := OpenSafetensors(path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if got := st.Metadata(); len(got) != 2 || got["note"] != meta["note"] {
				t.Errorf("metadata = %v, want %v", got, meta)
			}
			if len(st.Names()) != len(tensors) {
				t.Errorf("names %v", st.Names())
			}
			for _, want := range tensors {
				info, ok := st.Info(want.Name)
				if !ok || info.DType != tc.stored || !slices.Equal(info.Shape, want.Shape) {
					t.Fatalf("%s: info %+v ok=%v", want.Name, info, ok)
				}
				got, err := st.ReadFloat32(want.Name)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want.Data) {
					t.Fatalf("%s: %d values, want %d", want.Name, len(got), len(want.Data))
				}
				for i, v := range want.Data {
					r := tc.round(v)
					if got[i] != r {
						t.Fatalf("%s[%d] = %v, want %v (from %v)", want.Name, i, got[i], r, v)
					}
					if tc.stored == BF16 && !math.IsInf(float64(v), 0) && math.Abs(float64(got[i]-v)) > math.Abs(float64(v))/256 {
						t.Fatalf("%s[%d] = %v: more than bf16 rounding away from %v", want.Name, i, got[i], v)
					}
				}
			}
			// Header layout: tensors sorted by name, contiguous offsets, padded to 8 bytes.
			entries, _, dataStart, header := rawHeader(t, path)
			if len(header)%8 != 0 || dataStart%8 != 0 {
				t.Errorf("header length %d not a multiple of 8", len(header))
			}
			names := make([]string, 0, len(entries))
			for n := range entries {
				names = append(names, n)
			}
			sort.Strings(names)
			var off int64
			for _, n := range names {
				e := entries[n]
				if e.DataOffsets[0] != off {
					t.Errorf("%s: data_offsets %v, want start %d (contiguous in name order)", n, e.DataOffsets, off)
				}
				off = e.DataOffsets[1]
			}
			if fi, _ := os.Stat(path); fi.Size() != dataStart+off {
				t.Errorf("file size %d, want %d", fi.Size(), dataStart+off)
			}
			if !strings.HasPrefix(string(header), `{"__metadata__":`) {
				t.Errorf("header does not start with __metadata__: %.40s", header)
			}
		})
	}
}

func TestWriteSafetensorsNoMetadata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteSafetensors(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, nil); err != nil {
		t.Fatal(err)
	}
	_, meta, _, header := rawHeader(t, path)
	if meta != nil || strings.Contains(string(header), "__metadata__") {
		t.Errorf("unexpected metadata in header %q", header)
	}
	// Writing an empty tensor list gives a valid, empty file.
	if err := WriteSafetensors(path, nil, nil); err != nil {
		t.Fatal(err)
	}
	st, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Names()) != 0 {
		t.Errorf("names = %v", st.Names())
	}
	st.Close()
	if _, err := st.ReadFloat32("w"); err == nil {
		t.Error("read after Close: want an error")
	}
}

func TestWriteSafetensorsInvalid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.safetensors")
	for _, tc := range []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"empty name", []Tensor{{Name: "", Shape: []int{1}, Data: []float32{1}}}, "empty name"},
		{"duplicate", []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "a", Shape: []int{1}, Data: []float32{1}}}, `"a": duplicate`},
		{"reserved", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, "reserved"},
		{"shape mismatch", []Tensor{{Name: "a", Shape: []int{2, 3}, Data: []float32{1}}}, `tensor "a": shape [2 3] has 6 elements but Data has 1`},
		{"negative", []Tensor{{Name: "a", Shape: []int{-1}, Data: nil}}, "negative dimension"},
		{"dtype", []Tensor{{Name: "a", Shape: []int{1}, DType: I32, Data: []float32{1}}}, `cannot store float32 data as dtype "I32"`},
		{"utf8", []Tensor{{Name: "a\xff", Shape: []int{1}, Data: []float32{1}}}, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteSafetensors(path, tc.tensors, nil)
			mustContain(t, err, path, tc.want)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s exists after a failed write", path)
			}
			noTempFiles(t, dir)
		})
	}
	err := WriteSafetensors(filepath.Join(dir, "no", "such", "dir", "x.safetensors"), nil, nil)
	mustContain(t, err, "no/such/dir")
}

func TestWriteSafetensorsReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	if err := WriteSafetensors(path, []Tensor{{Name: "old", Shape: []int{1}, Data: []float32{1}}}, nil); err != nil {
		t.Fatal(err)
	}
	st, err := OpenSafetensors(path) // an open reader keeps seeing the old file
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := WriteSafetensors(path, []Tensor{{Name: "new", Shape: []int{2}, Data: []float32{2, 3}}}, nil); err != nil {
		t.Fatal(err)
	}
	if v, err := st.ReadFloat32("old"); err != nil || v[0] != 1 {
		t.Errorf("old reader: %v %v", v, err)
	}
	st2, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if names := st2.Names(); !slices.Equal(names, []string{"new"}) {
		t.Errorf("names after replace = %v", names)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	noTempFiles(t, dir)
}

func TestReadBytesAndIntegerDTypes(t *testing.T) {
	// An I64 tensor (as in some HF checkpoints' position_ids) parses, reads as bytes, and gives a
	// clear error from ReadFloat32.
	header := `{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"w":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}`
	data := make([]byte, 20)
	binary.LittleEndian.PutUint64(data[8:], 7)
	binary.LittleEndian.PutUint32(data[16:], math.Float32bits(2.5))
	st, err := ParseSafetensors(bytesReaderAt(buildST(header, data)), int64(8+len(header)+20), "ints.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.ReadBytes("ids")
	if err != nil || binary.LittleEndian.Uint64(b[8:]) != 7 {
		t.Errorf("ReadBytes = %v, %v", b, err)
	}
	_, err = st.ReadFloat32("ids")
	mustContain(t, err, `"ints.safetensors"`, `tensor "ids"`, "I64")
	if v, err := st.ReadFloat32("w"); err != nil || v[0] != 2.5 {
		t.Errorf("w = %v, %v", v, err)
	}
	_, err = st.ReadFloat32("nope")
	mustContain(t, err, `tensor "nope"`, "no such tensor")
}

func TestConcurrentReads(t *testing.T) {
	// Readers use io.ReaderAt, so goroutines may read tensors in parallel (run with -race).
	dir := t.TempDir()
	tensors := layerTensors(8, BF16)
	if err := WriteSharded(dir, tensors, 3*128, nil); err != nil {
		t.Fatal(err)
	}
	src, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := readAllSource(t, src)
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				name := tensors[(g+i)%len(tensors)].Name
				got, err := src.ReadFloat32(name)
				if err == nil && !slices.Equal(got, want[name]) {
					err = fmt.Errorf("%s differs", name)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
