// Package export writes what GoSwift trained in formats other tools read: a merged Hugging Face
// checkpoint (config.json + model.safetensors + tokenizer.json, SaveMerged), including the
// conversion of a llama2.c model (q/k rows permuted to rotate-half RoPE, tok*.bin converted to a
// tokenizer.json: Llama2CTokenizerJSON), and a block-quantised checkpoint (SaveQuantized,
// reloaded by LoadQuantized). LoRA-family adapters in PEFT's layout are package
// swift/tuners/peft.
package export
