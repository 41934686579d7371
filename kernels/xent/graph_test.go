package xent

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	gr "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	kbackend "github.com/goswift/goswift/kernels/backend"
)

// plainTokenLoss is swift/train.TokenLoss's formulation (LogSoftmax + Gather, GoMLX autodiff):
// the reference.
func plainTokenLoss(logits, targets, weights *gr.Node) (sum, count *gr.Node) {
	g := logits.Graph()
	dims := logits.Shape().Dimensions
	b, s, v := dims[0], dims[1], dims[2]
	logp := gr.Reshape(gr.LogSoftmax(logits, -1), b*s, v)
	rows := gr.Iota(g, shapes.Make(dtypes.Int32, b*s, 1), 0)
	idx := gr.Concatenate([]*gr.Node{rows, gr.Reshape(targets, b*s, 1)}, -1)
	w := gr.Reshape(weights, b*s)
	sum = gr.Neg(gr.ReduceAllSum(gr.Mul(gr.Gather(logp, idx), w)))
	count = gr.ReduceAllSum(gr.ConvertDType(gr.GreaterThan(w, gr.ZerosLike(w)), dtypes.Float32))
	return sum, count
}

type lossFn func(logits, targets, weights *gr.Node) (*gr.Node, *gr.Node)

// lossAndGrad runs loss(logits·scale) and d loss/d logits.
func lossAndGrad(t *testing.T, backend backends.Backend, loss lossFn, logits, targets, weights *tensors.Tensor) (sum, count float64, grad []float32) {
	t.Helper()
	exec, err := gr.NewExec(backend, func(x, tg, w *gr.Node) []*gr.Node {
		// A trailing op on the logits, as in a model (they are not a parameter).
		y := gr.MulScalar(x, 1.5)
		s, c := loss(y, tg, w)
		return []*gr.Node{s, c, gr.Gradient(s, x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	clone := func(x *tensors.Tensor) *tensors.Tensor { c, _ := x.LocalClone(); return c }
	out, err := exec.Exec(clone(logits), clone(targets), clone(weights))
	if err != nil {
		t.Fatal(err)
	}
	return float64(out[0].Value().(float32)), float64(out[1].Value().(float32)), tensors.MustCopyFlatData[float32](out[2])
}

// TestTokenLoss: the fused TokenLoss gives the plain formulation's loss and gradient, on
// simplego and on the goswift backend (where the fused row kernels run).
func TestTokenLoss(t *testing.T) {
	const b, s, v = 3, 11, 700
	x, tg, _ := randLogits(7, b*s, v, 4)
	w := make([]float32, b*s)
	for i := range w {
		w[i] = float32(i % 3) // includes zero weights
	}
	logits := tensors.FromFlatDataAndDimensions(x, b, s, v)
	targets := tensors.FromFlatDataAndDimensions(tg, b, s)
	weights := tensors.FromFlatDataAndDimensions(w, b, s)
	ref, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := kbackend.New("ewmin=0,ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	wantSum, wantCount, wantGrad := lossAndGrad(t, ref, plainTokenLoss, logits, targets, weights)
	for name, be := range map[string]backends.Backend{"simplego": ref, "goswift": fast} {
		sum, count, grad := lossAndGrad(t, be, TokenLoss, logits, targets, weights)
		if math.Abs(sum-wantSum) > 1e-5*math.Abs(wantSum) || count != wantCount {
			t.Fatalf("%s: sum %g count %g, want %g %g", name, sum, count, wantSum, wantCount)
		}
		for i := range grad {
			if math.Abs(float64(grad[i]-wantGrad[i])) > 1e-6+3e-6*math.Abs(float64(wantGrad[i])) {
				t.Fatalf("%s: gradient %d: %g, want %g", name, i, grad[i], wantGrad[i])
			}
		}
	}
}
