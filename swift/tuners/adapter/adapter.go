package adapter

import (
	"fmt"
	"slices"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// Name is the registry name.
const Name = "adapter"

// Scope holds the adapters: "<Scope>/model/layers/<i>/<attn|mlp>_adapter/{down,up}/{weight,bias}".
const Scope = "/tuners/adapter"

// Config is the Adapter's configuration (ms-swift's adapter_length, adapter_act); the zero
// value is a 32-wide GELU bottleneck after both sub-layers.
type Config struct {
	Dim       int      `json:"adapter_length,omitempty"` // bottleneck width (32)
	Act       string   `json:"adapter_act,omitempty"`    // gelu (default), relu or silu
	Positions []string `json:"positions,omitempty"`      // "attn", "mlp" (default both)
	Seed      uint64   `json:"seed,omitempty"`
}

var activationNames = []string{"gelu", "relu", "silu"}

func init() {
	tuners.Register(Name, func() tuners.Config { return &Config{} })
}

func (c Config) withDefaults() Config {
	if c.Dim == 0 {
		c.Dim = 32
	}
	if c.Act == "" {
		c.Act = "gelu"
	}
	if len(c.Positions) == 0 {
		c.Positions = []string{"attn", "mlp"}
	}
	return c
}

// Validate implements tuners.Config.
func (c *Config) Validate() error {
	d := c.withDefaults()
	if d.Dim < 0 || d.Dim > 1<<16 {
		return errors.Errorf("adapter: adapter_length must be in [1, 65536], got %d", c.Dim)
	}
	if !slices.Contains(activationNames, d.Act) {
		return errors.Errorf("adapter: adapter_act %q is not one of %s", d.Act, strings.Join(activationNames, ", "))
	}
	for _, p := range d.Positions {
		if p != "attn" && p != "mlp" {
			return errors.Errorf("adapter: positions: %q is not attn or mlp", p)
		}
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
	return &Adapter{cfg: c.withDefaults()}, nil
}

// Adapter is the attached bottleneck adapters.
type Adapter struct {
	cfg      Config
	attached bool
}

// Name implements tuners.Tuner.
func (a *Adapter) Name() string { return Name }

// Config implements tuners.Tuner.
func (a *Adapter) Config() tuners.Config { c := a.cfg; return &c }

// Scope implements tuners.Tuner.
func (a *Adapter) Scope() string { return Scope }

// Trainable implements tuners.Tuner: every adapter weight.
func (a *Adapter) Trainable(v *context.Variable) bool { return tuners.InScope(v, Scope) }

// IdentityAtInit: up is zero, so each adapter adds exactly zero.
func (a *Adapter) IdentityAtInit() bool { return true }

func adapterScope(blockPath, kind string) string {
	return Scope + models.PathToScope(blockPath) + "/" + kind + "_adapter"
}

// Attach implements tuners.Tuner.
func (a *Adapter) Attach(ctx *context.Context, m *models.Model) error {
	if a.attached {
		return errors.New("adapter: already attached")
	}
	h, d := m.Config.HiddenSize, a.cfg.Dim
	for _, b := range m.Blocks() {
		for _, kind := range a.cfg.Positions {
			s := adapterScope(b.Path, kind)
			path := models.ScopeToPath(s)
			down := ctx.InAbsPath(s + "/down").Checked(false)
			down.VariableWithValue("weight", tensors.FromFlatDataAndDimensions(lora.InitA(a.cfg.Seed, path, d, h), d, h))
			down.VariableWithValue("bias", tensors.FromFlatDataAndDimensions(make([]float32, d), d))
			up := ctx.InAbsPath(s + "/up").Checked(false)
			up.VariableWithValue("weight", tensors.FromFlatDataAndDimensions(make([]float32, h*d), h, d))
			up.VariableWithValue("bias", tensors.FromFlatDataAndDimensions(make([]float32, h), h))
		}
	}
	a.attached = true
	m.AddHooks(models.Hooks{SubLayer: a.wrap})
	return nil
}

func (a *Adapter) act(x *Node) *Node {
	switch a.cfg.Act {
	case "relu":
		return activations.Relu(x)
	case "silu":
		return Mul(x, Sigmoid(x))
	default:
		return activations.Gelu(x)
	}
}

// wrap is the SubLayer hook: out [B, S, Hidden] -> out + up(act(down(out))).
func (a *Adapter) wrap(next models.SubLayerFn) models.SubLayerFn {
	return func(ctx *context.Context, spec models.SubLayerSpec, x, out *Node) *Node {
		out = next(ctx, spec, x, out)
		blockPath := strings.TrimSuffix(strings.TrimSuffix(spec.Path, ".self_attn"), ".mlp")
		s := adapterScope(blockPath, spec.Kind)
		if ctx.GetVariableByScopeAndName(s+"/down", "weight") == nil {
			return out // this position is not adapted
		}
		g := out.Graph()
		val := func(sub, name string) *Node {
			v := ctx.GetVariableByScopeAndName(s+"/"+sub, name)
			if v == nil {
				panic(fmt.Errorf("adapter: variable %s/%s/%s missing", s, sub, name))
			}
			return ConvertDType(v.ValueGraph(g), out.DType())
		}
		bias := func(sub string) *Node { return ExpandLeftToRank(val(sub, "bias"), out.Rank()) }
		hdn := Add(models.MatMulT(ctx, out, val("down", "weight")), bias("down")) // [B, S, Dim]
		hdn = a.act(hdn)
		up := Add(models.MatMulT(ctx, hdn, val("up", "weight")), bias("up")) // [B, S, Hidden]
		return Add(out, up)
	}
}
