package bench

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/errors"
)

// heapLiveMetric is the live heap marked by the last garbage collection: what was reachable
// when it started plus what was allocated while it marked.
const heapLiveMetric = "/gc/heap/live:bytes"

// liveHeap forces a garbage collection and returns the live heap it marked.
func liveHeap() int64 {
	runtime.GC()
	s := []metrics.Sample{{Name: heapLiveMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// heapSampler runs garbage collections back to back while a step runs and keeps the largest
// live heap they see: simplego's buffers are Go memory, freed as soon as their last user ran,
// so the peak of the live heap is the step's working set (weights, optimizer state, the
// activations kept for the backward pass and the transient buffers of the op that runs).
type heapSampler struct {
	stop   chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	peak   int64
	cycles int
	start  time.Time
}

// traceHeap prints every sample (GOSWIFT_BENCH_TRACE=1): where in the step the peak is.
var traceHeap = os.Getenv("GOSWIFT_BENCH_TRACE") != ""

func startHeapSampler() *heapSampler {
	// Two collections first: buffers the executor pooled for reuse during earlier, unsampled
	// steps survive one collection (sync.Pool's victim cache) and would count as live.
	runtime.GC()
	runtime.GC()
	s := &heapSampler{stop: make(chan struct{}), start: time.Now()}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			v := liveHeap()
			if traceHeap {
				fmt.Fprintf(os.Stderr, "heap-trace %.3f %d\n", time.Since(s.start).Seconds(), v)
			}
			s.mu.Lock()
			s.peak, s.cycles = max(s.peak, v), s.cycles+1
			s.mu.Unlock()
		}
	}()
	return s
}

// finish stops the sampler and returns the peak live heap and the number of collections.
func (s *heapSampler) finish() (peak int64, cycles int) {
	close(s.stop)
	s.done.Wait()
	// One more collection: what the step left (its outputs) is live too.
	last := liveHeap()
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.peak, last), s.cycles + 1
}

// readStatus returns a "kB" field of /proc/self/status ("VmHWM", "VmRSS") in bytes.
func readStatus(field string) (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, errors.Wrap(err, "reading /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, field+":") {
			continue
		}
		fs := strings.Fields(line[len(field)+1:])
		if len(fs) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, errors.Wrapf(err, "parsing %s in /proc/self/status", field)
		}
		return kb * 1024, nil
	}
	return 0, errors.Errorf("field %s not in /proc/self/status", field)
}

// MemAvailable returns /proc/meminfo's MemAvailable in bytes (0 if unknown).
func MemAvailable() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "MemAvailable:") {
			if fs := strings.Fields(line[len("MemAvailable:"):]); len(fs) > 0 {
				kb, _ := strconv.ParseInt(fs[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
