package swift

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/export"
	"github.com/goswift/goswift/swift/infer"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/models/vlm"
	"github.com/goswift/goswift/swift/tokenizers"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	_ "github.com/goswift/goswift/swift/tuners/all" // register every tuner
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/swift/weights"
	"github.com/goswift/goswift/xla"
)

// LoadOptions tune Load. The zero value loads on the default device with the tokenizer found
// beside the model.
type LoadOptions struct {
	// Tokenizer is a tokenizer file or directory; empty looks beside the model (tokenizer.json,
	// tokenizer.bin, or a llama2.c tok<vocab>.bin).
	Tokenizer string
	// Device is "auto" (default: CUDA if a PJRT plugin is found, else the pure-Go CPU backend),
	// "cpu" or "cuda".
	Device string
	// Backend, if set, is used instead of choosing one.
	Backend backends.Backend
	// Weights tunes how the base weights are stored (dtype, a per-tensor Store hook).
	Weights models.LoadOptions
	// For, when set, is the tuner the model is loaded for: its loading needs apply (QLoRA
	// quantises while reading, so the float32 model is never held whole).
	For tuners.Config
}

// Model is a loaded model: its config, graph builder, variables, tokenizer and backend.
type Model struct {
	Path      string
	Format    string // "hf" or "llama2c"
	Config    *models.Config
	Arch      *models.Model
	Ctx       *context.Context
	Backend   backends.Backend
	Device    xla.Choice
	Tokenizer tokenizers.Tokenizer // nil when none was found
	// TokenizerPath is the file the tokenizer was read from.
	TokenizerPath string
	// VLM is the vision-language config of a LLaVA-style model (nil for a text model); Arch
	// then has its vision tower attached.
	VLM *vlm.Config

	gen    *infer.Generator
	tuners []tuners.Tuner // attached, in order
}

// Load reads a model from a Hugging Face directory (config.json + *.safetensors [+
// tokenizer.json]) or a llama2.c checkpoint, and prepares it on a backend.
func Load(path string, opts LoadOptions) (m *Model, err error) {
	if isQuantizedExport(path) {
		// A quantised export (SaveQuantized): packed projections, read as they are.
		cfg, ctx, err := export.LoadQuantized(path)
		if err != nil {
			return nil, err
		}
		m = &Model{Path: path, Format: "hf-quantized", Config: cfg, Arch: models.New(cfg), Ctx: ctx}
		qlora.UseQuantizedBase(m.Arch)
	} else if vlm.IsVLMConfig(path) {
		m = &Model{Path: path, Ctx: context.New()}
		if err := m.loadVLM(path, opts); err != nil {
			return nil, err
		}
	} else {
		ck, err := models.OpenCheckpoint(path)
		if err != nil {
			return nil, err
		}
		defer ck.Close()
		m = &Model{Path: path, Format: ck.Format, Config: ck.Config, Arch: models.New(ck.Config), Ctx: context.New()}
		lo := opts.Weights
		if opts.For != nil && lo.Store == nil {
			lo.Store = tuners.LoadOptionsFor(opts.For).Store
		}
		if err := models.LoadVariables(m.Ctx, ck, lo); err != nil {
			return nil, err
		}
	}
	if err := m.loadTokenizer(opts.Tokenizer); err != nil {
		return nil, err
	}
	m.Backend = opts.Backend
	if m.Backend == nil {
		m.Backend, m.Device, err = xla.New(xla.Options{Want: opts.Device})
		if err != nil {
			return nil, err
		}
	}
	m.gen = infer.NewGenerator(m.Backend, m.Ctx, m.Arch)
	return m, nil
}

// isQuantizedExport reports whether path is a directory whose config.json declares a
// quantization_config (GoSwift's quantised export, bitsandbytes names).
func isQuantizedExport(path string) bool {
	raw, err := os.ReadFile(filepath.Join(path, "config.json"))
	if err != nil {
		return false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return false
	}
	_, ok := doc["quantization_config"]
	return ok
}

