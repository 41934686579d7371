package lora

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
)

// Name is LoRA's registry name.
const Name = "lora"

// Scope holds LoRA's variables: "<Scope><projection scope>/lora_A" etc.
const Scope = "/tuners/lora"

// enabledVar is a scalar (1 or 0) multiplying every delta: merging switches it off without
// recompiling graphs. Names starting with '#' are state, never saved in adapter files.
const enabledVar = "#enabled"

// AllLinear selects every projection of the decoder blocks (not lm_head), as in PEFT/ms-swift.
const AllLinear = "all-linear"

// Config is LoRA's configuration; field names and JSON keys follow PEFT's LoraConfig. The zero
// value means: rank 8, alpha 32, dropout 0, all-linear targets (ms-swift's defaults, dropout
// aside).
type Config struct {
	Rank    int     `json:"r,omitempty"`
	Alpha   float64 `json:"lora_alpha,omitempty"`
	Dropout float64 `json:"lora_dropout,omitempty"`
	// RSLoRA scales by alpha/√r instead of alpha/r (rank-stabilised LoRA).
	RSLoRA bool `json:"use_rslora,omitempty"`
	// TargetModules lists projection names (q_proj, ..., lm_head) or "all-linear".
	TargetModules []string `json:"target_modules,omitempty"`
	// TargetRegex, if set, selects projections whose full path (e.g.
	// "model.layers.3.self_attn.q_proj") matches it entirely (PEFT's string target_modules).
	TargetRegex string `json:"target_regex,omitempty"`
	// Seed makes A's initialisation reproducible.
	Seed uint64 `json:"seed,omitempty"`
	// LoRAPlusRatio, if > 0, is LoRA+ (Hayou et al. 2024): B's learning rate is LoRAPlusRatio
	// × A's (typically 16). A training-time modifier: it changes no weight and no output.
	LoRAPlusRatio float64 `json:"loraplus_lr_ratio,omitempty"`
}

func init() {
	tuners.Register(Name, func() tuners.Config { return &Config{} })
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Rank == 0 {
		c.Rank = 8
	}
	if c.Alpha == 0 {
		c.Alpha = 32
	}
	if len(c.TargetModules) == 0 && c.TargetRegex == "" {
		c.TargetModules = []string{AllLinear}
	}
	return c
}

// knownModules are the projection names a Llama-family model has.
var knownModules = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"}

// Validate implements tuners.Config.
func (c *Config) Validate() error {
	d := c.withDefaults()
	switch {
	case d.Rank < 0 || d.Rank > 1<<16:
		return errors.Errorf("lora: rank (r) must be in [1, 65536], got %d", c.Rank)
	case d.Alpha < 0 || math.IsNaN(d.Alpha) || math.IsInf(d.Alpha, 0):
		return errors.Errorf("lora: lora_alpha must be positive, got %g", c.Alpha)
	case d.Dropout < 0 || d.Dropout >= 1 || math.IsNaN(d.Dropout):
		return errors.Errorf("lora: lora_dropout must be in [0, 1), got %g", c.Dropout)
	case d.LoRAPlusRatio < 0 || math.IsNaN(d.LoRAPlusRatio) || math.IsInf(d.LoRAPlusRatio, 0):
		return errors.Errorf("lora: loraplus_lr_ratio must be a positive number (or 0: off), got %g", c.LoRAPlusRatio)
	}
	for _, m := range d.TargetModules {
		if m != AllLinear && !slices.Contains(knownModules, m) {
			return errors.Errorf("lora: target_modules: unknown module %q (known: %s, %s)", m, AllLinear, strings.Join(knownModules, ", "))
		}
	}
	if d.TargetRegex != "" {
		if _, err := regexp.Compile("^(?:" + d.TargetRegex + ")$"); err != nil {
			return errors.Wrapf(err, "lora: target_regex %q", d.TargetRegex)
		}
	}
	return nil
}

// SetSeed implements tuners.Seeded.
func (c *Config) SetSeed(seed uint64) { c.Seed = seed }

// Scaling is the factor applied to B·A: alpha/r, or alpha/√r with rsLoRA.
func (c *Config) Scaling() float64 {
	d := c.withDefaults()
	if d.RSLoRA {
		return d.Alpha / math.Sqrt(float64(d.Rank))
	}
	return d.Alpha / float64(d.Rank)
}

// Build implements tuners.Config.
func (c *Config) Build() (tuners.Tuner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &LoRA{cfg: c.withDefaults(), scaling: c.Scaling()}, nil
}

