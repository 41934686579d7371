package export

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/swift/weights"
)

// quantState is the JSON packed into "<weight>.quant_state.<kind>" (bitsandbytes'
// QuantState.as_dict(packed=True) non-tensor entries).
type quantState struct {
	QuantType       string  `json:"quant_type"`
	Blocksize       int     `json:"blocksize"`
	DType           string  `json:"dtype"`
	Shape           []int   `json:"shape"`
	NestedBlocksize int     `json:"nested_blocksize,omitempty"`
	NestedDType     string  `json:"nested_dtype,omitempty"`
	NestedOffset    float32 `json:"nested_offset,omitempty"`
}

// quantStateSuffix is the tensor holding a weight's quantisation state: bitsandbytes' name for
// NF4, a GoSwift-only one for int8.
func quantStateSuffix(mode quant.Mode) string {
	if mode == quant.NF4 {
		return ".quant_state.bitsandbytes__nf4"
	}
	return ".quant_state.goswift__int8"
}

// SaveQuantized writes the model's base, its decoder-block projections block-quantised, as a
// checkpoint in dir: config.json with a "quantization_config", model.safetensors and the
// tokenizer files. Other tensors are float32.
//
// NF4 uses the serialisation names of transformers + bitsandbytes (Linear4bit's state dict):
//
//	<p>.weight                                 U8 [ceil(N/2), 1]  codes, first element in the high nibble
//	<p>.weight.absmax                          F32 [N/64]  (U8 codes with double quantisation)
//	<p>.weight.quant_map                       F32 [16]    the NF4 levels
//	<p>.weight.nested_absmax                   F32 [N/64/256]  (double quantisation)
//	<p>.weight.nested_quant_map                F32 [256]   quant.DQLevels (double quantisation)
//	<p>.weight.quant_state.bitsandbytes__nf4   U8 [...]    JSON: quant_type, blocksize 64, dtype,
//	                                                       shape, nested_blocksize 256, nested_offset
//
// and quantization_config {quant_method: bitsandbytes, load_in_4bit, bnb_4bit_quant_type: nf4,
// bnb_4bit_use_double_quant, ...}. It follows bitsandbytes' documented layout; it has not been
// loaded by bitsandbytes itself here (not installable offline). The double quantisation is
// bitsandbytes' nested scheme with a linear code book (nested_quant_map = quant.DQLevels, which
// the file carries). Int8 (absmax per block of 64) has no bitsandbytes equivalent (LLM.int8 is
// per row): it is GoSwift-only — I8 <p>.weight [out, in], the same absmax/nested names, and
// "<p>.weight.quant_state.goswift__int8", quant_method "goswift".
//
// The tuners are folded in first, as SaveMerged does (a QLoRA model is merged in float32 and
// quantised again). Projections that ctx holds float32 are quantised (llama2.c q/k rows are first permuted to
// rotate-half RoPE, as models.SaveHF does); projections already packed in the same format are
// copied byte for byte when no permutation applies, otherwise decoded and quantised again.
func SaveQuantized(dir string, ctx *context.Context, m *models.Model, tns []tuners.Tuner, q qlora.Quantization, opts Options) (err error) {
	if err := q.Mode.Validate(); err != nil {
		return errors.WithMessage(err, "export")
	}
	ctx, cfg, restore, err := fold(ctx, m, tns)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	expected := cfg.ExpectedTensors()
	names := make([]string, 0, len(expected))
	for n := range expected {
		names = append(names, n)
	}
	sort.Strings(names)
	var ts []rawTensor
	for _, name := range names {
		dims := expected[name]
		scope, vn := models.SplitTensorName(name)
		permute := cfg.RoPE == models.RoPEInterleaved && (strings.Contains(name, ".q_proj.") || strings.Contains(name, ".k_proj."))
		heads := cfg.NumHeads
		if strings.Contains(name, ".k_proj.") {
			heads = cfg.NumKVHeads
		}
		if !qlora.IsQuantizable(name) {
			v := ctx.GetVariableByScopeAndName(scope, vn)
			if v == nil {
				return errors.Errorf("export: variable for tensor %q is missing", name)
			}
			data, err := tensors.CopyFlatData[float32](v.MustValue())
			if err != nil {
				return errors.Wrapf(err, "export: %q is not float32", name)
			}
			if permute {
				cols := 1
				if len(dims) == 2 {
					cols = dims[1]
				}
				if data, err = weights.PermuteRotaryInterleavedToHalf(data, heads, cols); err != nil {
					return errors.WithMessagef(err, "export %q", name)
				}
			}
			ts = append(ts, f32Raw(name, dims, data))
			continue
		}
		p, err := packedFor(ctx, scope, dims, q, permute, heads)
		if err != nil {
			return errors.WithMessagef(err, "export %q", name)
		}
		ts = append(ts, packedTensors(name, p)...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "export: creating %s", dir)
	}
	if err := writeRawSafetensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cfgJSON, err := quantizedConfigJSON(cfg, q)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "config.json"), cfgJSON); err != nil {
		return err
	}
	return writeTokenizer(dir, cfg, opts)
}

