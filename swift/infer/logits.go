package infer

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
)

// Logits runs the model over each whole sequence without a cache (the reference the KV cache is
// tested against, and the scorer for log-probabilities): it returns, per sequence, the logits
// [len][Vocab] at every position. Sequences are left-padded into one batch like Generate does.
func (gen *Generator) Logits(seqs [][]int) (out [][][]float32, err error) {
	if len(seqs) == 0 {
		return nil, errors.New("logits: no sequences")
	}
	b, maxLen := len(seqs), 0
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, errors.Errorf("logits: sequence %d is empty", i)
		}
		maxLen = max(maxLen, len(s))
	}
	vocab := gen.model.Config.VocabSize
	tok := make([]int32, b*maxLen)
	pos := make([]int32, b*maxLen)
	seg := make([]int32, b*maxLen)
	for r, s := range seqs {
		pad := maxLen - len(s)
		for j, id := range s {
			if id < 0 || id >= vocab {
				return nil, errors.Errorf("logits: sequence %d has token id %d outside the vocabulary [0, %d)", r, id, vocab)
			}
			k := r*maxLen + pad + j
			tok[k], pos[k], seg[k] = int32(id), int32(j), 1
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("logits: %v", r)
		}
	}()
	m := gen.model
	e, err := context.NewExec(gen.backend, gen.ctx, func(ctx *context.Context, tokens, positions, segments *Node) *Node {
		return m.Logits(ctx, models.Inputs{Tokens: tokens, Positions: positions, Segments: segments}) // [B, S, V]
	})
	if err != nil {
		return nil, errors.Wrap(err, "logits: building graph")
	}
	defer e.Finalize()
	res, err := e.Exec(tensors.FromFlatDataAndDimensions(tok, b, maxLen),
		tensors.FromFlatDataAndDimensions(pos, b, maxLen), tensors.FromFlatDataAndDimensions(seg, b, maxLen))
	if err != nil {
		return nil, errors.Wrap(err, "logits")
	}
	flat := tensors.MustCopyFlatData[float32](res[0])
	out = make([][][]float32, b)
	for r, s := range seqs {
		pad := maxLen - len(s)
		out[r] = make([][]float32, len(s))
		for j := range s {
			k := (r*maxLen + pad + j) * vocab
			out[r][j] = flat[k : k+vocab : k+vocab]
		}
	}
	return out, nil
}
