// Package tokenizers turns text into token ids and back for the models GoSwift trains, with no
// network access and no cgo:
//
//   - Llama2C reads Karpathy's llama2.c tokenizer.bin (e.g. stories260K's tok512.bin) and
//     encodes exactly like run.c: dummy-prefix space, codepoint lookup with byte fallback
//     (byte b -> id b+3), then greedy merges by the highest piece score. BOS=1, EOS=2.
//   - HF reads a Hugging Face tokenizer.json with a BPE model, both byte-level (GPT-2, Qwen2,
//     Llama-3, SmolLM) and sentencepiece-style with "▁" and byte fallback (Llama-2, TinyLlama,
//     Mistral). Normalizers, pre-tokenizers (including Split regexes with look-ahead, run by
//     github.com/dlclark/regexp2 in its .NET-compatible mode), added tokens, decoders and
//     post-processors follow the Rust implementation; components it does not implement
//     (WordPiece and Unigram models, BertNormalizer, Precompiled, ...) are load errors naming
//     the file and the JSON path, never a silently different tokenizer.
//
// Load picks the format from a path (a directory, *.json, or a tokenizer.bin).
//
// Special tokens: Encode never adds BOS/EOS. EncodeWithSpecial (and the package function of the
// same name) adds what the model expects: BOS for llama2.c, the post_processor template for a
// tokenizer.json (AddsBOS tells whether that includes BOS). HF.Encode turns added tokens
// written in the text (e.g. "<|im_start|>") into their ids, as Hugging Face does;
// HF.EncodeOrdinary treats special ones as plain text. Decode skips special tokens.
//
// Decoding keeps raw bytes where Hugging Face would print U+FFFD for byte sequences that are not
// valid UTF-8; for valid text the results are identical. Decode(Encode(s)) == s holds for any s
// with llama2.c (Decode drops the dummy-prefix space Encode adds) and byte-level tokenizers,
// and for s without "▁" with a Llama-2-style tokenizer.json (its normalizer adds the "▁" prefix
// that its decoder strips), provided s contains no special-token text (use EncodeOrdinary).
//
// BOS/EOS of a tokenizer.json come from tokenizer_config.json when LoadHF finds one beside it,
// else from the post_processor template, else from well-known token names (see ParseHF).
//
// Tokenizers are safe for concurrent use; the HF BPE results are cached per pre-token word.
package tokenizers
