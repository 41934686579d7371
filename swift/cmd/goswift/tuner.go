package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/neftune"
)

// defaultTuner is used when neither --tuner nor --tuner-config names one.
const defaultTuner = "lora"

// tunerArgs are the tuner flags shared by the training verbs. They become the tuner's JSON
// config (PEFT / ms-swift keys, see tunerFlags); a flag the chosen tuner does not take is an
// error listing the flags it does take. --tuner-config reads the same keys from a JSON file.
// JSON tags are the flag names with '_' (args.json and --resume-from rely on it).
type tunerArgs struct {
	Tuner       string `json:"tuner,omitempty"`
	TunerConfig string `json:"tuner_config,omitempty"`
	// LoRA family (lora, qlora, dora).
	Rank          int     `json:"rank,omitempty"`
	Alpha         float64 `json:"alpha,omitempty"`
	Dropout       float64 `json:"dropout,omitempty"`
	RSLoRA        bool    `json:"rslora,omitempty"`
	TargetModules string  `json:"target_modules,omitempty"`
	TargetRegex   string  `json:"target_regex,omitempty"`
	LoRAPlusRatio float64 `json:"lorap_lr_ratio,omitempty"`
	// qlora.
	QuantType   string   `json:"quant_type,omitempty"`
	DoubleQuant *optBool `json:"double_quant,omitempty"`
	// freeze.
	TrainableLayers int    `json:"trainable_layers,omitempty"`
	TrainableParts  string `json:"trainable_parts,omitempty"`
	// lisa.
	LISALayers   int `json:"lisa_layers,omitempty"`
	LISAInterval int `json:"lisa_interval,omitempty"`
	// llamapro.
	NewBlocks int `json:"new_blocks,omitempty"`
	// adapter.
	AdapterDim       int    `json:"adapter_dim,omitempty"`
	AdapterAct       string `json:"adapter_act,omitempty"`
	AdapterPositions string `json:"adapter_positions,omitempty"`
	// Modifiers, for every tuner.
	NEFTuneAlpha float64 `json:"neftune_alpha,omitempty"`
}

// tunerFlag maps one flag to a key of the tuners' JSON configs.
type tunerFlag struct {
	name, key string
	value     func(t *tunerArgs) (any, bool) // the value and whether the flag was given
}

func list(s string) []string { return strings.Split(s, ",") }

// tunerFlags are the per-tuner flags; which tuner takes which is read from the tuner's config
// struct (its JSON keys).
var tunerFlags = []tunerFlag{
	{"rank", "r", func(t *tunerArgs) (any, bool) { return t.Rank, t.Rank != 0 }},
	{"alpha", "lora_alpha", func(t *tunerArgs) (any, bool) { return t.Alpha, t.Alpha != 0 }},
	{"dropout", "lora_dropout", func(t *tunerArgs) (any, bool) { return t.Dropout, t.Dropout != 0 }},
	{"rslora", "use_rslora", func(t *tunerArgs) (any, bool) { return t.RSLoRA, t.RSLoRA }},
	{"target-modules", "target_modules", func(t *tunerArgs) (any, bool) { return list(t.TargetModules), t.TargetModules != "" }},
	{"target-regex", "target_regex", func(t *tunerArgs) (any, bool) { return t.TargetRegex, t.TargetRegex != "" }},
	{"lorap-lr-ratio", "loraplus_lr_ratio", func(t *tunerArgs) (any, bool) { return t.LoRAPlusRatio, t.LoRAPlusRatio != 0 }},
	{"quant-type", "quant_type", func(t *tunerArgs) (any, bool) { return t.QuantType, t.QuantType != "" }},
	{"double-quant", "double_quant", func(t *tunerArgs) (any, bool) {
		if t.DoubleQuant == nil {
			return nil, false
		}
		return bool(*t.DoubleQuant), true
	}},
	{"trainable-layers", "trainable_layers", func(t *tunerArgs) (any, bool) { return t.TrainableLayers, t.TrainableLayers != 0 }},
	{"trainable-parts", "trainable_parts", func(t *tunerArgs) (any, bool) { return list(t.TrainableParts), t.TrainableParts != "" }},
	{"lisa-layers", "lisa_activated_layers", func(t *tunerArgs) (any, bool) { return t.LISALayers, t.LISALayers != 0 }},
	{"lisa-interval", "lisa_step_interval", func(t *tunerArgs) (any, bool) { return t.LISAInterval, t.LISAInterval != 0 }},
	{"new-blocks", "num_new_blocks", func(t *tunerArgs) (any, bool) { return t.NewBlocks, t.NewBlocks != 0 }},
	{"adapter-dim", "adapter_length", func(t *tunerArgs) (any, bool) { return t.AdapterDim, t.AdapterDim != 0 }},
	{"adapter-act", "adapter_act", func(t *tunerArgs) (any, bool) { return t.AdapterAct, t.AdapterAct != "" }},
	{"adapter-positions", "positions", func(t *tunerArgs) (any, bool) { return list(t.AdapterPositions), t.AdapterPositions != "" }},
}

