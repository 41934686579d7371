// Package vlm is GoSwift's vision-language model: a LLaVA-style architecture that feeds image
// features into a Llama-family language model.
//
// An image [C, H, W] is cut into P×P patches; the patch embedding is a matmul over the
// flattened patches (the HF conv weight [Hv, C, P, P] read as [Hv, C·P·P]), learned position
// embeddings are added, pre-norm transformer blocks (LayerNorm → multi-head attention, reusing
// the Llama model's GroupedAttention → residual; LayerNorm → GELU MLP → residual) and a final
// LayerNorm follow (a SigLIP-style vision tower). An MLP projector ("aligner": linear → GELU →
// linear) maps each patch to the language model's hidden size, and those features replace the
// embeddings of the image placeholder tokens of the text (models.SpliceImages): one image is
// TokensPerImage placeholders.
//
// Variables use the Hugging Face LLaVA names: the vision tower under "vision_tower.vision_model",
// the projector under "multi_modal_projector", the language model under its own names
// ("model.layers.0...", "lm_head"), which a checkpoint stores as "language_model.model..." and
// "language_model.lm_head" (transformers ≥ 4.52's "model.language_model..." layout loads too).
// So every tuner attaches to the language model unchanged, and the parts to train are chosen
// with Freeze (ms-swift's freeze_vit / freeze_aligner / freeze_llm). Freezing all three parts
// is an error naming the flags (Apply), not a run that trains nothing.
//
// Why "llava" is not in the models registry: models.Register takes an Architecture whose
// ParseConfig returns a text *models.Config, which models.New builds and models.OpenCheckpoint
// loads from unprefixed tensor names. A LLaVA checkpoint needs more than that Config can carry
// (the vision tower's shape, the image token, the pixel normalisation) and stores the language
// model under "language_model." names, so a registered "llava" would either hand text-only
// readers (models.OpenCheckpoint, `goswift bench --config`) half a model — the language model
// without its tower, with weight names that do not match — or have to fail always. Instead
// swift.Load recognises a LLaVA directory (IsVLMConfig: config.json's model_type is "llava")
// before the text path and reads it with Open, ParseConfig and LoadVariables, which know the
// whole model; models.Names therefore lists the text architectures only (llama, mistral, qwen2),
// and models.ReadConfig of a LLaVA config.json reports model_type "llava" as unsupported by the
// text registry. Putting the VLM in the registry would take an Architecture that can return a
// vision part (a change to package models), not a registration from this package's init.
package vlm
