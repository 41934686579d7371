package models

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/weights"
)

// Checkpoint is an opened model checkpoint: its config and its tensors (read lazily).
type Checkpoint struct {
	Path    string
	Format  string // "hf" (config.json + safetensors) or "llama2c"
	Config  *Config
	Tensors weights.Source
}

// Close releases the checkpoint's files.
func (ck *Checkpoint) Close() error { return ck.Tensors.Close() }

// OpenCheckpoint opens a model: a directory in Hugging Face layout (config.json and
// model.safetensors, or shards with model.safetensors.index.json), a single .safetensors file
// with a config.json beside it, or a llama2.c checkpoint file.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, errors.Wrap(err, "opening model")
	}
	dir := path
	if !info.IsDir() {
		if !strings.HasSuffix(path, ".safetensors") {
			return openLlama2C(path)
		}
		dir = filepath.Dir(path)
	}
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var src weights.Source
	if info.IsDir() {
		src, err = weights.OpenDir(path)
	} else {
		src, err = weights.OpenSafetensors(path)
	}
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Path: path, Format: "hf", Config: cfg, Tensors: src}, nil
}

func openLlama2C(path string) (*Checkpoint, error) {
	l, err := weights.OpenLlama2C(path)
	if err != nil {
		return nil, err
	}
	cfg := ConfigFromLlama2C(l.Config)
	if err := cfg.Validate(); err != nil {
		_ = l.Close()
		return nil, errors.WithMessagef(err, "llama2.c checkpoint %s", path)
	}
	return &Checkpoint{Path: path, Format: "llama2c", Config: cfg, Tensors: l}, nil
}

// ConfigFromLlama2C maps a llama2.c header to a Config: interleaved RoPE with θ=10000,
// RMSNorm ε=1e-5, BOS 1 and EOS 2 (llama2.c's run.c).
func ConfigFromLlama2C(c weights.Llama2CConfig) *Config {
	headDim := 0
	if c.NHeads > 0 {
		headDim = c.Dim / c.NHeads
	}
	return &Config{
		ModelType: "llama", VocabSize: c.VocabSize, HiddenSize: c.Dim, IntermediateSize: c.HiddenDim,
		NumLayers: c.NLayers, NumHeads: c.NHeads, NumKVHeads: c.NKVHeads, HeadDim: headDim,
		RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: c.SharedClassifier,
		MaxPositions: c.SeqLen, BOSTokenID: 1, EOSTokenID: 2, RoPE: RoPEInterleaved,
	}
}

// ExpectedTensors lists every base tensor the config needs, with its dimensions.
func (c *Config) ExpectedTensors() map[string][]int {
	h, q, kv, ff := c.HiddenSize, c.QDim(), c.KVDim(), c.IntermediateSize
	out := map[string][]int{
		"model.embed_tokens.weight": {c.VocabSize, h},
		"model.norm.weight":         {h},
	}
	if !c.TieWordEmbeddings {
		out["lm_head.weight"] = []int{c.VocabSize, h}
	}
	for i := range c.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		out[p+"input_layernorm.weight"] = []int{h}
		out[p+"post_attention_layernorm.weight"] = []int{h}
		out[p+"self_attn.q_proj.weight"] = []int{q, h}
		out[p+"self_attn.k_proj.weight"] = []int{kv, h}
		out[p+"self_attn.v_proj.weight"] = []int{kv, h}
		out[p+"self_attn.o_proj.weight"] = []int{h, q}
		out[p+"mlp.gate_proj.weight"] = []int{ff, h}
		out[p+"mlp.up_proj.weight"] = []int{ff, h}
		out[p+"mlp.down_proj.weight"] = []int{h, ff}
		if c.AttentionBias {
			out[p+"self_attn.q_proj.bias"] = []int{q}
			out[p+"self_attn.k_proj.bias"] = []int{kv}
			out[p+"self_attn.v_proj.bias"] = []int{kv}
		}
	}
	return out
}

