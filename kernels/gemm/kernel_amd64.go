//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// Assembly micro-kernels (kernel_amd64.s).

//go:noescape
func kernel4x32(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)

//go:noescape
func kernel2x16(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)

//go:noescape
func kernel4x32d(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)

//go:noescape
func kernel2x16d(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)

// archKernels lists the assembly micro-kernels this CPU runs, best first.
func archKernels() []microKernel {
	var ks []microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, microKernel{name: "avx512", mr: 4, nr: 32, fn: kernel4x32, exact: kernel4x32d})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, microKernel{name: "avx2", mr: 2, nr: 16, fn: kernel2x16, exact: kernel2x16d})
	}
	return ks
}
