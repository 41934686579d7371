package infer

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/pkg/errors"
)

// Sampling chooses the next token from the logits. The zero value is greedy decoding.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (argmax).
	Temperature float64
	// TopK keeps only the K most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability reaches P (0 or 1: all).
	TopP float64
	// Seed makes sampling reproducible.
	Seed uint64
}

// Validate checks the ranges.
func (s Sampling) Validate() error {
	switch {
	case s.Temperature < 0 || math.IsNaN(s.Temperature):
		return errors.Errorf("sampling: temperature must be >= 0, got %g", s.Temperature)
	case s.TopK < 0:
		return errors.Errorf("sampling: top-k must be >= 0, got %d", s.TopK)
	case s.TopP < 0 || s.TopP > 1 || math.IsNaN(s.TopP):
		return errors.Errorf("sampling: top-p must be in [0, 1], got %g", s.TopP)
	}
	return nil
}

// Greedy reports whether s always takes the argmax.
func (s Sampling) Greedy() bool { return s.Temperature == 0 || s.TopK == 1 }

// sampler draws tokens for one generation call; its RNG is seeded once, so a batch is
// reproducible for a given seed.
type sampler struct {
	s   Sampling
	rng *rand.Rand
	idx []int     // scratch: candidate ids
	p   []float64 // scratch: probabilities by id
}

func newSampler(s Sampling) *sampler {
	return &sampler{s: s, rng: rand.New(rand.NewPCG(s.Seed, s.Seed^0x5851f42d4c957f2d))}
}

// Argmax returns the index of the largest value (the first one on ties).
func Argmax(logits []float32) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return best
}

// next picks a token from one row of logits.
func (sm *sampler) next(logits []float32) int {
	if sm.s.Greedy() {
		return Argmax(logits)
	}
	n := len(logits)
	if cap(sm.idx) < n {
		sm.idx, sm.p = make([]int, n), make([]float64, n)
	}
	idx, p := sm.idx[:n], sm.p[:n]
	// Softmax with temperature, stable.
	maxV := float64(logits[Argmax(logits)])
	for i, v := range logits {
		idx[i] = i
		p[i] = math.Exp((float64(v) - maxV) / sm.s.Temperature)
	}
	sort.Slice(idx, func(a, b int) bool {
		if p[idx[a]] != p[idx[b]] {
			return p[idx[a]] > p[idx[b]]
		}
		return idx[a] < idx[b]
	})
	keep := n
	if sm.s.TopK > 0 && sm.s.TopK < keep {
		keep = sm.s.TopK
	}
	total := 0.0
	for _, id := range idx[:keep] {
		total += p[id]
	}
	if sm.s.TopP > 0 && sm.s.TopP < 1 {
		acc := 0.0
		for k, id := range idx[:keep] {
			acc += p[id] / total
			if acc >= sm.s.TopP {
				keep = k + 1
				break
			}
		}
		total = 0
		for _, id := range idx[:keep] {
			total += p[id]
		}
	}
	r := sm.rng.Float64() * total
	for _, id := range idx[:keep] {
		r -= p[id]
		if r < 0 {
			return id
		}
	}
	return idx[keep-1]
}
