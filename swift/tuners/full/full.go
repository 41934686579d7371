package full

import (
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
)

// Name is the registry name.
const Name = "full"

// Scope is full fine-tuning's scope (it has no variables of its own).
const Scope = "/tuners/full"

// Config has no fields: everything trains.
type Config struct{}

func init() {
	tuners.Register(Name, func() tuners.Config { return &Config{} })
}

// Validate implements tuners.Config.
func (c *Config) Validate() error { return nil }

// Build implements tuners.Config.
func (c *Config) Build() (tuners.Tuner, error) { return &Full{}, nil }

// Full trains every base weight.
type Full struct{ attached bool }

// Name implements tuners.Tuner.
func (f *Full) Name() string { return Name }

// Config implements tuners.Tuner.
func (f *Full) Config() tuners.Config { return &Config{} }

// Scope implements tuners.Tuner.
func (f *Full) Scope() string { return Scope }

// Attach implements tuners.Tuner (no hooks).
func (f *Full) Attach(_ *context.Context, _ *models.Model) error {
	if f.attached {
		return errors.New("full: already attached")
	}
	f.attached = true
	return nil
}

// Trainable implements tuners.Tuner: every base weight.
func (f *Full) Trainable(v *context.Variable) bool { return tuners.IsBase(v) }

// IdentityAtInit: nothing changes until training.
func (f *Full) IdentityAtInit() bool { return true }
