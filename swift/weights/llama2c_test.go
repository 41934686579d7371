package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"

	"github.com/pkg/errors"
)

// mapSource is an in-memory Source for tests.
type mapSource map[string]Tensor

func (m mapSource) Names() []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (m mapSource) Info(name string) (TensorInfo, bool) {
	t, ok := m[name]
	return TensorInfo{Name: name, DType: F32, Shape: t.Shape}, ok
}

func (m mapSource) ReadFloat32(name string) ([]float32, error) {
	t, ok := m[name]
	if !ok {
		return nil, errors.Errorf("no tensor %q", name)
	}
	return slices.Clone(t.Data), nil
}

func (m mapSource) Close() error { return nil }

// randomLlama returns random weights with HF names for cfg.
func randomLlama(cfg Llama2CConfig, seed uint64) mapSource {
	rng := rand.New(rand.NewPCG(seed, 1))
	d, h, kv := cfg.Dim, cfg.HiddenDim, cfg.KVDim()
	m := mapSource{}
	add := func(name string, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		m[name] = Tensor{Name: name, Shape: shape, Data: randomData(rng, n, 1)}
	}
	add("model.embed_tokens.weight", cfg.VocabSize, d)
	add("model.norm.weight", d)
	if !cfg.SharedClassifier {
		add("lm_head.weight", cfg.VocabSize, d)
	}
	for i := range cfg.NLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", d)
		add(p+"post_attention_layernorm.weight", d)
		add(p+"self_attn.q_proj.weight", d, d)
		add(p+"self_attn.k_proj.weight", kv, d)
		add(p+"self_attn.v_proj.weight", kv, d)
		add(p+"self_attn.o_proj.weight", d, d)
		add(p+"mlp.gate_proj.weight", h, d)
		add(p+"mlp.down_proj.weight", d, h)
		add(p+"mlp.up_proj.weight", h, d)
	}
	return m
}

var stories260KConfig = Llama2CConfig{Dim: 64, HiddenDim: 172, NLayers: 5, NHeads: 8, NKVHeads: 4, VocabSize: 512, SeqLen: 512, SharedClassifier: true}

