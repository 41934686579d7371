package qlora

import (
	"regexp"
	"runtime"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
)

// Variable names of a quantised projection, in the projection's own (base) scope, replacing
// its float32 "weight" (see gomlx_ext/quant for the layout):
const (
	VarCodesNF4    = "weight_nf4"          // uint8 [ceil(N/2)]: NF4 codes, two per byte
	VarCodesInt8   = "weight_int8"         // int8 [N]
	VarAbsmax      = "weight_absmax"       // float32 [blocks of 64]
	VarAbsmaxCodes = "weight_absmax_codes" // uint8 [blocks of 64] (double quantisation)
	VarAbsmaxScale = "weight_absmax_scale" // float32 [blocks of 256 blocks]
	VarAbsmaxMean  = "weight_absmax_mean"  // float32 scalar
)

var packedVarNames = []string{VarCodesNF4, VarCodesInt8, VarAbsmax, VarAbsmaxCodes, VarAbsmaxScale, VarAbsmaxMean}

// Quantization says how the frozen base projections are stored.
type Quantization struct {
	Mode        quant.Mode // quant.NF4 or quant.Int8
	DoubleQuant bool       // quantise the block scales too
}

// blockProjection matches the tensors QLoRA quantises: every projection of every decoder
// block (bitsandbytes leaves embeddings, norms and lm_head in float).
var blockProjection = regexp.MustCompile(`^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$`)

// IsQuantizable reports whether the tensor (Hugging Face name) is one QLoRA quantises.
func IsQuantizable(name string) bool { return blockProjection.MatchString(name) }

// StorePacked creates the variables of a packed weight in scope (the projection's scope).
func StorePacked(ctx *context.Context, scope string, p *quant.Packed) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("qlora: storing packed %s: %v", scope, r)
		}
	}()
	c := ctx.InAbsPath(scope).Checked(false)
	set := func(name string, t *tensors.Tensor) {
		c.VariableWithValue(name, t).SetTrainable(false)
	}
	if p.Mode == quant.NF4 {
		set(VarCodesNF4, tensors.FromFlatDataAndDimensions(p.Codes, len(p.Codes)))
	} else {
		codes := make([]int8, len(p.Codes))
		for i, b := range p.Codes {
			codes[i] = int8(b)
		}
		set(VarCodesInt8, tensors.FromFlatDataAndDimensions(codes, len(codes)))
	}
	if p.DoubleQuant() {
		set(VarAbsmaxCodes, tensors.FromFlatDataAndDimensions(p.AbsmaxCodes, len(p.AbsmaxCodes)))
		set(VarAbsmaxScale, tensors.FromFlatDataAndDimensions(p.AbsmaxScale, len(p.AbsmaxScale)))
		set(VarAbsmaxMean, tensors.FromScalar(p.AbsmaxMean))
	} else {
		set(VarAbsmax, tensors.FromFlatDataAndDimensions(p.Absmax, len(p.Absmax)))
	}
	return nil
}

// IsPacked reports whether the projection in scope is stored quantised, and how.
func IsPacked(ctx *context.Context, scope string) (quant.Mode, bool) {
	if ctx.GetVariableByScopeAndName(scope, VarCodesNF4) != nil {
		return quant.NF4, true
	}
	if ctx.GetVariableByScopeAndName(scope, VarCodesInt8) != nil {
		return quant.Int8, true
	}
	return "", false
}

// ReadPacked copies the packed weight of the projection in scope (dims [Out, In]) to the host.
func ReadPacked(ctx *context.Context, scope string, dims []int) (*quant.Packed, error) {
	mode, ok := IsPacked(ctx, scope)
	if !ok {
		return nil, errors.Errorf("qlora: %s is not quantised", models.ScopeToPath(scope))
	}
	get := func(name string) *tensors.Tensor {
		if v := ctx.GetVariableByScopeAndName(scope, name); v != nil {
			return v.MustValue()
		}
		return nil
	}
	p := &quant.Packed{Mode: mode, Dims: append([]int(nil), dims...)}
	if mode == quant.NF4 {
		p.Codes = tensors.MustCopyFlatData[uint8](get(VarCodesNF4))
	} else {
		for _, q := range tensors.MustCopyFlatData[int8](get(VarCodesInt8)) {
			p.Codes = append(p.Codes, byte(q))
		}
	}
	if t := get(VarAbsmaxCodes); t != nil {
		p.AbsmaxCodes = tensors.MustCopyFlatData[uint8](t)
		p.AbsmaxScale = tensors.MustCopyFlatData[float32](get(VarAbsmaxScale))
		p.AbsmaxMean = tensors.ToScalar[float32](get(VarAbsmaxMean))
	} else {
		p.Absmax = tensors.MustCopyFlatData[float32](get(VarAbsmax))
	}
	if want := quant.CodeBytes(mode, p.NumElements()); len(p.Codes) != want {
		return nil, errors.Errorf("qlora: %s has %d code bytes, a %v %s weight needs %d",
			models.ScopeToPath(scope), len(p.Codes), dims, mode, want)
	}
	return p, nil
}

// deletePacked removes the packed variables of the projection in scope.
func deletePacked(ctx *context.Context, scope string) error {
	for _, name := range packedVarNames {
		if err := ctx.DeleteVariable(scope, name); err != nil {
			return errors.Wrapf(err, "qlora: deleting %s/%s", scope, name)
		}
	}
	return nil
}

