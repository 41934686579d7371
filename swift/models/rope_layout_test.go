package models

import (
	"math"
	"testing"
)

// TestToHalfRoPE: converting an interleaved-RoPE model (with q/k biases) in place keeps its
// logits (1e-5), sets the half layout, and a second call changes nothing.
func TestToHalfRoPE(t *testing.T) {
	cfg := tinyConfig(RoPEInterleaved, false, true, 4, 2)
	ctx := randomModel(t, cfg, 12)
	tok := [][]int32{{1, 5, 9, 20, 3, 7}}
	pos := [][]int32{{0, 1, 2, 3, 4, 5}}
	seg := [][]int32{{1, 1, 1, 1, 1, 1}}
	before := graphLogits(t, ctx, New(cfg), tok, pos, seg)
	for range 2 {
		if err := ToHalfRoPE(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.RoPE != RoPEHalf {
			t.Fatalf("RoPE %v after ToHalfRoPE", cfg.RoPE)
		}
		after := graphLogits(t, ctx, New(cfg), tok, pos, seg)
		for i := range before {
			if d := math.Abs(float64(before[i] - after[i])); d > 1e-5 {
				t.Fatalf("logit %d: %g before, %g after", i, before[i], after[i])
			}
		}
	}
}
