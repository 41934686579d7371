// Package qlora is QLoRA (Dettmers et al. 2023) as a GoSwift tuner: LoRA over a frozen base
// whose decoder-block projections are stored block-quantised (NF4 by default, with double
// quantisation of the scales; or int8) in the pinned layout of gomlx_ext/quant, and decoded in
// the graph just before each matmul.
//
// It is not a separate code path: the seam owns the variable, so QuantizedLinear replaces the
// base projection (the float32 "weight" variable gives way to "weight_nf4"/"weight_int8" and
// the scale variables, see the Var* constants) and plain LoRA wraps it. Quantise on load
// (QuantizeOnLoad, a models.LoadOptions.Store: peak memory ≈ packed model + largest tensor in
// float32) or on Attach (QuantizeInPlace). Merge dequantises every packed projection to float32
// and adds LoRA's delta there; Unmerge restores the packed bytes exactly.
//
// Importing the package registers the tuner as "qlora".
package qlora
