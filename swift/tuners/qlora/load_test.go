package qlora_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/swift/weights"
)

// roundTrip is what a checkpoint stored in dtype holds for x, read back as float32 (an
// independent conversion through the weights package's bit-level codecs).
func roundTrip(dtype weights.DType, x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		switch dtype {
		case weights.BF16:
			out[i] = weights.BF16ToFloat32(weights.Float32ToBF16(v))
		case weights.F16:
			out[i] = weights.F16ToFloat32(weights.Float32ToF16(v))
		default:
			out[i] = v
		}
	}
	return out
}

// samePacked reports the first difference between two packed tensors ("" when identical).
func samePacked(got, want *quant.Packed) string {
	switch {
	case got.Mode != want.Mode || !slices.Equal(got.Dims, want.Dims):
		return fmt.Sprintf("mode/dims %s %v, want %s %v", got.Mode, got.Dims, want.Mode, want.Dims)
	case !slices.Equal(got.Codes, want.Codes):
		return "codes differ"
	case !slices.Equal(got.Absmax, want.Absmax):
		return "absmax differs"
	case !slices.Equal(got.AbsmaxCodes, want.AbsmaxCodes):
		return "absmax codes differ"
	case !slices.Equal(got.AbsmaxScale, want.AbsmaxScale):
		return "absmax scales differ"
	case got.AbsmaxMean != want.AbsmaxMean:
		return fmt.Sprintf("absmax mean %g, want %g", got.AbsmaxMean, want.AbsmaxMean)
	}
	return ""
}

// TestQuantizeOnLoadDTypes: a checkpoint written by models.SaveHF in F32, BF16 or F16 and loaded
// with QuantizeOnLoad holds, for every block projection, exactly quant.Quantize of the
// checkpoint's values converted to float32 (no float32 "weight" variable left beside it), in
// NF4 with double quantisation and in int8; the tensors it does not quantise (embeddings,
// norms) load as those float32 values.
func TestQuantizeOnLoadDTypes(t *testing.T) {
	cfg := &models.Config{ModelType: "llama", VocabSize: 96, HiddenSize: 64, IntermediateSize: 160, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 16, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositions: 64}
	src := context.New()
	if err := models.InitRandom(src, cfg, 5); err != nil {
		t.Fatal(err)
	}
	m := models.New(cfg)
	value := func(ctx *context.Context, scope, name string) []float32 {
		v := ctx.GetVariableByScopeAndName(scope, name)
		if v == nil {
			t.Fatalf("variable %s/%s missing", scope, name)
		}
		return tensors.MustCopyFlatData[float32](v.MustValue())
	}
	for _, dtype := range []weights.DType{weights.F32, weights.BF16, weights.F16} {
		dir := t.TempDir()
		if err := models.SaveHF(dir, src, cfg, dtype); err != nil {
			t.Fatalf("saving %s: %+v", dtype, err)
		}
		for _, q := range []qlora.Quantization{{Mode: quant.NF4, DoubleQuant: true}, {Mode: quant.Int8}} {
			t.Run(fmt.Sprintf("%s/%s/dq=%v", dtype, q.Mode, q.DoubleQuant), func(t *testing.T) {
				ck, err := models.OpenCheckpoint(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer ck.Close()
				ctx := context.New()
				if err := models.LoadVariables(ctx, ck, models.LoadOptions{Store: qlora.QuantizeOnLoad(q)}); err != nil {
					t.Fatalf("%+v", err)
				}
				quantised, sensitive := 0, false
				for _, spec := range m.LinearSpecs() {
					name := spec.Path + ".weight"
					if !qlora.IsQuantizable(name) {
						continue
					}
					if info, ok := ck.Tensors.Info(name); !ok || info.DType != dtype {
						t.Fatalf("%s: stored as %v (found %v), want %s", name, info.DType, ok, dtype)
					}
					if ctx.GetVariableByScopeAndName(spec.Scope(), "weight") != nil {
						t.Fatalf("%s: a float32 weight was created beside the packed one", name)
					}
					got, err := qlora.ReadPacked(ctx, spec.Scope(), []int{spec.Out, spec.In})
					if err != nil {
						t.Fatalf("%+v", err)
					}
					data := roundTrip(dtype, value(src, spec.Scope(), "weight"))
					want, err := quant.Quantize(data, []int{spec.Out, spec.In}, q.Mode, q.DoubleQuant)
					if err != nil {
						t.Fatal(err)
					}
					if diff := samePacked(got, want); diff != "" {
						t.Fatalf("%s: packed on load vs quant.Quantize of the %s values: %s", name, dtype, diff)
					}
					// The test tells the dtypes apart only if the rounding changes some packed bytes.
					if raw, err := quant.Quantize(value(src, spec.Scope(), "weight"), []int{spec.Out, spec.In}, q.Mode, q.DoubleQuant); err == nil &&
						samePacked(raw, want) != "" {
						sensitive = true
					}
					quantised++
				}
				if sensitive != (dtype != weights.F32) {
					t.Fatalf("quantising the unrounded float32 weights gives different packed bytes: %v, want %v", sensitive, dtype != weights.F32)
				}
				if want := 7 * cfg.NumLayers; quantised != want {
					t.Fatalf("%d projections quantised, want %d", quantised, want)
				}
				for _, name := range []string{"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.norm.weight"} {
					scope, vn := models.SplitTensorName(name)
					if got, want := value(ctx, scope, vn), roundTrip(dtype, value(src, scope, vn)); !slices.Equal(got, want) {
						t.Fatalf("%s: loaded values differ from the %s checkpoint's", name, dtype)
					}
				}
			})
		}
	}
}
