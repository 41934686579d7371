package models

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/weights"
)

// ToHalfRoPE turns a model built for interleaved RoPE (llama2.c) into the Hugging Face
// rotate-half layout in place: q/k projection rows (and biases) permuted as ExportTensors does
// on export, cfg.RoPE set to RoPEHalf. The model computes the same function; adapters trained
// afterwards are then in the layout every Hugging Face loader expects. Call it before attaching
// tuners and before compiling graphs (they are built for the old layout).
func ToHalfRoPE(ctx *context.Context, cfg *Config) error {
	if cfg.RoPE != RoPEInterleaved {
		return nil
	}
	for i := range cfg.NumLayers {
		for _, proj := range []string{"q_proj", "k_proj"} {
			heads := cfg.NumHeads
			if proj == "k_proj" {
				heads = cfg.NumKVHeads
			}
			for _, name := range []string{"weight", "bias"} {
				scope := PathToScope(fmt.Sprintf("model.layers.%d.self_attn.%s", i, proj))
				v := ctx.GetVariableByScopeAndName(scope, name)
				if v == nil {
					continue
				}
				if v.DType() != dtypes.Float32 {
					return errors.Errorf("%s is %s: converting the RoPE layout needs float32 weights", v.ScopeAndName(), v.DType())
				}
				dims := v.Shape().Dimensions
				cols := 1
				if len(dims) == 2 {
					cols = dims[1]
				}
				data, err := VariableFloat32(v)
				if err != nil {
					return err
				}
				if data, err = weights.PermuteRotaryInterleavedToHalf(data, heads, cols); err != nil {
					return errors.WithMessagef(err, "%s", v.ScopeAndName())
				}
				if err := v.SetValue(tensors.FromFlatDataAndDimensions(data, dims...)); err != nil {
					return errors.Wrapf(err, "%s", v.ScopeAndName())
				}
			}
		}
	}
	cfg.RoPE = RoPEHalf
	return nil
}
