// Package backend is the "goswift" GoMLX backend: GoMLX's pure Go simplego backend with the hot
// ops of every graph handed to GoSwift's CPU kernels — every float32/bfloat16 DotGeneral to
// kernels/gemm (decoding NF4 weights itself when the graph decodes them for it), large float32
// element-wise, reduction and data-movement ops to kernels/elementwise, and the softmax /
// cross-entropy row patterns to fused row kernels. See the kernels package documentation for
// the design (recording builder generated from GoMLX's interfaces, routing, fusions,
// level-based cutting of graphs into simplego segments and kernel calls, buffer lifetimes,
// determinism).
//
// Importing the package registers the backend: GOMLX_BACKEND="goswift[:options]" selects it.
// Options (comma separated): "nokernels" (route nothing: the graph runs whole on simplego),
// "dotmin=N" (only DotGenerals of at least N multiply-adds go to the GEMM kernel; default 0,
// all), "ewmin=N" (smallest output of an element-wise op given to a kernel; default 2^17); any
// other option is simplego's ("parallelism=-1", "ops_sequential", ...).
//
// Debugging: GOSWIFT_KERNELS_DEBUG=1 prints at each Compile the ops of the graph with outputs of
// 100k elements or more, marked with the kernel that runs them (=2: every such node with its
// inputs; =3: every node); Backend.EnableProfile and Backend.Profile give the time spent per
// kernel (and output shape) and in the simplego segments.
package backend
