package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/infer"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
)

// ptArgs are the flags of `goswift pt` (continued pretraining on a text file). They are saved
// as args.json in the output directory; --resume-from reads them back.
type ptArgs struct {
	Model     string `json:"model"`
	Tokenizer string `json:"tokenizer,omitempty"`
	Device    string `json:"device"`
	Data      string `json:"data"`
	Output    string `json:"output"`

	tunerArgs

	Steps       int     `json:"steps"`
	BatchSize   int     `json:"batch_size"`
	SeqLen      int     `json:"seq_len"`
	GradAccum   int     `json:"grad_accum"`
	LR          float64 `json:"lr"`
	Warmup      int     `json:"warmup"`
	MinLRRatio  float64 `json:"min_lr_ratio"`
	WeightDecay float64 `json:"weight_decay"`
	MaxGradNorm float64 `json:"max_grad_norm"`
	Seed        int64   `json:"seed"`
	EvalEvery   int     `json:"eval_every"`
	EvalBatches int     `json:"eval_batches"`
	ValFraction float64 `json:"val_fraction"`
	SaveEvery   int     `json:"save_every"`

	ResumeFrom   string `json:"-"`
	SamplePrompt string `json:"sample_prompt,omitempty"`
	SampleTokens int    `json:"sample_tokens"`
	NoProgress   bool   `json:"-"`

	set map[string]bool // flags given on the command line
}

func (a *ptArgs) flagsSet(set map[string]bool) { a.set = set }

func (a *ptArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.Model, "model", "", "base model: Hugging Face `dir` or llama2.c checkpoint")
	fs.StringVar(&a.Tokenizer, "tokenizer", "", "tokenizer `file` (default: found beside the model)")
	fs.StringVar(&a.Device, "device", "auto", "auto, cpu or cuda")
	fs.StringVar(&a.Data, "data", "", "UTF-8 text `file` to continue pretraining on")
	fs.StringVar(&a.Output, "output", "", "output `dir`: args.json, train_log.jsonl, checkpoints, adapter/")
	a.tunerArgs.flags(fs)
	fs.IntVar(&a.Steps, "steps", 200, "optimizer steps")
	fs.IntVar(&a.BatchSize, "batch-size", 8, "rows per micro-batch")
	fs.IntVar(&a.SeqLen, "seq-len", 128, "tokens per row")
	fs.IntVar(&a.GradAccum, "grad-accum", 1, "micro-batches per optimizer step")
	fs.Float64Var(&a.LR, "lr", 1e-3, "peak learning rate")
	fs.IntVar(&a.Warmup, "warmup", 10, "linear warm-up steps")
	fs.Float64Var(&a.MinLRRatio, "min-lr-ratio", 0.1, "cosine decay floor as a fraction of --lr")
	fs.Float64Var(&a.WeightDecay, "weight-decay", 0, "AdamW weight decay (matrices only)")
	fs.Float64Var(&a.MaxGradNorm, "max-grad-norm", 1, "global gradient-norm clip (<0: off)")
	fs.Int64Var(&a.Seed, "seed", 1, "seed for data order, adapter init and dropout")
	fs.IntVar(&a.EvalEvery, "eval-every", 50, "held-out evaluation every N steps (0: start and end only)")
	fs.IntVar(&a.EvalBatches, "eval-batches", 4, "held-out batches per evaluation")
	fs.Float64Var(&a.ValFraction, "val-fraction", 0.1, "tail of the text held out for evaluation")
	fs.IntVar(&a.SaveEvery, "save-every", 100, "checkpoint every N steps (0: at the end only)")
	fs.StringVar(&a.ResumeFrom, "resume-from", "", "continue the run saved in `dir` (its args.json and latest checkpoint)")
	fs.StringVar(&a.SamplePrompt, "sample-prompt", "", "generate from this prompt before and after training")
	fs.IntVar(&a.SampleTokens, "sample-tokens", 48, "tokens to generate for --sample-prompt")
	fs.BoolVar(&a.NoProgress, "no-progress", false, "no progress bar")
}

// resumable flags may differ from the run being resumed.
var resumable = map[string]bool{"steps": true, "output": true, "device": true, "eval_every": true,
	"save_every": true, "sample_prompt": true, "sample_tokens": true}

