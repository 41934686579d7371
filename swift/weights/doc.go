// Package weights reads and writes model checkpoints without any ML framework: safetensors
// (single files, Hugging Face sharded directories) and Karpathy's llama2.c legacy checkpoints.
//
// Every reader implements [Source]: a read-only set of named tensors whose headers are parsed and
// validated up front, while the tensor data is read lazily, one tensor at a time, converted to
// float32. A loader can therefore stream a checkpoint tensor by tensor (for example to quantise it)
// with a peak memory of about one tensor.
//
//	src, err := weights.OpenDir("path/to/hf-model") // index json, model.safetensors or *.safetensors
//	if err != nil { ... }
//	defer src.Close()
//	for _, name := range src.Names() {
//		info, _ := src.Info(name)           // name, dtype, shape
//		data, err := src.ReadFloat32(name)   // F32/F16/BF16/F64 -> []float32, row-major
//		...
//	}
//
// Readers treat files as untrusted: a truncated file, a header that lies about its length, an
// offset outside the data, overlapping tensors, an unknown dtype, an overflowing shape, a shard
// index naming a missing file, ... each give one error naming the file and the tensor, never a
// panic, and nothing is allocated from a size that has not been checked against the file size.
// Gaps between tensors and trailing bytes are tolerated in safetensors files; overlaps are not.
// Readers are safe for concurrent ReadFloat32 calls (they use io.ReaderAt).
//
// Writers ([WriteSafetensors], [WriteSharded], [WriteLlama2C]) are atomic: they write a temporary
// file in the destination directory, fsync it and rename it into place, so a crash never leaves a
// partial file under the final name. safetensors files are written the way the reference
// implementation does: tensors sorted by name, an optional "__metadata__" entry, the header padded
// with spaces to a multiple of 8 bytes, contiguous data offsets. Float32 data can be stored as
// F32, BF16 or F16 (both round-to-nearest-even) or F64.
//
// llama2.c checkpoints ([OpenLlama2C]) are exposed under Hugging Face Llama tensor names
// (model.embed_tokens.weight, model.layers.{i}.self_attn.q_proj.weight, ..., lm_head.weight when
// the classifier is not shared), so model code needs a single naming scheme. Their q_proj and
// k_proj rows are kept exactly as stored, that is in llama2.c's interleaved rotary order; see
// [PermuteRotaryInterleavedToHalf] for converting to the Hugging Face rotate-half convention.
package weights
