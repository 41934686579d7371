package freeze

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
)

// Name is the registry name.
const Name = "freeze"

// Scope is freeze's scope (it has no variables of its own).
const Scope = "/tuners/freeze"

// DefaultLayers is how many final blocks train when neither field is set.
const DefaultLayers = 2

// Config chooses what trains. The zero value trains the last DefaultLayers decoder blocks.
type Config struct {
	// TrainableLayers is how many final decoder blocks train (0: DefaultLayers when
	// TrainableParts is empty, none otherwise).
	TrainableLayers int `json:"trainable_layers,omitempty"`
	// TrainableParts are parts of the base that train besides, each a dotted run of name
	// components of the Hugging Face tensor names: "lm_head", "embed_tokens", "model.norm",
	// "mlp", "self_attn.q_proj", "layers.0", ...
	TrainableParts []string `json:"trainable_parts,omitempty"`
}

func init() {
	tuners.Register(Name, func() tuners.Config { return &Config{} })
}

func (c Config) layers() int {
	if c.TrainableLayers == 0 && len(c.TrainableParts) == 0 {
		return DefaultLayers
	}
	return c.TrainableLayers
}

// Validate implements tuners.Config.
func (c *Config) Validate() error {
	if c.TrainableLayers < 0 {
		return errors.Errorf("freeze: trainable_layers must be >= 0, got %d", c.TrainableLayers)
	}
	for _, p := range c.TrainableParts {
		if p == "" || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
			return errors.Errorf("freeze: trainable_parts: %q is not a dotted name like \"mlp\" or \"model.norm\"", p)
		}
	}
	return nil
}

// Build implements tuners.Config.
func (c *Config) Build() (tuners.Tuner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Freeze{cfg: *c}, nil
}

// Freeze trains the chosen base weights.
type Freeze struct {
	cfg       Config
	numLayers int // of the attached model; 0 before Attach
}

// Name implements tuners.Tuner.
func (f *Freeze) Name() string { return Name }

// Config implements tuners.Tuner.
func (f *Freeze) Config() tuners.Config { c := f.cfg; return &c }

// Scope implements tuners.Tuner.
func (f *Freeze) Scope() string { return Scope }

// Attach implements tuners.Tuner: it checks the choice against the model (no hooks).
func (f *Freeze) Attach(ctx *context.Context, m *models.Model) error {
	if f.numLayers != 0 {
		return errors.New("freeze: already attached")
	}
	n := m.Config.NumLayers
	if l := f.cfg.layers(); l > n {
		return errors.Errorf("freeze: trainable_layers=%d but the model has %d decoder blocks", l, n)
	}
	for _, p := range f.cfg.TrainableParts {
		found := false
		for v := range ctx.IterVariables() {
			if tuners.IsBase(v) && MatchPart(models.TensorName(v.Scope(), v.Name()), p) {
				found = true
				break
			}
		}
		if !found {
			return errors.Errorf("freeze: trainable_parts: %q matches no weight of this model (e.g. lm_head, embed_tokens, model.norm, mlp, self_attn.q_proj, layers.0)", p)
		}
	}
	f.numLayers = n
	return nil
}

// Trainable implements tuners.Tuner.
func (f *Freeze) Trainable(v *context.Variable) bool {
	if !tuners.IsBase(v) {
		return false
	}
	if i, ok := LayerOf(v.Scope()); ok && i >= f.numLayers-f.cfg.layers() {
		return true
	}
	name := models.TensorName(v.Scope(), v.Name())
	for _, p := range f.cfg.TrainableParts {
		if MatchPart(name, p) {
			return true
		}
	}
	return false
}

// IdentityAtInit: nothing changes until training.
func (f *Freeze) IdentityAtInit() bool { return true }

// LayerOf returns the decoder block index of a base scope "/model/layers/<i>/...".
func LayerOf(scope string) (int, bool) {
	rest, ok := strings.CutPrefix(scope, "/model/layers/")
	if !ok {
		return 0, false
	}
	idx, _, _ := strings.Cut(rest, "/")
	i, err := strconv.Atoi(idx)
	return i, err == nil
}

// MatchPart reports whether part's dot-separated components appear as a contiguous run of
// name's components ("mlp" matches "model.layers.3.mlp.up_proj.weight").
func MatchPart(name, part string) bool {
	return strings.Contains("."+name+".", "."+part+".")
}

// String describes the choice.
func (c Config) String() string {
	return fmt.Sprintf("last %d blocks + %v", c.layers(), c.TrainableParts)
}
