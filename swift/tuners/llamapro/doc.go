// Package llamapro is LLaMA Pro's block expansion (Wu et al. 2024) as a GoSwift tuner: new
// decoder blocks are inserted after every group of original blocks, each a copy of the block
// before it with its output projections (o_proj, down_proj) zeroed — so each new block is the
// identity and the model starts exactly as the base — and only the new blocks train. The new
// blocks' variables live in the tuner's scope; a merged export is a plain checkpoint with
// L + N layers (tuners.Expander).
//
// Importing the package registers the tuner as "llamapro".
package llamapro
