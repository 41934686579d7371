// Package train is GoSwift's causal-LM training loop (pretraining and SFT share it).
//
// One optimizer step: GradAccum micro-batches from a data.Dataset; each adds the gradient of
// (weighted NLL sum / total weighted tokens of the whole accumulated batch) into accumulators,
// so accumulation equals one big batch (not an average of per-micro-batch means); then global
// gradient-norm clipping and AdamW (decoupled weight decay on matrices only, never on norms or
// biases) with a linear warm-up + cosine learning-rate schedule. A non-finite loss or gradient
// skips the update inside the graph and stops the run with an error.
//
// Only trainable variables train (the tuner decides: tuners.Freeze). Checkpoints hold every
// variable but the frozen base — tuner weights, optimizer moments and the RNG — written as a
// directory to a temporary name and renamed, with OutputDir/latest naming the newest. Data order
// is a pure function of the step, so Resume continues bit-identically on the CPU backend.
//
// # Data parallelism
//
// Config.Parallel runs the same step on a device mesh through XLA's SPMD partitioner (GoMLX
// Exec.AutoSharding): the micro-batch is sharded along the "data" mesh axis, parameters are
// replicated — or, with FSDP, sharded on their first axis together with their optimizer state
// (ZeRO-3-like), adapters staying replicated — and XLA inserts the gradient all-reduce. NewPlan
// decides every variable's spec; Plan.String prints it. The numbers are one consistent set: a
// step is GradAccum micro-batches of the dataset's batch size, each split into Devices shards,
// normalised by the step's total token count; the data order does not depend on the device
// count. simplego has one device and no distributed execution, so on CPU Parallel.Emulate runs
// the shards one after another and sums their gradients as the all-reduce would: the same plan
// and the same step, checked against the one-device step in tests. Multi-device execution is
// verified only where an XLA plugin with several devices exists (TestParallelXLA,
// benchmarks/gpu); elsewhere it is unverified.
//
// # Multi-host (on paper)
//
// A multi-host run would start one process per host, each creating the PJRT client with the
// distributed-runtime options (its node id and the node count) and a key-value store shared
// by all processes (the coordinator service jax.distributed uses, or any store reachable from
// every host) through PJRT_Client_Create's kv_get/kv_put callbacks, so the clients can exchange
// NCCL ids; the device mesh then spans every host's devices, and each process feeds its local
// shards of the global batch (rows picked by process index, so the data order still does not
// depend on the layout). GoMLX v0.26.0 with go-xla v0.1.4 cannot do this yet: go-xla creates the
// client with those callbacks left empty ("No callback support yet") and GoMLX has no process
// index in its mesh API, so multi-host training needs an upstream change first; single-host
// multi-GPU (one process, all local devices) is what Parallel supports.
package train
