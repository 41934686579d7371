//go:build !amd64 || purego

package gemm

// archKernels: no assembly micro-kernels outside amd64 (or with the purego tag).
func archKernels() []microKernel { return nil }
