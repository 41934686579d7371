// Package data feeds training: the Batch format (tokens, targets, positions, segments and loss
// weights, flattened [B, S]) and the Dataset interface, whose TrainBatch is a pure function of
// (step, micro-batch) so resumed runs see the same data; TextDataset trains on seeded random
// windows of a token stream (continued pretraining) and evaluates on its held-out tail.
package data
