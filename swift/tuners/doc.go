// Package tuners defines the Tuner interface, its registry and the scope operations every
// tuner shares.
//
// A tuner (LoRA, DoRA, full, ...) registers a default Config from init (Register, Names,
// NewConfig); Build + Attach create its variables under its own context scope and hook it into
// the model's seams (models.Hooks). "Freeze the base" (Freeze), "save the adapter only"
// (SaveAdapter/LoadAdapter) and "merge" (Merger) are then scope operations, not special cases.
//
// Every registered tuner must pass the conformance table in conformance_test.go.
package tuners
