// Package eval measures models: perplexity on held-out batches, generation-based accuracy on
// GSM8K (the final number of the answer), and BFCL-style tool calling — the model's calls parsed
// with the template's tool format and compared with the ground truth (function, argument names
// and values, the listed alternative values allowed) into Act.EM (the right functions called:
// ToolBench's action exact match, the SWIFT paper's agent metric), Call.EM (the right functions
// with every argument right: BFCL's AST check), argument F1 and the hallucination rate (calls to
// functions not offered, or arguments not in the schema).
//
// Act.EM and Call.EM measure different skills. Act.EM asks only for the right function names
// (a multiset, in any order). Call.EM also requires every argument value to be exactly one of
// the ground truth's accepted values: the same number (5 == 5.0), the same string after BFCL's
// normalisation (case, spaces and ,./-_*^ ignored — nothing fuzzier: "Paris, France" is not
// "Paris", 12.5 is not 12), the same list element by element, with no argument added and none
// missing unless "" is accepted. A call with the right function and a near-miss value counts for
// Act.EM and partly for argument F1, not for Call.EM.
//
// A small model fine-tuned briefly learns the first before the second. In the end-to-end test
// (swift/cmd/goswift/sft_e2e_test.go: stories260K, LoRA, BFCL-schema tool calls, held-out items
// with argument values never seen in training) SFT learns which function to call and the call
// syntax, so Act.EM rises well above the untrained model's (the acceptance check: ≥ 10 points),
// but not to copy the question's values into the arguments: in the development runs noted there
// (GOSWIFT_E2E_LONG=1) Act.EM reached 80% at 75 and 100 steps while Call.EM stayed at 0%. Report Call.EM and argument F1
// beside Act.EM; the SWIFT paper's agent gains are Act.EM gains.
//
// Scoring (ScoreToolCalls, ScoreGSM8K) is pure and works on any predictions; Chat generates the
// predictions with a model through a chat template, in length-grouped batches.
package eval
