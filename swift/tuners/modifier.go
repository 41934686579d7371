package tuners

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
)

// Modifier changes how a model trains without variables or trainability of its own (NEFTune's
// embedding noise). It composes with any tuner: see WithModifiers.
type Modifier interface {
	// Name is the registry name, e.g. "neftune".
	Name() string
	// Attach adds the modifier's hooks to m.
	Attach(ctx *context.Context, m *models.Model) error
}

// ModifierConfig is a modifier's configuration; the zero value is a sensible default.
type ModifierConfig interface {
	// Validate checks the values, naming the field at fault.
	Validate() error
	// BuildModifier returns the modifier for this configuration.
	BuildModifier() (Modifier, error)
}

var modifierRegistry = map[string]func() ModifierConfig{}

// RegisterModifier makes a modifier available by name (call it from init); registering a
// name twice, or a name that is also a tuner's, panics.
func RegisterModifier(name string, newConfig func() ModifierConfig) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if newConfig == nil {
		panic("tuners: RegisterModifier with a nil config constructor")
	}
	if _, dup := modifierRegistry[name]; dup {
		panic(fmt.Sprintf("tuners: RegisterModifier called twice for %q", name))
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("tuners: modifier %q has the name of a tuner", name))
	}
	modifierRegistry[name] = newConfig
}

// ModifierNames lists the registered modifiers, sorted.
func ModifierNames() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(modifierRegistry))
	for n := range modifierRegistry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseModifierConfig decodes a modifier's JSON config over its defaults and validates it;
// unknown fields are errors.
func ParseModifierConfig(name string, raw json.RawMessage) (ModifierConfig, error) {
	registryMu.RLock()
	mk, ok := modifierRegistry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, errors.Errorf("unknown modifier %q (registered: %s)", name, strings.Join(ModifierNames(), ", "))
	}
	cfg := mk()
	if len(raw) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, errors.Wrapf(err, "modifier %q config", name)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, errors.WithMessagef(err, "modifier %q config", name)
	}
	return cfg, nil
}

// WithModifiers returns a config that builds cfg's tuner and attaches the modifiers after it.
// The tuner it builds (a *Modified) reports the inner tuner's name, config and scope — an
// adapter saved from it is the inner tuner's, since modifiers act on training only — and
// Unwrap returns the inner tuner. With no modifiers it returns cfg itself.
func WithModifiers(cfg Config, mods ...ModifierConfig) Config {
	if len(mods) == 0 {
		return cfg
	}
	return &modifiedConfig{inner: cfg, mods: mods}
}

type modifiedConfig struct {
	inner Config
	mods  []ModifierConfig
}

func (c *modifiedConfig) Validate() error {
	if err := c.inner.Validate(); err != nil {
		return err
	}
	for _, m := range c.mods {
		if err := m.Validate(); err != nil {
			return err
		}
	}
	return nil
}

func (c *modifiedConfig) Build() (Tuner, error) {
	inner, err := c.inner.Build()
	if err != nil {
		return nil, err
	}
	t := &Modified{Tuner: inner}
	for _, mc := range c.mods {
		m, err := mc.BuildModifier()
		if err != nil {
			return nil, err
		}
		t.Modifiers = append(t.Modifiers, m)
	}
	return t, nil
}

// SetSeed implements Seeded by seeding the inner config.
func (c *modifiedConfig) SetSeed(seed uint64) {
	if s, ok := c.inner.(Seeded); ok {
		s.SetSeed(seed)
	}
}

// MarshalJSON writes the inner tuner's config.
// LoadOptions passes the inner config's weight-loading options through (tuners.Loader).
func (c *modifiedConfig) LoadOptions() models.LoadOptions { return LoadOptionsFor(c.inner) }

func (c *modifiedConfig) MarshalJSON() ([]byte, error) { return json.Marshal(c.inner) }

// Modified is a tuner with modifiers attached after it.
type Modified struct {
	Tuner
	Modifiers []Modifier
}

// Attach attaches the inner tuner, then every modifier.
func (t *Modified) Attach(ctx *context.Context, m *models.Model) error {
	if err := t.Tuner.Attach(ctx, m); err != nil {
		return err
	}
	for _, mod := range t.Modifiers {
		if err := mod.Attach(ctx, m); err != nil {
			return errors.WithMessagef(err, "attaching modifier %q", mod.Name())
		}
	}
	return nil
}

// Unwrap returns the inner tuner.
func (t *Modified) Unwrap() Tuner { return t.Tuner }

// Unwrap returns the innermost tuner of t (t itself unless it wraps another, like Modified).
func Unwrap(t Tuner) Tuner {
	for {
		w, ok := t.(interface{ Unwrap() Tuner })
		if !ok {
			return t
		}
		t = w.Unwrap()
	}
}

// AsMerger returns the tuner's Merger (looking through wrappers), if it has one.
func AsMerger(t Tuner) (Merger, bool) {
	m, ok := Unwrap(t).(Merger)
	return m, ok
}
