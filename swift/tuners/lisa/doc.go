// Package lisa is LISA, layerwise importance sampling (Pan et al. 2024), as a GoSwift tuner:
// the embeddings, final norm and head always train; of the decoder blocks only N, drawn at
// random every K steps, train (the others get a learning-rate multiplier of 0 through
// tuners.LRScaler, so the trainer leaves their weights and optimizer moments untouched). The
// draw is seeded per interval, so a resumed run draws the same layers.
//
// # Limitation: no memory saving over full fine-tuning (yet)
//
// LISA's point is memory: only the active layers need gradients and AdamW moments. Here it
// saves none, and its peak memory equals the full tuner's (benchmark suite, stories15M 4×128:
// lisa 1.15 GB, full 1.15 GB; step time 0.92 s vs 0.94 s). What it gives today is LISA's
// optimisation behaviour (which layers learn when), not its footprint. The reasons:
//
//   - Trainable reports every base weight, so train.New creates AdamW moments (2× the
//     parameters, float32) for every decoder block, and keeps them across intervals so that a
//     resumed run is bit-exact.
//   - The step graph is built once, in train.New, over all trainable variables, and the
//     per-variable multipliers are a graph input (so switching layers never recompiles). The
//     graph therefore takes the gradient of every block's weights (one weight-gradient matmul
//     per projection) and evaluates the AdamW update for it; a multiplier of 0 only selects
//     the old values (Where), it does not remove the work or the buffers.
//
// What a real saving takes (changes in swift/train's trainer.go, config.go, checkpoint.go and
// step.go, about 150-250 lines; not done):
//
//  1. An "active set" hook: train.Config.ActiveSet func(step int) (key string, active
//     func(*context.Variable) bool), filled from a new tuners interface that LISA implements
//     (key = the interval's sorted active layers, e.g. "1,4"; the non-block weights always
//     active).
//  2. buildStep over a given subset of the variables instead of all of them (Gradient of the
//     loss with respect to the subset only — dotgrad then skips the frozen weights' gradient
//     matmuls — and inLRScale sized to the subset), with the step executables cached per key:
//     a graph per active set, compiled the first time the set is drawn (with N of L layers
//     active there are at most C(L, N) of them; in practice one per interval, so a cache of
//     the last few executables bounds compilation memory).
//  3. Moments only for the active set: at an interval boundary delete the moments of layers
//     that leave the set and create zero moments for those that join it. This is what the
//     reference implementation (LMFlow) does by re-creating the optimizer every interval; it
//     changes the training trajectory after the first interval compared with this package
//     (which keeps each layer's moments while it is inactive), so equality with the current
//     implementation holds only within the first interval.
//  4. Checkpoints hold the moments that exist; Resume recreates the active set of the saved
//     step before loading them, which keeps resume exact.
//
// The saving is the inactive blocks' moments (8 bytes per parameter), gradients and update
// temporaries. On stories15M the always-trained 32000×288 embedding is 60% of the
// parameters, so the gain would be small there; on a real model (blocks ≫ embeddings, e.g.
// 2 of 32 layers active) it approaches LISA's published figures.
//
// Importing the package registers the tuner as "lisa".
package lisa
