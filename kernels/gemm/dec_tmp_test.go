package gemm

import (
	"testing"
	"time"
)

func TestDecodeCPU(t *testing.T) {
	for _, m := range []int{1, 8} {
		const n, k = 32000, 288
		a := RowMajor(randSlice(m*k), m, k)
		w := Transposed(randSlice(n*k), k, n)
		c := make([]float32, m*n)
		_ = Float32(Dims{1, m, n, k}, a, w, c)
		c0, w0 := cpuTime(), time.Now()
		for range 20 {
			_ = Float32(Dims{1, m, n, k}, a, w, c)
		}
		t.Logf("m=%d: %.1f ms CPU, %.1f ms wall per call", m, (cpuTime()-c0).Seconds()/20*1e3, time.Since(w0).Seconds()/20*1e3)
	}
}
