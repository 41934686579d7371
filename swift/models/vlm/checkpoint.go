package vlm

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/weights"
)

// The language model's tensor prefixes in LLaVA checkpoints: transformers < 4.52 wrote
// "language_model.model.*" and "language_model.lm_head.*"; later versions write
// "model.language_model.*", "lm_head.*", "model.vision_tower.*" and
// "model.multi_modal_projector.*". Save writes the first; Load reads both.
const lmPrefix = "language_model."

// canonicalName maps a checkpoint tensor name to the context's name: the language model's
// without prefix, the vision parts under VisionPrefix / ProjectorPrefix. ok is false for a
// name in neither layout.
func canonicalName(name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, lmPrefix):
		return strings.TrimPrefix(name, lmPrefix), true
	case strings.HasPrefix(name, "model.language_model."):
		return "model." + strings.TrimPrefix(name, "model.language_model."), true
	case strings.HasPrefix(name, "model.vision_tower.") || strings.HasPrefix(name, "model.multi_modal_projector."):
		return strings.TrimPrefix(name, "model."), true
	case strings.HasPrefix(name, "vision_tower.") || strings.HasPrefix(name, ProjectorPrefix+"."):
		return name, true
	case name == "lm_head.weight":
		return name, true
	}
	return "", false
}

// Checkpoint is an opened LLaVA-style checkpoint.
type Checkpoint struct {
	Path   string
	Config *Config
	src    weights.Source
	byName map[string]string // canonical name -> file name
}

// Close releases the files.
func (ck *Checkpoint) Close() error { return ck.src.Close() }

// Open opens a LLaVA-style checkpoint directory (config.json + model.safetensors or shards).
func Open(dir string) (*Checkpoint, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, errors.Wrap(err, "opening vision-language model")
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, errors.WithMessagef(err, "%s", filepath.Join(dir, "config.json"))
	}
	src, err := weights.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Path: dir, Config: cfg, src: src, byName: map[string]string{}}
	for _, name := range src.Names() {
		c, ok := canonicalName(name)
		if !ok {
			src.Close()
			return nil, errors.Errorf("%s: tensor %q is neither language_model.*, vision_tower.* nor multi_modal_projector.*", dir, name)
		}
		if prev, dup := ck.byName[c]; dup {
			src.Close()
			return nil, errors.Errorf("%s: tensors %q and %q are the same weight in two layouts", dir, prev, name)
		}
		ck.byName[c] = name
	}
	return ck, nil
}

