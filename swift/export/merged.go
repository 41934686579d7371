package export

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tokenizers"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/swift/weights"
)

// Options tune the exports.
type Options struct {
	// DType stores the float tensors: F32 (default), BF16 or F16.
	DType weights.DType
	// Tokenizer is written beside the model as tokenizer.json: a llama2.c tokenizer is
	// converted (Llama2CTokenizerJSON); for a Hugging Face one, TokenizerFile (its
	// tokenizer.json) is copied with the tokenizer_config.json beside it. Nil writes none.
	Tokenizer tokenizers.Tokenizer
	// TokenizerFile is the file the tokenizer was read from.
	TokenizerFile string
}

func (o Options) dtype() weights.DType {
	if o.DType == "" {
		return weights.F32
	}
	return o.DType
}

// SaveMerged writes the model with its tuners folded in as a plain Hugging Face checkpoint in
// dir (config.json, model.safetensors, tokenizer files): it loads back through the HF path
// with the same logits. Each tuner is folded according to what it is:
//
//   - a tuners.Merger (LoRA, DoRA, QLoRA — whose quantised base is dequantised first) is merged,
//     written, and unmerged again (the model in ctx is unchanged afterwards);
//   - a tuners.Expander (LLaMAPro) writes the expanded model (L + N layers);
//   - a tuner that trains base weights in place (full, freeze, LISA) needs nothing;
//   - any other tuner with weights of its own (Adapter) cannot be folded: an error.
//
// A llama2.c model is converted: q/k rows permuted to rotate-half RoPE (models.SaveHF) and its
// tokenizer converted to tokenizer.json.
func SaveMerged(dir string, ctx *context.Context, m *models.Model, ts []tuners.Tuner, opts Options) (err error) {
	saveCtx, saveCfg, restore, err := fold(ctx, m, ts)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := checkFloatBase(saveCtx, models.New(saveCfg)); err != nil {
		return err
	}
	if err := models.SaveHF(dir, saveCtx, saveCfg, opts.dtype()); err != nil {
		return errors.WithMessage(err, "export")
	}
	return writeTokenizer(dir, saveCfg, opts)
}

// fold folds the tuners into the base (see SaveMerged) and returns the context and config of
// the plain model, and restore, which unmerges again.
func fold(ctx *context.Context, m *models.Model, ts []tuners.Tuner) (*context.Context, *models.Config, func() error, error) {
	nothing := func() error { return nil }
	var mergers []tuners.Merger
	var expander tuners.Expander
	for _, t := range ts {
		inner := tuners.Unwrap(t)
		if mg, ok := inner.(tuners.Merger); ok {
			if mg.Merged() {
				return nil, nil, nothing, errors.Errorf("export: tuner %q is already merged", t.Name())
			}
			mergers = append(mergers, mg)
			continue
		}
		if ex, ok := inner.(tuners.Expander); ok {
			if expander != nil {
				return nil, nil, nothing, errors.New("export: more than one tuner expands the model")
			}
			expander = ex
			continue
		}
		for v := range ctx.IterVariables() {
			if tuners.InScope(v, t.Scope()) && !strings.HasPrefix(v.Name(), "#") {
				return nil, nil, nothing, errors.Errorf("export: tuner %q has weights of its own that cannot be folded into a plain "+
					"checkpoint (e.g. %s): save the adapter instead", t.Name(), v.ScopeAndName())
			}
		}
	}
	restore := func() error {
		var first error
		for i := len(mergers) - 1; i >= 0; i-- {
			if err := mergers[i].Unmerge(ctx); err != nil && first == nil {
				first = errors.WithMessage(err, "export: unmerging after the export")
			}
		}
		return first
	}
	for i, mg := range mergers {
		if err := mg.Merge(ctx); err != nil {
			for j := i - 1; j >= 0; j-- {
				_ = mergers[j].Unmerge(ctx)
			}
			return nil, nil, nothing, errors.WithMessage(err, "export: merging")
		}
	}
	if expander == nil {
		return ctx, m.Config, restore, nil
	}
	cfg, vars, err := expander.ExpandedModel(ctx, m.Config)
	if err != nil {
		_ = restore()
		return nil, nil, nothing, errors.WithMessage(err, "export")
	}
	saveCtx := context.New()
	for name, v := range vars {
		scope, vn := models.SplitTensorName(name)
		saveCtx.InAbsPath(scope).Checked(false).VariableWithValue(vn, v.MustValue())
	}
	return saveCtx, cfg, restore, nil
}

// checkFloatBase reports a projection still stored quantised (no merge dequantised it).
func checkFloatBase(ctx *context.Context, m *models.Model) error {
	for _, spec := range m.LinearSpecs() {
		if _, packed := qlora.IsPacked(ctx, spec.Scope()); packed {
			return errors.Errorf("export: %s is stored quantised: a merged export needs the QLoRA tuner "+
				"(its Merge dequantises the base), or use SaveQuantized", spec.Path)
		}
	}
	return nil
}

// writeTokenizer writes tokenizer.json (and tokenizer_config.json) into dir.
func writeTokenizer(dir string, cfg *models.Config, opts Options) error {
	switch tok := opts.Tokenizer.(type) {
	case nil:
		return nil
	case *tokenizers.Llama2C:
		js, err := Llama2CTokenizerJSON(tok)
		if err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(filepath.Join(dir, "tokenizer.json"), js); err != nil {
			return err
		}
		return atomicfile.WriteBytes(filepath.Join(dir, "tokenizer_config.json"), TokenizerConfigJSON(cfg.MaxPositions))
	default:
		if !strings.EqualFold(filepath.Ext(opts.TokenizerFile), ".json") {
			return errors.Errorf("export: tokenizer %q is neither llama2.c nor a tokenizer.json file", opts.TokenizerFile)
		}
		for _, name := range []string{filepath.Base(opts.TokenizerFile), "tokenizer_config.json"} {
			src := filepath.Join(filepath.Dir(opts.TokenizerFile), name)
			data, err := os.ReadFile(src)
			if err != nil {
				if name == "tokenizer_config.json" && os.IsNotExist(err) {
					continue
				}
				return errors.Wrap(err, "export: copying the tokenizer")
			}
			dst := name
			if name != "tokenizer_config.json" {
				dst = "tokenizer.json"
			}
			if err := atomicfile.WriteBytes(filepath.Join(dir, dst), data); err != nil {
				return err
			}
		}
		return nil
	}
}