// QuantizeOnLoad returns a models.LoadOptions.Store that quantises every block projection as
// it is read, one tensor at a time: the float32 copy of the model never exists (peak ≈ the
// packed model + the largest tensor in float32). Other tensors load as usual.
func QuantizeOnLoad(q Quantization) func(ctx *context.Context, name string, dims []int, data []float32) (bool, error) {
	return func(ctx *context.Context, name string, dims []int, data []float32) (bool, error) {
		if !IsQuantizable(name) {
			return false, nil
		}
		p, err := quant.Quantize(data, dims, q.Mode, q.DoubleQuant)
		if err != nil {
			return false, errors.WithMessagef(err, "quantising %s", name)
		}
		scope, _ := models.SplitTensorName(name)
		if err := StorePacked(ctx, scope, p); err != nil {
			return false, err
		}
		// The loader drops data after this call: collect it now, or the garbage of every
		// previous tensor could pile up to the float32 model's size before the GC runs.
		if len(data) >= 1<<16 {
			runtime.GC()
		}
		return true, nil
	}
}

// QuantizeInPlace quantises every block projection of m that ctx still holds in float32,
// deleting the float32 weight, and returns how many it quantised. Projections already packed
// must be in q.Mode.
func QuantizeInPlace(ctx *context.Context, m *models.Model, q Quantization) (int, error) {
	count := 0
	for _, spec := range m.LinearSpecs() {
		name := spec.Path + ".weight"
		if !IsQuantizable(name) {
			continue
		}
		scope := spec.Scope()
		if mode, ok := IsPacked(ctx, scope); ok {
			if mode != q.Mode {
				return count, errors.Errorf("qlora: %s is already quantised as %s, the config asks for %s", spec.Path, mode, q.Mode)
			}
			continue
		}
		v := ctx.GetVariableByScopeAndName(scope, "weight")
		if v == nil {
			return count, errors.Errorf("qlora: base weight %s is missing", name)
		}
		data, err := tensors.CopyFlatData[float32](v.MustValue())
		if err != nil {
			return count, errors.Wrapf(err, "qlora: %s is not float32", name)
		}
		p, err := quant.Quantize(data, []int{spec.Out, spec.In}, q.Mode, q.DoubleQuant)
		if err != nil {
			return count, errors.WithMessagef(err, "qlora: quantising %s", name)
		}
		if err := ctx.DeleteVariable(scope, "weight"); err != nil {
			return count, errors.Wrapf(err, "qlora: replacing %s", name)
		}
		if err := StorePacked(ctx, scope, p); err != nil {
			return count, err
		}
		count++
	}
	return count, nil
}

// packedNodes reads the projection's packed variables into g.
func packedNodes(ctx *context.Context, g *Graph, spec models.LinearSpec, mode quant.Mode) quant.Nodes {
	scope := spec.Scope()
	val := func(name string) *Node {
		if v := ctx.GetVariableByScopeAndName(scope, name); v != nil {
			return v.ValueGraph(g)
		}
		return nil
	}
	q := quant.Nodes{Mode: mode, Dims: []int{spec.Out, spec.In}, Absmax: val(VarAbsmax),
		AbsmaxCodes: val(VarAbsmaxCodes), AbsmaxScale: val(VarAbsmaxScale), AbsmaxMean: val(VarAbsmaxMean)}
	if mode == quant.NF4 {
		q.Codes = val(VarCodesNF4)
	} else {
		q.Codes = val(VarCodesInt8)
	}
	return q
}

// QuantizedLinear is the Linear hook that owns the quantised base: a projection stored packed
// is computed as x·dequant(W)ᵀ (+ bias), with quant.MatMulTransposed's gradient in training
// graphs; any other projection goes to next.
func QuantizedLinear(next models.LinearFn) models.LinearFn {
	return func(ctx *context.Context, spec models.LinearSpec, x *Node) *Node {
		if spec.TiedTo != "" {
			return next(ctx, spec, x)
		}
		mode, ok := IsPacked(ctx, spec.Scope())
		if !ok {
			return next(ctx, spec, x)
		}
		g := x.Graph()
		w := packedNodes(ctx, g, spec, mode)
		xf := ConvertDType(x, dtypes.Float32) // [..., In]
		var y *Node                           // [..., Out]
		if ctx.IsTraining(g) {
			y = quant.MatMulTransposed(xf, w)
		} else {
			y = DotGeneral(xf, []int{xf.Rank() - 1}, nil, quant.Dequantize(w, nil), []int{1}, nil)
		}
		if spec.Bias {
			bias := models.BaseVar(ctx, g, spec.Path, "bias", spec.Out) // [Out]
			y = Add(y, ExpandLeftToRank(ConvertDType(bias, dtypes.Float32), y.Rank()))
		}
		return ConvertDType(y, x.DType())
	}
}

// UseQuantizedBase makes m compute its packed projections from their codes (QuantizedLinear):
// what running a quantised checkpoint needs without an adapter. QLoRA's Attach does it itself.
func UseQuantizedBase(m *models.Model) { m.AddHooks(models.Hooks{Linear: QuantizedLinear}) }

func init() {
	// Packed codes count as the parameters they encode; their scales are not parameters.
	tuners.RegisterParamCounter(func(v *context.Variable) (int64, bool) {
		switch name := v.Name(); {
		case name == VarCodesNF4:
			return 2 * int64(v.Shape().Size()), true
		case name == VarCodesInt8:
			return int64(v.Shape().Size()), true
		case strings.HasPrefix(name, VarAbsmax):
			return 0, true
		}
		return 0, false
	})
}
