package weights

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// benchTensors returns tensors totalling mb MiB as float32 (1 MiB each).
func benchTensors(mb int, dtype DType) []Tensor {
	rng := rand.New(rand.NewPCG(11, 12))
	out := make([]Tensor, mb)
	for i := range out {
		out[i] = Tensor{Name: fmt.Sprintf("model.layers.%d.w", i), Shape: []int{512, 512}, DType: dtype, Data: randomData(rng, 512*512, 1)}
	}
	return out
}

// BenchmarkReadSafetensors reads every tensor of a file as float32. Throughput is in float32
// output bytes (4 per element), so the dtypes compare on equal terms; the BF16/F16 files are half
// the size on disk.
func BenchmarkReadSafetensors(b *testing.B) {
	for _, mb := range []int{4, 64} {
		for _, dt := range []DType{F32, BF16, F16} {
			b.Run(fmt.Sprintf("%s/%dMB", dt, mb), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "bench.safetensors")
				if err := WriteSafetensors(path, benchTensors(mb, dt), nil); err != nil {
					b.Fatal(err)
				}
				st, err := OpenSafetensors(path)
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				names := st.Names()
				b.SetBytes(int64(mb) << 20)
				b.ResetTimer()
				for b.Loop() {
					for _, name := range names {
						if _, err := st.ReadFloat32(name); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// BenchmarkWriteSafetensors writes (and fsyncs) a file; throughput in float32 input bytes.
func BenchmarkWriteSafetensors(b *testing.B) {
	for _, mb := range []int{4, 64} {
		for _, dt := range []DType{F32, BF16, F16} {
			b.Run(fmt.Sprintf("%s/%dMB", dt, mb), func(b *testing.B) {
				tensors := benchTensors(mb, dt)
				path := filepath.Join(b.TempDir(), "bench.safetensors")
				b.SetBytes(int64(mb) << 20)
				b.ResetTimer()
				for b.Loop() {
					if err := WriteSafetensors(path, tensors, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkOpenSafetensors measures header parsing and validation for a file with many tensors.
func BenchmarkOpenSafetensors(b *testing.B) {
	tensors := make([]Tensor, 2000)
	for i := range tensors {
		tensors[i] = Tensor{Name: fmt.Sprintf("model.layers.%d.self_attn.q_proj.weight", i), Shape: []int{2, 2}, Data: make([]float32, 4)}
	}
	path := filepath.Join(b.TempDir(), "many.safetensors")
	if err := WriteSafetensors(path, tensors, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		st, err := OpenSafetensors(path)
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}
