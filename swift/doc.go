// Package swift is GoSwift's one-stop API: load a model, attach a tuner, train, generate,
// evaluate and export. Sub-packages own one concern each (weights, tokenizers, models, infer,
// ...); this package only ties them together.
package swift
