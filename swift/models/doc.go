// Package models builds Llama-family decoders (model_type llama, mistral, qwen2; SmolLM and
// TinyLlama are "llama") as GoMLX graphs, from a Hugging Face config.json or a llama2.c header.
//
// Architectures register by model_type (Register, Names), like database/sql drivers. A config
// key the graph does not implement (rope_scaling, a sliding window shorter than the context,
// another activation) is an error, never a silently different model.
//
// Variables live in a context.Context under their Hugging Face tensor names turned into scopes
// ("model.layers.0.self_attn.q_proj.weight" is variable "weight" in scope
// "/model/layers/0/self_attn/q_proj"), so loading (LoadVariables), exporting (SaveHF) and
// "freeze the base" (IsBaseScope) are renamings and scope filters.
//
// The graph is built for training on simplego too: no Slice on a gradient path (RoPE pairs are
// swapped with a broadcast 2×2 rotation, embeddings use Gather), Rsqrt avoided (no gradient in
// GoMLX v0.26.0). Both RoPE conventions are implemented: interleaved pairs (llama2.c) and half
// rotation (Hugging Face).
//
// Tuners attach at the seams (Hooks): every projection goes through one LinearFn chain that
// owns the base weight, the embedding lookup is an EmbedFn, each sub-layer's output passes a
// SubLayerFn, and the list of blocks can be rewritten.
//
// Inference uses Step with a fixed-capacity KV cache written with Gather + Where (simplego has
// no DynamicUpdateSlice); Logits is the full-recompute reference.
package models
