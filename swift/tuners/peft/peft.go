package peft

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/dora"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/weights"
)

// File names of a PEFT adapter directory (PEFT's CONFIG_NAME and SAFETENSORS_WEIGHTS_NAME).
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// Prefix is what PEFT puts before a module's name in a saved LoRA adapter of a causal LM
// (PeftModelForCausalLM.base_model = LoraModel, whose .model is the transformers model).
const Prefix = "base_model.model."

// Config is the adapter_config.json of a PEFT LoRA adapter: the keys PEFT's LoraConfig writes
// that GoSwift can honour.
type Config struct {
	PeftType          string          `json:"peft_type"`
	TaskType          string          `json:"task_type"`
	BaseModel         string          `json:"base_model_name_or_path"`
	Revision          *string         `json:"revision"`
	InferenceMode     bool            `json:"inference_mode"`
	R                 int             `json:"r"`
	LoraAlpha         float64         `json:"lora_alpha"`
	LoraDropout       float64         `json:"lora_dropout"`
	TargetModules     json.RawMessage `json:"target_modules"` // a list of module names, or a full-match regex string
	UseRSLoRA         bool            `json:"use_rslora"`
	UseDoRA           bool            `json:"use_dora"`
	Bias              string          `json:"bias"`
	FanInFanOut       bool            `json:"fan_in_fan_out"`
	InitLoraWeights   bool            `json:"init_lora_weights"`
	ModulesToSave     []string        `json:"modules_to_save"`
	LayersToTransform json.RawMessage `json:"layers_to_transform"`
	LayersPattern     json.RawMessage `json:"layers_pattern"`
	RankPattern       map[string]any  `json:"rank_pattern"`
	AlphaPattern      map[string]any  `json:"alpha_pattern"`
}

func init() {
	tuners.RegisterAdapterFormat(tuners.AdapterFormat{Name: "PEFT", Detect: IsPEFT, Load: Load})
}

