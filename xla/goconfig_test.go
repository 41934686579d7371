package xla

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// independentMatmuls builds n independent batched matmuls [b,m,k]×[b,k,m] summed together: with
// simplego's default config ("go") and n ≥ 2×NumCPU this hangs (see the package documentation).
func independentMatmuls(n, b, m, k int) func(x *graph.Node) *graph.Node {
	return func(x *graph.Node) *graph.Node {
		g := x.Graph()
		var sum *graph.Node
		for i := range n {
			w := graph.Iota(g, shapes.Make(dtypes.Float32, b, k, m), 2)
			w = graph.MulScalar(w, 1e-4*float64(i+1))
			y := graph.Einsum("bij,bjk->bik", x, w)
			if sum == nil {
				sum = y
			} else {
				sum = graph.Add(sum, y)
			}
		}
		return graph.ReduceAllSum(sum)
	}
}

// mlpGrad is a small MLP block's loss and gradients: [b,s,d] → d×h → SiLU → h×d → norm → loss.
func mlpGrad(x, w1, w2 *graph.Node) []*graph.Node {
	h := graph.Einsum("bsd,dh->bsh", x, w1)
	h = graph.Mul(h, graph.Sigmoid(h))
	y := graph.Add(graph.Einsum("bsh,hd->bsd", h, w2), x)
	y = graph.Mul(y, graph.Inverse(graph.Sqrt(graph.AddScalar(graph.ReduceAndKeep(graph.Square(y), graph.ReduceMean, -1), 1e-5))))
	loss := graph.ReduceAllMean(graph.Square(y))
	return append([]*graph.Node{loss}, graph.Gradient(loss, w1, w2)...)
}

func filled(v float32, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	flat := make([]float32, n)
	for i := range flat {
		flat[i] = v * float32(i%7-3)
	}
	return tensors.FromFlatDataAndDimensions(flat, dims...)
}

func newGoBackend(tb testing.TB, config string) backends.Backend {
	tb.Helper()
	opts := Options{Want: "cpu", GoConfig: config, Env: func(string) (string, bool) { return "", false }}
	b, _, err := New(opts)
	if err != nil {
		tb.Fatalf("New(%q): %v", config, err)
	}
	return b
}

// TestGoConfigsNoDeadlock runs the graph that hangs simplego's default config with the configs
// this package offers.
func TestGoConfigsNoDeadlock(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, config := range []string{GoConfigUnlimited, GoConfigSequential} {
		t.Run(config, func(t *testing.T) {
			b := newGoBackend(t, config)
			defer b.Finalize()
			exec, err := graph.NewExec(b, independentMatmuls(8, 2, 512, 256))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := exec.Exec(filled(1e-3, 2, 512, 256))
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("config %q: graph still running after 2 minutes (deadlock?)", config)
			}
		})
	}
}

// goConfigDefault is simplego's own default configuration (plain "go"), the one that can
// deadlock: benchmarked only on the MLP step (see BenchmarkGoConfig).
const goConfigDefault = "go"

// execWithin runs exec once, failing if it errs and reporting false if it has not returned
// within d (a deadlocked simplego pool: the goroutine is left behind, blocked at 0% CPU).
func execWithin(tb testing.TB, d time.Duration, exec *graph.Exec, args ...any) bool {
	tb.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := exec.Exec(args...)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatal(err)
		}
		return true
	case <-time.After(d):
		return false
	}
}

// BenchmarkGoConfig compares the simplego configs on a graph of many independent matmuls and on
// an MLP forward+backward step. Plain "go" (simplego's default, goConfigDefault) runs the MLP
// step only: that graph has few matmuls that can run at once, so it does not hang; on the
// independent-matmuls graph it deadlocks (8 DotGenerals waiting in the worker pool, see the
// package documentation), so it is left out there. A first run under a 2-minute watchdog guards
// the MLP case anyway: if it ever hangs on another machine, the sub-benchmark is skipped with
// that message instead of blocking the whole bench run.
func BenchmarkGoConfig(b *testing.B) {
	const B, S, D, H = 4, 128, 256, 1024
	for _, config := range []string{GoConfigSequential, GoConfigUnlimited, goConfigDefault} {
		backend := newGoBackend(b, config)
		if config != goConfigDefault {
			b.Run(fmt.Sprintf("%s/matmuls", config), func(b *testing.B) {
				exec, err := graph.NewExec(backend, independentMatmuls(8, 2, 512, 256))
				if err != nil {
					b.Fatal(err)
				}
				x := filled(1e-3, 2, 512, 256)
				for b.Loop() {
					if _, err := exec.Exec(x); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("%s/mlp_grad", config), func(b *testing.B) {
			exec, err := graph.NewExec(backend, mlpGrad)
			if err != nil {
				b.Fatal(err)
			}
			x, w1, w2 := filled(0.01, B, S, D), filled(0.02, D, H), filled(0.02, H, D)
			if config == goConfigDefault && !execWithin(b, 2*time.Minute, exec, x, w1, w2) {
				b.Skipf("config %q: the MLP step did not finish in 2 minutes (simplego worker-pool deadlock)", config)
			}
			for b.Loop() {
				if _, err := exec.Exec(x, w1, w2); err != nil {
					b.Fatal(err)
				}
			}
		})
		backend.Finalize()
	}
}
