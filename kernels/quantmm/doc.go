// Package quantmm is the fused dequantise + matmul of QLoRA's frozen base weights: y = x·Wᵀ
// for W [Out, In] stored block-quantised (NF4 or int8) in gomlx_ext/quant's pinned layout —
// W flattened row-major in blocks of 64 elements, one float32 absmax per block; NF4 codes two
// per byte with the first element in the high nibble (bitsandbytes' order), decoded as
// NF4Levels[code]·absmax; int8 codes decoded as float32(code)·(absmax/127). Double-quantised
// scales are decoded once beforehand (quant.Packed.BlockAbsmax) and passed as Weight.Scales.
//
// MatMulT never builds the float32 W: kernels/gemm decodes W's elements while it packs them
// (a Decoder), and products with a few rows (token-by-token decoding) decode one row of W at a
// time into a scratch buffer for a dot product, so they read 0.56 (NF4) or 1.06 (int8) bytes
// per weight instead of 4. The decoded values are bit-identical to quant.Packed.Dequantize.
//
// Reference (dequantise, then a float64 matmul) is the plain definition it is tested against;
// BenchmarkNF4 compares it with dequantise-then-GEMM.
package quantmm
