// Package parallel runs loops on several goroutines without a pool: each call starts its
// goroutines and waits for them, and the caller works too, so a call made from inside another
// (or from inside simplego's own workers) never waits for a free slot and cannot deadlock.
// Work is split by index only: what each index computes never depends on the split, so
// results are the same for any number of workers.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var workers atomic.Int32

// SetWorkers sets how many goroutines one call uses; n ≤ 0 means runtime.GOMAXPROCS(0) (the
// default).
func SetWorkers(n int) { workers.Store(int32(max(n, 0))) }

// Workers returns how many goroutines one call uses.
func Workers() int {
	if n := int(workers.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// For runs fn(i) for i in [0, n) on up to Workers() goroutines, handing out indices in groups
// of grain.
func For(n, grain int, fn func(i int)) {
	Range(n, grain, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			fn(i)
		}
	})
}

// Range runs fn(i0, i1) over consecutive sub-ranges of [0, n) of at most grain indices each,
// on up to Workers() goroutines.
func Range(n, grain int, fn func(i0, i1 int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	w := min(Workers(), (n+grain-1)/grain)
	if w <= 1 {
		for i0 := 0; i0 < n; i0 += grain {
			fn(i0, min(n, i0+grain))
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			i0 := int(next.Add(int64(grain))) - grain
			if i0 >= n {
				return
			}
			fn(i0, min(n, i0+grain))
		}
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for range w - 1 {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}
