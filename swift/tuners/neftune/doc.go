// Package neftune is NEFTune (Jain et al. 2023) as a GoSwift modifier: during training only,
// uniform noise in [-1, 1]·alpha/√(L·d) is added to the input embeddings (L the sequence
// length, d the hidden size), drawn from the context's RNG (seeded by the trainer). Evaluation
// and generation graphs are untouched, so their logits are identical to the same model
// without it. It composes with any tuner (tuners.WithModifiers; the CLI's --neftune-alpha).
//
// Importing the package registers the modifier as "neftune".
package neftune