// packedFor returns the projection in scope quantised as q.
func packedFor(ctx *context.Context, scope string, dims []int, q qlora.Quantization, permute bool, heads int) (*quant.Packed, error) {
	var data []float32
	if mode, packed := qlora.IsPacked(ctx, scope); packed {
		p, err := qlora.ReadPacked(ctx, scope, dims)
		if err != nil {
			return nil, err
		}
		if mode == q.Mode && p.DoubleQuant() == q.DoubleQuant && !permute {
			return p, nil
		}
		data = p.Dequantize()
	} else {
		v := ctx.GetVariableByScopeAndName(scope, "weight")
		if v == nil {
			return nil, errors.Errorf("variable %s/weight is missing", scope)
		}
		var err error
		if data, err = tensors.CopyFlatData[float32](v.MustValue()); err != nil {
			return nil, errors.Wrap(err, "not float32")
		}
	}
	if permute {
		var err error
		if data, err = weights.PermuteRotaryInterleavedToHalf(data, heads, dims[1]); err != nil {
			return nil, err
		}
	}
	return quant.Quantize(data, dims, q.Mode, q.DoubleQuant)
}

// packedTensors lays p out under the weight's name (see SaveQuantized).
func packedTensors(name string, p *quant.Packed) []rawTensor {
	var out []rawTensor
	if p.Mode == quant.NF4 {
		out = append(out, rawTensor{Name: name, DType: weights.U8, Shape: []int{len(p.Codes), 1}, Data: p.Codes},
			f32Raw(name+".quant_map", []int{16}, quant.NF4Levels[:]))
	} else {
		out = append(out, rawTensor{Name: name, DType: weights.I8, Shape: p.Dims, Data: p.Codes})
	}
	st := quantState{QuantType: string(p.Mode), Blocksize: quant.BlockSize, DType: "float32", Shape: p.Dims}
	if p.DoubleQuant() {
		out = append(out,
			rawTensor{Name: name + ".absmax", DType: weights.U8, Shape: []int{len(p.AbsmaxCodes)}, Data: p.AbsmaxCodes},
			f32Raw(name+".nested_absmax", []int{len(p.AbsmaxScale)}, p.AbsmaxScale),
			f32Raw(name+".nested_quant_map", []int{256}, quant.DQLevels[:]))
		st.NestedBlocksize, st.NestedDType, st.NestedOffset = quant.DQBlockSize, "float32", p.AbsmaxMean
	} else {
		out = append(out, f32Raw(name+".absmax", []int{len(p.Absmax)}, p.Absmax))
	}
	js, _ := json.Marshal(st)
	return append(out, rawTensor{Name: name + quantStateSuffix(p.Mode), DType: weights.U8, Shape: []int{len(js)}, Data: js})
}

// quantizedConfigJSON is the model's config.json (rotate-half RoPE) with a quantization_config.
func quantizedConfigJSON(cfg *models.Config, q qlora.Quantization) ([]byte, error) {
	exported := *cfg
	exported.RoPE = models.RoPEHalf
	base, err := exported.JSON()
	if err != nil {
		return nil, errors.Wrap(err, "export: config.json")
	}
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, errors.Wrap(err, "export: config.json")
	}
	if q.Mode == quant.NF4 {
		doc["quantization_config"] = map[string]any{
			"quant_method": "bitsandbytes", "load_in_4bit": true, "load_in_8bit": false,
			"bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": q.DoubleQuant,
			"bnb_4bit_compute_dtype": "float32", "bnb_4bit_quant_storage": "uint8",
			"llm_int8_skip_modules": []string{"lm_head"},
		}
	} else {
		doc["quantization_config"] = map[string]any{
			"quant_method": "goswift", "quant_type": "int8", "blocksize": quant.BlockSize, "double_quant": q.DoubleQuant,
		}
	}
	js, err := json.MarshalIndent(doc, "", "  ")
	return append(js, '\n'), errors.Wrap(err, "export: config.json")
}

