// Package train is GoSwift's causal-LM training loop (pretraining and SFT share it).
//
// One optimizer step: GradAccum micro-batches from a data.Dataset; each adds the gradient of
// (weighted NLL sum / total weighted tokens of the whole accumulated batch) into accumulators,
// so accumulation equals one big batch (not an average of per-micro-batch means); then global
// gradient-norm clipping and AdamW (decoupled weight decay on matrices only, never on norms or
// biases) with a linear warm-up + cosine learning-rate schedule. A non-finite loss or gradient
// skips the update inside the graph and stops the run with an error.
//
// Only trainable variables train (the tuner decides: tuners.Freeze). Checkpoints hold every
// variable but the frozen base — tuner weights, optimizer moments and the RNG — written as a
// directory to a temporary name and renamed, with OutputDir/latest naming the newest. Data order
// is a pure function of the step, so Resume continues bit-identically on the CPU backend.
package train
