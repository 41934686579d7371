package data

// SyntheticTokens is a dataset of deterministic pseudo-random token windows for speed and
// memory measurements (benchmarks, the suite's random-weight shapes), where what the tokens say
// does not matter: Batch rows of Seq positions, ids below Vocab, every position trained. Seed
// shifts the windows; the same (step, micro) always gives the same batch.
type SyntheticTokens struct {
	Batch, Seq, Vocab int
	Seed              uint64
}

// TrainBatch returns micro-batch micro of optimizer step step.
func (r SyntheticTokens) TrainBatch(step, micro int) (*Batch, error) {
	b := NewBatch(r.Batch, r.Seq)
	off := int(r.Seed%9973) * 131
	for i := range b.Tokens {
		b.Tokens[i] = int32((i*7919 + step*104729 + micro*31 + off) % r.Vocab)
		b.Targets[i] = int32((i*7919 + 7919 + step*104729 + micro*31 + off) % r.Vocab)
		b.Positions[i], b.Segments[i], b.Weights[i] = int32(i%r.Seq), 1, 1
	}
	return b, nil
}

// EvalBatches is the first training batch.
func (r SyntheticTokens) EvalBatches() ([]*Batch, error) {
	b, err := r.TrainBatch(0, 0)
	return []*Batch{b}, err
}
