package tuners

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
)

// Tuner is one fine-tuning technique attached to a model (LoRA, DoRA, full, ...).
//
// A tuner owns the variables under its Scope, attaches to the model through models.Hooks, and
// says which variables train. Everything else — freezing the base, saving the adapter only —
// is a scope filter over the context (Freeze, SaveAdapter), not a special case per tuner.
type Tuner interface {
	// Name is the registry name, e.g. "lora".
	Name() string
	// Config returns the tuner's configuration (JSON-serialisable: it goes into
	// adapter_config.json).
	Config() Config
	// Scope is the absolute context scope of the tuner's own variables, e.g. "/tuners/lora".
	Scope() string
	// Attach creates the tuner's variables in ctx (seeded, deterministic) and adds its hooks
	// to m. Calling it twice is an error.
	Attach(ctx *context.Context, m *models.Model) error
	// Trainable says whether v is trained. Tuners that train base weights (full, freeze,
	// LISA) say so here; adapters return true only for their own scope.
	Trainable(v *context.Variable) bool
}

// Merger is implemented by tuners whose effect can be folded into the base weights.
type Merger interface {
	// Merge adds the tuner's delta to the base weights; the tuner then passes through.
	Merge(ctx *context.Context) error
	// Unmerge subtracts it again and re-enables the tuner.
	Unmerge(ctx *context.Context) error
	// Merged reports the current state.
	Merged() bool
}

// Config is a tuner's configuration. The zero value of each tuner's Config struct is a sensible
// default (e.g. LoRA rank 8).
type Config interface {
	// Validate checks the values, naming the field at fault.
	Validate() error
	// Build returns a tuner for this configuration (not yet attached).
	Build() (Tuner, error)
}

// LRScaler is implemented by tuners that give variables their own learning-rate multiplier,
// per step: LoRA+ (B learns ratio× faster than A), LISA (whole layers on or off by step).
type LRScaler interface {
	LRMultiplier(step int, v *context.Variable) float64
}

// LRMultiplier combines the multipliers of every tuner that has one (their product), for
// train.Config.LRMultiplier; nil when none has.
func LRMultiplier(ts ...Tuner) func(step int, v *context.Variable) float64 {
	var scalers []LRScaler
	for _, t := range ts {
		if s, ok := Unwrap(t).(LRScaler); ok {
			scalers = append(scalers, s)
		}
	}
	if len(scalers) == 0 {
		return nil
	}
	return func(step int, v *context.Variable) float64 {
		m := 1.0
		for _, s := range scalers {
			m *= s.LRMultiplier(step, v)
		}
		return m
	}
}

// ActiveSetter is implemented by tuners that train a changing subset of their trainable
// variables (LISA: the always-trained parts plus N decoder blocks, redrawn every K steps). key
// names the subset at step (equal keys, equal subsets); active says which trainable variables
// are in it. The trainer (train.Config.ActiveSet) takes gradients and keeps optimizer state
// only for that subset, recompiling its step when the key changes.
type ActiveSetter interface {
	ActiveSet(step int) (key string, active func(v *context.Variable) bool)
}

// ActiveSet combines the active sets of every tuner that has one, for train.Config.ActiveSet
// (a variable is active when every one of them says so; the key joins theirs with ";"); nil
// when none has.
func ActiveSet(ts ...Tuner) func(step int) (string, func(v *context.Variable) bool) {
	var setters []ActiveSetter
	for _, t := range ts {
		if s, ok := Unwrap(t).(ActiveSetter); ok {
			setters = append(setters, s)
		}
	}
	switch len(setters) {
	case 0:
		return nil
	case 1:
		return setters[0].ActiveSet
	}
	return func(step int) (string, func(v *context.Variable) bool) {
		keys := make([]string, len(setters))
		preds := make([]func(*context.Variable) bool, len(setters))
		for i, s := range setters {
			keys[i], preds[i] = s.ActiveSet(step)
		}
		return strings.Join(keys, ";"), func(v *context.Variable) bool {
			for _, p := range preds {
				if !p(v) {
					return false
				}
			}
			return true
		}
	}
}

// Expander is implemented by tuners that add whole parts to the architecture (LLaMAPro's new
// decoder blocks): their merged export is the expanded model, a plain checkpoint again.
type Expander interface {
	// ExpandedModel returns the expanded model's config and, for each of its tensors (Hugging
	// Face names), the variable holding it.
	ExpandedModel(ctx *context.Context, base *models.Config) (*models.Config, map[string]*context.Variable, error)
}

