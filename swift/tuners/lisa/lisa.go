package lisa

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/freeze"
)

// Name is the registry name.
const Name = "lisa"

// Scope is LISA's scope (it has no variables of its own).
const Scope = "/tuners/lisa"

// Config is LISA's configuration (ms-swift's names); the zero value activates 2 layers and
// redraws every 20 steps.
type Config struct {
	ActivatedLayers int    `json:"lisa_activated_layers,omitempty"`
	StepInterval    int    `json:"lisa_step_interval,omitempty"`
	Seed            uint64 `json:"seed,omitempty"`
}

func init() {
	tuners.Register(Name, func() tuners.Config { return &Config{} })
}

func (c Config) withDefaults() Config {
	if c.ActivatedLayers == 0 {
		c.ActivatedLayers = 2
	}
	if c.StepInterval == 0 {
		c.StepInterval = 20
	}
	return c
}

// Validate implements tuners.Config.
func (c *Config) Validate() error {
	switch {
	case c.ActivatedLayers < 0:
		return errors.Errorf("lisa: lisa_activated_layers must be positive, got %d", c.ActivatedLayers)
	case c.StepInterval < 0:
		return errors.Errorf("lisa: lisa_step_interval must be positive, got %d", c.StepInterval)
	}
	return nil
}

// SetSeed implements tuners.Seeded.
func (c *Config) SetSeed(seed uint64) { c.Seed = seed }

// Build implements tuners.Config.
func (c *Config) Build() (tuners.Tuner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &LISA{cfg: c.withDefaults()}, nil
}

// LISA trains every base weight, switching decoder blocks on and off by step.
type LISA struct {
	cfg       Config
	numLayers int
}

// Name implements tuners.Tuner.
func (l *LISA) Name() string { return Name }

// Config implements tuners.Tuner.
func (l *LISA) Config() tuners.Config { c := l.cfg; return &c }

// Scope implements tuners.Tuner.
func (l *LISA) Scope() string { return Scope }

// Attach implements tuners.Tuner (no hooks).
func (l *LISA) Attach(_ *context.Context, m *models.Model) error {
	if l.numLayers != 0 {
		return errors.New("lisa: already attached")
	}
	if l.cfg.ActivatedLayers > m.Config.NumLayers {
		return errors.Errorf("lisa: lisa_activated_layers=%d but the model has %d decoder blocks",
			l.cfg.ActivatedLayers, m.Config.NumLayers)
	}
	l.numLayers = m.Config.NumLayers
	return nil
}

// Trainable implements tuners.Tuner: every base weight (which blocks learn is per step).
func (l *LISA) Trainable(v *context.Variable) bool { return tuners.IsBase(v) }

// ActiveLayers returns the decoder blocks that train at step (0-based), sorted.
func (l *LISA) ActiveLayers(step int) []int {
	interval := uint64(step / l.cfg.StepInterval)
	rng := rand.New(rand.NewPCG(l.cfg.Seed, interval))
	perm := rng.Perm(l.numLayers)[:l.cfg.ActivatedLayers]
	active := make([]int, 0, len(perm))
	for i := range l.numLayers {
		for _, p := range perm {
			if p == i {
				active = append(active, i)
			}
		}
	}
	return active
}

// LRMultiplier implements tuners.LRScaler: 1 for the active blocks and the non-block weights,
// 0 for the other blocks.
func (l *LISA) LRMultiplier(step int, v *context.Variable) float64 {
	i, ok := freeze.LayerOf(v.Scope())
	if !ok {
		return 1
	}
	for _, a := range l.ActiveLayers(step) {
		if a == i {
			return 1
		}
	}
	return 0
}

// ActiveSet implements tuners.ActiveSetter: the interval's active blocks, keyed
// "layers i,j" (sorted), and every non-block weight (embeddings, final norm, head), which always
// trains. train.Config.ActiveSet (tuners.ActiveSet) gives it to the trainer, which then keeps
// gradients and AdamW moments for this subset only.
func (l *LISA) ActiveSet(step int) (string, func(*context.Variable) bool) {
	active := l.ActiveLayers(step)
	ids := make([]string, len(active))
	for i, a := range active {
		ids[i] = strconv.Itoa(a)
	}
	key := fmt.Sprintf("layers %s", strings.Join(ids, ","))
	return key, func(v *context.Variable) bool {
		i, inBlock := freeze.LayerOf(v.Scope())
		return !inBlock || slices.Contains(active, i)
	}
}

// IdentityAtInit: nothing changes until training.
func (l *LISA) IdentityAtInit() bool { return true }

var (
	_ tuners.LRScaler     = (*LISA)(nil)
	_ tuners.ActiveSetter = (*LISA)(nil)
)
