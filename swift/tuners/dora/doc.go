// Package dora is DoRA, weight-decomposed low-rank adaptation (Liu et al. 2024), as a GoSwift
// tuner, computed as Hugging Face PEFT does (LoraConfig with use_dora=True): LoRA's A and B plus
// a trained magnitude vector m [Out] per projection ("lora_magnitude_vector"), the output
// m ⊙ (W + s·B·A)x / ‖W + s·B·A‖ with the row norm detached. Configuration is LoRA's
// (rank, alpha, targets, rsLoRA, LoRA+). Merge folds the rescaled weight into the base; Unmerge
// restores it exactly.
//
// Importing the package registers the tuner as "dora".
package dora
