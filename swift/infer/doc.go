// Package infer generates text with a models.Model: batched prompts of different lengths
// (left-padded, padding masked, RoPE positions per row), greedy or seeded temperature/top-k/
// top-p sampling, stop at EOS, stop strings or a length, through a fixed-capacity KV cache whose
// logits equal a full recompute (Generator.Logits, the reference).
//
// Cache capacities are rounded up to multiples of 64 so prompts of different lengths share
// compiled graphs: simplego compiles one graph per distinct input shape.
package infer