// Selects reports whether the config targets the projection spec.
func (c *Config) Selects(spec models.LinearSpec) bool {
	d := c.withDefaults()
	if d.TargetRegex != "" {
		re := regexp.MustCompile("^(?:" + d.TargetRegex + ")$")
		if re.MatchString(spec.Path) {
			return true
		}
	}
	for _, m := range d.TargetModules {
		if (m == AllLinear && spec.Name != "lm_head") || m == spec.Name {
			return true
		}
	}
	return false
}

// LoRA is an attached low-rank adapter: y = W·x + s·B·A·dropout(x), A [r, In] Kaiming-uniform,
// B [Out, r] zero, so the model's output is unchanged until B trains.
type LoRA struct {
	cfg     Config
	scaling float64
	targets map[string]models.LinearSpec // by Path
	merged  bool
}

// Name implements tuners.Tuner.
func (l *LoRA) Name() string { return Name }

// Config implements tuners.Tuner.
func (l *LoRA) Config() tuners.Config { c := l.cfg; return &c }

// Scope implements tuners.Tuner.
func (l *LoRA) Scope() string { return Scope }

// Targets lists the adapted projections' paths, sorted.
func (l *LoRA) Targets() []string {
	out := make([]string, 0, len(l.targets))
	for p := range l.targets {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Trainable implements tuners.Tuner: A and B of every adapted projection.
func (l *LoRA) Trainable(v *context.Variable) bool {
	return tuners.InScope(v, Scope) && (v.Name() == "lora_A" || v.Name() == "lora_B")
}

func varScope(spec models.LinearSpec) string { return Scope + spec.Scope() }

// Attach implements tuners.Tuner.
func (l *LoRA) Attach(ctx *context.Context, m *models.Model) error {
	if l.targets != nil {
		return errors.New("lora: already attached")
	}
	l.targets = map[string]models.LinearSpec{}
	for _, spec := range m.LinearSpecs() {
		if l.cfg.Selects(spec) {
			l.targets[spec.Path] = spec
		}
	}
	if len(l.targets) == 0 {
		return errors.Errorf("lora: target_modules %v / target_regex %q match no projection of this model",
			l.cfg.TargetModules, l.cfg.TargetRegex)
	}
	r := l.cfg.Rank
	for _, path := range l.Targets() {
		spec := l.targets[path]
		a := InitA(l.cfg.Seed, path, r, spec.In)
		c := ctx.InAbsPath(varScope(spec)).Checked(false)
		c.VariableWithValue("lora_A", tensors.FromFlatDataAndDimensions(a, r, spec.In))
		c.VariableWithValue("lora_B", tensors.FromFlatDataAndDimensions(make([]float32, spec.Out*r), spec.Out, r))
	}
	ctx.InAbsPath(Scope).Checked(false).VariableWithValue(enabledVar, float32(1)).SetTrainable(false)
	m.AddHooks(models.Hooks{Linear: l.wrap})
	return nil
}

// InitA returns LoRA's seeded initialisation of A [r, in] for the projection at path:
// Kaiming-uniform with a=√5 (PyTorch's Linear init, as PEFT uses), bound = 1/√in.
func InitA(seed uint64, path string, r, in int) []float32 {
	bound := 1 / math.Sqrt(float64(in))
	h := fnv.New64a()
	_, _ = h.Write([]byte(path))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	a := make([]float32, r*in)
	for i := range a {
		a[i] = float32((2*rng.Float64() - 1) * bound)
	}
	return a
}

// Family is implemented by the LoRA-family tuners (LoRA, QLoRA through its embedded LoRA,
// DoRA): what an exporter to PEFT's LoRA layout needs.
type Family interface {
	// LoRAConfig is the LoRA configuration, defaults filled in.
	LoRAConfig() Config
	// Targets lists the adapted projections' paths, sorted.
	Targets() []string
	// VarScope is the scope holding "<VarScope><projection scope>/lora_A" and "lora_B".
	VarScope() string
	// UsesDoRA reports a DoRA magnitude vector ("lora_magnitude_vector") per projection.
	UsesDoRA() bool
}

// LoRAConfig implements Family.
func (l *LoRA) LoRAConfig() Config { return l.cfg }

// VarScope implements Family.
func (l *LoRA) VarScope() string { return Scope }

// UsesDoRA implements Family.
func (l *LoRA) UsesDoRA() bool { return false }

// LRMultiplier implements tuners.LRScaler: LoRA+ gives every B the learning rate
// LoRAPlusRatio × A's; without LoRA+ every multiplier is 1.
func (l *LoRA) LRMultiplier(_ int, v *context.Variable) float64 {
	if l.cfg.LoRAPlusRatio > 0 && v.Name() == "lora_B" && tuners.InScope(v, Scope) {
		return l.cfg.LoRAPlusRatio
	}
	return 1
}

// wrap is the Linear hook: base projection plus the scaled low-rank update.
func (l *LoRA) wrap(next models.LinearFn) models.LinearFn {
	return func(ctx *context.Context, spec models.LinearSpec, x *Node) *Node {
		y := next(ctx, spec, x) // [..., Out]
		if _, ok := l.targets[spec.Path]; !ok {
			return y
		}
		g := x.Graph()
		a := ctx.GetVariableByScopeAndName(varScope(spec), "lora_A").ValueGraph(g) // [r, In]
		b := ctx.GetVariableByScopeAndName(varScope(spec), "lora_B").ValueGraph(g) // [Out, r]
		enabled := ctx.GetVariableByScopeAndName(Scope, enabledVar).ValueGraph(g)
		h := x
		if l.cfg.Dropout > 0 && ctx.IsTraining(g) {
			if context.GetGraphParamOr(ctx, g, models.ParamGradientCheckpointing, false) {
				panic(errors.New("lora: lora_dropout > 0 cannot be combined with gradient checkpointing " +
					"(the recomputed dropout mask would differ): set lora_dropout to 0"))
			}
			h = layers.DropoutStatic(ctx, h, l.cfg.Dropout)
		}
		low := models.MatMulT(ctx, h, ConvertDType(a, x.DType()))     // [..., r]
		delta := models.MatMulT(ctx, low, ConvertDType(b, x.DType())) // [..., Out]
		scale := MulScalar(ConvertDType(enabled, x.DType()), l.scaling)
		return Add(y, Mul(delta, scale))
	}
}

// IdentityAtInit reports that the attached model computes exactly the base model until B
// trains (B is initialised to zero).
func (l *LoRA) IdentityAtInit() bool { return true }

// Merged implements tuners.Merger.
func (l *LoRA) Merged() bool { return l.merged }

// Merge implements tuners.Merger: W += s·B·A for every adapted projection (host-side, float64
// accumulation), and the adapter passes through.
func (l *LoRA) Merge(ctx *context.Context) error {
	if l.merged {
		return errors.New("lora: already merged")
	}
	if err := l.apply(ctx, +1); err != nil {
		return err
	}
	l.merged = true
	return l.setEnabled(ctx, 0)
}

// Unmerge implements tuners.Merger: W −= s·B·A and the adapter is active again.
func (l *LoRA) Unmerge(ctx *context.Context) error {
	if !l.merged {
		return errors.New("lora: not merged")
	}
	if err := l.apply(ctx, -1); err != nil {
		return err
	}
	l.merged = false
	return l.setEnabled(ctx, 1)
}

func (l *LoRA) setEnabled(ctx *context.Context, v float32) error {
	return ctx.GetVariableByScopeAndName(Scope, enabledVar).SetValue(tensors.FromScalar(v))
}

func (l *LoRA) apply(ctx *context.Context, sign float64) error {
	for _, path := range l.Targets() {
		spec := l.targets[path]
		if spec.TiedTo != "" {
			return errors.Errorf("lora: cannot merge into %s: its weight is tied to %s", spec.Path, spec.TiedTo)
		}
	}
	for _, path := range l.Targets() {
		spec := l.targets[path]
		a := mustFloats(ctx, varScope(spec), "lora_A")
		b := mustFloats(ctx, varScope(spec), "lora_B")
		wv := ctx.GetVariableByScopeAndName(spec.Scope(), "weight")
		if wv == nil {
			return errors.Errorf("lora: merge: base weight %s.weight is missing", spec.Path)
		}
		w := mustFloats(ctx, spec.Scope(), "weight")
		AddScaledProduct(w, b, a, spec.Out, l.cfg.Rank, spec.In, sign*l.scaling)
		if err := wv.SetValue(tensors.FromFlatDataAndDimensions(w, spec.Out, spec.In)); err != nil {
			return errors.Wrapf(err, "lora: merge: setting %s.weight", spec.Path)
		}
	}
	return nil
}

// AddScaledProduct computes w += s·(b·a) for w [out, in], b [out, r], a [r, in], accumulating
// each element in float64.
func AddScaledProduct(w, b, a []float32, out, r, in int, s float64) {
	for o := range out {
		for i := range in {
			acc := 0.0
			for k := range r {
				acc += float64(b[o*r+k]) * float64(a[k*in+i])
			}
			w[o*in+i] = float32(float64(w[o*in+i]) + s*acc)
		}
	}
}

func mustFloats(ctx *context.Context, scope, name string) []float32 {
	v := ctx.GetVariableByScopeAndName(scope, name)
	if v == nil {
		panic(fmt.Sprintf("lora: variable %s/%s missing", scope, name))
	}
	return tensors.MustCopyFlatData[float32](v.MustValue())
}

var (
	_ tuners.Merger   = (*LoRA)(nil)
	_ tuners.LRScaler = (*LoRA)(nil)
	_ Family          = (*LoRA)(nil)
)
