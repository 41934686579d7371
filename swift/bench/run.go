package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/infer"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/xla"
)

// setup is a run's model, tuner, data and trainer.
type setup struct {
	backend backends.Backend
	ctx     *context.Context
	model   *models.Model
	tuner   tuners.Tuner
	data    data.Dataset
	trainer *train.Trainer
}

// quantizationOf returns how a technique stores the frozen base (QLoRA), if it quantises.
func quantizationOf(cfg tuners.Config) (qlora.Quantization, bool) {
	if q, ok := cfg.(*qlora.Config); ok {
		return q.Quantization(), true
	}
	return qlora.Quantization{}, false
}

// build creates the model (random weights of a shape, or the real checkpoint of a loss run),
// attaches the technique and prepares the trainer.
func build(spec Spec, tech Technique, backend backends.Backend) (*setup, error) {
	s := &setup{backend: backend}
	inner, err := tuners.ParseConfig(tech.Tuner, tech.ConfigJSON(spec.Rank))
	if err != nil {
		return nil, errors.WithMessagef(err, "technique %q", tech.Name)
	}
	tcfg, err := tech.TunerConfig(spec.Rank, spec.Seed)
	if err != nil {
		return nil, err
	}
	if spec.Kind == KindLoss {
		m, err := swift.Load(spec.Model, swift.LoadOptions{Backend: backend})
		if err != nil {
			return nil, err
		}
		if m.Tokenizer == nil {
			return nil, errors.Errorf("model %s: no tokenizer found beside it", spec.Model)
		}
		s.ctx, s.model = m.Ctx, m.Arch
		if s.data, err = data.LoadTextFile(spec.Data, m.Tokenizer, data.TextConfig{SeqLen: spec.Seq,
			BatchSize: spec.Batch, Seed: spec.Seed, EvalBatches: 4}); err != nil {
			return nil, err
		}
	} else {
		cfg, err := spec.ModelConfig()
		if err != nil {
			return nil, err
		}
		s.ctx = context.New()
		opts := models.LoadOptions{DType: dtypes.Float32}
		if spec.DType == "bf16" {
			opts.DType = dtypes.BFloat16
		}
		if q, ok := quantizationOf(inner); ok {
			opts.Store = qlora.QuantizeOnLoad(q) // the float32 copy of the base never exists
		}
		if err := models.InitRandomAs(s.ctx, cfg, spec.Seed, opts); err != nil {
			return nil, err
		}
		s.model = models.New(cfg)
		s.data = data.SyntheticTokens{Batch: spec.Batch, Seq: spec.Seq, Vocab: cfg.VocabSize, Seed: spec.Seed}
	}
	if s.tuner, err = tuners.BuildAndAttach(tcfg, s.ctx, s.model); err != nil {
		return nil, errors.WithMessagef(err, "technique %q", tech.Name)
	}
	tc := train.Config{Steps: 1 << 30, LR: tech.LR, NoProgress: true, Seed: int64(spec.Seed),
		LRMultiplier: tuners.LRMultiplier(s.tuner), ActiveSet: tuners.ActiveSet(s.tuner)}
	if spec.Kind == KindLoss {
		tc.Steps, tc.WarmupSteps, tc.MinLRRatio = spec.Steps, min(5, spec.Steps/10), 0.1
	}
	if s.trainer, err = train.New(backend, s.ctx, s.model, s.data, tc); err != nil {
		return nil, err
	}
	return s, nil
}

// momentScope is where the trainer keeps AdamW's first moments (train's scopeMoment1): the
// moment of variable scope/name is scope momentScope+scope, name name.
const momentScope = "/optimizer/adam_m"

// account sums the bytes of the context's variables by role. Gradients are counted for the
// trainable variables that have optimizer state (a first moment): every trainable variable,
// except under an active set (LISA), where only the current set's take gradients.
func account(ctx *context.Context) *Accounted {
	a := &Accounted{}
	type key struct{ scope, name string }
	stateful := map[key]bool{}
	for v := range ctx.IterVariables() {
		if tuners.InScope(v, momentScope) {
			stateful[key{strings.TrimPrefix(v.Scope(), momentScope), v.Name()}] = true
		}
	}
	for v := range ctx.IterVariables() {
		n := int64(v.Shape().Memory())
		switch {
		case tuners.InScope(v, "/optimizer"):
			a.Optimizer += n
		case strings.HasPrefix(v.Name(), "#"): // RNG state and tuner flags
		default:
			a.Weights += n
			if v.Trainable && stateful[key{v.Scope(), v.Name()}] {
				a.Gradients += int64(v.Shape().Size()) * 4 // gradients are float32
			}
		}
	}
	a.Total = a.Weights + a.Gradients + a.Optimizer
	return a
}

