package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/templates"
)

// sftArgs are the flags of `goswift sft` (supervised fine-tuning on conversations). Like pt's
// they are saved as args.json, and --resume-from continues a run.
type sftArgs struct {
	runArgs
	chatArgs
	Dataset    string `json:"dataset"`
	ValDataset string `json:"val_dataset,omitempty"`

	tunerArgs
	trainArgs
	visionArgs

	Epochs         float64 `json:"epochs,omitempty"`
	MaxLength      int     `json:"max_length"`
	Packing        bool    `json:"packing,omitempty"`
	Truncation     string  `json:"truncation"`
	BucketMultiple int     `json:"bucket_multiple,omitempty"`
	LossScale      string  `json:"loss_scale,omitempty"`
	ValFraction    float64 `json:"val_fraction"`
	MaxVal         int     `json:"max_val"`

	set map[string]bool
}

// chatArgs are the dataset and template flags shared by sft and eval.
type chatArgs struct {
	Format     string `json:"format,omitempty"`
	SkipBad    bool   `json:"skip_bad,omitempty"`
	Limit      int    `json:"limit,omitempty"`
	Template   string `json:"template,omitempty"`
	ToolFormat string `json:"tool_format,omitempty"`
	System     string `json:"system,omitempty"`
}

func (c *chatArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Format, "format", "auto", "dataset record format: "+strings.Join(data.Formats(), ", "))
	fs.BoolVar(&c.SkipBad, "skip-bad", false, "skip (and count) malformed records instead of stopping at the first")
	fs.IntVar(&c.Limit, "limit", 0, "read at most N records of each dataset file (0: all)")
	fs.StringVar(&c.Template, "template", "", "chat template: "+strings.Join(templates.Names(), ", ")+" (default: from the model)")
	fs.StringVar(&c.ToolFormat, "tool-format", "", "override the template's tool format: "+strings.Join(templates.ToolFormatNames(), ", "))
	fs.StringVar(&c.System, "system", "", "system prompt for conversations without one")
}

// read loads the comma-separated dataset files.
func (c *chatArgs) read(stdout io.Writer, files, flagName string) ([]data.Sample, error) {
	format, err := data.ParseFormat(c.Format)
	if err != nil {
		return nil, errors.WithMessage(err, "--format")
	}
	var paths []string
	for _, p := range strings.Split(files, ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, p)
		}
	}
	samples, st, err := data.ReadFiles(paths, data.ReadOptions{Format: format, SkipBad: c.SkipBad, Limit: c.Limit})
	if err != nil {
		return nil, errors.WithMessagef(err, "%s", flagName)
	}
	if st.Skipped > 0 {
		fmt.Fprintf(stdout, "%s: skipped %d malformed records, e.g. %s\n", flagName, st.Skipped, st.Errors[0])
	}
	return samples, nil
}

// template resolves --template (default: from the model) and the rendering options.
func (c *chatArgs) template(m *swift.Model, loss string) (templates.Template, templates.Options, error) {
	name := c.Template
	if name == "" {
		name = templates.ForModel(m.Config.ModelType, m.Tokenizer)
	}
	t, err := templates.Get(name)
	if err != nil {
		return nil, templates.Options{}, errors.WithMessage(err, "--template")
	}
	opts := templates.Options{ToolFormat: c.ToolFormat, System: c.System}
	if c.ToolFormat != "" {
		if _, err := templates.GetToolFormat(c.ToolFormat); err != nil {
			return nil, opts, errors.WithMessage(err, "--tool-format")
		}
	}
	if opts.Loss, err = templates.ParseLossScale(loss); err != nil {
		return nil, opts, err
	}
	return t, opts, nil
}

func (a *sftArgs) flagsSet(set map[string]bool) { a.set = set }

func (a *sftArgs) flags(fs *flag.FlagSet) {
	a.runArgs.flags(fs)
	a.chatArgs.flags(fs)
	fs.StringVar(&a.Dataset, "dataset", "", "training `files`, comma-separated (JSONL or JSON array: messages, sharegpt, alpaca, query-response, text, gsm8k, bfcl)")
	fs.StringVar(&a.ValDataset, "val-dataset", "", "held-out `files` (default: --val-fraction of --dataset)")
	a.tunerArgs.flags(fs)
	a.trainArgs.flags(fs)
	a.visionArgs.flags(fs)
	fs.Float64Var(&a.Epochs, "epochs", 0, "train this many epochs instead of --steps (0: use --steps)")
	fs.IntVar(&a.MaxLength, "max-length", 512, "tokens per example, and per packed row")
	fs.BoolVar(&a.Packing, "packing", false, "pack several examples per row (attention stays within each)")
	fs.StringVar(&a.Truncation, "truncation", "drop", "examples longer than --max-length: drop, left (keep the end), right (keep the start) or error")
	fs.IntVar(&a.BucketMultiple, "bucket-multiple", 0, "round row lengths up to multiples of N (0: powers of two)")
	fs.StringVar(&a.LossScale, "loss-scale", "default", "loss weights: default, all, last_round, agent (tool calls ×2) or assistant=W,tool_call=W,prompt=W")
	fs.Float64Var(&a.ValFraction, "val-fraction", 0.05, "share of --dataset held out when there is no --val-dataset")
	fs.IntVar(&a.MaxVal, "max-val", 200, "at most this many held-out examples (0: no cap)")
}

