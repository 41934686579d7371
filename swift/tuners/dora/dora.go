package dora

import (
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// Name is DoRA's registry name.
const Name = "dora"

// Scope holds DoRA's variables: "<Scope><projection scope>/lora_A", "lora_B" and
// "lora_magnitude_vector" (PEFT's names).
const Scope = "/tuners/dora"

// MagnitudeVar is the magnitude vector's variable name (PEFT: lora_magnitude_vector).
const MagnitudeVar = "lora_magnitude_vector"

const enabledVar = "#enabled"

// Config is DoRA's configuration: LoRA's fields (PEFT's LoraConfig with use_dora=true), the
// same defaults. LoRA+ (loraplus_lr_ratio) applies to B as in LoRA.
type Config struct {
	lora.Config
}

func init() {
	tuners.Register(Name, func() tuners.Config { return &Config{} })
}

// Validate implements tuners.Config.
func (c *Config) Validate() error {
	return errors.WithMessage(c.Config.Validate(), "dora")
}

// Build implements tuners.Config.
func (c *Config) Build() (tuners.Tuner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	inner, err := c.Config.Build() // fills LoRA's defaults
	if err != nil {
		return nil, err
	}
	d := *inner.Config().(*lora.Config)
	return &DoRA{cfg: Config{Config: d}, scaling: c.Scaling()}, nil
}

// DoRA is weight-decomposed low-rank adaptation (Liu et al. 2024) as PEFT computes it: for
// W' = W + s·B·A, the projection is m ⊙ W'x / ‖W'‖ with ‖·‖ the L2 norm of each output row
// (W is [Out, In]) and m [Out] the trained magnitude, initialised to ‖W‖ — so the model starts
// as the base (up to float32 rounding of m/‖W‖). As in PEFT the norm is detached (no gradient
// through it) and the output is y + (m/‖W'‖ − 1)·Wx + (m/‖W'‖)·s·BAx, with y the base output
// (bias included).
type DoRA struct {
	cfg     Config
	scaling float64
	targets map[string]models.LinearSpec
	merged  bool
	saved   map[string][]float32 // the base weights while merged, by path
}

// Name implements tuners.Tuner.
func (d *DoRA) Name() string { return Name }

// Config implements tuners.Tuner.
func (d *DoRA) Config() tuners.Config { c := d.cfg; return &c }

// Scope implements tuners.Tuner.
func (d *DoRA) Scope() string { return Scope }

// Targets lists the adapted projections' paths, sorted.
func (d *DoRA) Targets() []string {
	out := make([]string, 0, len(d.targets))
	for p := range d.targets {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Trainable implements tuners.Tuner: A, B and the magnitude of every adapted projection.
func (d *DoRA) Trainable(v *context.Variable) bool {
	return tuners.InScope(v, Scope) && (v.Name() == "lora_A" || v.Name() == "lora_B" || v.Name() == MagnitudeVar)
}

// LoRAConfig implements lora.Family.
func (d *DoRA) LoRAConfig() lora.Config { return d.cfg.Config }

// VarScope implements lora.Family.
func (d *DoRA) VarScope() string { return Scope }

// UsesDoRA implements lora.Family.
func (d *DoRA) UsesDoRA() bool { return true }

// LRMultiplier implements tuners.LRScaler (LoRA+ on B).
func (d *DoRA) LRMultiplier(_ int, v *context.Variable) float64 {
	if d.cfg.LoRAPlusRatio > 0 && v.Name() == "lora_B" && tuners.InScope(v, Scope) {
		return d.cfg.LoRAPlusRatio
	}
	return 1
}

func varScope(spec models.LinearSpec) string { return Scope + spec.Scope() }

func weightPath(spec models.LinearSpec) string {
	if spec.TiedTo != "" {
		return spec.TiedTo
	}
	return spec.Path
}

// Attach implements tuners.Tuner.
func (d *DoRA) Attach(ctx *context.Context, m *models.Model) error {
	if d.targets != nil {
		return errors.New("dora: already attached")
	}
	d.targets = map[string]models.LinearSpec{}
	for _, spec := range m.LinearSpecs() {
		if d.cfg.Selects(spec) {
			d.targets[spec.Path] = spec
		}
	}
	if len(d.targets) == 0 {
		return errors.Errorf("dora: target_modules %v / target_regex %q match no projection of this model",
			d.cfg.TargetModules, d.cfg.TargetRegex)
	}
	r := d.cfg.Rank
	for _, path := range d.Targets() {
		spec := d.targets[path]
		wv := ctx.GetVariableByScopeAndName(models.PathToScope(weightPath(spec)), "weight")
		if wv == nil || wv.DType() != dtypes.Float32 {
			return errors.Errorf("dora: %s needs a float32 base weight %s.weight (a quantised base is not supported)",
				path, weightPath(spec))
		}
		w := tensors.MustCopyFlatData[float32](wv.MustValue())
		c := ctx.InAbsPath(varScope(spec)).Checked(false)
		c.VariableWithValue("lora_A", tensors.FromFlatDataAndDimensions(lora.InitA(d.cfg.Seed, path, r, spec.In), r, spec.In))
		c.VariableWithValue("lora_B", tensors.FromFlatDataAndDimensions(make([]float32, spec.Out*r), spec.Out, r))
		c.VariableWithValue(MagnitudeVar, tensors.FromFlatDataAndDimensions(rowNorms(w, spec.Out, spec.In), spec.Out))
	}
	ctx.InAbsPath(Scope).Checked(false).VariableWithValue(enabledVar, float32(1)).SetTrainable(false)
	m.AddHooks(models.Hooks{Linear: d.wrap})
	return nil
}

// rowNorms returns the L2 norm of each row of w [out, in] (float64 accumulation).
func rowNorms(w []float32, out, in int) []float32 {
	n := make([]float32, out)
	for o := range out {
		s := 0.0
		for _, v := range w[o*in : (o+1)*in] {
			s += float64(v) * float64(v)
		}
		n[o] = float32(math.Sqrt(s))
	}
	return n
}

// wrap is the Linear hook.
func (d *DoRA) wrap(next models.LinearFn) models.LinearFn {
	return func(ctx *context.Context, spec models.LinearSpec, x *Node) *Node {
		y := next(ctx, spec, x) // [..., Out], bias included
		if _, ok := d.targets[spec.Path]; !ok {
			return y
		}
		g := x.Graph()
		vs := varScope(spec)
		a := ctx.GetVariableByScopeAndName(vs, "lora_A").ValueGraph(g)       // [r, In]
		b := ctx.GetVariableByScopeAndName(vs, "lora_B").ValueGraph(g)       // [Out, r]
		mag := ctx.GetVariableByScopeAndName(vs, MagnitudeVar).ValueGraph(g) // [Out]
		enabled := ctx.GetVariableByScopeAndName(Scope, enabledVar).ValueGraph(g)
		w := models.BaseVar(ctx, g, weightPath(spec), "weight", spec.Out, spec.In) // [Out, In]
		dtype := x.DType()

		// ‖W + s·B·A‖ per output row, detached (as PEFT: no gradient through the norm).
		ba := DotGeneral(StopGradient(b), []int{1}, nil, StopGradient(a), []int{0}, nil) // [Out, In]
		merged := Add(StopGradient(w), MulScalar(ba, d.scaling))
		norm := StopGradient(Sqrt(ReduceSum(Square(merged), -1))) // [Out]
		scale := ExpandLeftToRank(Div(mag, norm), y.Rank())       // [1.., Out]

		h := x
		base := y // W·x without the bias
		if d.cfg.Dropout > 0 && ctx.IsTraining(g) {
			if context.GetGraphParamOr(ctx, g, models.ParamGradientCheckpointing, false) {
				panic(errors.New("dora: lora_dropout > 0 cannot be combined with gradient checkpointing: set lora_dropout to 0"))
			}
			h = layers.DropoutStatic(ctx, h, d.cfg.Dropout)
			base = models.MatMulT(ctx, h, ConvertDType(StopGradient(w), dtype)) // PEFT: W·dropout(x)
		} else if spec.Bias {
			base = Sub(y, ExpandLeftToRank(ConvertDType(models.BaseVar(ctx, g, spec.Path, "bias", spec.Out), dtype), y.Rank()))
		}
		low := models.MatMulT(ctx, h, ConvertDType(a, dtype))     // [..., r]
		delta := models.MatMulT(ctx, low, ConvertDType(b, dtype)) // [..., Out]
		scale = ConvertDType(scale, dtype)
		extra := Add(Mul(AddScalar(scale, -1), base), Mul(scale, MulScalar(delta, d.scaling)))
		return Add(y, Mul(extra, ConvertDType(enabled, dtype)))
	}
}

// IdentityAtInit is false in the strict sense: m/‖W‖ is 1 only up to float32 rounding.
func (d *DoRA) IdentityAtInit() bool { return false }

// Merged implements tuners.Merger.
func (d *DoRA) Merged() bool { return d.merged }

// Merge implements tuners.Merger: W ← (m/‖W + s·B·A‖) ⊙ (W + s·B·A) per output row (float64
// accumulation); the base weights are kept so Unmerge restores them exactly.
func (d *DoRA) Merge(ctx *context.Context) error {
	if d.merged {
		return errors.New("dora: already merged")
	}
	for _, path := range d.Targets() {
		if spec := d.targets[path]; spec.TiedTo != "" {
			return errors.Errorf("dora: cannot merge into %s: its weight is tied to %s", spec.Path, spec.TiedTo)
		}
	}
	d.saved = map[string][]float32{}
	for _, path := range d.Targets() {
		spec := d.targets[path]
		vs := varScope(spec)
		a := floats(ctx, vs, "lora_A")
		b := floats(ctx, vs, "lora_B")
		mag := floats(ctx, vs, MagnitudeVar)
		wv := ctx.GetVariableByScopeAndName(spec.Scope(), "weight")
		w := tensors.MustCopyFlatData[float32](wv.MustValue())
		d.saved[path] = append([]float32(nil), w...)
		merged := make([]float64, len(w))
		for o := range spec.Out {
			norm := 0.0
			for i := range spec.In {
				acc := 0.0
				for k := range d.cfg.Rank {
					acc += float64(b[o*d.cfg.Rank+k]) * float64(a[k*spec.In+i])
				}
				v := float64(w[o*spec.In+i]) + d.scaling*acc
				merged[o*spec.In+i] = v
				norm += v * v
			}
			f := float64(mag[o]) / math.Sqrt(norm)
			for i := range spec.In {
				w[o*spec.In+i] = float32(f * merged[o*spec.In+i])
			}
		}
		if err := wv.SetValue(tensors.FromFlatDataAndDimensions(w, spec.Out, spec.In)); err != nil {
			return errors.Wrapf(err, "dora: merge: setting %s.weight", path)
		}
	}
	d.merged = true
	return ctx.GetVariableByScopeAndName(Scope, enabledVar).SetValue(tensors.FromScalar(float32(0)))
}

// Unmerge implements tuners.Merger: the base weights come back exactly.
func (d *DoRA) Unmerge(ctx *context.Context) error {
	if !d.merged {
		return errors.New("dora: not merged")
	}
	for path, w := range d.saved {
		spec := d.targets[path]
		if err := ctx.GetVariableByScopeAndName(spec.Scope(), "weight").SetValue(
			tensors.FromFlatDataAndDimensions(w, spec.Out, spec.In)); err != nil {
			return errors.Wrapf(err, "dora: unmerge %s", path)
		}
	}
	d.saved, d.merged = nil, false
	return ctx.GetVariableByScopeAndName(Scope, enabledVar).SetValue(tensors.FromScalar(float32(1)))
}

func floats(ctx *context.Context, scope, name string) []float32 {
	return tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName(scope, name).MustValue())
}

var (
	_ tuners.Merger   = (*DoRA)(nil)
	_ tuners.LRScaler = (*DoRA)(nil)
	_ lora.Family     = (*DoRA)(nil)
)
