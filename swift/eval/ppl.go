package eval

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
)

// PerplexityResult is the mean next-token loss over the trained positions of held-out batches.
type PerplexityResult struct {
	Loss       float64 `json:"loss"`       // mean negative log-likelihood (nats per token)
	Perplexity float64 `json:"perplexity"` // exp(Loss)
	Tokens     int     `json:"tokens"`     // positions scored
}

// Perplexity scores batches with the model whose variables are in ctx. Every position with a
// positive weight counts once (loss scales are ignored: perplexity is per token).
func Perplexity(backend backends.Backend, ctx *context.Context, model *models.Model, batches []*data.Batch) (res PerplexityResult, err error) {
	if len(batches) == 0 {
		return res, errors.New("perplexity: no batches")
	}
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("perplexity: %v", r)
		}
	}()
	// Inputs: tokens, targets, positions, segments, weights [B, S] (+ images [B, K, C, H, W]).
	exec, err := context.NewExec(backend, ctx, func(ctx *context.Context, in []*Node) []*Node {
		var images *Node
		if len(in) > 5 {
			images = in[5]
		}
		logits := model.Logits(ctx, models.Inputs{Tokens: in[0], Positions: in[2], Segments: in[3], Images: images}) // [B, S, V]
		sum, count := train.TokenLoss(logits, in[1], in[4])
		return []*Node{sum, count}
	})
	if err != nil {
		return res, errors.Wrap(err, "perplexity: building the graph")
	}
	defer exec.Finalize()
	sum, count := 0.0, 0.0
	for i, b := range batches {
		if err := b.Validate(model.Config.VocabSize); err != nil {
			return res, errors.WithMessagef(err, "perplexity: batch %d", i)
		}
		w := make([]float32, len(b.Weights))
		for j, x := range b.Weights {
			if x > 0 {
				w[j] = 1
			}
		}
		args := []any{
			tensors.FromFlatDataAndDimensions(b.Tokens, b.B, b.S), tensors.FromFlatDataAndDimensions(b.Targets, b.B, b.S),
			tensors.FromFlatDataAndDimensions(b.Positions, b.B, b.S), tensors.FromFlatDataAndDimensions(b.Segments, b.B, b.S),
			tensors.FromFlatDataAndDimensions(w, b.B, b.S)}
		if ib := b.Images; ib != nil {
			args = append(args, tensors.FromFlatDataAndDimensions(ib.Pixels, b.B, ib.K, ib.C, ib.H, ib.W))
		}
		out, err := exec.Exec(args...)
		if err != nil {
			return res, errors.Wrapf(err, "perplexity: batch %d", i)
		}
		sum += float64(tensors.ToScalar[float32](out[0]))
		count += float64(tensors.ToScalar[float32](out[1]))
	}
	if count == 0 {
		return res, errors.New("perplexity: the batches have no scored positions")
	}
	res.Loss, res.Tokens = sum/count, int(count)
	res.Perplexity = math.Exp(res.Loss)
	return res, nil
}