// optBool is a boolean that remembers whether it was given (nil: not given).
type optBool bool

// optBoolFlag sets *p to a fresh optBool when the flag is given.
type optBoolFlag struct{ p **optBool }

func (f optBoolFlag) String() string {
	if f.p == nil || *f.p == nil {
		return "true"
	}
	return strconv.FormatBool(bool(**f.p))
}
func (f optBoolFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b := optBool(v)
	*f.p = &b
	return nil
}
func (f optBoolFlag) IsBoolFlag() bool { return true }

func (t *tunerArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.Tuner, "tuner", "", "tuner (default "+defaultTuner+"): "+strings.Join(tuners.Names(), ", "))
	fs.StringVar(&t.TunerConfig, "tuner-config", "", `JSON `+"`file`"+`: {"tuner": NAME, "config": {...}, "modifiers": {"neftune": {"alpha": 5}}} (flags override its keys)`)
	fs.IntVar(&t.Rank, "rank", 0, "lora/qlora/dora: rank r (default 8)")
	fs.Float64Var(&t.Alpha, "alpha", 0, "lora/qlora/dora: alpha (default 32)")
	fs.Float64Var(&t.Dropout, "dropout", 0, "lora/qlora/dora: dropout")
	fs.BoolVar(&t.RSLoRA, "rslora", false, "lora/qlora/dora: rank-stabilised scaling alpha/√r")
	fs.StringVar(&t.TargetModules, "target-modules", "", "lora/qlora/dora: comma-separated projections (q_proj,...,lm_head) or all-linear (default)")
	fs.StringVar(&t.TargetRegex, "target-regex", "", "lora/qlora/dora: regex selecting projections by full path, e.g. 'model\\.layers\\.[0-3]\\..*'")
	fs.Float64Var(&t.LoRAPlusRatio, "lorap-lr-ratio", 0, "lora/qlora/dora: LoRA+, B's learning rate = ratio × A's (e.g. 16)")
	fs.StringVar(&t.QuantType, "quant-type", "", "qlora: base format nf4 (default) or int8")
	fs.Var(optBoolFlag{&t.DoubleQuant}, "double-quant", "qlora: quantise the block scales too (default true)")
	fs.IntVar(&t.TrainableLayers, "trainable-layers", 0, "freeze: train the last N decoder blocks (default 2)")
	fs.StringVar(&t.TrainableParts, "trainable-parts", "", "freeze: comma-separated parts that train too (lm_head, embed_tokens, model.norm, mlp, ...)")
	fs.IntVar(&t.LISALayers, "lisa-layers", 0, "lisa: decoder blocks active at a time (default 2)")
	fs.IntVar(&t.LISAInterval, "lisa-interval", 0, "lisa: steps between redraws (default 20)")
	fs.IntVar(&t.NewBlocks, "new-blocks", 0, "llamapro: decoder blocks to insert (default 2)")
	fs.IntVar(&t.AdapterDim, "adapter-dim", 0, "adapter: bottleneck width (default 32)")
	fs.StringVar(&t.AdapterAct, "adapter-act", "", "adapter: gelu (default), relu or silu")
	fs.StringVar(&t.AdapterPositions, "adapter-positions", "", "adapter: attn,mlp (default both)")
	fs.Float64Var(&t.NEFTuneAlpha, "neftune-alpha", 0, "any tuner: NEFTune embedding noise alpha (e.g. 5; 0 = off)")
}

