package xent

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	gr "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	kbackend "github.com/goswift/goswift/kernels/backend"

	"github.com/goswift/goswift/kernels/internal/parallel"
)

func randLogits(seed uint64, rows, vocab int, scale float64) ([]float32, []int32, []float32) {
	r := rand.New(rand.NewPCG(seed, uint64(vocab)))
	x := make([]float32, rows*vocab)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	t := make([]int32, rows)
	g := make([]float32, rows)
	for i := range t {
		t[i] = int32(r.IntN(vocab))
		g[i] = float32(r.Float64())
	}
	return x, t, g
}

func TestCrossEntropy(t *testing.T) {
	for _, c := range []struct {
		rows, vocab int
		scale       float64
	}{{1, 1, 1}, {3, 7, 1}, {5, 33, 10}, {17, 1000, 3}, {4, 32000, 5}, {64, 515, 30}, {0, 5, 1}} {
		for _, w := range []int{1, 3} {
			t.Run(fmt.Sprintf("w%d/%dx%d", w, c.rows, c.vocab), func(t *testing.T) {
				parallel.SetWorkers(w)
				defer parallel.SetWorkers(0)
				x, tg, g := randLogits(uint64(c.vocab), c.rows, c.vocab, c.scale)
				if c.rows > 2 {
					tg[1] = -1 // ignored row
				}
				wantLoss, wantGrad := Reference(x, c.rows, c.vocab, tg, g)
				loss, lse := make([]float32, c.rows), make([]float32, c.rows)
				if err := Forward(loss, lse, x, c.rows, c.vocab, tg); err != nil {
					t.Fatal(err)
				}
				for r := range loss {
					if math.Abs(float64(loss[r]-wantLoss[r])) > 2e-6*math.Max(1, math.Abs(float64(wantLoss[r]))) {
						t.Fatalf("row %d loss %g, want %g", r, loss[r], wantLoss[r])
					}
				}
				grad := make([]float32, len(x))
				if err := Backward(grad, x, lse, c.rows, c.vocab, tg, g); err != nil {
					t.Fatal(err)
				}
				for i := range grad {
					// e^(x − lse) carries lse's float32 rounding (relative ~1.2e-7·|lse|).
					tol := 1e-6 + 3e-7*math.Abs(float64(lse[i/c.vocab]))*math.Abs(float64(wantGrad[i]))
					if math.Abs(float64(grad[i]-wantGrad[i])) > tol {
						t.Fatalf("gradient %d: %g, want %g", i, grad[i], wantGrad[i])
					}
				}
				// In place.
				if err := Backward(x, x, lse, c.rows, c.vocab, tg, g); err != nil {
					t.Fatal(err)
				}
				for i := range grad {
					if x[i] != grad[i] {
						t.Fatalf("in-place gradient %d: %g, want %g", i, x[i], grad[i])
					}
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	x := make([]float32, 6)
	l, s := make([]float32, 2), make([]float32, 2)
	for name, err := range map[string]error{
		"target out of range": Forward(l, s, x, 2, 3, []int32{0, 3}),
		"wrong logits size":   Forward(l, s, x[:5], 2, 3, []int32{0, 1}),
		"wrong targets":       Forward(l, s, x, 2, 3, []int32{0}),
		"wrong g":             Backward(x, x, s, 2, 3, []int32{0, 1}, []float32{1}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkCrossEntropy: loss and gradient of the [2048, 32000] logits of a stories15M-shaped
// step: the fused kernel called directly; and as graphs — GoMLX's LogSoftmax + Gather
// formulation (swift/train.TokenLoss's) on simplego and on goswift, and TokenLoss on goswift.
func BenchmarkCrossEntropy(b *testing.B) {
	const bs, s, vocab = 8, 256, 32000
	const rows = bs * s
	x, tg, g := randLogits(1, rows, vocab, 3)
	b.Run("kernel", func(b *testing.B) {
		loss, lse, grad := make([]float32, rows), make([]float32, rows), make([]float32, rows*vocab)
		for range b.N {
			if err := Forward(loss, lse, x, rows, vocab, tg); err != nil {
				b.Fatal(err)
			}
			if err := Backward(grad, x, lse, rows, vocab, tg, g); err != nil {
				b.Fatal(err)
			}
		}
	})
	w := make([]float32, rows)
	for i := range w {
		w[i] = 1
	}
	sg, err := simplego.New("ops_sequential")
	if err != nil {
		b.Fatal(err)
	}
	defer sg.Finalize()
	gs, err := kbackend.New("ops_sequential")
	if err != nil {
		b.Fatal(err)
	}
	defer gs.Finalize()
	for _, c := range []struct {
		name    string
		backend backends.Backend
		loss    lossFn
	}{{"graph/plain/simplego", sg, plainTokenLoss}, {"graph/plain/goswift", gs, plainTokenLoss}, {"graph/TokenLoss/goswift", gs, TokenLoss}} {
		b.Run(c.name, func(b *testing.B) {
			exec := gr.MustNewExec(c.backend, func(logits, targets, weights *gr.Node) []*gr.Node {
				sum, _ := c.loss(logits, targets, weights)
				return []*gr.Node{sum, gr.Gradient(sum, logits)[0]}
			})
			args := []any{tensors.FromFlatDataAndDimensions(x, bs, s, vocab), tensors.FromFlatDataAndDimensions(tg, bs, s),
				tensors.FromFlatDataAndDimensions(w, bs, s)}
			for _, o := range exec.MustExec(args...) {
				o.FinalizeAll()
			}
			b.ResetTimer()
			for range b.N {
				for _, o := range exec.MustExec(args...) {
					o.FinalizeAll()
				}
			}
		})
	}
}
