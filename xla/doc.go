// Package xla chooses and creates GoSwift's GoMLX backend: XLA with a locally installed CUDA PJRT
// plugin when there is one, else the pure Go CPU backend — GoSwift's "goswift" backend
// (kernels/backend: GoMLX's simplego with the matmuls and hot element-wise ops on GoSwift's
// kernels), with plain simplego ("go") kept as the reference. It never downloads anything.
//
// # Never auto-install
//
// GoMLX's default backend config is "xla", and GoMLX's xla backend downloads a PJRT plugin (CPU
// from GitHub, CUDA from pypi.org) whenever it is asked for a plugin by name. Importing this
// package prevents that for the whole process: its init sets $GOMLX_NO_AUTO_INSTALL=1, calls
// GoMLX's xla.EnableAutoInstall(false) and sets backends.DefaultConfig to BareGoConfig, so a
// bare backends.New() elsewhere (with $GOMLX_BACKEND unset) gets the CPU backend. New calls
// EnableAutoInstall(false) again before creating any backend. Plugins given by name
// ("xla:cuda") are resolved to an absolute path by this package, never by GoMLX.
//
// # Rules (Choose)
//
//  1. $GOMLX_BACKEND set (non-empty): respected verbatim ("go:...", "xla:/abs/path.so,opts",
//     any other registered backend). If it names XLA without an absolute plugin path ("xla",
//     "xla:cuda", "xla:cpu"), the plugin is looked up with FindCUDAPlugins (for "", "cuda",
//     "gpu"; a bare "xla" then falls back to a CPU plugin, as GoMLX would) or by its go-xla file
//     name pjrt_c_api_<name>_plugin.so in SearchPaths; if none is found the error lists every
//     place looked at. An explicit Want that contradicts it ("cuda" with a non-CUDA backend, "cpu"
//     with a CUDA one) is an error.
//  2. Want "auto" (or ""): the first CUDA plugin found is used ("xla:/abs/path"), provided an
//     NVIDIA device shows (/dev/nvidia0..., /proc/driver/nvidia/gpus/*); otherwise the CPU
//     backend (Options.GoConfig, default DefaultGoConfig). If the plugin then fails to load, New
//     falls back to the CPU backend and says so in Choice.Reason.
//  3. Want "cpu": the CPU backend. Want "cuda": the first CUDA plugin found, or one error listing
//     every place looked at.
//
// Default returns one process-wide backend, created at the first call with Want taken from
// $GOSWIFT_DEVICE ("auto" if unset); Describe formats a backend and its Choice for logs.
//
// # Where CUDA plugins are looked for
//
// In this order (FindCUDAPlugins): every directory of $PJRT_PLUGIN_LIBRARY_PATH; go-xla v0.1.4's
// default directories (~/.local/lib/go-xla, ~/.local/lib/go-xla/nvidia, ~/.local/lib/gomlx/pjrt,
// /usr/local/lib/go-xla, /usr/local/lib/go-xla/nvidia, /usr/local/lib/gomlx/pjrt; go-xla's
// installer puts the CUDA plugin in <lib>/go-xla/nvidia/pjrt_c_api_cuda_plugin.so); the absolute
// directories of $LD_LIBRARY_PATH and /etc/ld.so.conf (go-xla searches those too); then the
// jax_plugins/xla_cuda*/xla_cuda_plugin.so of a jax-cuda12-pjrt or jax-cuda13-pjrt Python package
// under the usual site-packages: $VIRTUAL_ENV, $CONDA_PREFIX, ~/.local, pyenv versions, the user's
// conda installs, /usr/local, /usr, /opt/conda, /root/.pyenv (PythonSitePatterns). In a plugin
// directory the names pjrt_c_api_cuda*_plugin.so, pjrt[-_]plugin[-_]cuda*.so and
// xla_cuda_plugin.so count. Choice.Plugin and Choice.Reason say which file was chosen;
// Choice.Searched lists every place looked at.
//
// # XLA_FLAGS and the CUDA directory
//
// The CUDA plugin needs ptxas and libdevice, which XLA looks for under --xla_gpu_cuda_data_dir.
// Unless $XLA_FLAGS already has that flag, New appends --xla_gpu_cuda_data_dir=<dir>, where dir is
// the first of nvidia/cu13, nvidia/cuda_nvcc and nvidia itself (the NVIDIA Python packages, looked
// for in the plugin's directory, its parent and grandparent) that holds nvvm/libdevice, else
// bin/ptxas. This also matters because go-xla v0.1.4, after loading a CUDA plugin that has a
// ../nvidia directory, sets XLA_FLAGS to a hard-coded developer path
// (/home/janpf/.local/lib/go-xla/nvidia) unless the flag is already present: when that directory
// exists and nothing better is found, New sets the flag to it. New also sets
// GOPJRT_CUDA_CHECKS=0 (unless set) to skip that go-xla check, whose warning is wrong for the jax
// wheel layout (that plugin finds site-packages/nvidia through its own RPATH). Both are in
// Choice.Env.
//
// # The CPU backend (DefaultGoConfig = "goswift:parallelism=-1")
//
// The CPU default is GoSwift's goswift backend (kernels/backend, registered by importing this
// package): every DotGeneral runs on kernels/gemm and large element-wise ops on
// kernels/elementwise, the rest on simplego segments configured as below. It gives the same
// results as simplego within float32 rounding (benchmarks/kernels' equivalence tests) and is
// deterministic. GOMLX_BACKEND=go:parallelism=-1 (or Options.GoConfig GoConfigUnlimited) runs
// plain simplego instead, the reference. Kind is KindGo for both.
//
// # simplego configuration (GoConfigUnlimited = "go:parallelism=-1")
//
// simplego's worker pool (backends/simplego/workerspool.go) allows 2×runtime.NumCPU() running
// tasks by default. With the default dynamic op scheduling, a graph executed alone runs each ready
// op as a pool task (exec.go executeParallel), and DotGeneral (dotgeneral_large.go,
// dotgeneral_small.go) and Erf, running inside such a task, block in WaitToStart for more pool
// tasks without giving their own slot back. When all slots hold ops waiting for a slot, the
// process deadlocks. Reproduced here on 2 cores: 8 independent batched [8,512,256]×[8,256,512]
// matmuls in one graph hang forever with config "go". Two configs cannot deadlock:
//
//   - "parallelism=-1" means unlimited: WaitToStart just starts a goroutine and never blocks.
//     Every ready op runs at once, every batch example of a matmul gets a goroutine (and up to 2^8
//     recursive block splits each), so there are many goroutines and possibly more intermediate
//     buffers alive at once. simplego prints "SimpleGo backend: parallelism set to -1" on stdout
//     for it; New filters that line out (see withoutStdoutLine).
//   - "ops_sequential" runs the ops one after the other in the calling goroutine, which holds no
//     pool slot; the only tasks that then block in WaitToStart are started by that goroutine, and
//     those tasks only use the non-blocking StartIfAvailable, so it cannot deadlock. Each matmul
//     still uses up to NumCPU workers, but elementwise ops (simplego splits only matmuls and Erf) use one
//     core. It prints nothing.
//
// ("parallelism=0" disables all parallelism: ~2× slower.) Both ran the hanging graph, and an MLP
// forward+backward step from 3 goroutines at once, without trouble. BenchmarkGoConfig on 2 cores
// (go test -bench GoConfig ./xla), quiet machine, s/op:
//
//	                     matmuls    mlp_grad    peak RSS (mlp_grad)
//	go:parallelism=-1    0.30-0.34  2.9-3.6     1.1 GB
//	go:ops_sequential    0.43-0.59  4.5-6.4     0.6-1.1 GB
//
// Unlimited was ~30-45% faster, since it also runs independent elementwise ops in parallel, with
// no measurable memory cost here, so the goswift default runs its segments unlimited too
// (GoSwiftConfig). GoConfigSequential remains the choice for the tightest, most predictable
// memory (ops run in a fixed order and a buffer is freed after its last use). It is also what init puts in backends.DefaultConfig
// (BareGoConfig), because a bare backends.New() is not filtered and must stay silent on stdout.
// Options.GoConfig or $GOMLX_BACKEND override the default.
//
// # Device memory
//
// go-xla v0.1.4 has no Go API for a device's memory statistics (its C binding
// call_PJRT_Device_MemoryStats is generated but not wrapped, and GoMLX does not expose the PJRT
// client), so this package offers no device memory figures. Executable.GetMemoryStats (compiled
// program sizes) exists in go-xla but GoMLX does not expose its executables either.
//
// # Build tags
//
// With the noxla build tag, without cgo, or outside linux/amd64 and darwin, GoMLX's XLA backend
// is not linked (XLACompiled is false): "auto" always gives the CPU backend and "cuda" is an error.
package xla