// LoadQuantized reads a checkpoint written by SaveQuantized: the config, and a context whose
// projections are packed (qlora's variables) and whose other weights are float32. Run it with
// qlora.UseQuantizedBase(models.New(cfg)), or attach QLoRA (it keeps the packed base).
func LoadQuantized(dir string) (*models.Config, *context.Context, error) {
	cfgPath := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, nil, errors.Wrap(err, "export: reading the quantised model's config")
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, errors.Wrapf(err, "export: %s", cfgPath)
	}
	var qc struct {
		QuantMethod string `json:"quant_method"`
	}
	if err := json.Unmarshal(doc["quantization_config"], &qc); err != nil || (qc.QuantMethod != "bitsandbytes" && qc.QuantMethod != "goswift") {
		return nil, nil, errors.Errorf("export: %s has no bitsandbytes/goswift quantization_config", cfgPath)
	}
	delete(doc, "quantization_config")
	plain, _ := json.Marshal(doc)
	cfg, err := models.ParseConfig(plain)
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "export: %s", cfgPath)
	}
	src, err := weights.OpenSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return nil, nil, errors.WithMessage(err, "export")
	}
	defer src.Close()
	ctx := context.New()
	used := map[string]bool{}
	expected := cfg.ExpectedTensors()
	for name, dims := range expected {
		scope, vn := models.SplitTensorName(name)
		if qlora.IsQuantizable(name) {
			p, err := readPacked(src, name, dims, used)
			if err != nil {
				return nil, nil, errors.WithMessagef(err, "export: %s", dir)
			}
			if err := qlora.StorePacked(ctx, scope, p); err != nil {
				return nil, nil, err
			}
			continue
		}
		info, ok := src.Info(name)
		if !ok || !slices.Equal(info.Shape, dims) {
			return nil, nil, errors.Errorf("export: %s: tensor %q is missing or not %v", dir, name, dims)
		}
		data, err := src.ReadFloat32(name)
		if err != nil {
			return nil, nil, err
		}
		used[name] = true
		ctx.InAbsPath(scope).Checked(false).VariableWithValue(vn, tensors.FromFlatDataAndDimensions(data, dims...))
	}
	for _, name := range src.Names() {
		if !used[name] {
			return nil, nil, errors.Errorf("export: %s: unexpected tensor %q", dir, name)
		}
	}
	return cfg, ctx, nil
}

// readPacked reads one packed projection's tensors (see SaveQuantized).
func readPacked(src *weights.Safetensors, name string, dims []int, used map[string]bool) (*quant.Packed, error) {
	bytesOf := func(n string, dtype weights.DType) ([]byte, error) {
		info, ok := src.Info(n)
		if !ok {
			return nil, errors.Errorf("tensor %q is missing", n)
		}
		if info.DType != dtype {
			return nil, errors.Errorf("tensor %q is %s, want %s", n, info.DType, dtype)
		}
		used[n] = true
		return src.ReadBytes(n)
	}
	floatsOf := func(n string) ([]float32, error) {
		if _, err := bytesOf(n, weights.F32); err != nil {
			return nil, err
		}
		return src.ReadFloat32(n)
	}
	var mode quant.Mode
	var stateJSON []byte
	for _, m := range []quant.Mode{quant.NF4, quant.Int8} {
		if _, ok := src.Info(name + quantStateSuffix(m)); ok {
			mode = m
			var err error
			if stateJSON, err = bytesOf(name+quantStateSuffix(m), weights.U8); err != nil {
				return nil, err
			}
		}
	}
	if mode == "" {
		return nil, errors.Errorf("tensor %q has no quant_state (not quantised?)", name)
	}
	var st quantState
	if err := json.Unmarshal(stateJSON, &st); err != nil {
		return nil, errors.Wrapf(err, "%s quant_state", name)
	}
	if st.Blocksize != quant.BlockSize || !slices.Equal(st.Shape, dims) || st.QuantType != string(mode) {
		return nil, errors.Errorf("%s: quant_state %s: want %s, blocksize %d, shape %v", name, stateJSON, mode, quant.BlockSize, dims)
	}
	p := &quant.Packed{Mode: mode, Dims: dims}
	var err error
	codeType := weights.U8
	if mode == quant.Int8 {
		codeType = weights.I8
	} else {
		qm, err := floatsOf(name + ".quant_map")
		if err != nil {
			return nil, err
		}
		if !slices.Equal(qm, quant.NF4Levels[:]) {
			return nil, errors.Errorf("%s.quant_map is not the NF4 table", name)
		}
	}
	if p.Codes, err = bytesOf(name, codeType); err != nil {
		return nil, err
	}
	if info, _ := src.Info(name + ".absmax"); info.DType == weights.U8 {
		if p.AbsmaxCodes, err = bytesOf(name+".absmax", weights.U8); err != nil {
			return nil, err
		}
		if p.AbsmaxScale, err = floatsOf(name + ".nested_absmax"); err != nil {
			return nil, err
		}
		nq, err := floatsOf(name + ".nested_quant_map")
		if err != nil {
			return nil, err
		}
		if !slices.Equal(nq, quant.DQLevels[:]) || st.NestedBlocksize != quant.DQBlockSize {
			return nil, errors.Errorf("%s: nested quantisation with another code book or block size is not supported", name)
		}
		p.AbsmaxMean = st.NestedOffset
	} else if p.Absmax, err = floatsOf(name + ".absmax"); err != nil {
		return nil, err
	}
	n := p.NumElements()
	nb := quant.NumBlocks(n)
	switch {
	case len(p.Codes) != quant.CodeBytes(mode, n):
		return nil, errors.Errorf("%s: %d code bytes for a %v %s weight", name, len(p.Codes), dims, mode)
	case p.Absmax == nil && (len(p.AbsmaxCodes) != nb || len(p.AbsmaxScale) != quant.NumDQBlocks(nb)):
		return nil, errors.Errorf("%s: double-quantised scales have the wrong sizes", name)
	case p.AbsmaxCodes == nil && len(p.Absmax) != nb:
		return nil, errors.Errorf("%s: %d scales, want %d", name, len(p.Absmax), nb)
	}
	return p, nil
}
