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
// with Freeze (ms-swift's freeze_vit / freeze_aligner / freeze_llm).
package vlm