func (m *Model) loadTokenizer(explicit string) error {
	if explicit != "" {
		tok, err := tokenizers.Load(explicit)
		if err != nil {
			return err
		}
		m.Tokenizer, m.TokenizerPath = tok, explicit
		return m.checkTokenizer(explicit)
	}
	dir := m.Path
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	for _, name := range []string{"tokenizer.json", "tokenizer.bin", fmt.Sprintf("tok%d.bin", m.Config.VocabSize)} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			tok, err := tokenizers.Load(p)
			if err != nil {
				return err
			}
			m.Tokenizer, m.TokenizerPath = tok, p
			return m.checkTokenizer(p)
		}
	}
	return nil // a model without a tokenizer still scores and generates token ids
}

func (m *Model) checkTokenizer(path string) error {
	if n := m.Tokenizer.VocabSize(); n > m.Config.VocabSize {
		return errors.Errorf("tokenizer %s has %d tokens but the model's vocabulary is %d", path, n, m.Config.VocabSize)
	}
	return nil
}

// Generator returns the model's batched generator (token-level API).
func (m *Model) Generator() *infer.Generator { return m.gen }

// Encode tokenizes a prompt with the special tokens the model expects (BOS for Llama).
func (m *Model) Encode(text string) ([]int, error) {
	if m.Tokenizer == nil {
		return nil, errors.Errorf("model %s has no tokenizer: pass one (LoadOptions.Tokenizer / --tokenizer)", m.Path)
	}
	return tokenizers.EncodeWithSpecial(m.Tokenizer, text), nil
}

// Generate continues each prompt and returns the results; Result.Text holds the continuation.
func (m *Model) Generate(prompts []string, opts infer.Options) ([]infer.Result, error) {
	ids := make([][]int, len(prompts))
	for i, p := range prompts {
		var err error
		if ids[i], err = m.Encode(p); err != nil {
			return nil, err
		}
	}
	opts.Decoder = m.Tokenizer
	return m.gen.Generate(ids, opts)
}

// Attach builds a tuner from cfg, attaches it to the model and freezes everything the tuner
// does not train. Generation afterwards includes the tuner.
func (m *Model) Attach(cfg tuners.Config) (tuners.Tuner, error) {
	t, err := tuners.BuildAndAttach(cfg, m.Ctx, m.Arch)
	if err != nil {
		return nil, err
	}
	m.tuners = append(m.tuners, t)
	m.gen = infer.NewGenerator(m.Backend, m.Ctx, m.Arch) // compiled graphs predate the hooks
	return t, nil
}

// LoadAdapter attaches the adapter saved in dir (adapter_config.json +
// adapter_model.safetensors).
func (m *Model) LoadAdapter(dir string) (tuners.Tuner, error) {
	t, err := tuners.LoadAdapter(dir, m.Ctx, m.Arch)
	if err != nil {
		return nil, err
	}
	m.tuners = append(m.tuners, t)
	m.gen = infer.NewGenerator(m.Backend, m.Ctx, m.Arch)
	return t, nil
}

// Tuners lists the attached tuners.
func (m *Model) Tuners() []tuners.Tuner { return m.tuners }

// Trainer prepares training of the model's trainable variables on ds; the attached tuners'
// learning-rate multipliers (LoRA+, LISA) and active sets (LISA: gradients and optimizer
// state only for the interval's layers) apply unless cfg sets its own.
func (m *Model) Trainer(ds data.Dataset, cfg train.Config) (*train.Trainer, error) {
	if cfg.LRMultiplier == nil {
		cfg.LRMultiplier = tuners.LRMultiplier(m.tuners...)
	}
	if cfg.ActiveSet == nil {
		cfg.ActiveSet = tuners.ActiveSet(m.tuners...)
	}
	return train.New(m.Backend, m.Ctx, m.Arch, ds, cfg)
}

// SaveHF writes the model in Hugging Face layout (config.json + model.safetensors).
func (m *Model) SaveHF(dir string, dtype weights.DType) error {
	if m.VLM != nil {
		return m.saveVLM(dir, dtype)
	}
	return models.SaveHF(dir, m.Ctx, m.Config, dtype)
}
