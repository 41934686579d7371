// Package train is GoSwift's causal-LM training loop (pretraining and SFT share it).
//
// One optimizer step: GradAccum micro-batches from a data.Dataset; each adds the gradient of
// (weighted NLL sum / total weighted tokens of the whole accumulated batch) into accumulators,
// so accumulation equals one big batch (not an average of per-micro-batch means); then global
// gradient-norm clipping and AdamW (decoupled weight decay on matrices only, never on norms or
// biases) with a linear warm-up + cosine learning-rate schedule. A non-finite loss or gradient
// skips the update inside the graph and stops the run with an error.
//
// # Mixed precision (bf16)
//
// With a bf16 base (models.LoadOptions.DType) the weights and activations are bf16 while LoRA
// adapters, the loss and the optimizer state stay float32: the AdamW moments and gradient
// accumulators of every trainable variable are created float32 whatever its dtype (New). A
// trainable bf16 variable (full fine-tuning of a bf16 base) gets its gradient converted to
// float32, its AdamW step computed in float32 from the float32 moments, and the result rounded
// back to bf16 on apply (step.go). There is no separate float32 master copy, so updates smaller
// than bf16's resolution of the weight are lost: train full fine-tuning in float32 when that
// matters. LoRA/QLoRA over a bf16 base (float32 adapters) are unaffected. TestBF16Training runs
// both (LoRA and full) against float32.
//
// Only trainable variables train (the tuner decides: tuners.Freeze). Checkpoints hold every
// variable but the frozen base — tuner weights, optimizer moments and the RNG — written as a
// directory to a temporary name and renamed, with OutputDir/latest naming the newest. Data order
// is a pure function of the step, so Resume continues bit-identically on the CPU backend.
//
// # Active sets (LISA)
//
// Config.ActiveSet (tuners.ActiveSet: LISA) lets a run train a changing subset of the trainable
// variables. The step graph then takes the gradient of the active variables only and AdamW
// keeps state only for them, so the memory held is the weights plus the active subset's
// gradients and moments. When the set's key changes (activeset.go) the trainer frees the state
// of the variables that leave, creates zero state for those that join — their bias correction
// counts their own steps from there, as a re-created optimizer group would — and builds step
// executables for the new set (a recompile per new set; a set's executables are dropped when
// it is left, since they name optimizer variables that no longer exist). Checkpoints hold the
// set's key and each moment's first step; Resume recreates the set of the checkpoint's last
// step before loading. Without ActiveSet nothing of this runs: one graph over every trainable
// variable, as before. Emulated data parallelism follows the set (the planner gives new state
// its owner's spec); on real devices the same code sets the spec and reconfigures the new
// executables, unverified without a multi-device backend.
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
// count. Parallel{Devices: AllDevices} (the CLI's --devices all, or -1) is a mesh over every
// device of the backend, counted when New runs. simplego has one device and no distributed execution, so on CPU Parallel.Emulate runs
// the shards one after another and sums their gradients as the all-reduce would: the same plan
// and the same step, checked against the one-device step in tests. Multi-device execution is
// verified only where an XLA plugin with several devices exists (TestParallelXLA,
// benchmarks/gpu: gpucheck spmd compares the plain path, a 1-device mesh, FSDP and all
// devices); elsewhere it is unverified. On CPU the real SPMD inputs are tested piece by piece
// (the sharded batch tensors and their contents, the replicated scalars, the executables'
// input specs, the variables' specs); only their execution needs the XLA backend.
//
// Device memory: go-xla v0.1.4 has per-executable compiled memory statistics
// (pjrt.LoadedExecutable.OnDeviceMemoryUsageStats), but GoMLX v0.26.0 does not surface them
// through its backend API, so the GPU check samples nvidia-smi with PJRT preallocation off.
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
//
// A launch, once that exists, would look like jax.distributed's: the same binary on every
// host, one process each, told its place by the environment, e.g. for 2 hosts × 8 GPUs:
//
//	# host 0 (also runs the coordinator / key-value store on port 8476)
//	GOSWIFT_COORDINATOR=host0:8476 GOSWIFT_NUM_PROCESSES=2 GOSWIFT_PROCESS_ID=0 \
//	  CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 GOMLX_BACKEND=xla:/path/xla_cuda_plugin.so \
//	  goswift sft --devices all ... --output /shared/run
//	# host 1
//	GOSWIFT_COORDINATOR=host0:8476 GOSWIFT_NUM_PROCESSES=2 GOSWIFT_PROCESS_ID=1 \
//	  CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 GOMLX_BACKEND=xla:/path/xla_cuda_plugin.so \
//	  goswift sft --devices all ... --output /shared/run
//
// Each process would pass node_id=GOSWIFT_PROCESS_ID and num_nodes=GOSWIFT_NUM_PROCESSES to
// PJRT_Client_Create with kv_get/kv_put callbacks backed by the coordinator's store, see all
// 16 devices, build the mesh over them (Devices: AllDevices = 16), feed its local shards from
// rows [p·B/2, (p+1)·B/2) of each global micro-batch, and only process 0 would write
// checkpoints and logs (to storage every host reads, for Resume). The GOSWIFT_* variables are
// a sketch: nothing reads them today.
package train
