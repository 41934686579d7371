package weights

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

// layerTensors returns n tensors of 64 float32 (256 bytes) each, named in a non-sorted order.
func layerTensors(n int, dtype DType) []Tensor {
	rng := rand.New(rand.NewPCG(7, 8))
	out := make([]Tensor, n)
	for i := range out {
		out[i] = Tensor{Name: fmt.Sprintf("model.layers.%d.w", n-1-i), Shape: []int{8, 8}, DType: dtype, Data: randomData(rng, 64, 1)}
	}
	return out
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestWriteShardedRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n         int
		dtype     DType
		maxBytes  int64
		wantFiles []string
	}{
		{"single file", 5, F32, 0, []string{SingleFileName}},
		{"fits in one shard", 5, F32, 5 * 256, []string{SingleFileName}},
		{"three shards", 5, F32, 2 * 256, []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", IndexFileName}},
		{"tensor larger than shard", 3, F32, 100, []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", IndexFileName}},
		{"bf16 two shards", 4, BF16, 2 * 128, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", IndexFileName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ckpt") // created by WriteSharded
			tensors := layerTensors(tc.n, tc.dtype)
			if err := WriteSharded(dir, tensors, tc.maxBytes, map[string]string{"format": "pt"}); err != nil {
				t.Fatal(err)
			}
			if got := dirNames(t, dir); !slices.Equal(got, tc.wantFiles) {
				t.Fatalf("files = %v, want %v", got, tc.wantFiles)
			}
			src, err := OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got := readAllSource(t, src)
			if len(got) != tc.n {
				t.Fatalf("%d tensors, want %d", len(got), tc.n)
			}
			for _, want := range tensors {
				data := got[want.Name]
				for i, v := range want.Data {
					if tc.dtype == BF16 {
						v = BF16ToFloat32(Float32ToBF16(v))
					}
					if data[i] != v {
						t.Fatalf("%s[%d] = %v, want %v", want.Name, i, data[i], v)
					}
				}
			}
			if sh, ok := src.(*Sharded); ok {
				if sh.Metadata()["format"] != "pt" {
					t.Errorf("shard metadata = %v", sh.Metadata())
				}
				total := int64(tc.n * 64 * tc.dtype.Size())
				if got := sh.IndexMetadata()["total_size"]; got != fmt.Sprint(total) {
					t.Errorf("total_size = %q, want %d", got, total)
				}
				// Shards are packed in the given order: the first tensor is in the first shard.
				if f, _ := sh.FileOf(tensors[0].Name); filepath.Base(f) != "model-00001-of-0000"+fmt.Sprint(len(tc.wantFiles)-1)+".safetensors" {
					t.Errorf("first tensor in %s", f)
				}
			}
		})
	}
}

func TestWriteShardedRemovesStaleFiles(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "config.json")
	if err := os.WriteFile(other, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		n        int
		maxBytes int64
		want     []string
	}{
		{6, 256, []string{"config.json", IndexFileName, "model-00001-of-00006.safetensors", "model-00002-of-00006.safetensors", "model-00003-of-00006.safetensors", "model-00004-of-00006.safetensors", "model-00005-of-00006.safetensors", "model-00006-of-00006.safetensors"}},
		{4, 512, []string{"config.json", IndexFileName, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}},
		{2, 0, []string{"config.json", SingleFileName}},
		{2, 256, []string{"config.json", IndexFileName, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}},
	}
	for i, step := range steps {
		if err := WriteSharded(dir, layerTensors(step.n, F32), step.maxBytes, nil); err != nil {
			t.Fatal(err)
		}
		sort.Strings(step.want)
		if got := dirNames(t, dir); !slices.Equal(got, step.want) {
			t.Fatalf("step %d: files = %v, want %v", i, got, step.want)
		}
		src, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(src.Names()) != step.n {
			t.Errorf("step %d: %d tensors, want %d", i, len(src.Names()), step.n)
		}
		src.Close()
	}
}

func TestWriteShardedIndexFormat(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSharded(dir, layerTensors(3, F32), 256, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"model.layers.2.w": "model-00001-of-00003.safetensors",
		"model.layers.1.w": "model-00002-of-00003.safetensors",
		"model.layers.0.w": "model-00003-of-00003.safetensors",
	}
	if fmt.Sprint(index.WeightMap) != fmt.Sprint(want) || index.Metadata["total_size"] != 3*256 {
		t.Errorf("index = %+v", index)
	}
}

func TestOpenDirLooseFilesAndOpen(t *testing.T) {
	dir := t.TempDir()
	tensors := layerTensors(3, F16)
	if err := WriteSafetensors(filepath.Join(dir, "adapter_a.safetensors"), tensors[:2], nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(filepath.Join(dir, "b.safetensors"), tensors[2:], nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".hidden.safetensors"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if len(src.Names()) != 3 {
		t.Errorf("names = %v", src.Names())
	}
	if info, _ := src.Info("model.layers.0.w"); info.DType != F16 {
		t.Errorf("info = %+v", info)
	}
	if _, err := src.ReadFloat32("missing"); err == nil {
		t.Error("missing tensor: want an error")
	}
	// Open dispatches on the path.
	single, err := Open(filepath.Join(dir, "b.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := single.(*Safetensors); !ok {
		t.Errorf("Open(.safetensors) = %T", single)
	}
	single.Close()
	if _, err := Open(filepath.Join(dir, "nope")); err == nil {
		t.Error("Open(missing): want an error")
	}
}

func TestOpenErrorsReturnNilSource(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(bad, []byte("garbage!!"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, bad, filepath.Join(dir, "x.bin")} {
		if path == filepath.Join(dir, "x.bin") {
			os.WriteFile(path, []byte("short"), 0o644)
		}
		src, err := Open(path)
		if err == nil || src != nil {
			t.Errorf("Open(%s) = %v, %v: want a nil Source and an error", path, src, err)
		}
	}
}

func TestSharedDataSkipMessage(t *testing.T) {
	t.Setenv("GOSWIFT_SHARED_DATA", filepath.Join(t.TempDir(), "absent"))
	ran := false
	t.Run("inner", func(t *testing.T) {
		fixtures.Path(t)
		ran = true
	})
	if ran {
		t.Error("sharedData did not skip for a missing GOSWIFT_SHARED_DATA")
	}
}
