package backend

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/goswift/goswift/kernels/gemm"
	"github.com/goswift/goswift/kernels/quantmm"
)

// NF4 weights decoded in the graph (gomlx_ext/quant.Dequantize: a Gather of each code byte's
// pair of levels from a constant [256, 2] table, reshaped to blocks of 64 and multiplied by the
// block scales) and fed to a DotGeneral are decoded inside the GEMM instead
// (kernels/quantmm's decoder): the DotGeneral reads the codes and the scales, and the float32
// weight is never built. The match is structural and checks the table's values; anything else
// is computed as recorded.

// nf4Match is a matched decoding: W [out, in] from codes (uint8, two per byte, first element
// in the high nibble) and per-block scales (float32, one per 64 elements).
type nf4Match struct {
	codes, scales *value
	out, in       int
}

// through skips Reshape (and BroadcastInDim when skipBroadcast) producers.
func through(v *value, ops ...string) *value {
	for {
		skip := false
		for _, op := range ops {
			skip = skip || v.n.op == op
		}
		if !skip || len(v.n.inputs) == 0 {
			return v
		}
		v = v.n.inputs[0]
	}
}

// matchNF4 recognises w (float32 [out, in]) as the decoding of NF4 codes.
func matchNF4(w *value) *nf4Match {
	if w.shape.DType != dtypes.Float32 || w.shape.Rank() != 2 {
		return nil
	}
	out, in := w.shape.Dimensions[0], w.shape.Dimensions[1]
	n := out * in
	nb := (n + quantmm.BlockSize - 1) / quantmm.BlockSize
	v := through(w, "Reshape")
	if v.n.op == "Slice" { // dropping the padding of the last block
		v = through(v.n.inputs[0], "Reshape")
	}
	if v.n.op != "Mul" || v.shape.Size() != nb*quantmm.BlockSize {
		return nil
	}
	for k := range 2 {
		levels := through(v.n.inputs[k], "Reshape")
		if levels.n.op == "Concatenate" { // padTo: levels then zeros
			levels = through(levels.n.inputs[0], "Reshape")
		}
		scales := through(v.n.inputs[1-k], "Reshape", "BroadcastInDim")
		if levels.n.op != "Gather" || scales.shape.DType != dtypes.Float32 || scales.shape.Size() != nb {
			continue
		}
		table, idx := levels.n.inputs[0], through(levels.n.inputs[1], "Reshape")
		if !isNF4PairTable(table) || idx.n.op != "ConvertDType" {
			continue
		}
		codes := idx.n.inputs[0]
		if codes.shape.DType != dtypes.Uint8 || codes.shape.Size() != (n+1)/2 ||
			levels.shape.Size() != 2*codes.shape.Size() {
			continue
		}
		return &nf4Match{codes: codes, scales: scales, out: out, in: in}
	}
	return nil
}

// isNF4PairTable tells whether v is the constant [256, 2] table of the levels of each code
// byte's high and low nibble.
func isNF4PairTable(v *value) bool {
	if v.n.op != "Constant" || !v.shape.Equal(shapes.Make(dtypes.Float32, 256, 2)) {
		return false
	}
	flat, ok := v.n.args[0].([]float32)
	if !ok {
		if rows, ok2 := v.n.args[0].([][]float32); ok2 && len(rows) == 256 {
			for b, r := range rows {
				if len(r) != 2 || r[0] != quantmm.NF4Levels[b>>4] || r[1] != quantmm.NF4Levels[b&15] {
					return false
				}
			}
			return true
		}
		return false
	}
	if len(flat) != 512 {
		return false
	}
	for b := range 256 {
		if flat[2*b] != quantmm.NF4Levels[b>>4] || flat[2*b+1] != quantmm.NF4Levels[b&15] {
			return false
		}
	}
	return true
}

// quantDotKernel is a DotGeneral whose rhs W [out, in] is decoded from NF4 codes while the
// GEMM packs it. Inputs: lhs, codes, scales.
type quantDotKernel struct {
	*dotKernel
	out, in int
}

func (k *quantDotKernel) name() string { return "gemm-nf4" }

func (k *quantDotKernel) run(b *Backend, in []backends.Buffer, _ []bool, outShapes []shapes.Shape) ([]backends.Buffer, error) {
	be := b.Backend
	flats := make([]any, 3)
	for i := range flats {
		f, err := be.BufferData(in[i])
		if err != nil {
			return nil, err
		}
		flats[i] = f
	}
	w := &quantmm.Weight{Mode: quantmm.NF4, Out: k.out, In: k.in, Codes: flats[1].([]uint8), Scales: flats[2].([]float32)}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	out, flat, err := be.NewSharedBuffer(0, outShapes[0])
	if err != nil {
		return nil, err
	}
	d := k.dims
	bm := gemm.DecodedMatrix{Src: w, BatchStride: k.b.bs, RowStride: k.b.rs, ColStride: k.b.cs}
	if err := gemm.Float32Decoded(d, matrix(flats[0].([]float32), k.a, d.M, d.K), bm, flat.([]float32)); err != nil {
		_ = be.BufferFinalize(out)
		return nil, err
	}
	return []backends.Buffer{out}, nil
}
