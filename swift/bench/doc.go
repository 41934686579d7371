// Package bench is GoSwift's built-in benchmark suite: every training technique (the tuner
// registry's, with per-technique settings in one table) compared by memory, speed and accuracy
// on the current backend, each run in a fresh process; a memory and FLOPs predictor; a PyTorch
// peer row; and a report in JSON lines, Markdown and self-contained HTML with SVG charts.
//
// A suite is a Matrix of Specs (NewMatrix: "default", "quick" or "full") run by Run, which
// launches each Spec through a Launcher (a child process: the goswift binary's hidden
// `bench --child`, or a test binary) that calls RunOne and prints one result line. Results go
// to results.jsonl as they arrive (one Result per line, validated by ValidateResult against
// the JSON schema in result.schema.json); WriteReport renders report.md, report.html and the
// charts.
//
// # What is measured
//
//   - Speed runs (random weights of a real architecture's shape): training step seconds, the
//     median of the timed steps after warm-up, as tokens/s and samples/s; generation
//     tokens/s (batch 1, greedy, KV cache) after a compiling run.
//   - Memory: the process's peak RSS (VmHWM) and the peak live Go heap during a measured step,
//     sampled by back-to-back garbage collections (simplego's buffers are Go memory, freed right
//     after their last use), minus the heap before the model existed: the "training heap" that
//     the predictor predicts. Device memory of GPU backends is "not measured" (go-xla v0.1.4
//     exposes none).
//   - Loss runs (real weights, stories260K on tinyshakespeare): held-out loss before and after a
//     fixed budget, the training loss curve, and held-out next-token accuracy.
//   - The peer: benchmarks/peer_llama.py, the same Llama shape with LoRA or full fine-tuning
//     written by hand in PyTorch (Debian's python3-torch, run by /usr/bin/python3), reported as
//     GoSwift/PyTorch ratios.
//
// # The predictor
//
// Predict gives, from a model config, a technique, batch, sequence length, rank and dtype, the
// bytes of the weights (QLoRA's packed base at its real bytes per parameter), gradients
// (trainable parameters, float32), optimizer state (two AdamW moments, plus accumulators under
// gradient accumulation) and activations, and the step's FLOPs; `goswift bench --predict-only`
// answers "will it fit" with it. Weights, gradients and optimizer state are exact: a test
// checks them byte for byte against the variables of every technique.
//
// The activations are a formula over the config (MemoryModel), counted in float32 tensors
// (T = batch·seq): [T, vocab] tensors around the loss and [vocab, hidden] copies of the tied
// embedding; per decoder block on the gradient path (blocks before the first trainable part keep
// nothing) hidden-width and intermediate-width tensors per token and [heads, S, S] attention
// tensors per sample, separately for blocks with a frozen and a trained base; the inputs LoRA
// adapters keep; and a multiple of the trainable bytes for the AdamW update. How many of each
// stay alive is the backend executor's business, so each backend has its own counts, fitted by
// Calibrate to the "calibrate" matrix (`goswift bench --calibrate` runs it and prints the model
// to paste into memmodel.go; rerun it when a backend changes). DoRA's extra outputs, the
// adapters' bottlenecks and QLoRA's decoded weights are counted from the graph, not fitted. The
// report shows how far the formula lands from every measured run.
//
// # Why the suite times its own steps (and not with go-benchmarks)
//
// github.com/janpfeifer/go-benchmarks (v0.1.1, served by the module proxy) was weighed for the
// child's timed steps and left out. What it offers: New(fns...), configured by WithWarmUps(n)
// and WithDuration(d), whose Done() runs each function n times untimed, then repeatedly for at
// least d of wall time, estimates the mean, median and chosen quantiles with a streaming estimator,
// and prints a table on stdout. What the suite needs and it does not give:
//
//   - The numbers back. Done returns nothing and its results are unexported, while every Result
//     records step_seconds, their median and the rates in results.jsonl (only the pretty-print
//     callback sees the durations, in an undocumented call order).
//   - A fixed step count. It repeats for a duration, and a stories15M 4×128 step takes 0.5-1 s
//     on 2 cores, so the count would vary by technique and machine; the loss runs need an exact
//     budget, and the speed runs the same number of steps everywhere.
//   - Heap sampling outside the timing: the measured step (back-to-back collections) is run
//     after the timed ones and must not be timed.
//   - A quiet stdout: the child's stdout carries its result line.
//
// So the timer is RunOne's loop: Spec.Warmup untimed steps, Spec.Steps timed ones, and their
// exact median. go-benchmarks fits micro-benchmarks of short calls repeated many times, and
// that is where GoSwift uses it: kernels/gemm TestLatencyQuantiles prints the latency quantiles
// of the training step's products on the kernels and on simplego (benchmarks/kernels/run.sh).
package bench
