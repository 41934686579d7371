package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
)

// Trainer runs causal-LM training of the trainable variables of a context (the tuner decides
// which: see tuners.Freeze) with AdamW, a warm-up + cosine schedule, global-norm clipping and
// gradient accumulation normalised by the accumulated batch's token count.
type Trainer struct {
	backend backends.Backend
	ctx     *context.Context
	model   *models.Model
	data    data.Dataset
	cfg     Config

	vars                  []*context.Variable // trainable, sorted by scope/name
	active                []int               // indices into vars of those that train now (all without Config.ActiveSet)
	activeKey             string              // Config.ActiveSet's key of active ("" without it)
	momentStart           map[string]int      // ActiveSet runs: the step each active variable's moments were created at
	accumulate, applyStep *context.Exec       // the step graphs of the active set
	eval                  *context.Exec
	plan                  *Plan // nil on one device

	step int         // optimizer steps done
	log  []LogRecord // this process's records
	// Progress receives the progress bar and messages (default os.Stderr).
	Progress io.Writer
	// OnLog, if set, sees every log record (training and eval) as it is produced.
	OnLog func(LogRecord)
}

// LogRecord is one line of the training log (train_log.jsonl).
type LogRecord struct {
	Step      int     `json:"step"`
	Loss      float64 `json:"loss,omitempty"`
	EvalLoss  float64 `json:"eval_loss,omitempty"`
	LR        float64 `json:"lr,omitempty"`
	GradNorm  float64 `json:"grad_norm,omitempty"`
	Tokens    int     `json:"tokens,omitempty"`
	TokensPS  float64 `json:"tokens_per_s,omitempty"`
	ElapsedMS int64   `json:"elapsed_ms,omitempty"`
}

// New prepares a trainer. The trainable variables (v.Trainable) are what it trains; their
// optimizer state is created (zeros) in ctx under /optimizer, so checkpoints hold it. With
// Config.ActiveSet only step 0's active subset gets optimizer state (see activeset.go).
func New(backend backends.Backend, ctx *context.Context, model *models.Model, ds data.Dataset, cfg Config) (*Trainer, error) {
	cfg = cfg.WithDefaults()
	par, err := cfg.Parallel.Resolve(backend) // Devices: AllDevices -> the backend's count
	if err != nil {
		return nil, errors.WithMessage(err, "train")
	}
	cfg.Parallel = par
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Trainer{backend: backend, ctx: ctx, model: model, data: ds, cfg: cfg, Progress: os.Stderr}
	for v := range ctx.IterVariables() {
		if v.Trainable {
			if !v.DType().IsFloat() {
				return nil, errors.Errorf("train: trainable variable %s has dtype %s", v.ScopeAndName(), v.DType())
			}
			t.vars = append(t.vars, v)
		}
	}
	if len(t.vars) == 0 {
		return nil, errors.New("train: no trainable variables (attach a tuner first)")
	}
	sort.Slice(t.vars, func(i, j int) bool { return t.vars[i].ScopeAndName() < t.vars[j].ScopeAndName() })
	t.active = make([]int, len(t.vars))
	for i := range t.vars {
		t.active[i] = i
	}
	if cfg.ActiveSet != nil {
		if t.activeKey, t.active, err = t.activeAt(0); err != nil {
			return nil, err
		}
		t.momentStart = map[string]int{}
	}
	for _, i := range t.active {
		if err := t.createState(t.vars[i], 0); err != nil {
			return nil, err
		}
	}
	if err := ctx.SetRNGStateFromSeed(cfg.Seed); err != nil {
		return nil, errors.Wrap(err, "train: seeding the RNG")
	}
	if err := t.buildStepExecs(); err != nil {
		return nil, err
	}
	if t.eval, err = context.NewExec(backend, ctx, t.buildEval()); err != nil {
		return nil, errors.Wrap(err, "train: building the eval graph")
	}
	if cfg.Parallel.Devices >= 1 {
		if err := t.setupParallel(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// optimizerStateShape is the shape of the optimizer state (AdamW moments, gradient
// accumulators) of a trainable variable of shape s: the same dimensions, always float32 — a
// bf16 (or other low-precision) trainable keeps f32 optimizer state, as mixed-precision
// training wants (bf16 second moments underflow and lose the update's scale).
func optimizerStateShape(s shapes.Shape) shapes.Shape {
	return shapes.Make(dtypes.Float32, s.Dimensions...)
}

// Config returns the trainer's configuration, defaults filled in.
func (t *Trainer) Config() Config { return t.cfg }

// StepsDone is the number of optimizer steps taken (including those restored by Resume).
func (t *Trainer) StepsDone() int { return t.step }

// Log returns the records produced by this trainer so far.
func (t *Trainer) Log() []LogRecord { return t.log }

func batchInputs(b *data.Batch) []any {
	return []any{
		tensors.FromFlatDataAndDimensions(b.Tokens, b.B, b.S),
		tensors.FromFlatDataAndDimensions(b.Targets, b.B, b.S),
		tensors.FromFlatDataAndDimensions(b.Positions, b.B, b.S),
		tensors.FromFlatDataAndDimensions(b.Segments, b.B, b.S),
		tensors.FromFlatDataAndDimensions(b.Weights, b.B, b.S),
	}
}

// imageInputs is the batch's images as the extra graph input ([B, K, C, H, W]), or nothing.
func imageInputs(b *data.Batch) []any {
	if b.Images == nil {
		return nil
	}
	ib := b.Images
	return []any{tensors.FromFlatDataAndDimensions(ib.Pixels, b.B, ib.K, ib.C, ib.H, ib.W)}
}

// StepResult is one optimizer step's outcome.
type StepResult struct {
	Loss     float64 // mean over the accumulated batch's weighted positions
	GradNorm float64 // before clipping
	LR       float64
	Tokens   int // weighted positions
}

// Step runs one optimizer step over GradAccum micro-batches. A non-finite loss or gradient
// leaves every variable untouched and returns an error.
func (t *Trainer) Step() (res StepResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("train: step %d: %v", t.step, r)
		}
	}()
	batches := make([]*data.Batch, t.cfg.GradAccum)
	total := 0
	vocab := t.model.Config.VocabSize
	for i := range batches {
		if batches[i], err = t.data.TrainBatch(t.step, i); err != nil {
			return res, errors.WithMessagef(err, "train: data for step %d micro-batch %d", t.step, i)
		}
		if err := batches[i].Validate(vocab); err != nil {
			return res, errors.WithMessagef(err, "train: step %d micro-batch %d", t.step, i)
		}
		total += batches[i].NumTargets()
	}
	if total == 0 {
		return res, errors.Errorf("train: step %d has no target tokens (every loss weight is 0)", t.step)
	}
	if err := t.syncActive(t.step); err != nil {
		return res, err
	}
	c := t.cfg
	res.LR, res.Tokens = c.LearningRate(t.step), total
	scales := make([]float32, len(t.active))
	for j, i := range t.active {
		scales[j] = 1
		if c.LRMultiplier != nil {
			scales[j] = float32(c.LRMultiplier(t.step, t.vars[i]))
		}
	}
	bias1, bias2 := t.biasInputs()
	scalars := []any{float32(1 / float64(total)), float32(res.LR), bias1, bias2, scales}
	sum := 0.0
	for i, b := range batches {
		outs, err := t.runMicro(b, scalars, i == len(batches)-1)
		if err != nil {
			return res, errors.WithMessagef(err, "train: step %d micro-batch %d", t.step, i)
		}
		sum += outs[0]
		if i == len(batches)-1 {
			res.GradNorm = outs[1]
		}
	}
	res.Loss = sum / float64(total)
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) || math.IsNaN(res.GradNorm) || math.IsInf(res.GradNorm, 0) {
		return res, errors.Errorf("train: step %d: loss %g, gradient norm %g are not finite: update skipped, "+
			"weights unchanged (lower the learning rate?)", t.step, res.Loss, res.GradNorm)
	}
	t.step++
	return res, nil
}

