package data

import (
	"math/rand/v2"
	"os"

	"github.com/pkg/errors"
)

// Encoder tokenizes text (a tokenizers.Tokenizer).
type Encoder interface {
	Encode(text string) []int
}

// TextConfig configures a plain-text pretraining dataset.
type TextConfig struct {
	SeqLen      int     // tokens per row (default 128)
	BatchSize   int     // rows per micro-batch (default 8)
	ValFraction float64 // tail of the token stream held out for evaluation (default 0.1)
	EvalBatches int     // held-out batches evaluated (default 4; fewer if the held-out text is short)
	Seed        uint64  // data order
}

func (c TextConfig) withDefaults() TextConfig {
	if c.SeqLen == 0 {
		c.SeqLen = 128
	}
	if c.BatchSize == 0 {
		c.BatchSize = 8
	}
	if c.ValFraction == 0 {
		c.ValFraction = 0.1
	}
	if c.EvalBatches == 0 {
		c.EvalBatches = 4
	}
	return c
}

// TextDataset trains on random windows of a token stream (continued pretraining) and evaluates
// on consecutive windows of its held-out tail.
type TextDataset struct {
	cfg          TextConfig
	train, valid []int32
}

// NewTextDataset splits tokens into a training head and a held-out tail.
func NewTextDataset(tokens []int, cfg TextConfig) (*TextDataset, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.SeqLen < 1 || cfg.BatchSize < 1 || cfg.EvalBatches < 1:
		return nil, errors.Errorf("text dataset: seq-len %d, batch-size %d and eval-batches %d must be positive",
			cfg.SeqLen, cfg.BatchSize, cfg.EvalBatches)
	case cfg.ValFraction <= 0 || cfg.ValFraction >= 1:
		return nil, errors.Errorf("text dataset: val-fraction must be in (0, 1), got %g", cfg.ValFraction)
	}
	nValid := int(float64(len(tokens)) * cfg.ValFraction)
	nTrain := len(tokens) - nValid
	if nTrain < cfg.SeqLen+1 || nValid < cfg.SeqLen+1 {
		return nil, errors.Errorf("text dataset: %d tokens is too short for seq-len %d with val-fraction %g "+
			"(train %d and held-out %d tokens must each exceed seq-len)", len(tokens), cfg.SeqLen, cfg.ValFraction, nTrain, nValid)
	}
	ds := &TextDataset{cfg: cfg, train: make([]int32, nTrain), valid: make([]int32, nValid)}
	for i, t := range tokens {
		if i < nTrain {
			ds.train[i] = int32(t)
		} else {
			ds.valid[i-nTrain] = int32(t)
		}
	}
	return ds, nil
}

// LoadTextFile reads and tokenizes a UTF-8 text file into a TextDataset.
func LoadTextFile(path string, enc Encoder, cfg TextConfig) (*TextDataset, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "reading text dataset")
	}
	ds, err := NewTextDataset(enc.Encode(string(raw)), cfg)
	if err != nil {
		return nil, errors.WithMessagef(err, "%s", path)
	}
	return ds, nil
}

// TrainTokens and HeldOutTokens report the split sizes.
func (d *TextDataset) TrainTokens() int   { return len(d.train) }
func (d *TextDataset) HeldOutTokens() int { return len(d.valid) }

// window fills row r of b with tokens[off : off+S] predicting tokens[off+1 : off+S+1].
func window(b *Batch, r int, tokens []int32, off int) {
	s := b.S
	for j := range s {
		k := r*s + j
		b.Tokens[k], b.Targets[k] = tokens[off+j], tokens[off+j+1]
		b.Positions[k], b.Segments[k], b.Weights[k] = int32(j), 1, 1
	}
}

// TrainBatch implements Dataset: rows start at offsets drawn from a PCG seeded by (seed, step,
// micro), independent of any other call.
func (d *TextDataset) TrainBatch(step, micro int) (*Batch, error) {
	c := d.cfg
	rng := rand.New(rand.NewPCG(c.Seed, uint64(step)<<20|uint64(micro)))
	b := NewBatch(c.BatchSize, c.SeqLen)
	for r := range c.BatchSize {
		window(b, r, d.train, rng.IntN(len(d.train)-c.SeqLen))
	}
	return b, nil
}

// EvalBatches implements Dataset: consecutive windows of the held-out tail.
func (d *TextDataset) EvalBatches() ([]*Batch, error) {
	c := d.cfg
	windows := (len(d.valid) - 1) / c.SeqLen
	n := min(c.EvalBatches, windows/c.BatchSize)
	rows := c.BatchSize
	if n == 0 { // held-out text shorter than one batch: one smaller batch
		n, rows = 1, windows
	}
	out := make([]*Batch, n)
	for i := range n {
		b := NewBatch(rows, c.SeqLen)
		for r := range rows {
			window(b, r, d.valid, (i*rows+r)*c.SeqLen)
		}
		out[i] = b
	}
	return out, nil
}
