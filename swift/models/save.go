package models

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/weights"
)

// ExportTensors reads the base model's variables from ctx under their Hugging Face names, in
// the HF layout: a model built for interleaved RoPE (llama2.c) has its q/k projection rows
// permuted to the half-rotation layout, as transformers' conversion script does, so the result
// is a plain HF Llama checkpoint.
func ExportTensors(ctx *context.Context, cfg *Config, dtype weights.DType) ([]weights.Tensor, error) {
	expected := cfg.ExpectedTensors()
	names := make([]string, 0, len(expected))
	for n := range expected {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]weights.Tensor, 0, len(names))
	for _, name := range names {
		scope, varName := SplitTensorName(name)
		v := ctx.GetVariableByScopeAndName(scope, varName)
		if v == nil {
			return nil, errors.Errorf("export: variable for tensor %q is missing", name)
		}
		data, err := VariableFloat32(v)
		if err != nil {
			return nil, errors.WithMessagef(err, "export %q", name)
		}
		if cfg.RoPE == RoPEInterleaved && (strings.HasSuffix(name, "q_proj.weight") || strings.HasSuffix(name, "k_proj.weight") ||
			strings.HasSuffix(name, "q_proj.bias") || strings.HasSuffix(name, "k_proj.bias")) {
			cols := 1
			if dims := expected[name]; len(dims) == 2 {
				cols = dims[1]
			}
			if data, err = weights.PermuteRotaryInterleavedToHalf(data, expected[name][0]/cfg.HeadDim, cols); err != nil {
				return nil, errors.WithMessagef(err, "export %q", name)
			}
		}
		out = append(out, weights.Tensor{Name: name, Shape: expected[name], DType: dtype, Data: data})
	}
	return out, nil
}

// VariableFloat32 copies a float32 or bfloat16 variable's value as float32.
func VariableFloat32(v *context.Variable) ([]float32, error) {
	t, err := v.Value()
	if err != nil {
		return nil, errors.Wrapf(err, "reading %s", v.ScopeAndName())
	}
	switch v.DType() {
	case dtypes.Float32:
		return tensors.CopyFlatData[float32](t)
	case dtypes.BFloat16:
		bf, err := tensors.CopyFlatData[bfloat16.BFloat16](t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(bf))
		for i, x := range bf {
			out[i] = x.Float32()
		}
		return out, nil
	}
	return nil, errors.Errorf("%s has dtype %s, not float32 or bfloat16", v.ScopeAndName(), v.DType())
}

// SaveHF writes the model in Hugging Face layout into dir: config.json and model.safetensors
// (both written atomically), stored as dtype (F32, BF16 or F16).
func SaveHF(dir string, ctx *context.Context, cfg *Config, dtype weights.DType) error {
	ts, err := ExportTensors(ctx, cfg, dtype)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	exported := *cfg
	exported.RoPE = RoPEHalf
	cfgJSON, err := exported.JSON()
	if err != nil {
		return errors.Wrap(err, "encoding config.json")
	}
	if err := weights.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts,
		map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, "config.json"), cfgJSON)
}

// InitRandom creates the model's variables in ctx with seeded random values (normal, σ=0.02
// for matrices as in transformers' init; ones for norms; zeros for biases): for speed and
// memory benchmarks of real architectures' shapes without their weights.
func InitRandom(ctx *context.Context, cfg *Config, seed uint64) error {
	return InitRandomAs(ctx, cfg, seed, LoadOptions{})
}

// InitRandomAs is InitRandom storing the weights as opts says (e.g. bfloat16).
func InitRandomAs(ctx *context.Context, cfg *Config, seed uint64, opts LoadOptions) error {
	expected := cfg.ExpectedTensors()
	names := make([]string, 0, len(expected))
	for n := range expected {
		names = append(names, n)
	}
	sort.Strings(names)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, name := range names {
		dims := expected[name]
		size := 1
		for _, d := range dims {
			size *= d
		}
		data := make([]float32, size)
		switch {
		case strings.HasSuffix(name, "norm.weight"):
			for i := range data {
				data[i] = 1
			}
		case strings.HasSuffix(name, ".bias"):
		default:
			for i := range data {
				data[i] = float32(rng.NormFloat64() * 0.02)
			}
		}
		if err := StoreTensor(ctx, name, dims, data, opts); err != nil {
			return errors.WithMessagef(err, "init %q", name)
		}
	}
	return nil
}
