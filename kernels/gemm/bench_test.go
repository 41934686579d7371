package gemm

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

var benchSizes = []int{256, 512, 1024, 2048}

func randSlice(n int) []float32 {
	r := rand.New(rand.NewPCG(uint64(n), 9))
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// BenchmarkGEMM: square float32 products in GFLOP/s with the default micro-kernel, with B
// row-major (A·B) and transposed (A·Bᵀ, the layout of x·Wᵀ).
func BenchmarkGEMM(b *testing.B) { benchGEMM(b, benchSizes, Kernels()[:1]) }

// BenchmarkGEMMKernels: every micro-kernel of this CPU at n = 512.
func BenchmarkGEMMKernels(b *testing.B) { benchGEMM(b, []int{512}, Kernels()) }

func benchGEMM(b *testing.B, sizes []int, kernels []string) {
	for _, n := range sizes {
		for _, kernel := range kernels {
			for _, lb := range []layout{rowMajor, transposed} {
				b.Run(fmt.Sprintf("n=%d/%s/%s", n, kernel, lb), func(b *testing.B) {
					if err := UseKernel(kernel); err != nil {
						b.Fatal(err)
					}
					defer func() { _ = UseKernel(Kernels()[0]) }()
					d := Dims{1, n, n, n}
					a := RowMajor(randSlice(n*n), n, n)
					bm := RowMajor(randSlice(n*n), n, n)
					if lb == transposed {
						bm = Transposed(bm.Data, n, n)
					}
					c := make([]float32, n*n)
					b.ResetTimer()
					c0 := cpuTime()
					for range b.N {
						if err := Float32(d, a, bm, c); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(d.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					b.ReportMetric(d.Flops()*float64(b.N)/(cpuTime()-c0).Seconds()/1e9, "GFLOP/cpu-s")
				})
			}
		}
	}
}

// BenchmarkMicroKernel: each micro-kernel (and its exact float64 variant for short products)
// alone on L1-resident packed operands, in GFLOP per CPU-second: the ceiling of the blocked
// product.
func BenchmarkMicroKernel(b *testing.B) {
	for _, k := range kernels {
		for _, exact := range []bool{false, true} {
			name, fn := k.name, k.fn
			if exact {
				name, fn = name+"/exact", k.exact
			}
			b.Run(name, func(b *testing.B) {
				const kc = 255
				pa, pb := randSlice(kc*k.mr), randSlice(kc*k.nr)
				c := make([]float32, k.mr*k.nr)
				c0 := cpuTime()
				for range b.N {
					fn(kc, &pa[0], &pb[0], &c[0], k.nr, true, 1, k.mr)
				}
				b.ReportMetric(2*float64(kc*k.mr*k.nr)*float64(b.N)/(cpuTime()-c0).Seconds()/1e9, "GFLOP/cpu-s")
			})
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSimplegoDotGeneral: the same products on GoMLX's simplego backend (the reference
// this package replaces), in GFLOP/s.
func BenchmarkSimplegoDotGeneral(b *testing.B) {
	backend, err := simplego.New("ops_sequential")
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			exec := MustNewExec(backend, func(x, y *Node) *Node { return MatMul(x, y) })
			x := tensors.FromFlatDataAndDimensions(randSlice(n*n), n, n)
			y := tensors.FromFlatDataAndDimensions(randSlice(n*n), n, n)
			exec.MustExec(x, y)[0].FinalizeAll()
			b.ResetTimer()
			c0 := cpuTime()
			for range b.N {
				exec.MustExec(x, y)[0].FinalizeAll()
			}
			fl := 2 * float64(n) * float64(n) * float64(n) * float64(b.N)
			b.ReportMetric(fl/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(fl/(cpuTime()-c0).Seconds()/1e9, "GFLOP/cpu-s")
		})
	}
}
