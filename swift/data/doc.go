// Package data feeds training: the Batch format (tokens, targets, positions, segments and loss
// weights, flattened [B, S]) and the Dataset interface, whose TrainBatch is a pure function of
// (step, micro-batch) so resumed runs see the same data.
//
// Continued pretraining: TextDataset trains on seeded random windows of a token stream and
// evaluates on its held-out tail.
//
// Supervised fine-tuning:
//   - ReadFile/Scan stream JSONL (or JSON-array) datasets in the common shapes — messages
//     (OpenAI/ms-swift roles, tools and tool calls), ShareGPT conversations, alpaca,
//     query/response (GSM8K), plain text, BFCL (with its answer file) — detected per record or
//     forced; a malformed record is an error naming file:line, or skipped and counted.
//   - Sample is one conversation with its tools and, for evaluation, the expected calls or
//     answer. Package templates renders it into an Example (token ids + per-token loss weights).
//   - SFTDataset batches Examples: shuffled per epoch, length-bucketed so few [B, S] shapes
//     are compiled, or packed several per row (segments keep attention inside each sample,
//     positions restart), with a truncation policy for long examples.
//   - ToolCallVariants makes a tool-calling set from BFCL items with fresh argument values,
//     and a held-out set whose values never occur in training.
//
// What streams and what is held in memory:
//   - Scan streams: it holds one record (one line, of any length, or one element of a JSON
//     array) at a time and hands it to its callback; only a BFCL answer file is read whole (a
//     map by id). A caller that tokenizes inside the callback keeps nothing else.
//   - ReadFile and ReadFiles materialise every Sample of the files (the raw text: about as many
//     bytes as the dataset's characters, i.e. ~1.4 MB per 1M tokens with stories260K's
//     512-token vocabulary and ~4 MB with a 32k–150k BPE vocabulary, plus a few hundred bytes of
//     struct and slice overhead per message). `goswift sft` and `goswift eval` use them: SFT is
//     not streaming.
//   - Encoding (templates.EncodeSamples, swift.Model.EncodeSamples) turns all of them into
//     Examples, and SFTDataset keeps every kept Example for the whole run: 8 bytes per token
//     (int32 id + float32 weight), 8 MB per 1M tokens, plus ~72 bytes per example; a
//     vision-language example also holds its preprocessed images as float32 (C·H·W·4 bytes an
//     image: 3 KB for 28×28 gray, 588 KB for 3×224×224), which dominates for image data. The
//     held-out Batches are built once and cached: 20 bytes per position including padding
//     (tokens, targets, positions, segments, weights), 20 MB per 1M held-out positions.
//     Training Batches are built per micro-step (20 bytes · B · S each) and not kept; the
//     epoch plans cached for TrainBatch hold example indices only (tens of bytes per example per
//     epoch reached).
//   - TextDataset (pretraining) reads its text file whole and keeps the token stream as int32:
//     4 MB per 1M tokens, with a transient peak of the file's bytes plus 8 bytes per token
//     (the tokenizer's []int) while loading.
//
// So an SFT run needs roughly 9–12 MB of host memory per 1M training tokens for the text and
// examples (the samples stay referenced while they are encoded), before the model and its
// activations; a dataset too large for that must be split or pre-tokenized by a caller of Scan.
package data