func TestStories260K(t *testing.T) {
	path := fixtures.Path(t, "models", "stories260K", "stories260K.bin")
	l, err := OpenLlama2C(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Config != stories260KConfig {
		t.Fatalf("config = %+v, want %+v", l.Config, stories260KConfig)
	}
	if l.Config.HeadSize() != 8 || l.Config.KVDim() != 32 {
		t.Errorf("head size %d, kv dim %d", l.Config.HeadSize(), l.Config.KVDim())
	}
	want := expectedHFShapes(hfConfig{HiddenSize: 64, IntermediateSize: 172, NumHiddenLayers: 5, NumAttentionHeads: 8,
		NumKeyValueHeads: 4, HeadDim: 8, VocabSize: 512, TieWordEmbeddings: true}, false)
	checkShapes(t, l, want, F32)
	if _, ok := l.Info("lm_head.weight"); ok {
		t.Error("shared classifier: lm_head.weight must not be exposed")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Float offsets after the 28-byte header, worked out by hand from run.c's layout.
	rawAt := func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(raw[28+4*i:])) }
	for _, tc := range []struct {
		name string
		idx  int // element index within the tensor
		off  int // float index within the file
	}{
		{"model.embed_tokens.weight", 3*64 + 5, 3*64 + 5},
		{"model.layers.0.self_attn.q_proj.weight", 0, 33088},
		{"model.layers.2.self_attn.k_proj.weight", 7*64 + 9, 53568 + 2*2048 + 7*64 + 9},
		{"model.layers.3.self_attn.v_proj.weight", 2047, 63808 + 3*2048 + 2047},
		{"model.layers.1.self_attn.o_proj.weight", 100, 74048 + 4096 + 100},
		{"model.layers.1.post_attention_layernorm.weight", 10, 94528 + 64 + 10},
		{"model.layers.4.input_layernorm.weight", 63, 32768 + 4*64 + 63},
		{"model.layers.0.mlp.gate_proj.weight", 171*64 + 1, 94848 + 171*64 + 1},
		{"model.layers.4.mlp.down_proj.weight", 63*172 + 171, 149888 + 4*11008 + 63*172 + 171},
		{"model.layers.2.mlp.up_proj.weight", 5, 204928 + 2*11008 + 5},
		{"model.norm.weight", 63, 259968 + 63},
	} {
		data, err := l.ReadFloat32(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := data[tc.idx], rawAt(tc.off); got != want || got == 0 {
			t.Errorf("%s[%d] = %v, want %v (file float %d)", tc.name, tc.idx, got, want, tc.off)
		}
	}
	// freq_cis: stored tables vs the computed ones.
	real, imag, err := l.ReadFreqCis()
	if err != nil {
		t.Fatal(err)
	}
	if real[0] != 1 || imag[0] != 0 || real[1] != rawAt(260032+1) || imag[4*511+3] != rawAt(262080+4*511+3) {
		t.Errorf("freq_cis spot values: real[0]=%v imag[0]=%v", real[0], imag[0])
	}
	cr, ci := Llama2CFreqCis(8, 512, 10000)
	var maxDiff float64
	exact := 0
	for i := range real {
		maxDiff = max(maxDiff, math.Abs(float64(real[i]-cr[i])), math.Abs(float64(imag[i]-ci[i])))
		if real[i] == cr[i] && imag[i] == ci[i] {
			exact++
		}
	}
	t.Logf("freq_cis: %d of %d computed (cos, sin) pairs bit-identical to stories260K.bin, max |diff| %.3g", exact, len(real), maxDiff)
	if maxDiff > 1e-5 {
		t.Errorf("computed freq_cis differ from the file by %g", maxDiff)
	}
}

func TestStories260KRewrite(t *testing.T) {
	path := fixtures.Path(t, "models", "stories260K", "stories260K.bin")
	l, err := OpenLlama2C(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out := filepath.Join(t.TempDir(), "copy.bin")
	if err := WriteLlama2C(out, l.Config, l); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(out)
	if len(a) != len(b) {
		t.Fatalf("rewritten size %d, want %d", len(b), len(a))
	}
	weightsEnd := 28 + 4*260032 // header + every weight array, up to freq_cis
	if !slices.Equal(a[:weightsEnd], b[:weightsEnd]) {
		t.Error("header or weight bytes differ after rewriting")
	}
	var maxDiff float64
	for i := weightsEnd; i < len(a); i += 4 {
		x := math.Float32frombits(binary.LittleEndian.Uint32(a[i:]))
		y := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
		maxDiff = max(maxDiff, math.Abs(float64(x-y)))
	}
	if maxDiff > 1e-5 {
		t.Errorf("rewritten freq_cis differ by %g", maxDiff)
	}
	t.Logf("rewrite: weights byte-identical; whole file identical: %v; freq_cis max |diff| %.3g", slices.Equal(a, b), maxDiff)

	// Exporting to safetensors and back keeps every tensor exactly.
	st := filepath.Join(t.TempDir(), "stories260K.safetensors")
	var tensors []Tensor
	for _, name := range l.Names() {
		info, _ := l.Info(name)
		data, err := l.ReadFloat32(name)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, Tensor{Name: name, Shape: info.Shape, Data: data})
	}
	if err := WriteSafetensors(st, tensors, nil); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSafetensors(st)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, want := range tensors {
		got, err := s.ReadFloat32(want.Name)
		if err != nil || !slices.Equal(got, want.Data) {
			t.Fatalf("%s differs after a safetensors round trip (%v)", want.Name, err)
		}
	}
}

func TestLlama2CRoundTrip(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			cfg := Llama2CConfig{Dim: 16, HiddenDim: 24, NLayers: 3, NHeads: 4, NKVHeads: 2, VocabSize: 11, SeqLen: 6, SharedClassifier: shared}
			src := randomLlama(cfg, 42)
			if shared { // an lm_head in the source is ignored when the classifier is shared
				src["lm_head.weight"] = Tensor{Shape: []int{11, 16}, Data: make([]float32, 176)}
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "model.bin")
			if err := WriteLlama2C(path, cfg, src); err != nil {
				t.Fatal(err)
			}
			noTempFiles(t, dir)
			raw, _ := os.ReadFile(path)
			if v := int32(binary.LittleEndian.Uint32(raw[20:])); (v > 0) != shared || abs32(v) != 11 {
				t.Errorf("header vocab_size = %d", v)
			}
			l, err := OpenLlama2C(path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.Config != cfg {
				t.Errorf("config %+v, want %+v", l.Config, cfg)
			}
			wantN := 2 + 9*cfg.NLayers
			if !shared {
				wantN++
			}
			if len(l.Names()) != wantN {
				t.Errorf("%d tensors, want %d", len(l.Names()), wantN)
			}
			for _, name := range l.Names() {
				got, err := l.ReadFloat32(name)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, src[name].Data) {
					t.Errorf("%s differs after the round trip", name)
				}
				b, err := l.ReadBytes(name)
				if err != nil || len(b) != 4*len(got) {
					t.Errorf("ReadBytes(%s): %d bytes, %v", name, len(b), err)
				}
			}
			real, imag, err := l.ReadFreqCis()
			cr, ci := Llama2CFreqCis(cfg.HeadSize(), cfg.SeqLen, 10000)
			if err != nil || !slices.Equal(real, cr) || !slices.Equal(imag, ci) {
				t.Errorf("freq_cis differ (%v)", err)
			}
		})
	}
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestWriteLlama2CErrors(t *testing.T) {
	cfg := Llama2CConfig{Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 2, NKVHeads: 1, VocabSize: 10, SeqLen: 4}
	for _, tc := range []struct {
		name   string
		cfg    Llama2CConfig
		mutate func(m mapSource)
		want   []string
	}{
		{"missing lm_head", cfg, func(m mapSource) {}, []string{`tensor "lm_head.weight" (wcls): missing`}},
		{"wrong shape", Llama2CConfig{Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 2, NKVHeads: 1, VocabSize: 10, SeqLen: 4, SharedClassifier: true},
			func(m mapSource) {
				m["model.layers.1.self_attn.k_proj.weight"] = Tensor{Shape: []int{8, 8}, Data: make([]float32, 64)}
			},
			[]string{`tensor "model.layers.1.self_attn.k_proj.weight" (wk): shape [8 8], want [4 8]`}},
		{"bad config", Llama2CConfig{Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 3, NKVHeads: 1, VocabSize: 10, SeqLen: 4}, func(m mapSource) {},
			[]string{"dim 8 is not divisible by n_heads 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := randomLlama(Llama2CConfig{Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 2, NKVHeads: 1, VocabSize: 10, SeqLen: 4, SharedClassifier: true}, 1)
			tc.mutate(src)
			dir := t.TempDir()
			path := filepath.Join(dir, "x.bin")
			err := WriteLlama2C(path, tc.cfg, src)
			mustContain(t, err, append([]string{path}, tc.want...)...)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Error("file exists after a failed write")
			}
			noTempFiles(t, dir)
		})
	}
	// A source that fails mid-way leaves no file behind.
	shared := cfg
	shared.SharedClassifier = true
	dir := t.TempDir()
	path := filepath.Join(dir, "x.bin")
	err := WriteLlama2C(path, shared, failingSource{randomLlama(shared, 1), "model.layers.1.mlp.up_proj.weight"})
	mustContain(t, err, path, "disk on fire")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("file exists after a failed write")
	}
	noTempFiles(t, dir)
}

