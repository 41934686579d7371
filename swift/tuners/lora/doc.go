// Package lora is Low-Rank Adaptation (Hu et al. 2021) as a GoSwift tuner:
// y = W·x + s·B·A·dropout(x) on the selected projections, with A [r, In] Kaiming-uniform and B
// [Out, r] zero (so the model is unchanged at step 0), s = alpha/r or alpha/√r (rsLoRA).
// Targets are chosen by name list, "all-linear" or a full-match regex on the projection path,
// as in PEFT. Merge folds s·B·A into the base weights; Unmerge takes it out again. LoRA+
// (LoRAPlusRatio) gives B a learning rate ratio × A's through tuners.LRScaler. Family is the
// LoRA-family view (LoRA, QLoRA, DoRA) that the PEFT exporter uses.
//
// Importing the package registers the tuner as "lora".
package lora
