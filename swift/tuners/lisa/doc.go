// Package lisa is LISA, layerwise importance sampling (Pan et al. 2024), as a GoSwift tuner:
// the embeddings, final norm and head always train; of the decoder blocks only N, drawn at
// random every K steps, train. The draw is seeded per interval, so a resumed run draws the
// same layers.
//
// # What it saves
//
// LISA implements tuners.ActiveSetter: ActiveSet(step) names the interval's active blocks
// ("layers 1,4", sorted) and says which variables train (those blocks and every non-block
// weight). Given to the trainer as train.Config.ActiveSet (tuners.ActiveSet(tn)), it makes the
// step graph take the gradient of the active variables only — the inactive blocks' weight
// gradients are never computed, and blocks below the lowest active one get no backward pass at
// all — and keeps AdamW moments (and gradient accumulators) for the active variables only. The
// memory held is therefore the weights plus the active subset's gradients and optimizer state:
// the inactive blocks' 8 bytes per parameter of moments (12 with accumulation) are gone. On the
// tests' 6-block toy model with 2 blocks active that is 44,160 bytes of optimizer state instead
// of 106,624 (−59%, TestInactiveLayersUntouched); the saving is the inactive blocks' share of
// the parameters, so on stories15M (the always-trained 32000×288 embedding is 60% of it) it is
// small, and on a real model (2 of 32 blocks, blocks ≫ embeddings) it approaches LISA's
// published figures.
//
// What it costs:
//
//   - A recompile each time the active set changes (once per interval, at its first step): the
//     step graph is built per set, and a set's executables are dropped when it is left (their
//     graphs name optimizer variables that no longer exist), so a set drawn again later is
//     compiled again. Each recompile also leaves a little host memory behind (GoMLX v0.26.0
//     keeps a variable's per-graph node map until the variable is deleted).
//   - Moments reset on activation: a block that joins the set starts from zero moments, with its
//     own AdamW bias correction counted from its first step, as with a fresh torch optimizer
//     state (LMFlow's LISATrainer re-creates the optimizer at each switch and copies back only
//     the non-block parameter groups' state). A block that leaves loses its moments; the
//     always-trained weights keep theirs all run. One difference from LMFlow: a block drawn
//     again in the very next interval keeps its moments here (LMFlow resets it too).
//   - The global gradient norm (clipping, the logged grad_norm) is over the active variables
//     only, as in the reference implementations where frozen layers have no gradient.
//
// Checkpoints hold the moments that exist, the set's key and each moment's first step; Resume
// recreates the saved step's set before loading them, so a resumed run is bit-exact
// (TestResumeIsExact, with interval boundaries on both sides and at the resume point).
//
// Without train.Config.ActiveSet LISA still trains the same layers through its learning-rate
// multipliers (tuners.LRScaler: 0 for the inactive blocks), but then the trainer keeps
// gradients and moments for every block and the memory equals the full tuner's: callers
// should set both (swift.Train and the benchmark suite fill LRMultiplier from
// tuners.LRMultiplier; ActiveSet comes from tuners.ActiveSet). Within the first interval and
// with clipping off the two paths train identically (TestFirstIntervalMatchesMultipliers).
//
// Importing the package registers the tuner as "lisa".
package lisa