// RunOne executes one spec in this process: build, train, measure. Memory figures are only
// meaningful when the process runs nothing else (the suite runs each spec in a fresh child).
// A failure is returned as an error and also recorded in the result (Status "error").
func RunOne(spec Spec) (res *Result, err error) {
	start := time.Now()
	res = &Result{Schema: SchemaVersion, Suite: "standalone", Machine: DescribeMachine(), Engine: "goswift", Status: "error", ID: spec.ID(), Kind: spec.Kind,
		Technique: spec.Technique, Shape: spec.Shape, Batch: spec.Batch, Seq: spec.Seq, Rank: spec.Rank,
		DType: spec.DType, Seed: spec.Seed, TunerConfig: json.RawMessage("{}"), Versions: CurrentVersions(),
		DeviceMemory: "not measured: the run did not start a backend"}
	if res.DType == "" {
		res.DType = "f32"
	}
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("bench %s: %v", spec.ID(), r)
		}
		res.WallSeconds = time.Since(start).Seconds()
		res.Time = time.Now().UTC().Format(time.RFC3339)
		if err != nil {
			res.Status, res.Error = "error", err.Error()
		} else {
			res.Status = "ok"
		}
	}()
	if err := spec.Validate(); err != nil {
		return res, err
	}
	tech, err := LookupTechnique(spec.Technique)
	if err != nil {
		return res, err
	}
	res.Tuner = tech.Tuner
	res.TunerConfig = tunerConfigJSON(tech, spec.Rank)
	baseRSS, _ := readStatus("VmHWM")
	res.BaselineRSSBytes = i64(baseRSS)
	backend, choice, err := xla.New(xla.Options{Want: spec.Device})
	if err != nil {
		return res, err
	}
	res.Backend, res.BackendConfig = xla.Describe(backend, choice), choice.Config
	res.DeviceMemory = deviceMemoryNote(backend, choice)
	baseHeap := liveHeap()
	res.BaselineHeapBytes = i64(baseHeap)

	s, err := build(spec, tech, backend)
	if err != nil {
		return res, err
	}
	res.Config = s.model.Config
	trainable, total := tuners.CountParams(s.ctx)
	res.ParamsTrainable, res.ParamsTotal = trainable, total
	res.TrainablePct = f(100 * float64(trainable) / float64(total))
	res.Accounted = account(s.ctx)
	// A tuner the predictor does not model yet still runs, without a prediction.
	pred, perr := Predict(PredictInput{Config: s.model.Config, Technique: tech, Batch: spec.Batch, Seq: spec.Seq,
		Rank: spec.Rank, DType: res.DType, Backend: backendID(choice.Config)})
	if perr != nil {
		fmt.Fprintf(os.Stderr, "%s: no prediction: %v\n", spec.ID(), perr)
	}
	res.Predicted = pred

	var last train.StepResult // the latest step's outcome
	step := func() (err error) {
		last, err = s.trainer.Step()
		return err
	}
	// measured runs one step under the heap sampler; the run's peak is the largest of the
	// measured steps' peaks (how many buffers are in flight at once varies from step to step
	// with the parallel executor's scheduling).
	var peaks []int64
	measured := func(i int) error {
		hs := startHeapSampler()
		err := step()
		peak, n := hs.finish()
		peaks = append(peaks, peak)
		res.HeapSamples += n
		res.HeapPeaks = append(res.HeapPeaks, peak-baseHeap)
		fmt.Fprintf(os.Stderr, "%s: measured step %d: peak live heap %s (%d collections)\n",
			spec.ID(), i, formatBytes(peak-baseHeap), n)
		return errors.WithMessagef(err, "measured step %d", i)
	}
	switch spec.Kind {
	case KindSpeed, KindMemory:
		for i := range spec.Warmup {
			if err := step(); err != nil {
				return res, errors.WithMessagef(err, "warm-up step %d", i)
			}
		}
		if spec.Kind == KindMemory {
			for i := range spec.Steps {
				if err := measured(i); err != nil {
					return res, err
				}
			}
			break
		}
		for i := range spec.Steps {
			t0 := time.Now()
			if err := step(); err != nil {
				return res, errors.WithMessagef(err, "timed step %d", i)
			}
			res.StepSeconds = append(res.StepSeconds, time.Since(t0).Seconds())
		}
		med := median(res.StepSeconds)
		res.StepSecondsMedian = f(med)
		res.TrainTokensPerS = f(float64(spec.Batch*spec.Seq) / med)
		res.TrainSamplesPerS = f(float64(spec.Batch) / med)
		if pred != nil {
			res.AchievedFLOPs = f(pred.FLOPsPerStep / med)
		}
		if err := measured(0); err != nil {
			return res, err
		}
	case KindLoss:
		if err := runLoss(s, spec, res, func(int) error { return step() }, measured,
			func() train.StepResult { return last }); err != nil {
			return res, err
		}
	}
	rss, _ := readStatus("VmHWM")
	res.PeakRSSBytes = i64(rss)
	peakHeap := slices.Max(append(peaks, baseHeap))
	res.PeakHeapBytes = i64(peakHeap)
	res.TrainingHeapBytes = i64(peakHeap - baseHeap)
	if m := peakHeap - baseHeap; m > 0 && pred != nil {
		res.PredictionError = f(float64(pred.TotalBytes-m) / float64(m))
	}
	if spec.InferTokens > 0 {
		tps, err := inferSpeed(s, spec.InferTokens)
		if err != nil {
			return res, errors.WithMessage(err, "inference")
		}
		res.InferTokensPerS = f(tps)
	}
	return res, nil
}