// runMicro runs one micro-batch: accumulate its gradient, or (last) accumulate and apply.
// Returns [loss sum, gradient norm (when last)].
func (t *Trainer) runMicro(b *data.Batch, scalars []any, last bool) ([2]float64, error) {
	var res [2]float64
	pick := func(last bool) *context.Exec {
		if last {
			return t.applyStep
		}
		return t.accumulate
	}
	var runs [][]any
	var execs []*context.Exec
	if b.Images != nil && t.plan != nil {
		return res, errors.New("train: multi-device training of a vision-language model (batches with images) is not supported yet")
	}
	switch {
	case t.plan == nil:
		runs, execs = [][]any{append(append(batchInputs(b), scalars...), imageInputs(b)...)}, []*context.Exec{pick(last)}
	case t.plan.Emulate:
		// Each shard's gradient is summed into the accumulators: the all-reduce, one device.
		shards, err := t.plan.SplitBatch(b)
		if err != nil {
			return res, err
		}
		for r, sh := range shards {
			runs = append(runs, append(batchInputs(sh), scalars...))
			execs = append(execs, pick(last && r == len(shards)-1))
		}
	default:
		in, err := t.plan.distributedInputs(b, scalars)
		if err != nil {
			return res, err
		}
		runs, execs = [][]any{in}, []*context.Exec{pick(last)}
	}
	for i, args := range runs {
		out, err := execs[i].Exec(args...)
		if err != nil {
			return res, err
		}
		res[0] += float64(tensors.ToScalar[float32](out[0]))
		if len(out) > 2 {
			res[1] = float64(tensors.ToScalar[float32](out[2]))
		}
	}
	return res, nil
}

// setupParallel plans the variables' sharding and configures the executables for SPMD.
func (t *Trainer) setupParallel() error {
	plan, err := NewPlan(t.ctx, t.cfg.Parallel)
	if err != nil {
		return err
	}
	if err := plan.checkDevices(t.backend); err != nil {
		return err
	}
	t.plan = plan
	if plan.Emulate {
		return nil
	}
	if err := plan.applyVariableSpecs(t.ctx); err != nil {
		return err
	}
	t.configureStepExecs()
	plan.configureExec(t.eval, inWeights+1)
	return nil
}

