package tuners

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/weights"
)

// Adapter file names inside an adapter directory.
const (
	AdapterConfigFile  = "adapter_config.json"
	AdapterWeightsFile = "adapter_model.safetensors"
)

// adapterConfig is the adapter_config.json GoSwift writes.
type adapterConfig struct {
	Tuner  string          `json:"tuner"`
	Config json.RawMessage `json:"config"`
	// BaseModel records what the adapter was trained on (informational).
	BaseModel string `json:"base_model,omitempty"`
}

// AdapterTensorName names a variable in an adapter file: the tuner's own variables relative to
// its scope ("model.layers.0.self_attn.q_proj.lora_A"), trained base variables by their
// Hugging Face name.
func AdapterTensorName(t Tuner, v *context.Variable) string {
	if InScope(v, t.Scope()) {
		rel := strings.TrimPrefix(v.Scope(), t.Scope())
		return models.TensorName(rel, v.Name())
	}
	return models.TensorName(v.Scope(), v.Name())
}

// adapterVariables are the variables an adapter file holds: the tuner's scope, plus base
// variables it trains (full fine-tuning, freeze, LISA).
func adapterVariables(ctx *context.Context, t Tuner) []*context.Variable {
	var out []*context.Variable
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Name(), "#") {
			continue // tuner state (e.g. merged flag), not weights
		}
		if InScope(v, t.Scope()) || (t.Trainable(v) && IsBase(v)) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ScopeAndName() < out[j].ScopeAndName() })
	return out
}

// IsBase reports whether v is one of the base model's weights (scopes /model and /lm_head).
func IsBase(v *context.Variable) bool {
	return models.IsBaseScope(v.Scope())
}

// SaveAdapter writes the tuner's weights (adapter_model.safetensors, float32) and its config
// (adapter_config.json) into dir, each file atomically.
func SaveAdapter(dir string, ctx *context.Context, t Tuner, baseModel string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating adapter directory %s", dir)
	}
	var ts []weights.Tensor
	for _, v := range adapterVariables(ctx, t) {
		val, err := v.Value()
		if err != nil {
			return errors.Wrapf(err, "saving adapter: variable %s", v.ScopeAndName())
		}
		data, err := tensors.CopyFlatData[float32](val)
		if err != nil {
			return errors.Wrapf(err, "saving adapter: variable %s is not float32", v.ScopeAndName())
		}
		ts = append(ts, weights.Tensor{Name: AdapterTensorName(t, v), Shape: v.Shape().Dimensions, Data: data})
	}
	if len(ts) == 0 {
		return errors.Errorf("saving adapter: tuner %q has no variables (not attached?)", t.Name())
	}
	cfgJSON, err := json.Marshal(t.Config())
	if err != nil {
		return errors.Wrap(err, "saving adapter config")
	}
	ac, err := json.MarshalIndent(adapterConfig{Tuner: t.Name(), Config: cfgJSON, BaseModel: baseModel}, "", "  ")
	if err != nil {
		return errors.Wrap(err, "saving adapter config")
	}
	if err := weights.WriteSafetensors(filepath.Join(dir, AdapterWeightsFile), ts,
		map[string]string{"format": "pt", "goswift_tuner": t.Name()}); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, AdapterConfigFile), ac)
}

// ReadAdapterConfig reads an adapter directory's config: the tuner's name and its config.
func ReadAdapterConfig(dir string) (string, Config, error) {
	path := filepath.Join(dir, AdapterConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, errors.Wrap(err, "reading adapter")
	}
	var ac adapterConfig
	if err := json.Unmarshal(data, &ac); err != nil {
		return "", nil, errors.Wrapf(err, "%s", path)
	}
	if ac.Tuner == "" {
		return "", nil, errors.Errorf("%s: no \"tuner\" field (not a GoSwift adapter)", path)
	}
	cfg, err := ParseConfig(ac.Tuner, ac.Config)
	if err != nil {
		return "", nil, errors.WithMessagef(err, "%s", path)
	}
	return ac.Tuner, cfg, nil
}

// AdapterFormat is a foreign adapter layout that LoadAdapter also reads (Hugging Face PEFT's,
// registered by swift/tuners/peft).
type AdapterFormat struct {
	Name string
	// Detect reports whether dir holds an adapter in this format.
	Detect func(dir string) bool
	// Load attaches and loads it, like LoadAdapter.
	Load func(dir string, ctx *context.Context, m *models.Model) (Tuner, error)
}

var adapterFormats []AdapterFormat

// RegisterAdapterFormat adds a foreign adapter format to LoadAdapter (call it from init).
func RegisterAdapterFormat(f AdapterFormat) {
	registryMu.Lock()
	defer registryMu.Unlock()
	adapterFormats = append(adapterFormats, f)
}

// LoadAdapter attaches the adapter saved in dir to model m (whose base variables are in ctx)
// and loads its weights: every tensor must match a variable of the attached tuner, and every
// variable must be in the file. A directory in a registered foreign format (PEFT) is loaded by
// that format.
func LoadAdapter(dir string, ctx *context.Context, m *models.Model) (Tuner, error) {
	registryMu.RLock()
	formats := adapterFormats
	registryMu.RUnlock()
	for _, f := range formats {
		if f.Detect(dir) {
			t, err := f.Load(dir, ctx, m)
			return t, errors.WithMessagef(err, "%s adapter %s", f.Name, dir)
		}
	}
	_, cfg, err := ReadAdapterConfig(dir)
	if err != nil {
		return nil, err
	}
	t, err := BuildAndAttach(cfg, ctx, m)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, AdapterWeightsFile)
	src, err := weights.OpenSafetensors(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	vars := adapterVariables(ctx, t)
	want := make(map[string]*context.Variable, len(vars))
	for _, v := range vars {
		want[AdapterTensorName(t, v)] = v
	}
	for _, name := range src.Names() {
		if _, ok := want[name]; !ok {
			return nil, errors.Errorf("%s: tensor %q is not a variable of tuner %q on this model", path, name, t.Name())
		}
	}
	for name, v := range want {
		info, ok := src.Info(name)
		if !ok {
			return nil, errors.Errorf("%s: tensor %q is missing", path, name)
		}
		if !slices.Equal(info.Shape, v.Shape().Dimensions) {
			return nil, errors.Errorf("%s: tensor %q has shape %v, the model wants %v", path, name, info.Shape, v.Shape().Dimensions)
		}
		data, err := src.ReadFloat32(name)
		if err != nil {
			return nil, err
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(data, info.Shape...)); err != nil {
			return nil, errors.Wrapf(err, "%s: setting %q", path, name)
		}
	}
	return t, nil
}