// loadResume replaces the args with those saved in the run being resumed (its args.json), keeping
// the resumable flags given now; any other flag given with a different value is an error.
func (a *ptArgs) loadResume() error {
	runDir := a.ResumeFrom
	if _, err := os.Stat(filepath.Join(runDir, "args.json")); err != nil {
		runDir = filepath.Dir(runDir) // a checkpoint directory inside the run
	}
	path := filepath.Join(runDir, "args.json")
	then, err := os.ReadFile(path)
	if err != nil {
		return errors.Wrapf(err, "--resume-from %s: reading the run's args.json", a.ResumeFrom)
	}
	var thenM, nowM map[string]any
	if err := json.Unmarshal(then, &thenM); err != nil {
		return errors.Wrapf(err, "--resume-from: %s", path)
	}
	now, _ := json.Marshal(a)
	_ = json.Unmarshal(now, &nowM)
	for flagName := range a.set {
		key := strings.ReplaceAll(flagName, "-", "_")
		v, persisted := nowM[key]
		switch {
		case !persisted:
		case resumable[key]:
			thenM[key] = v
		case fmt.Sprint(v) != fmt.Sprint(thenM[key]):
			return errors.Errorf("--%s=%v differs from the run being resumed (%v in %s): resume continues the same run",
				flagName, v, thenM[key], path)
		}
	}
	if !a.set["output"] {
		thenM["output"] = runDir
	}
	merged, _ := json.Marshal(thenM)
	keep := *a
	*a = ptArgs{}
	if err := json.Unmarshal(merged, a); err != nil {
		return errors.Wrapf(err, "--resume-from: %s", path)
	}
	a.set, a.ResumeFrom, a.NoProgress = keep.set, keep.ResumeFrom, keep.NoProgress
	return nil
}

// Run trains and reports held-out loss and samples before and after.
func (a *ptArgs) Run(stdout, stderr io.Writer) error {
	if a.ResumeFrom != "" {
		if err := a.loadResume(); err != nil {
			return err
		}
	}
	switch {
	case a.Model == "":
		return errors.New("goswift pt: --model is required")
	case a.Data == "":
		return errors.New("goswift pt: --data is required")
	case a.Output == "":
		return errors.New("goswift pt: --output is required")
	}
	m, err := swift.Load(a.Model, swift.LoadOptions{Tokenizer: a.Tokenizer, Device: a.Device})
	if err != nil {
		return err
	}
	if m.Tokenizer == nil {
		return errors.Errorf("goswift pt: no tokenizer found beside %s: pass --tokenizer", a.Model)
	}
	tcfg, err := a.tunerArgs.config(uint64(a.Seed))
	if err != nil {
		return err
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
	tn, err := m.Attach(tcfg)
	if err != nil {
		return err
	}
	trainable, total := tuners.CountParams(m.Ctx)
	fmt.Fprintf(stdout, "tuner %s: %d trainable of %d parameters (%.3f%%)\n", tn.Name(), trainable, total,
		100*float64(trainable)/float64(total))
	tr, err := m.Trainer(ds, train.Config{Steps: a.Steps, GradAccum: a.GradAccum, LR: a.LR, WarmupSteps: a.Warmup,
		MinLRRatio: a.MinLRRatio, WeightDecay: a.WeightDecay, ClipNorm: a.MaxGradNorm, EvalEvery: a.EvalEvery,
		SaveEvery: a.SaveEvery, OutputDir: a.Output, Seed: a.Seed, NoProgress: a.NoProgress})
	if err != nil {
		return err
	}
	tr.Progress = stderr
	if a.ResumeFrom != "" {
		if err := tr.Resume(a.ResumeFrom); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resumed from %s at step %d\n", a.ResumeFrom, tr.StepsDone())
	} else if err := a.writeArgs(); err != nil {
		return err
	}
	res, err := tr.Run()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "held-out loss: %.4f before, %.4f after %d steps (%d tokens in %.1fs, %.0f tokens/s)\n",
		res.FirstEvalLoss, res.FinalEvalLoss, res.Steps, res.Tokens, res.Elapsed.Seconds(),
		float64(res.Tokens)/res.Elapsed.Seconds())
	adapterDir := filepath.Join(a.Output, "adapter")
	if err := tuners.SaveAdapter(adapterDir, m.Ctx, tn, a.Model); err != nil {
		return err
	}
	if err := a.sample(stdout, m, "after"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "adapter saved in %s (checkpoint %s, log %s)\n", adapterDir, res.Checkpoint,
		filepath.Join(a.Output, "train_log.jsonl"))
	return nil
}

func (a *ptArgs) writeArgs() error {
	if err := os.MkdirAll(a.Output, 0o755); err != nil {
		return errors.Wrapf(err, "creating --output %s", a.Output)
	}
	js, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(a.Output, "args.json"), js)
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
