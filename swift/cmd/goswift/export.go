package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/export"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/peft"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/swift/weights"
)

// exportFormats are what `goswift export --format` writes.
var exportFormats = map[string]string{
	"merged":    "Hugging Face checkpoint with the adapter folded in (config.json, model.safetensors, tokenizer.json)",
	"quantized": "like merged, the decoder projections block-quantised (NF4: bitsandbytes names; int8: GoSwift-only)",
	"peft":      "the adapter in Hugging Face PEFT's layout (LoRA, rsLoRA, DoRA, QLoRA's LoRA)",
	"adapter":   "the adapter in GoSwift's layout (e.g. to convert a PEFT adapter)",
}

// exportArgs are the flags of `goswift export`.
type exportArgs struct {
	model, tokenizer, adapter, output string
	format, dtype                     string
	quantType                         string
	doubleQuant                       bool
}

func (a *exportArgs) flags(fs *flag.FlagSet) {
	names := make([]string, 0, len(exportFormats))
	for n := range exportFormats {
		names = append(names, n)
	}
	sort.Strings(names)
	fs.StringVar(&a.model, "model", "", "base model: Hugging Face `dir` or llama2.c checkpoint")
	fs.StringVar(&a.tokenizer, "tokenizer", "", "tokenizer `file` (default: found beside the model)")
	fs.StringVar(&a.adapter, "adapter", "", "adapter `dir` to export or fold in (GoSwift or PEFT layout)")
	fs.StringVar(&a.output, "output", "", "output `dir`")
	fs.StringVar(&a.format, "format", "merged", "what to write: "+strings.Join(names, ", "))
	fs.StringVar(&a.dtype, "dtype", "F32", "merged: float dtype F32, BF16 or F16")
	fs.StringVar(&a.quantType, "quant-type", "nf4", "quantized: nf4 or int8")
	fs.BoolVar(&a.doubleQuant, "double-quant", true, "quantized: quantise the block scales too")
}

// Run loads the model (and adapter) and writes the export.
func (a *exportArgs) Run(stdout, _ io.Writer) error {
	switch {
	case a.model == "":
		return errors.New("goswift export: --model is required")
	case a.output == "":
		return errors.New("goswift export: --output is required")
	}
	if _, ok := exportFormats[a.format]; !ok {
		return errors.Errorf("goswift export: unknown --format %q (formats: merged, quantized, peft, adapter)", a.format)
	}
	dtype := weights.DType(strings.ToUpper(a.dtype))
	if dtype != weights.F32 && dtype != weights.BF16 && dtype != weights.F16 {
		return errors.Errorf("goswift export: --dtype %q must be F32, BF16 or F16", a.dtype)
	}
	q := qlora.Quantization{Mode: quant.Mode(a.quantType), DoubleQuant: a.doubleQuant}
	if err := q.Mode.Validate(); err != nil {
		return errors.WithMessage(err, "goswift export: --quant-type")
	}
	if (a.format == "peft" || a.format == "adapter") && a.adapter == "" {
		return errors.Errorf("goswift export: --format %s needs --adapter", a.format)
	}
	m, err := swift.Load(a.model, swift.LoadOptions{Tokenizer: a.tokenizer, Device: "cpu"})
	if err != nil {
		return err
	}
	var ts []tuners.Tuner
	if a.adapter != "" {
		t, err := m.LoadAdapter(a.adapter)
		if err != nil {
			return err
		}
		ts = append(ts, t)
		fmt.Fprintf(stdout, "adapter %s: tuner %s\n", a.adapter, t.Name())
	}
	opts := export.Options{DType: dtype, Tokenizer: m.Tokenizer, TokenizerFile: a.tokenizerFile(m.Config.VocabSize)}
	switch a.format {
	case "merged":
		err = export.SaveMerged(a.output, m.Ctx, m.Arch, ts, opts)
	case "quantized":
		err = export.SaveQuantized(a.output, m.Ctx, m.Arch, ts, q, opts)
	case "peft":
		err = peft.Save(a.output, m.Ctx, ts[0], m.Arch, a.model)
	case "adapter":
		err = tuners.SaveAdapter(a.output, m.Ctx, ts[0], a.model)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s export written to %s (%s)\n", a.format, a.output, exportFormats[a.format])
	return nil
}

// tokenizerFile is the tokenizer's file: --tokenizer, else the one swift.Load finds beside the
// model.
func (a *exportArgs) tokenizerFile(vocab int) string {
	if a.tokenizer != "" {
		if st, err := os.Stat(a.tokenizer); err == nil && st.IsDir() {
			return filepath.Join(a.tokenizer, "tokenizer.json")
		}
		return a.tokenizer
	}
	dir := a.model
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	for _, name := range []string{"tokenizer.json", "tokenizer.bin", fmt.Sprintf("tok%d.bin", vocab)} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