// IsPEFT reports whether dir holds a PEFT adapter (an adapter_config.json with a peft_type).
func IsPEFT(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return false
	}
	var probe struct {
		PeftType string `json:"peft_type"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.PeftType != ""
}

// family returns t's LoRA-family view (looking through modifiers).
func family(t tuners.Tuner) (lora.Family, error) {
	f, ok := tuners.Unwrap(t).(lora.Family)
	if !ok {
		return nil, errors.Errorf("peft: tuner %q has no PEFT LoRA form (PEFT export covers lora, qlora and dora; "+
			"use a merged export for the others)", t.Name())
	}
	return f, nil
}

// rotaryHeads returns, for a model with interleaved RoPE (llama2.c), the number of heads of a
// q/k projection whose output rows must be permuted to Hugging Face's rotate-half order; 0 for
// any other projection or model.
func rotaryHeads(cfg *models.Config, spec models.LinearSpec) int {
	if cfg.RoPE != models.RoPEInterleaved {
		return 0
	}
	switch spec.Name {
	case "q_proj":
		return cfg.NumHeads
	case "k_proj":
		return cfg.NumKVHeads
	}
	return 0
}

// TensorNames returns the PEFT tensor names of a projection's adapter weights.
func TensorNames(path string) (a, b, magnitude string) {
	p := Prefix + path
	return p + ".lora_A.weight", p + ".lora_B.weight", p + "." + dora.MagnitudeVar
}

// targetModules writes the target set the way PEFT reads it: the list of module names when the
// targets are exactly every projection with those names, otherwise a regex that full-matches
// exactly the targeted paths.
func targetModules(m *models.Model, targets []string) json.RawMessage {
	names := map[string]bool{}
	byPath := map[string]models.LinearSpec{}
	for _, s := range m.LinearSpecs() {
		byPath[s.Path] = s
	}
	for _, p := range targets {
		names[byPath[p].Name] = true
	}
	complete := true
	for _, s := range m.LinearSpecs() {
		if names[s.Name] && !slices.Contains(targets, s.Path) {
			complete = false
		}
	}
	if complete {
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		js, _ := json.Marshal(list)
		return js
	}
	quoted := make([]string, len(targets))
	for i, p := range targets {
		quoted[i] = regexp.QuoteMeta(p)
	}
	js, _ := json.Marshal(strings.Join(quoted, "|"))
	return js
}

// Save writes the LoRA-family tuner t (lora, qlora, dora; rsLoRA included; LoRA+ is a training
// setting PEFT does not record) attached to m as a Hugging Face PEFT LoRA adapter in dir:
// adapter_config.json (peft_type LORA) and adapter_model.safetensors with PEFT's tensor names
// ("base_model.model.<module>.lora_A.weight" [r, in], "lora_B.weight" [out, r], and for DoRA
// "lora_magnitude_vector" [out]). For a model with interleaved RoPE (llama2.c) the output rows
// of q_proj/k_proj lora_B (and magnitude) are permuted to the rotate-half order, matching the
// base exported by models.SaveHF. Each file is written atomically.
func Save(dir string, ctx *context.Context, t tuners.Tuner, m *models.Model, baseModel string) error {
	f, err := family(t)
	if err != nil {
		return err
	}
	c := f.LoRAConfig()
	specs := map[string]models.LinearSpec{}
	for _, s := range m.LinearSpecs() {
		specs[s.Path] = s
	}
	var ts []weights.Tensor
	read := func(scope, name string) ([]float32, []int, error) {
		v := ctx.GetVariableByScopeAndName(scope, name)
		if v == nil {
			return nil, nil, errors.Errorf("peft: variable %s/%s is missing (tuner not attached?)", scope, name)
		}
		data, err := tensors.CopyFlatData[float32](v.MustValue())
		return data, v.Shape().Dimensions, errors.Wrapf(err, "peft: %s/%s", scope, name)
	}
	for _, path := range f.Targets() {
		spec, ok := specs[path]
		if !ok {
			return errors.Errorf("peft: target %s is not a projection of the model", path)
		}
		scope := f.VarScope() + spec.Scope()
		an, bn, mn := TensorNames(path)
		a, aDims, err := read(scope, "lora_A")
		if err != nil {
			return err
		}
		b, bDims, err := read(scope, "lora_B")
		if err != nil {
			return err
		}
		heads := rotaryHeads(m.Config, spec)
		if heads > 0 {
			if b, err = weights.PermuteRotaryInterleavedToHalf(b, heads, c.Rank); err != nil {
				return errors.WithMessagef(err, "peft: %s", bn)
			}
		}
		ts = append(ts, weights.Tensor{Name: an, Shape: aDims, Data: a}, weights.Tensor{Name: bn, Shape: bDims, Data: b})
		if f.UsesDoRA() {
			mag, mDims, err := read(scope, dora.MagnitudeVar)
			if err != nil {
				return err
			}
			if heads > 0 {
				if mag, err = weights.PermuteRotaryInterleavedToHalf(mag, heads, 1); err != nil {
					return errors.WithMessagef(err, "peft: %s", mn)
				}
			}
			ts = append(ts, weights.Tensor{Name: mn, Shape: mDims, Data: mag})
		}
	}
	if len(ts) == 0 {
		return errors.New("peft: the tuner has no adapted projection")
	}
	pc := Config{PeftType: "LORA", TaskType: "CAUSAL_LM", BaseModel: baseModel, InferenceMode: true,
		R: c.Rank, LoraAlpha: c.Alpha, LoraDropout: c.Dropout, TargetModules: targetModules(m, f.Targets()),
		UseRSLoRA: c.RSLoRA, UseDoRA: f.UsesDoRA(), Bias: "none", InitLoraWeights: true,
		RankPattern: map[string]any{}, AlphaPattern: map[string]any{}}
	js, err := json.MarshalIndent(pc, "", "  ")
	if err != nil {
		return errors.Wrap(err, "peft: encoding adapter_config.json")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "peft: creating %s", dir)
	}
	if err := weights.WriteSafetensors(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, ConfigFile), append(js, '\n'))
}

// ReadConfig reads and checks a PEFT adapter_config.json, returning the GoSwift tuner config
// it maps to (lora.Config, or dora.Config when use_dora).
func ReadConfig(dir string) (tuners.Config, *Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, errors.Wrap(err, "peft: reading adapter config")
	}
	var pc Config
	if err := json.Unmarshal(data, &pc); err != nil {
		return nil, nil, errors.Wrapf(err, "peft: %s", path)
	}
	bad := func(format string, args ...any) error {
		return errors.Errorf("peft: %s: "+format, append([]any{path}, args...)...)
	}
	switch {
	case pc.PeftType != "LORA":
		return nil, nil, bad("peft_type %q is not supported (GoSwift reads LORA adapters, incl. rsLoRA and DoRA)", pc.PeftType)
	case pc.Bias != "" && pc.Bias != "none":
		return nil, nil, bad("bias %q is not supported (only \"none\")", pc.Bias)
	case pc.FanInFanOut:
		return nil, nil, bad("fan_in_fan_out is not supported (Llama projections are nn.Linear)")
	case len(pc.ModulesToSave) > 0:
		return nil, nil, bad("modules_to_save %v is not supported", pc.ModulesToSave)
	case len(pc.RankPattern) > 0 || len(pc.AlphaPattern) > 0:
		return nil, nil, bad("rank_pattern / alpha_pattern are not supported")
	case !isNull(pc.LayersToTransform):
		return nil, nil, bad("layers_to_transform is not supported: use a target_modules regex")
	case pc.R <= 0:
		return nil, nil, bad("r must be positive, got %d", pc.R)
	}
	lc := lora.Config{Rank: pc.R, Alpha: pc.LoraAlpha, Dropout: pc.LoraDropout, RSLoRA: pc.UseRSLoRA}
	if pc.LoraAlpha == 0 {
		lc.Alpha = 8 // PEFT's default lora_alpha
	}
	var list []string
	var re string
	switch {
	case isNull(pc.TargetModules):
		return nil, nil, bad("target_modules is missing")
	case json.Unmarshal(pc.TargetModules, &list) == nil:
		lc.TargetModules = list
	case json.Unmarshal(pc.TargetModules, &re) == nil:
		if re == lora.AllLinear {
			lc.TargetModules = []string{lora.AllLinear}
		} else {
			lc.TargetRegex = re
		}
	default:
		return nil, nil, bad("target_modules must be a list of names or a regex string, got %s", pc.TargetModules)
	}
	var cfg tuners.Config = &lc
	if pc.UseDoRA {
		cfg = &dora.Config{Config: lc}
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, errors.WithMessagef(err, "peft: %s", path)
	}
	return cfg, &pc, nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// Load attaches the PEFT LoRA adapter in dir (as written by PEFT or by Save) to m, whose base
// is in ctx, and loads its weights: a lora (or dora) tuner. Every tensor must belong to an
// adapted projection and every adapted projection must have its tensors. For a model with
// interleaved RoPE the q/k rows are permuted back (the inverse of Save).
func Load(dir string, ctx *context.Context, m *models.Model) (tuners.Tuner, error) {
	cfg, _, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, WeightsFile)
	src, err := weights.OpenSafetensors(path)
	if err != nil {
		return nil, errors.WithMessage(err, "peft")
	}
	defer src.Close()
	t, err := tuners.BuildAndAttach(cfg, ctx, m)
	if err != nil {
		return nil, err
	}
	f, _ := family(t)
	specs := map[string]models.LinearSpec{}
	for _, s := range m.LinearSpecs() {
		specs[s.Path] = s
	}
	used := map[string]bool{}
	set := func(scope, varName, tensor string, heads, cols int) error {
		v := ctx.GetVariableByScopeAndName(scope, varName)
		info, ok := src.Info(tensor)
		if !ok {
			return errors.Errorf("peft: %s: tensor %q is missing", path, tensor)
		}
		if !slices.Equal(info.Shape, v.Shape().Dimensions) {
			return errors.Errorf("peft: %s: tensor %q has shape %v, the model wants %v", path, tensor, info.Shape, v.Shape().Dimensions)
		}
		data, err := src.ReadFloat32(tensor)
		if err != nil {
			return errors.WithMessage(err, "peft")
		}
		if heads > 0 {
			if data, err = weights.PermuteRotaryHalfToInterleaved(data, heads, cols); err != nil {
				return errors.WithMessagef(err, "peft: %s", tensor)
			}
		}
		used[tensor] = true
		return errors.Wrapf(v.SetValue(tensors.FromFlatDataAndDimensions(data, info.Shape...)), "peft: setting %s", tensor)
	}
	r := f.LoRAConfig().Rank
	for _, p := range f.Targets() {
		spec := specs[p]
		scope := f.VarScope() + spec.Scope()
		an, bn, mn := TensorNames(p)
		heads := rotaryHeads(m.Config, spec)
		if err := set(scope, "lora_A", an, 0, 0); err != nil {
			return nil, err
		}
		if err := set(scope, "lora_B", bn, heads, r); err != nil {
			return nil, err
		}
		if f.UsesDoRA() {
			if err := set(scope, dora.MagnitudeVar, mn, heads, 1); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range src.Names() {
		if !used[name] {
			return nil, errors.Errorf("peft: %s: tensor %q matches no adapted projection of this model "+
				"(GoSwift expects %q-prefixed LoRA weights of the target_modules)", path, name, Prefix)
		}
	}
	return t, nil
}
