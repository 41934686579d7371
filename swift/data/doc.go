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
package data
