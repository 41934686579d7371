// Package adapter is the bottleneck Adapter (Houlsby et al. 2019) as a GoSwift tuner: after
// the attention and/or MLP sub-layer of every decoder block, out ← out + up(act(down(out))),
// with down [Dim, Hidden] Kaiming-uniform and up [Hidden, Dim] zero (so the model starts
// exactly as the base). Nonlinear, so it cannot be merged into the base weights.
//
// Importing the package registers the tuner as "adapter".
package adapter
