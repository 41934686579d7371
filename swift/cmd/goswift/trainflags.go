package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
)

// runArgs are the model and output flags shared by the training verbs (pt, sft). JSON tags are
// the flag names with '_' (args.json and --resume-from rely on it).
type runArgs struct {
	Model     string `json:"model"`
	Tokenizer string `json:"tokenizer,omitempty"`
	Device    string `json:"device"`
	Output    string `json:"output"`

	ResumeFrom string `json:"-"`
	NoProgress bool   `json:"-"`
}

func (r *runArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&r.Model, "model", "", "base model: Hugging Face `dir` or llama2.c checkpoint")
	fs.StringVar(&r.Tokenizer, "tokenizer", "", "tokenizer `file` (default: found beside the model)")
	fs.StringVar(&r.Device, "device", "auto", "auto, cpu or cuda")
	fs.StringVar(&r.Output, "output", "", "output `dir`: args.json, train_log.jsonl, checkpoints, adapter/")
	fs.StringVar(&r.ResumeFrom, "resume-from", "", "continue the run saved in `dir` (its args.json and latest checkpoint)")
	fs.BoolVar(&r.NoProgress, "no-progress", false, "no progress bar")
}

// trainArgs are the optimisation flags shared by the training verbs.
type trainArgs struct {
	Steps       int     `json:"steps"`
	BatchSize   int     `json:"batch_size"`
	GradAccum   int     `json:"grad_accum"`
	LR          float64 `json:"lr"`
	Warmup      int     `json:"warmup"`
	MinLRRatio  float64 `json:"min_lr_ratio"`
	WeightDecay float64 `json:"weight_decay"`
	MaxGradNorm float64 `json:"max_grad_norm"`
	Seed        int64   `json:"seed"`
	EvalEvery   int     `json:"eval_every"`
	SaveEvery   int     `json:"save_every"`

	DType    string `json:"dtype,omitempty"`   // base weights/activations: f32 or bf16
	Devices  int    `json:"devices,omitempty"` // data-parallel devices (XLA); -1: all (--devices all)
	FSDP     bool   `json:"fsdp,omitempty"`    // shard parameters and optimizer state too
	Emulate  bool   `json:"emulate,omitempty"` // run the device shards one after another (CPU)
	GradCkpt bool   `json:"grad_checkpoint,omitempty"`
}

func (t *trainArgs) flags(fs *flag.FlagSet) {
	fs.IntVar(&t.Steps, "steps", 200, "optimizer steps")
	fs.IntVar(&t.BatchSize, "batch-size", 8, "rows per micro-batch")
	fs.IntVar(&t.GradAccum, "grad-accum", 1, "micro-batches per optimizer step")
	fs.Float64Var(&t.LR, "lr", 1e-3, "peak learning rate")
	fs.IntVar(&t.Warmup, "warmup", 10, "linear warm-up steps")
	fs.Float64Var(&t.MinLRRatio, "min-lr-ratio", 0.1, "cosine decay floor as a fraction of --lr")
	fs.Float64Var(&t.WeightDecay, "weight-decay", 0, "AdamW weight decay (matrices only)")
	fs.Float64Var(&t.MaxGradNorm, "max-grad-norm", 1, "global gradient-norm clip (<0: off)")
	fs.Int64Var(&t.Seed, "seed", 1, "seed for data order, adapter init and dropout")
	fs.IntVar(&t.EvalEvery, "eval-every", 50, "held-out evaluation every N steps (0: start and end only)")
	fs.IntVar(&t.SaveEvery, "save-every", 100, "checkpoint every N steps (0: at the end only)")
	fs.StringVar(&t.DType, "dtype", "f32", "base weights and activations: f32 or bf16 (adapters, optimizer and loss stay f32)")
	fs.Var(devicesFlag{&t.Devices}, "devices", "data-parallel devices on the XLA backend: a count, or `all` (also -1) for every device of the backend (0: one device, no SPMD)")
	fs.BoolVar(&t.FSDP, "fsdp", false, "with --devices: shard parameters and optimizer state along the data axis")
	fs.BoolVar(&t.Emulate, "emulate-devices", false, "with --devices: run the shards one after another on one device (CPU semantics)")
	fs.BoolVar(&t.GradCkpt, "grad-checkpoint", false, "recompute each block's activations in the backward pass (less memory)")
}

// devicesFlag parses --devices: a count >= 0, or "all" / -1 (train.AllDevices: every device of
// the backend, counted when the trainer is built).
type devicesFlag struct{ n *int }

func (d devicesFlag) String() string {
	switch {
	case d.n == nil:
		return "0"
	case *d.n == train.AllDevices:
		return "all"
	}
	return strconv.Itoa(*d.n)
}

func (d devicesFlag) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "all" {
		*d.n = train.AllDevices
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < train.AllDevices {
		return errors.Errorf("--devices %q: want a device count >= 0, or all (-1) for every device of the backend", s)
	}
	*d.n = n
	return nil
}

// weights is how the base is stored.
func (t *trainArgs) weights() (models.LoadOptions, error) {
	switch t.DType {
	case "", "f32", "float32":
		return models.LoadOptions{}, nil
	case "bf16", "bfloat16":
		return models.LoadOptions{DType: dtypes.BFloat16}, nil
	}
	return models.LoadOptions{}, errors.Errorf("--dtype %q: want f32 or bf16", t.DType)
}