// failingSource fails to read one tensor.
type failingSource struct {
	mapSource
	bad string
}

func (f failingSource) ReadFloat32(name string) ([]float32, error) {
	if name == f.bad {
		return nil, errors.Errorf("tensor %q: disk on fire", name)
	}
	return f.mapSource.ReadFloat32(name)
}

// ropeInterleaved rotates the pairs (2i, 2i+1) of each head; ropeHalf the pairs (i, i+hs/2).
func ropeInterleaved(q []float32, headSize, pos int) []float32 {
	out := slices.Clone(q)
	for h := 0; h < len(q); h += headSize {
		for i := range headSize / 2 {
			a := float64(pos) / math.Pow(10000, float64(2*i)/float64(headSize))
			c, s := float32(math.Cos(a)), float32(math.Sin(a))
			x, y := q[h+2*i], q[h+2*i+1]
			out[h+2*i], out[h+2*i+1] = x*c-y*s, x*s+y*c
		}
	}
	return out
}

func ropeHalf(q []float32, headSize, pos int) []float32 {
	out := slices.Clone(q)
	half := headSize / 2
	for h := 0; h < len(q); h += headSize {
		for i := range half {
			a := float64(pos) / math.Pow(10000, float64(2*i)/float64(headSize))
			c, s := float32(math.Cos(a)), float32(math.Sin(a))
			x, y := q[h+i], q[h+half+i]
			out[h+i], out[h+half+i] = x*c-y*s, x*s+y*c
		}
	}
	return out
}

