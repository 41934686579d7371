package data

import (
	"fmt"

	"github.com/pkg/errors"
)

// Batch is one micro-batch for causal-LM training, flattened row-major [B, S].
//
// Row r position j feeds Tokens[r·S+j] at RoPE position Positions[..] and is trained to predict
// Targets[..] with loss weight Weights[..] (0: ignored, like -100 labels; >1: a loss scale).
// Segments keeps packed samples apart (0 marks padding).
type Batch struct {
	B, S      int
	Tokens    []int32
	Targets   []int32
	Positions []int32
	Segments  []int32
	Weights   []float32
	// Images holds the rows' images for a vision-language model (nil for text only).
	Images *ImageBatch
}

// ImageBatch is [B, K, C, H, W] float32: each row's images in the order of its placeholder
// tokens, K the most images of any row (rows with fewer are padded with zero images, which no
// placeholder reads).
type ImageBatch struct {
	K, C, H, W int
	Pixels     []float32
}

// NewBatch allocates an empty batch (zero tokens, weights and segments).
func NewBatch(b, s int) *Batch {
	n := b * s
	return &Batch{B: b, S: s, Tokens: make([]int32, n), Targets: make([]int32, n),
		Positions: make([]int32, n), Segments: make([]int32, n), Weights: make([]float32, n)}
}

// NumTargets counts the positions that carry loss (weight > 0): the normaliser of the loss.
func (b *Batch) NumTargets() int {
	n := 0
	for _, w := range b.Weights {
		if w > 0 {
			n++
		}
	}
	return n
}

// Validate checks the sizes and that ids fit the vocabulary.
func (b *Batch) Validate(vocab int) error {
	n := b.B * b.S
	if b.B <= 0 || b.S <= 0 {
		return errors.Errorf("batch: bad shape [%d, %d]", b.B, b.S)
	}
	for name, l := range map[string]int{"tokens": len(b.Tokens), "targets": len(b.Targets),
		"positions": len(b.Positions), "segments": len(b.Segments), "weights": len(b.Weights)} {
		if l != n {
			return errors.Errorf("batch: %s has %d entries, want %d (B=%d × S=%d)", name, l, n, b.B, b.S)
		}
	}
	for i := range n {
		if b.Tokens[i] < 0 || int(b.Tokens[i]) >= vocab {
			return errors.Errorf("batch: token id %d at %s outside the vocabulary [0, %d)", b.Tokens[i], b.at(i), vocab)
		}
		if b.Weights[i] != 0 && (b.Targets[i] < 0 || int(b.Targets[i]) >= vocab) {
			return errors.Errorf("batch: target id %d at %s outside the vocabulary [0, %d)", b.Targets[i], b.at(i), vocab)
		}
	}
	if b.Images != nil {
		return errors.WithMessage(b.Images.Check(b.B), "batch")
	}
	return nil
}

func (b *Batch) at(i int) string { return fmt.Sprintf("[row %d, position %d]", i/b.S, i%b.S) }

// Dataset feeds a training run. TrainBatch is a pure function of (step, micro) and the
// dataset's seed, so a resumed run sees exactly the data the uninterrupted run would have.
type Dataset interface {
	// TrainBatch returns micro-batch micro (0-based) of optimizer step step (0-based).
	TrainBatch(step, micro int) (*Batch, error)
	// EvalBatches returns the fixed held-out batches.
	EvalBatches() ([]*Batch, error)
}
