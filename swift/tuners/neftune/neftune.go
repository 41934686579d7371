package neftune

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
)

// Name is the modifier's registry name.
const Name = "neftune"

// Config is NEFTune's configuration; the zero value is alpha 5 (the paper's usual value).
type Config struct {
	Alpha float64 `json:"alpha,omitempty"`
}

func init() {
	tuners.RegisterModifier(Name, func() tuners.ModifierConfig { return &Config{} })
}

// Validate implements tuners.ModifierConfig.
func (c *Config) Validate() error {
	if c.Alpha < 0 || math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0) {
		return errors.Errorf("neftune: alpha must be a positive number, got %g", c.Alpha)
	}
	return nil
}

// BuildModifier implements tuners.ModifierConfig.
func (c *Config) BuildModifier() (tuners.Modifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	alpha := c.Alpha
	if alpha == 0 {
		alpha = 5
	}
	return &NEFTune{Alpha: alpha}, nil
}

// NEFTune adds the embedding noise in training graphs.
type NEFTune struct{ Alpha float64 }

// Name implements tuners.Modifier.
func (n *NEFTune) Name() string { return Name }

// Attach implements tuners.Modifier.
func (n *NEFTune) Attach(_ *context.Context, m *models.Model) error {
	m.AddHooks(models.Hooks{Embed: n.wrap})
	return nil
}

// wrap is the Embed hook: tokens [B, S] -> [B, S, Hidden] (+ noise when training).
func (n *NEFTune) wrap(next models.EmbedFn) models.EmbedFn {
	return func(ctx *context.Context, tokens *Node) *Node {
		e := next(ctx, tokens) // [B, S, Hidden]
		g := e.Graph()
		if !ctx.IsTraining(g) {
			return e
		}
		dims := e.Shape().Dimensions
		mag := n.Alpha / math.Sqrt(float64(dims[1]*dims[2]))
		u := ctx.RandomUniform(g, e.Shape()) // [0, 1)
		noise := MulScalar(AddScalar(MulScalar(u, 2), -1), mag)
		return Add(e, StopGradient(noise))
	}
}
