// Package tuners defines the Tuner interface, its registry and the scope operations every
// tuner shares.
//
// A tuner (LoRA, DoRA, full, ...) registers a default Config from init (Register, Names,
// NewConfig, ParseConfig); Build + Attach create its variables under its own context scope and
// hook it into the model's seams (models.Hooks). "Freeze the base" (Freeze), "save the adapter
// only" (SaveAdapter/LoadAdapter) and "merge" (Merger) are then scope operations, not special
// cases. Optional interfaces say what else a tuner does: Merger (fold into the base weights),
// LRScaler (per-variable, per-step learning rates: LoRA+, LISA), Expander (LLaMAPro's merged
// export is a bigger model), Seeded (seeded initialisation).
//
// Modifiers (RegisterModifier, WithModifiers: NEFTune) change training without weights of their
// own and compose with any tuner; Unwrap and AsMerger look through them. RegisterParamCounter
// lets packed weights count as the parameters they encode (CountParams); RegisterAdapterFormat
// lets LoadAdapter read foreign adapter layouts (PEFT).
//
// Every registered tuner and modifier must have a row in the conformance table
// (conformance_test.go) saying what it promises; every tuner must lower the held-out loss in a
// short run (loss_test.go). The sub-packages are the tuners; package all imports every one.
package tuners
