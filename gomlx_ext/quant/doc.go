// Package quant is block-wise weight quantisation for GoMLX: NF4 (4-bit NormalFloat, QLoRA) and
// int8, each with a plain Go reference quantiser/dequantiser (Quantize, Packed.Dequantize) and
// an in-graph dequantiser (Dequantize, MatMulTransposed) that rebuilds the float32 weight just
// before each matmul.
//
// # Packed layout (pinned: CPU kernels read it)
//
// A weight of dims [Out, In] (any dims: only the element count N matters) is flattened
// row-major and cut into blocks of BlockSize = 64 consecutive elements; the last block may be
// short. Each block b has a float32 scale absmax[b] = max |x| over the block.
//
//   - NF4: element i has the 4-bit code c = the index of the NF4Levels value nearest to
//     x/absmax (ties go to the lower index). Codes are packed two per byte, the FIRST element
//     in the HIGH nibble (bitsandbytes' order): byte j holds elements 2j (bits 7..4) and 2j+1
//     (bits 3..0); ceil(N/2) bytes; an odd N pads the last low nibble with 0. Decoding:
//     w = NF4Levels[c] · absmax[b], one float32 multiply. NF4Levels is bitsandbytes' table of
//     the 16 NormalFloat values (index 7 is exactly 0).
//   - Int8: element i has the int8 code q = round(127·x/absmax) in [-127, 127], one byte per
//     element (two's complement). Decoding: w = float32(q) · (absmax[b] / 127), where the
//     division is one float32 division per block.
//
// A block whose absmax is 0 has all codes 0.0 (NF4 code 7, int8 0).
//
// # Double quantisation of the scales (optional)
//
// The float32 absmaxes themselves can be quantised (QLoRA's "double quant"): their mean m
// (float32) is subtracted, and the centred values are cut into blocks of DQBlockSize = 256;
// block k has the float32 scale s[k] = max |absmax − m| and each absmax gets the uint8 code
// c = round(127·(absmax − m)/s[k]) + 128 in [1, 255]. Decoding:
// absmax = DQLevels[c] · s[k] + m (float32 multiply, then float32 add) with
// DQLevels[c] = float32((c − 128)/127). This is bitsandbytes' nested quantisation with a
// linear 256-entry code book (DQLevels), so it serialises as bitsandbytes' absmax (uint8),
// nested_absmax (= s), nested_quant_map (= DQLevels) and nested_offset (= m).
//
// Storage per parameter: NF4 0.5 + 4/64 = 0.5625 bytes; NF4 with double quantisation
// 0.5 + 1/64 + 4/(64·256) ≈ 0.5159 bytes (+ 4 bytes for the mean); int8 1 + 4/64 = 1.0625.
//
// # In the graph
//
// Dequantize decodes a Packed tensor's nodes to float32 with a Gather from a 256×2 table (one
// row per code byte: the levels of its high and low nibble: simplego has no bit shifts) and a
// broadcast multiply by the block scales — bit-identical to Packed.Dequantize.
//
// MatMulTransposed(x, w) is x·Wᵀ for a frozen quantised W: the gradient flows to x only
// (dx = dy·W), and the W used there is decoded again inside the gradient from the packed
// codes. Each decoding carries a data dependency on what it multiplies (x forward, dy backward):
// without it an eager executor (simplego) decodes every layer's float32 W as soon as the program
// starts — the codes are ready then — and keeps them all alive. With it the float32 W of a layer
// exists only around its own matmul.
package quant
