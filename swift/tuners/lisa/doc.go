// Package lisa is LISA, layerwise importance sampling (Pan et al. 2024), as a GoSwift tuner:
// the embeddings, final norm and head always train; of the decoder blocks only N, drawn at
// random every K steps, train (the others get a learning-rate multiplier of 0 through
// tuners.LRScaler, so the trainer leaves their weights and optimizer moments untouched). The
// draw is seeded per interval, so a resumed run draws the same layers.
//
// Importing the package registers the tuner as "lisa".
package lisa
