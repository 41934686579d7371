// Package peft reads and writes LoRA-family adapters (LoRA, rsLoRA, DoRA; QLoRA's adapter is
// plain LoRA) in Hugging Face PEFT's layout, so that a Python user can load a GoSwift adapter
// with PeftModel.from_pretrained and GoSwift can load adapters trained with PEFT.
//
// The directory holds adapter_config.json (PEFT's LoraConfig keys: peft_type "LORA",
// task_type "CAUSAL_LM", r, lora_alpha, lora_dropout, target_modules, use_rslora, use_dora,
// bias "none", base_model_name_or_path, ...) and adapter_model.safetensors with PEFT's names:
//
//	base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight   [r, in]
//	base_model.model.model.layers.{i}.self_attn.q_proj.lora_B.weight   [out, r]
//	base_model.model.model.layers.{i}.self_attn.q_proj.lora_magnitude_vector   [out]  (DoRA)
//
// (PEFT ≥ 0.12 keeps DoRA's magnitude as the module lora_magnitude_vector.<adapter>.weight but
// strips ".weight" and the adapter name when saving, so the file holds the name above.)
// target_modules is written as the list of module names when the targets are every projection
// with those names, otherwise as a regex that full-matches exactly the targeted module paths
// (PEFT's string form). LoRA's scaling is lora_alpha/r, or lora_alpha/√r with use_rslora, as in
// PEFT.
//
// For models with llama2.c's interleaved RoPE, the exported base (models.SaveHF) has its q/k
// rows permuted to Hugging Face's rotate-half order; Save permutes the rows of q/k lora_B (and
// the magnitude) the same way and Load permutes them back, so adapter and base agree.
//
// Importing the package registers the format with tuners.LoadAdapter, which then loads PEFT
// directories too.
package peft