// Run reads and renders the data, trains, and saves the adapter.
func (a *sftArgs) Run(stdout, stderr io.Writer) error {
	if a.ResumeFrom != "" {
		keep := *a
		if err := loadResume(a, keep.ResumeFrom, keep.set); err != nil {
			return err
		}
		a.set, a.ResumeFrom, a.NoProgress = keep.set, keep.ResumeFrom, keep.NoProgress
	}
	switch {
	case a.Model == "":
		return errors.New("goswift sft: --model is required")
	case a.Dataset == "":
		return errors.New("goswift sft: --dataset is required")
	case a.Output == "":
		return errors.New("goswift sft: --output is required")
	case a.Epochs < 0 || math.IsNaN(a.Epochs):
		return errors.Errorf("goswift sft: --epochs must be >= 0, got %v", a.Epochs)
	case a.ValFraction < 0 || a.ValFraction >= 1:
		return errors.Errorf("goswift sft: --val-fraction must be in [0, 1), got %v", a.ValFraction)
	}
	trunc, err := data.ParseTruncation(a.Truncation)
	if err != nil {
		return errors.WithMessage(err, "--truncation")
	}
	tcfg, err := a.tunerArgs.config(uint64(a.Seed))
	if err != nil {
		return err
	}
	m, err := a.trainArgs.loadModel(&a.runArgs, tcfg)
	if err != nil {
		return err
	}
	if m.Tokenizer == nil {
		return errors.Errorf("goswift sft: no tokenizer found beside %s: pass --tokenizer", a.Model)
	}
	if err := a.visionArgs.prepare(m, uint64(a.Seed)); err != nil {
		return err
	}
	tmpl, opts, err := a.template(m, a.LossScale)
	if err != nil {
		return err
	}
	samples, err := a.read(stdout, a.Dataset, "--dataset")
	if err != nil {
		return err
	}
	var held []data.Sample
	if a.ValDataset != "" {
		if held, err = a.read(stdout, a.ValDataset, "--val-dataset"); err != nil {
			return err
		}
	} else if a.ValFraction > 0 {
		samples, held = data.SplitHeldOut(samples, a.ValFraction, a.MaxVal, uint64(a.Seed))
	}
	if a.MaxVal > 0 && len(held) > a.MaxVal {
		held = held[:a.MaxVal]
	}
	trainEx, err := m.EncodeSamples(tmpl, m.Tokenizer, samples, opts)
	if err != nil {
		return errors.WithMessage(err, "goswift sft: --dataset")
	}
	heldEx, err := m.EncodeSamples(tmpl, m.Tokenizer, held, opts)
	if err != nil {
		return errors.WithMessage(err, "goswift sft: held-out data")
	}
	if len(heldEx) == 0 {
		return errors.New("goswift sft: no held-out examples: give --val-dataset or a --val-fraction > 0")
	}
	ds, err := data.NewSFTDataset(trainEx, heldEx, data.SFTConfig{BatchSize: a.BatchSize, GradAccum: a.GradAccum,
		MaxLength: a.MaxLength, Packing: a.Packing, Truncation: trunc, BucketMultiple: a.BucketMultiple, Seed: uint64(a.Seed)})
	if err != nil {
		return errors.WithMessage(err, "goswift sft")
	}
	if ds.NumEval() == 0 {
		return errors.Errorf("goswift sft: none of the %d held-out examples is left (longer than --max-length %d, or nothing to train on)",
			len(heldEx), a.MaxLength)
	}
	if a.Epochs > 0 && a.ResumeFrom == "" {
		a.Steps = max(1, int(math.Ceil(a.Epochs*float64(ds.StepsPerEpoch()))))
	}
	fmt.Fprintf(stdout, "model %s (%s) on %s\ntemplate %s; data %s: %s\n", a.Model, m.Config, m.Device.Config,
		tmpl.Name(), a.Dataset, ds.Stats())
	_, res, err := runTraining(stdout, stderr, trainJob{m: m, tuner: tcfg, ds: ds, cfg: a.trainArgs.config(&a.runArgs),
		run: &a.runArgs, args: a, attached: func() error { return a.visionArgs.freeze(stdout, m) }})
	if err != nil {
		return err
	}
	if m.VLM != nil {
		if err := saveModel(stdout, m, a.Output); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "adapter saved in %s (checkpoint %s, log %s)\n", filepath.Join(a.Output, "adapter"), res.Checkpoint,
		filepath.Join(a.Output, "train_log.jsonl"))
	return nil
}
