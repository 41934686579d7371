package parallel

import (
	"sync/atomic"
	"testing"
)

func TestRangeCoversOnce(t *testing.T) {
	defer SetWorkers(0)
	for _, w := range []int{1, 2, 7} {
		SetWorkers(w)
		for _, n := range []int{0, 1, 5, 100, 1001} {
			for _, grain := range []int{0, 1, 3, 64, 5000} {
				seen := make([]atomic.Int32, n)
				Range(n, grain, func(i0, i1 int) {
					for i := i0; i < i1; i++ {
						seen[i].Add(1)
					}
				})
				for i := range seen {
					if seen[i].Load() != 1 {
						t.Fatalf("w=%d n=%d grain=%d: index %d visited %d times", w, n, grain, i, seen[i].Load())
					}
				}
			}
		}
	}
}

// TestNestedNoDeadlock: calls inside calls (kernels inside parallel work) never wait for a slot.
func TestNestedNoDeadlock(t *testing.T) {
	defer SetWorkers(0)
	SetWorkers(3)
	var total atomic.Int64
	For(20, 1, func(int) {
		For(20, 1, func(int) {
			For(5, 1, func(int) { total.Add(1) })
		})
	})
	if total.Load() != 2000 {
		t.Fatalf("total %d, want 2000", total.Load())
	}
}