// Plan returns the data-parallel plan (nil on one device).
func (t *Trainer) Plan() *Plan { return t.plan }

// Evaluate returns the mean loss over the dataset's held-out batches.
func (t *Trainer) Evaluate() (loss float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("train: eval: %v", r)
		}
	}()
	batches, err := t.data.EvalBatches()
	if err != nil {
		return 0, errors.WithMessage(err, "train: eval data")
	}
	sum, count := 0.0, 0.0
	for i, b := range batches {
		if err := b.Validate(t.model.Config.VocabSize); err != nil {
			return 0, errors.WithMessagef(err, "train: eval batch %d", i)
		}
		args := append(batchInputs(b), imageInputs(b)...)
		if b.Images != nil && t.plan != nil {
			return 0, errors.New("train: eval: multi-device evaluation of a vision-language model is not supported yet")
		}
		if t.plan != nil && !t.plan.Emulate {
			if args, err = t.plan.distributedInputs(b, nil); err != nil {
				return 0, errors.WithMessagef(err, "train: eval batch %d", i)
			}
		}
		out, err := t.eval.Exec(args...)
		if err != nil {
			return 0, errors.Wrapf(err, "train: eval batch %d", i)
		}
		sum += float64(tensors.ToScalar[float32](out[0]))
		count += float64(tensors.ToScalar[float32](out[1]))
	}
	if count == 0 {
		return 0, errors.New("train: eval: held-out data has no target tokens")
	}
	return sum / count, nil
}

func (t *Trainer) record(r LogRecord) error {
	t.log = append(t.log, r)
	if t.OnLog != nil {
		t.OnLog(r)
	}
	if t.cfg.OutputDir == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(t.cfg.OutputDir, "train_log.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return errors.Wrap(err, "train: writing the log")
	}
	line, _ := json.Marshal(r)
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return errors.Wrap(err, "train: writing the log")
}

// Result summarises a Run.
type Result struct {
	Steps          int
	FirstEvalLoss  float64 // held-out loss before the first step of this run
	FinalEvalLoss  float64
	FinalTrainLoss float64
	Tokens         int
	Elapsed        time.Duration
	Checkpoint     string // last checkpoint written ("" without OutputDir)
}

// Run trains until Config.Steps optimizer steps are done (continuing after Resume), evaluating
// every EvalEvery steps and at both ends, and checkpointing every SaveEvery steps and at the
// end. On a non-finite loss it stops with an error; the last checkpoint stays the good one.
func (t *Trainer) Run() (res Result, err error) {
	c := t.cfg
	if c.OutputDir != "" {
		if err := os.MkdirAll(c.OutputDir, 0o755); err != nil {
			return res, errors.Wrapf(err, "train: creating %s", c.OutputDir)
		}
	}
	if res.FirstEvalLoss, err = t.Evaluate(); err != nil {
		return res, err
	}
	if err := t.record(LogRecord{Step: t.step, EvalLoss: res.FirstEvalLoss}); err != nil {
		return res, err
	}
	bar := newProgress(t.Progress, c.Steps, t.step, c.NoProgress)
	start := time.Now()
	for t.step < c.Steps {
		stepStart := time.Now()
		sr, err := t.Step()
		if err != nil {
			bar.finish()
			return res, err
		}
		res.Tokens += sr.Tokens
		res.FinalTrainLoss = sr.Loss
		dt := time.Since(stepStart)
		if t.step%c.LogEvery == 0 || t.step == c.Steps {
			if err := t.record(LogRecord{Step: t.step, Loss: sr.Loss, LR: sr.LR, GradNorm: sr.GradNorm,
				Tokens: sr.Tokens, TokensPS: float64(sr.Tokens) / dt.Seconds(), ElapsedMS: time.Since(start).Milliseconds()}); err != nil {
				return res, err
			}
		}
		bar.update(t.step, fmt.Sprintf("loss %.4f lr %.2e", sr.Loss, sr.LR))
		if c.EvalEvery > 0 && t.step%c.EvalEvery == 0 && t.step != c.Steps {
			ev, err := t.Evaluate()
			if err != nil {
				return res, err
			}
			if err := t.record(LogRecord{Step: t.step, EvalLoss: ev}); err != nil {
				return res, err
			}
		}
		if c.OutputDir != "" && c.SaveEvery > 0 && t.step%c.SaveEvery == 0 && t.step != c.Steps {
			if res.Checkpoint, err = t.SaveCheckpoint(); err != nil {
				return res, err
			}
		}
	}
	bar.finish()
	res.Elapsed, res.Steps = time.Since(start), t.step
	if res.FinalEvalLoss, err = t.Evaluate(); err != nil {
		return res, err
	}
	if err := t.record(LogRecord{Step: t.step, EvalLoss: res.FinalEvalLoss}); err != nil {
		return res, err
	}
	if c.OutputDir != "" {
		if res.Checkpoint, err = t.SaveCheckpoint(); err != nil {
			return res, err
		}
	}
	return res, nil
}
