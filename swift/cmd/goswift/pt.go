package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/infer"
)

// ptArgs are the flags of `goswift pt` (continued pretraining on a text file). They are saved
// as args.json in the output directory; --resume-from reads them back. The model, output and
// optimisation flags are shared with sft (trainflags.go).
type ptArgs struct {
	runArgs
	Data string `json:"data"`

	tunerArgs
	trainArgs

	SeqLen      int     `json:"seq_len"`
	EvalBatches int     `json:"eval_batches"`
	ValFraction float64 `json:"val_fraction"`

	SamplePrompt string `json:"sample_prompt,omitempty"`
	SampleTokens int    `json:"sample_tokens"`

	set map[string]bool // flags given on the command line
}

func (a *ptArgs) flagsSet(set map[string]bool) { a.set = set }

func (a *ptArgs) flags(fs *flag.FlagSet) {
	a.runArgs.flags(fs)
	fs.StringVar(&a.Data, "data", "", "UTF-8 text `file` to continue pretraining on")
	a.tunerArgs.flags(fs)
	a.trainArgs.flags(fs)
	fs.IntVar(&a.SeqLen, "seq-len", 128, "tokens per row")
	fs.IntVar(&a.EvalBatches, "eval-batches", 4, "held-out batches per evaluation")
	fs.Float64Var(&a.ValFraction, "val-fraction", 0.1, "tail of the text held out for evaluation")
	fs.StringVar(&a.SamplePrompt, "sample-prompt", "", "generate from this prompt before and after training")
	fs.IntVar(&a.SampleTokens, "sample-tokens", 48, "tokens to generate for --sample-prompt")
}

// Run trains and reports held-out loss and samples before and after.
func (a *ptArgs) Run(stdout, stderr io.Writer) error {
	if a.ResumeFrom != "" {
		keep := *a
		if err := loadResume(a, keep.ResumeFrom, keep.set); err != nil {
			return err
		}
		a.set, a.ResumeFrom, a.NoProgress = keep.set, keep.ResumeFrom, keep.NoProgress
	}
	switch {
	case a.Model == "":
		return errors.New("goswift pt: --model is required")
	case a.Data == "":
		return errors.New("goswift pt: --data is required")
	case a.Output == "":
		return errors.New("goswift pt: --output is required")
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
		return errors.Errorf("goswift pt: no tokenizer found beside %s: pass --tokenizer", a.Model)
	}
	ds, err := data.LoadTextFile(a.Data, m.Tokenizer, data.TextConfig{SeqLen: a.SeqLen, BatchSize: a.BatchSize,
		ValFraction: a.ValFraction, EvalBatches: a.EvalBatches, Seed: uint64(a.Seed)})
	if err != nil {
		return errors.WithMessage(err, "goswift pt: --data")
	}
	fmt.Fprintf(stdout, "model %s (%s) on %s\ndata %s: %d training / %d held-out tokens\n",
		a.Model, m.Config, m.Device.Config, a.Data, ds.TrainTokens(), ds.HeldOutTokens())
	if err := a.sample(stdout, m, "before"); err != nil {
		return err
	}
	_, res, err := runTraining(stdout, stderr, trainJob{m: m, tuner: tcfg, ds: ds, cfg: a.trainArgs.config(&a.runArgs),
		run: &a.runArgs, args: a})
	if err != nil {
		return err
	}
	if err := a.sample(stdout, m, "after"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "adapter saved in %s (checkpoint %s, log %s)\n", filepath.Join(a.Output, "adapter"), res.Checkpoint,
		filepath.Join(a.Output, "train_log.jsonl"))
	return nil
}

func (a *ptArgs) sample(w io.Writer, m *swift.Model, when string) error {
	if a.SamplePrompt == "" {
		return nil
	}
	res, err := m.Generate([]string{a.SamplePrompt}, infer.Options{MaxNewTokens: a.SampleTokens})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "sample %s: %s%s\n", when, a.SamplePrompt, res[0].Text)
	return nil
}
