// Package eval measures models: perplexity on held-out batches, generation-based accuracy on
// GSM8K (the final number of the answer), and BFCL-style tool calling — the model's calls parsed
// with the template's tool format and compared with the ground truth (function, argument names
// and values, the listed alternative values allowed) into Act.EM (the right functions called:
// ToolBench's action exact match, the SWIFT paper's agent metric), Call.EM (the right functions
// with every argument right: BFCL's AST check), argument F1 and the hallucination rate (calls to
// functions not offered, or arguments not in the schema).
//
// Scoring (ScoreToolCalls, ScoreGSM8K) is pure and works on any predictions; Chat generates the
// predictions with a model through a chat template, in length-grouped batches.
package eval