// tunerConfigJSON is the technique's config as run, modifiers included.
func tunerConfigJSON(tech Technique, rank int) json.RawMessage {
	var cfg map[string]any
	_ = json.Unmarshal(tech.ConfigJSON(rank), &cfg)
	if cfg == nil {
		cfg = map[string]any{}
	}
	if len(tech.Modifiers) > 0 {
		cfg["modifiers"] = tech.Modifiers
	}
	raw, _ := json.Marshal(cfg)
	return raw
}

// deviceMemoryNote says whether device memory is measured: on the CPU the device memory is the
// host's (see peak_rss_bytes); go-xla v0.1.4 exposes no device memory statistics.
func deviceMemoryNote(b backends.Backend, c xla.Choice) string {
	if c.Kind == xla.KindGo {
		return "not measured: CPU backend, device memory is host memory (see peak_rss_bytes, peak_heap_bytes)"
	}
	return fmt.Sprintf("not measured: backend %s exposes no device memory statistics (go-xla v0.1.4)", b.Name())
}

// runLoss trains the spec's steps, recording the loss curve, held-out loss before and after
// and held-out next-token accuracy; the fourth step (or the last) runs under the heap sampler.
func runLoss(s *setup, spec Spec, res *Result, step, measured func(int) error, last func() train.StepResult) error {
	before, err := s.trainer.Evaluate()
	if err != nil {
		return err
	}
	res.EvalLossStart = f(before)
	sampled := min(3, spec.Steps-1)
	for i := range spec.Steps {
		if i == sampled {
			if err := measured(0); err != nil {
				return err
			}
		} else if err := step(i); err != nil {
			return errors.WithMessagef(err, "training step %d", i)
		}
		res.LossCurve = append(res.LossCurve, last().Loss)
		res.TrainLoss = f(last().Loss)
	}
	after, err := s.trainer.Evaluate()
	if err != nil {
		return err
	}
	res.EvalLoss = f(after)
	acc, err := tokenAccuracy(s)
	if err != nil {
		return err
	}
	res.EvalAccuracy = f(acc)
	return nil
}

// tokenAccuracy is the held-out next-token accuracy: the fraction of weighted positions whose
// arg-max logit is the target.
func tokenAccuracy(s *setup) (acc float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("token accuracy: %v", r)
		}
	}()
	batches, err := s.data.EvalBatches()
	if err != nil {
		return 0, err
	}
	exec, err := context.NewExec(s.backend, s.ctx, func(ctx *context.Context, tok, pos, seg, tgt, w *Node) (*Node, *Node) {
		logits := s.model.Logits(ctx, models.Inputs{Tokens: tok, Positions: pos, Segments: seg}) // [B, S, V]
		pred := ConvertDType(ArgMax(logits, -1), dtypes.Int32)                                   // [B, S]
		counted := GreaterThan(w, ZerosLike(w))
		hit := ConvertDType(LogicalAnd(Equal(pred, tgt), counted), dtypes.Float32)
		return ReduceAllSum(hit), ReduceAllSum(ConvertDType(counted, dtypes.Float32))
	})
	if err != nil {
		return 0, err
	}
	hits, count := 0.0, 0.0
	for _, b := range batches {
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(b.Tokens, b.B, b.S),
			tensors.FromFlatDataAndDimensions(b.Positions, b.B, b.S),
			tensors.FromFlatDataAndDimensions(b.Segments, b.B, b.S),
			tensors.FromFlatDataAndDimensions(b.Targets, b.B, b.S),
			tensors.FromFlatDataAndDimensions(b.Weights, b.B, b.S))
		if err != nil {
			return 0, err
		}
		hits += float64(tensors.ToScalar[float32](out[0]))
		count += float64(tensors.ToScalar[float32](out[1]))
	}
	if count == 0 {
		return 0, errors.New("token accuracy: no held-out targets")
	}
	return hits / count, nil
}

// inferSpeed generates n tokens greedily from an 8-token prompt (batch 1, KV cache) after one
// untimed generation that compiles the graphs, and returns generated tokens per second.
func inferSpeed(s *setup, n int) (float64, error) {
	gen := infer.NewGenerator(s.backend, s.ctx, s.model)
	vocab := s.model.Config.VocabSize
	prompt := make([]int, 8)
	for i := range prompt {
		prompt[i] = (i*7919 + 11) % vocab
	}
	noEOS := -1
	opts := infer.Options{MaxNewTokens: n, EOS: &noEOS}
	if _, err := gen.Generate([][]int{prompt}, opts); err != nil {
		return 0, err
	}
	t0 := time.Now()
	out, err := gen.Generate([][]int{prompt}, opts)
	if err != nil {
		return 0, err
	}
	return float64(len(out[0].Tokens)) / time.Since(t0).Seconds(), nil
}