func matVec(w []float32, x []float32) []float32 {
	out := make([]float32, len(w)/len(x))
	for r := range out {
		for c, v := range x {
			out[r] += w[r*len(x)+c] * v
		}
	}
	return out
}

func TestPermuteRotary(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const heads, headSize, cols = 3, 8, 5
	wq := randomData(rng, heads*headSize*cols, 1)
	wk := randomData(rng, heads*headSize*cols, 1)
	x, y := randomData(rng, cols, 1), randomData(rng, cols, 1)
	pq, err := PermuteRotaryInterleavedToHalf(wq, heads, cols)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := PermuteRotaryInterleavedToHalf(wk, heads, cols)
	back, _ := PermuteRotaryHalfToInterleaved(pq, heads, cols)
	if !slices.Equal(back, wq) {
		t.Fatal("HalfToInterleaved(InterleavedToHalf(w)) != w")
	}
	// Per-head attention scores q(pos 5)·k(pos 2) agree between the two conventions.
	qi, ki := ropeInterleaved(matVec(wq, x), headSize, 5), ropeInterleaved(matVec(wk, y), headSize, 2)
	qh, kh := ropeHalf(matVec(pq, x), headSize, 5), ropeHalf(matVec(pk, y), headSize, 2)
	for h := range heads {
		var si, sh float32
		for j := h * headSize; j < (h+1)*headSize; j++ {
			si += qi[j] * ki[j]
			sh += qh[j] * kh[j]
		}
		if math.Abs(float64(si-sh)) > 1e-4 {
			t.Errorf("head %d: score %v (interleaved) vs %v (rotate-half)", h, si, sh)
		}
	}
	// And the rotated vectors themselves are the same up to the permutation.
	permQi, _ := PermuteRotaryInterleavedToHalf(qi, heads, 1)
	for j := range qh {
		if math.Abs(float64(permQi[j]-qh[j])) > 1e-5 {
			t.Fatalf("element %d: %v vs %v", j, permQi[j], qh[j])
		}
	}
	for _, bad := range []struct{ n, heads, cols int }{{10, 3, 5}, {12, 2, 5}, {16, 0, 1}, {15, 3, 1}} {
		if _, err := PermuteRotaryInterleavedToHalf(make([]float32, bad.n), bad.heads, bad.cols); err == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
}