// loadModel loads the base for training with tuner cfg: the dtype of --dtype, the tuner's
// loading needs (QLoRA quantises while reading) and --grad-checkpoint.
func (t *trainArgs) loadModel(r *runArgs, cfg tuners.Config) (*swift.Model, error) {
	w, err := t.weights()
	if err != nil {
		return nil, err
	}
	m, err := swift.Load(r.Model, swift.LoadOptions{Tokenizer: r.Tokenizer, Device: r.Device, Weights: w, For: cfg})
	if err != nil {
		return nil, err
	}
	m.Arch.GradientCheckpointing = t.GradCkpt
	return m, nil
}

// config is the trainer's configuration.
func (t *trainArgs) config(r *runArgs) train.Config {
	return train.Config{Steps: t.Steps, GradAccum: t.GradAccum, LR: t.LR, WarmupSteps: t.Warmup,
		MinLRRatio: t.MinLRRatio, WeightDecay: t.WeightDecay, ClipNorm: t.MaxGradNorm, EvalEvery: t.EvalEvery,
		SaveEvery: t.SaveEvery, OutputDir: r.Output, Seed: t.Seed, NoProgress: r.NoProgress,
		Parallel: train.Parallel{Devices: t.Devices, FSDP: t.FSDP, Emulate: t.Emulate}}
}

// resumable flags may differ from the run being resumed.
var resumable = map[string]bool{"steps": true, "output": true, "device": true, "eval_every": true,
	"save_every": true, "sample_prompt": true, "sample_tokens": true}

// loadResume replaces the args *a (a verb's args struct embedding runArgs) with those saved in
// the run being resumed (its args.json), keeping the resumable flags given now; any other flag
// given with a different value is an error. The caller restores what is not saved (the set of
// given flags, --resume-from, --no-progress).
func loadResume(a any, resumeFrom string, set map[string]bool) error {
	runDir := resumeFrom
	if _, err := os.Stat(filepath.Join(runDir, "args.json")); err != nil {
		runDir = filepath.Dir(runDir) // a checkpoint directory inside the run
	}
	path := filepath.Join(runDir, "args.json")
	then, err := os.ReadFile(path)
	if err != nil {
		return errors.Wrapf(err, "--resume-from %s: reading the run's args.json", resumeFrom)
	}
	var thenM, nowM map[string]any
	if err := json.Unmarshal(then, &thenM); err != nil {
		return errors.Wrapf(err, "--resume-from: %s", path)
	}
	now, _ := json.Marshal(a)
	_ = json.Unmarshal(now, &nowM)
	for flagName := range set {
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
	if !set["output"] {
		thenM["output"] = runDir
	}
	merged, _ := json.Marshal(thenM)
	v := reflect.ValueOf(a).Elem()
	v.Set(reflect.Zero(v.Type()))
	if err := json.Unmarshal(merged, a); err != nil {
		return errors.Wrapf(err, "--resume-from: %s", path)
	}
	return nil
}

// writeArgs saves the verb's args as OUTPUT/args.json.
func writeArgs(output string, a any) error {
	if err := os.MkdirAll(output, 0o755); err != nil {
		return errors.Wrapf(err, "creating --output %s", output)
	}
	js, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(output, "args.json"), js)
}

// trainJob is what a training verb hands to runTraining once its data is ready.
type trainJob struct {
	m     *swift.Model
	tuner tuners.Config
	ds    data.Dataset
	cfg   train.Config
	run   *runArgs
	args  any // saved as args.json on a fresh run
	// attached, if set, runs once the tuner is attached (vision-language freeze switches).
	attached func() error
}

// runTraining attaches the tuner, trains (or resumes), prints the held-out loss before and
// after, and saves the adapter in OUTPUT/adapter. It returns the tuner and the result.
func runTraining(stdout, stderr io.Writer, j trainJob) (tuners.Tuner, train.Result, error) {
	var res train.Result
	tn, err := j.m.Attach(j.tuner)
	if err != nil {
		return nil, res, err
	}
	if j.attached != nil {
		if err := j.attached(); err != nil {
			return nil, res, err
		}
	}
	trainable, total := tuners.CountParams(j.m.Ctx)
	fmt.Fprintf(stdout, "tuner %s: %d trainable of %d parameters (%.3f%%)\n", tn.Name(), trainable, total,
		100*float64(trainable)/float64(total))
	tr, err := j.m.Trainer(j.ds, j.cfg)
	if err != nil {
		return nil, res, err
	}
	tr.Progress = stderr
	if j.run.ResumeFrom != "" {
		if err := tr.Resume(j.run.ResumeFrom); err != nil {
			return nil, res, err
		}
		fmt.Fprintf(stdout, "resumed from %s at step %d\n", j.run.ResumeFrom, tr.StepsDone())
	} else if err := writeArgs(j.run.Output, j.args); err != nil {
		return nil, res, err
	}
	if res, err = tr.Run(); err != nil {
		return nil, res, err
	}
	fmt.Fprintf(stdout, "held-out loss: %.4f before, %.4f after %d steps (%d tokens in %.1fs, %.0f tokens/s)\n",
		res.FirstEvalLoss, res.FinalEvalLoss, res.Steps, res.Tokens, res.Elapsed.Seconds(),
		float64(res.Tokens)/res.Elapsed.Seconds())
	if err := tuners.SaveAdapter(filepath.Join(j.run.Output, "adapter"), j.m.Ctx, tn, j.run.Model); err != nil {
		return nil, res, err
	}
	return tn, res, nil
}