// ignorableTensor is a tensor some exporters write that carries no parameters.
func ignorableTensor(name string) bool {
	return strings.HasSuffix(name, "rotary_emb.inv_freq")
}

// LoadOptions tune LoadVariables.
type LoadOptions struct {
	// Store, when set, creates the variable(s) for one tensor instead of the default
	// float32 variable: QLoRA quantises here, one tensor at a time, so the float32 copy of
	// the whole model never exists. It returns handled=false to fall back to the default.
	Store func(ctx *context.Context, name string, dims []int, data []float32) (handled bool, err error)
	// DType stores the base weights as float32 (default) or bfloat16 (GPU training: bf16
	// weights and activations; adapters, optimizer state and the loss stay float32).
	DType dtypes.DType
}

// LoadVariables checks the checkpoint against its config (every tensor present with the right
// shape, nothing unexpected) and creates the model's variables in ctx, one tensor at a time.
func LoadVariables(ctx *context.Context, ck *Checkpoint, opts LoadOptions) error {
	expected := ck.Config.ExpectedTensors()
	var unexpected []string
	for _, name := range ck.Tensors.Names() {
		if _, ok := expected[name]; !ok && !ignorableTensor(name) {
			unexpected = append(unexpected, name)
		}
	}
	if ck.Config.TieWordEmbeddings && len(unexpected) == 1 && unexpected[0] == "lm_head.weight" {
		unexpected = nil // a tied model may still store the (identical) head; it is not used.
	}
	if len(unexpected) > 0 {
		return errors.Errorf("%s: tensors not used by a %s model with this config: %s",
			ck.Path, ck.Config.ModelType, strings.Join(unexpected, ", "))
	}
	names := make([]string, 0, len(expected))
	for name := range expected {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		dims := expected[name]
		info, ok := ck.Tensors.Info(name)
		if !ok {
			return errors.Errorf("%s: tensor %q is missing (config: %s)", ck.Path, name, ck.Config)
		}
		if !slices.Equal(info.Shape, dims) {
			return errors.Errorf("%s: tensor %q has shape %v, the config wants %v", ck.Path, name, info.Shape, dims)
		}
		data, err := ck.Tensors.ReadFloat32(name)
		if err != nil {
			return err
		}
		if err := StoreTensor(ctx, name, dims, data, opts); err != nil {
			return errors.WithMessagef(err, "%s: tensor %q", ck.Path, name)
		}
	}
	return nil
}

// StoreTensor creates the variable of a Hugging Face tensor name in ctx (through opts.Store when
// it handles the tensor), as float32 or opts.DType; a failure is an error, not a panic.
func StoreTensor(ctx *context.Context, name string, dims []int, data []float32, opts LoadOptions) (err error) {
	if opts.Store != nil {
		handled, err := opts.Store(ctx, name, dims, data)
		if err != nil || handled {
			return err
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("creating variable: %v", r)
		}
	}()
	scope, varName := SplitTensorName(name)
	var t *tensors.Tensor
	switch opts.DType {
	case dtypes.InvalidDType, dtypes.Float32:
		t = tensors.FromFlatDataAndDimensions(data, dims...)
	case dtypes.BFloat16:
		bf := make([]bfloat16.BFloat16, len(data))
		for i, x := range data {
			bf[i] = bfloat16.FromFloat32(x)
		}
		t = tensors.FromFlatDataAndDimensions(bf, dims...)
	default:
		return errors.Errorf("base weights dtype %s not supported (float32 or bfloat16)", opts.DType)
	}
	ctx.InAbsPath(scope).Checked(false).VariableWithValue(varName, t)
	return nil
}

// SplitTensorName maps "model.norm.weight" to scope "/model/norm" and variable "weight".
func SplitTensorName(name string) (scope, varName string) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "/", name
	}
	return PathToScope(name[:i]), name[i+1:]
}