// Names implements weights.Source over the canonical names.
func (ck *Checkpoint) Names() []string {
	out := make([]string, 0, len(ck.byName))
	for n := range ck.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Info implements weights.Source.
func (ck *Checkpoint) Info(name string) (weights.TensorInfo, bool) {
	f, ok := ck.byName[name]
	if !ok {
		return weights.TensorInfo{}, false
	}
	return ck.src.Info(f)
}

// ReadFloat32 implements weights.Source.
func (ck *Checkpoint) ReadFloat32(name string) ([]float32, error) {
	f, ok := ck.byName[name]
	if !ok {
		return nil, errors.Errorf("%s: tensor %q is missing", ck.Path, name)
	}
	return ck.src.ReadFloat32(f)
}

// textView is the checkpoint restricted to the language model's tensors.
type textView struct{ *Checkpoint }

func (t textView) Names() []string {
	var out []string
	for _, n := range t.Checkpoint.Names() {
		if !isVisionName(n) {
			out = append(out, n)
		}
	}
	return out
}

func isVisionName(n string) bool {
	return strings.HasPrefix(n, "vision_tower.") || strings.HasPrefix(n, ProjectorPrefix+".")
}

// LoadVariables creates every variable of the model in ctx: the language model through
// models.LoadVariables (checked against its config, opts applying), the vision tower and
// projector checked against cfg.ExpectedTensors.
func LoadVariables(ctx *context.Context, ck *Checkpoint, opts models.LoadOptions) error {
	text := &models.Checkpoint{Path: ck.Path, Format: "hf", Config: ck.Config.Text, Tensors: textView{ck}}
	if err := models.LoadVariables(ctx, text, opts); err != nil {
		return err
	}
	expected := ck.Config.ExpectedTensors()
	for _, n := range ck.Names() {
		if _, ok := expected[n]; isVisionName(n) && !ok {
			return errors.Errorf("%s: tensor %q is not part of this vision tower (config: %s)", ck.Path, ck.byName[n], ck.Config)
		}
	}
	for _, name := range sortedKeys(expected) {
		dims := expected[name]
		info, ok := ck.Info(name)
		if !ok {
			return errors.Errorf("%s: tensor %q is missing (config: %s)", ck.Path, name, ck.Config)
		}
		if !slices.Equal(info.Shape, dims) {
			return errors.Errorf("%s: tensor %q has shape %v, the config wants %v", ck.Path, ck.byName[name], info.Shape, dims)
		}
		data, err := ck.ReadFloat32(name)
		if err != nil {
			return err
		}
		if err := models.StoreTensor(ctx, name, dims, data, models.LoadOptions{}); err != nil {
			return errors.WithMessagef(err, "%s: tensor %q", ck.Path, name)
		}
	}
	return nil
}

func sortedKeys(m map[string][]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// InitVision creates the vision tower's and projector's variables with seeded random values, as
// freshly built PyTorch modules would have them: weights uniform in ±1/√fan_in (nn.Linear's and
// nn.Conv2d's default), position embeddings normal σ=0.02, LayerNorm weights ones, biases zeros.
// Training starts from scratch, since no pretrained tower exists offline; the fan-in scaling
// keeps the projected features at the scale of the text embeddings they sit beside, which
// σ=0.02 would shrink by an order of magnitude on a narrow model.
func InitVision(ctx *context.Context, cfg *Config, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	expected := cfg.ExpectedTensors()
	for _, name := range sortedKeys(expected) {
		dims := expected[name]
		size := 1
		for _, d := range dims {
			size *= d
		}
		data := make([]float32, size)
		switch {
		case strings.Contains(name, "layer_norm") || strings.Contains(name, "layernorm"):
			if strings.HasSuffix(name, ".weight") {
				for i := range data {
					data[i] = 1
				}
			}
		case strings.HasSuffix(name, ".bias"):
		case strings.Contains(name, "position_embedding"):
			for i := range data {
				data[i] = float32(rng.NormFloat64() * 0.02)
			}
		default:
			bound := 1 / math.Sqrt(float64(size/dims[0])) // fan-in: every dimension but the first
			for i := range data {
				data[i] = float32((2*rng.Float64() - 1) * bound)
			}
		}
		if err := models.StoreTensor(ctx, name, dims, data, models.LoadOptions{}); err != nil {
			return errors.WithMessagef(err, "init %q", name)
		}
	}
	return nil
}

// Save writes the model in Hugging Face LLaVA layout into dir: config.json, model.safetensors
// (the language model under "language_model.", q/k rows in the HF rotary layout) and
// preprocessor_config.json, each written atomically.
func Save(dir string, ctx *context.Context, cfg *Config, dtype weights.DType) error {
	ts, err := models.ExportTensors(ctx, cfg.Text, dtype)
	if err != nil {
		return err
	}
	for i := range ts {
		ts[i].Name = lmPrefix + ts[i].Name
	}
	expected := cfg.ExpectedTensors()
	for _, name := range sortedKeys(expected) {
		scope, v := models.SplitTensorName(name)
		vv := ctx.GetVariableByScopeAndName(scope, v)
		if vv == nil {
			return errors.Errorf("save: variable for tensor %q is missing", name)
		}
		data, err := models.VariableFloat32(vv)
		if err != nil {
			return errors.WithMessagef(err, "save %q", name)
		}
		ts = append(ts, weights.Tensor{Name: name, Shape: expected[name], DType: dtype, Data: data})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	cfgJSON, err := cfg.JSON()
	if err != nil {
		return errors.Wrap(err, "encoding config.json")
	}
	if err := weights.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "preprocessor_config.json"), preprocessorJSON(cfg)); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, "config.json"), cfgJSON)
}