// tunerFile is the --tuner-config file (a GoSwift adapter_config.json is one too).
type tunerFile struct {
	Tuner     string                     `json:"tuner"`
	Config    json.RawMessage            `json:"config"`
	Modifiers map[string]json.RawMessage `json:"modifiers"`
	BaseModel string                     `json:"base_model"` // ignored (adapter_config.json)
}

// config builds and validates the tuner's config (with its modifiers).
func (t *tunerArgs) config(seed uint64) (tuners.Config, error) {
	var file tunerFile
	if t.TunerConfig != "" {
		data, err := os.ReadFile(t.TunerConfig)
		if err != nil {
			return nil, errors.Wrap(err, "--tuner-config")
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&file); err != nil {
			return nil, errors.Wrapf(err, "--tuner-config %s (keys: tuner, config, modifiers)", t.TunerConfig)
		}
	}
	name := t.Tuner
	switch {
	case name != "" && file.Tuner != "" && name != file.Tuner:
		return nil, errors.Errorf("--tuner %s contradicts %s's tuner %q", name, t.TunerConfig, file.Tuner)
	case name == "":
		name = file.Tuner
	}
	if name == "" {
		name = defaultTuner
	}
	def, err := tuners.NewConfig(name)
	if err != nil {
		return nil, errors.WithMessage(err, "--tuner")
	}
	takes := configKeys(def)
	keys := map[string]any{}
	if len(file.Config) > 0 {
		if err := json.Unmarshal(file.Config, &keys); err != nil {
			return nil, errors.Wrapf(err, "--tuner-config %s: config", t.TunerConfig)
		}
	}
	for _, f := range tunerFlags {
		v, given := f.value(t)
		if !given {
			continue
		}
		if !takes[f.key] {
			return nil, errors.Errorf("tuner %q does not take --%s (its flags: %s)", name, f.name, strings.Join(flagsOf(takes), ", "))
		}
		keys[f.key] = v
	}
	raw, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	cfg, err := tuners.ParseConfig(name, raw)
	if err != nil {
		return nil, errors.WithMessage(err, "tuner flags")
	}
	if s, ok := cfg.(tuners.Seeded); ok {
		s.SetSeed(seed)
	}
	mods := file.Modifiers
	if t.NEFTuneAlpha != 0 {
		if mods == nil {
			mods = map[string]json.RawMessage{}
		}
		js, _ := json.Marshal(map[string]float64{"alpha": t.NEFTuneAlpha})
		mods[neftune.Name] = js
	}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	var mcs []tuners.ModifierConfig
	for _, n := range names {
		mc, err := tuners.ParseModifierConfig(n, mods[n])
		if err != nil {
			return nil, errors.WithMessage(err, "modifiers")
		}
		mcs = append(mcs, mc)
	}
	return tuners.WithModifiers(cfg, mcs...), nil
}

// flagsOf lists the flags that set the given config keys.
func flagsOf(keys map[string]bool) []string {
	var out []string
	for _, f := range tunerFlags {
		if keys[f.key] {
			out = append(out, "--"+f.name)
		}
	}
	out = append(out, "--neftune-alpha")
	return out
}

// configKeys returns the JSON keys of a config struct (embedded structs' keys included).
func configKeys(cfg any) map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case tag == "-":
			case f.Anonymous && tag == "":
				walk(f.Type)
			case tag != "":
				keys[tag] = true
			case f.IsExported():
				keys[f.Name] = true
			}
		}
	}
	walk(reflect.TypeOf(cfg))
	return keys
}
