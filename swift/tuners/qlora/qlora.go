package qlora

import (
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// Name is QLoRA's registry name.
const Name = "qlora"

// Config is QLoRA's configuration: LoRA's (r, lora_alpha, target_modules, ..., LoRA+) plus how
// the frozen base is quantised. The zero value is LoRA's defaults over an NF4 base with double
// quantisation (the QLoRA paper's and ms-swift's defaults).
type Config struct {
	lora.Config
	// QuantType is "nf4" (default) or "int8" (absmax per block of 64).
	QuantType quant.Mode `json:"quant_type,omitempty"`
	// DoubleQuant quantises the block scales too (default true).
	DoubleQuant *bool `json:"double_quant,omitempty"`
}

func init() {
	tuners.Register(Name, func() tuners.Config { return &Config{} })
}

// Quantization returns the base's storage format after defaults.
func (c *Config) Quantization() Quantization {
	q := Quantization{Mode: c.QuantType, DoubleQuant: c.DoubleQuant == nil || *c.DoubleQuant}
	if q.Mode == "" {
		q.Mode = quant.NF4
	}
	return q
}

// LoadOptions implements tuners.Loader: quantise each projection as the checkpoint is read.
func (c *Config) LoadOptions() models.LoadOptions {
	return models.LoadOptions{Store: QuantizeOnLoad(c.Quantization())}
}

// Validate implements tuners.Config.
func (c *Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return errors.WithMessage(err, "qlora")
	}
	if c.QuantType != "" {
		if err := c.QuantType.Validate(); err != nil {
			return errors.WithMessage(err, "qlora: quant_type")
		}
	}
	return nil
}

// Build implements tuners.Config.
func (c *Config) Build() (tuners.Tuner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	inner, err := c.Config.Build()
	if err != nil {
		return nil, err
	}
	cfg := *c
	q := c.Quantization()
	cfg.QuantType, cfg.DoubleQuant = q.Mode, &q.DoubleQuant
	return &QLoRA{LoRA: inner.(*lora.LoRA), cfg: cfg, q: q}, nil
}

// QLoRA is LoRA over a quantised, frozen base: Attach packs every decoder-block projection
// (unless QuantizeOnLoad already did), installs QuantizedLinear under LoRA's hook, then
// attaches LoRA. The adapter (A, B) is plain LoRA, in LoRA's scope.
type QLoRA struct {
	*lora.LoRA
	cfg  Config
	q    Quantization
	dims map[string][]int // [Out, In] of every quantisable projection, by scope
	// saved holds the packed weights while merged: Unmerge restores them byte for byte.
	saved map[string]*quant.Packed // by scope
}

// Name implements tuners.Tuner.
func (t *QLoRA) Name() string { return Name }

// Config implements tuners.Tuner.
func (t *QLoRA) Config() tuners.Config { c := t.cfg; return &c }

// IdentityAtInit is false: the attached model computes the quantised base (B = 0), not the
// float one.
func (t *QLoRA) IdentityAtInit() bool { return false }

// Attach implements tuners.Tuner.
func (t *QLoRA) Attach(ctx *context.Context, m *models.Model) error {
	if _, err := QuantizeInPlace(ctx, m, t.q); err != nil {
		return err
	}
	t.dims = map[string][]int{}
	for _, spec := range m.LinearSpecs() {
		if IsQuantizable(spec.Path + ".weight") {
			t.dims[spec.Scope()] = []int{spec.Out, spec.In}
		}
	}
	UseQuantizedBase(m)
	return t.LoRA.Attach(ctx, m)
}

// Merge implements tuners.Merger: every packed projection is dequantised to a float32 weight
// (the packed bytes are kept), then LoRA's delta is added in float32.
func (t *QLoRA) Merge(ctx *context.Context) error {
	if t.Merged() {
		return errors.New("qlora: already merged")
	}
	t.saved = map[string]*quant.Packed{}
	scopes := make([]string, 0, len(t.dims))
	for scope := range t.dims {
		scopes = append(scopes, scope)
	}
	sort.Strings(scopes)
	for _, scope := range scopes {
		if _, packed := IsPacked(ctx, scope); !packed {
			continue
		}
		dims := t.dims[scope]
		p, err := ReadPacked(ctx, scope, dims)
		if err != nil {
			return err
		}
		if err := deletePacked(ctx, scope); err != nil {
			return err
		}
		t.saved[scope] = p
		ctx.InAbsPath(scope).Checked(false).VariableWithValue("weight",
			tensors.FromFlatDataAndDimensions(p.Dequantize(), dims...)).SetTrainable(false)
	}
	return t.LoRA.Merge(ctx)
}

// Unmerge implements tuners.Merger: the float32 weights go and the packed bytes come back
// exactly.
func (t *QLoRA) Unmerge(ctx *context.Context) error {
	if !t.Merged() {
		return errors.New("qlora: not merged")
	}
	if err := t.LoRA.Unmerge(ctx); err != nil {
		return err
	}
	for scope, p := range t.saved {
		if err := ctx.DeleteVariable(scope, "weight"); err != nil {
			return errors.Wrapf(err, "qlora: unmerge %s", scope)
		}
		if err := StorePacked(ctx, scope, p); err != nil {
			return err
		}
	}
	t.saved = nil
	return nil
}

var (
	_ tuners.Merger   = (*QLoRA)(nil)
	_ tuners.LRScaler = (*QLoRA)(nil)
	_ lora.Family     = (*QLoRA)(nil) // its adapter is plain LoRA
)