// Loader is implemented by configs that need the base weights stored their way while loading
// (QLoRA quantises each projection as it is read, so the float32 model never exists).
type Loader interface {
	LoadOptions() models.LoadOptions
}

// LoadOptionsFor returns cfg's weight-loading options (the zero value when it has none).
func LoadOptionsFor(cfg Config) models.LoadOptions {
	if l, ok := cfg.(Loader); ok {
		return l.LoadOptions()
	}
	return models.LoadOptions{}
}

// Seeded is implemented by configs whose initialisation draws random numbers.
type Seeded interface {
	SetSeed(seed uint64)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]func() Config{}
)

// Register makes a tuner available by name, like database/sql.Register: call it from init;
// newConfig returns a default (zero-value) config. Registering a name twice panics.
func Register(name string, newConfig func() Config) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if newConfig == nil {
		panic("tuners: Register with a nil config constructor")
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("tuners: Register called twice for %q", name))
	}
	registry[name] = newConfig
}

// Names lists the registered tuners, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewConfig returns the default config of the named tuner.
func NewConfig(name string) (Config, error) {
	registryMu.RLock()
	mk, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, errors.Errorf("unknown tuner %q (registered: %s)", name, strings.Join(Names(), ", "))
	}
	return mk(), nil
}

// ParseConfig decodes a tuner's JSON config (as in adapter_config.json) over its defaults and
// validates it. Unknown JSON fields are errors.
func ParseConfig(name string, raw json.RawMessage) (Config, error) {
	cfg, err := NewConfig(name)
	if err != nil {
		return nil, err
	}
	if len(raw) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, errors.Wrapf(err, "tuner %q config", name)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, errors.WithMessagef(err, "tuner %q config", name)
	}
	return cfg, nil
}

// New builds and attaches the named tuner with its default config.
func New(name string, ctx *context.Context, m *models.Model) (Tuner, error) {
	cfg, err := NewConfig(name)
	if err != nil {
		return nil, err
	}
	return BuildAndAttach(cfg, ctx, m)
}

// BuildAndAttach validates cfg, builds the tuner, attaches it and freezes everything it does
// not train.
func BuildAndAttach(cfg Config, ctx *context.Context, m *models.Model) (Tuner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, err := cfg.Build()
	if err != nil {
		return nil, err
	}
	if err := t.Attach(ctx, m); err != nil {
		return nil, errors.WithMessagef(err, "attaching tuner %q", t.Name())
	}
	Freeze(ctx, t)
	return t, nil
}

// Freeze marks every variable trainable exactly when one of the tuners trains it: the base is
// frozen by scope.
func Freeze(ctx *context.Context, ts ...Tuner) {
	for v := range ctx.IterVariables() {
		trainable := false
		for _, t := range ts {
			if t.Trainable(v) {
				trainable = true
				break
			}
		}
		v.SetTrainable(trainable)
	}
}

// InScope reports whether variable v lives under the absolute scope.
func InScope(v *context.Variable, scope string) bool {
	s := v.Scope()
	return s == scope || strings.HasPrefix(s, scope+"/")
}

// TrainableVariables lists the trainable variables of ctx, in the context's order.
func TrainableVariables(ctx *context.Context) []*context.Variable {
	var out []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable {
			out = append(out, v)
		}
	}
	return out
}

// ParamCounter says how many model parameters a variable stores when that is not its
// element count (QLoRA's packed codes hold two per byte; their scales hold none): ok=false
// leaves the variable to the default rule.
type ParamCounter func(v *context.Variable) (n int64, ok bool)

var paramCounters []ParamCounter

// RegisterParamCounter adds a ParamCounter (call it from init).
func RegisterParamCounter(c ParamCounter) {
	registryMu.Lock()
	defer registryMu.Unlock()
	paramCounters = append(paramCounters, c)
}

// paramsOf is the number of model parameters v stores.
func paramsOf(v *context.Variable) int64 {
	registryMu.RLock()
	counters := paramCounters
	registryMu.RUnlock()
	for _, c := range counters {
		if n, ok := c(v); ok {
			return n
		}
	}
	if !v.DType().IsFloat() {
		return 0
	}
	return int64(v.Shape().Size())
}

// CountParams returns the number of trainable and total model parameters in ctx (base and
// tuner weights, quantised ones by their element count; optimizer state and tuner flags are
// not parameters).
func CountParams(ctx *context.Context) (trainable, total int64) {
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Name(), "#") || InScope(v, "/optimizer") {
			continue
		}
		n := paramsOf(v)
		total += n
		if v.Trainable {
			trainable += n
		}
	}
	return trainable, total
}
