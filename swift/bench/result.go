package bench

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"sort"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
)

// SchemaVersion is the "schema" field of every result line.
const SchemaVersion = "goswift.bench/v1"

// Result is one run's record: one JSON line of results.jsonl. Every field is always present;
// a value that does not apply to the run's kind (or engine) is null.
type Result struct {
	Schema    string `json:"schema"`
	Suite     string `json:"suite"` // the suite's start time and matrix, shared by its lines
	Time      string `json:"time"`  // RFC 3339, when the run ended
	ID        string `json:"id"`
	Engine    string `json:"engine"` // "goswift" or "pytorch"
	Status    string `json:"status"` // "ok" or "error"
	Error     string `json:"error"`
	Kind      string `json:"kind"`
	Technique string `json:"technique"`
	Tuner     string `json:"tuner"`
	// TunerConfig is the tuner's config as run (JSON object; modifiers under "modifiers").
	TunerConfig json.RawMessage `json:"tuner_config"`
	Shape       string          `json:"shape"`
	// Config is the architecture run (GoSwift runs; null for the peer).
	Config *models.Config `json:"config"`
	Batch  int            `json:"batch"`
	Seq    int            `json:"seq"`
	Rank   int            `json:"rank"`
	DType  string         `json:"dtype"`
	Seed   uint64         `json:"seed"`

	ParamsTotal     int64    `json:"params_total"`
	ParamsTrainable int64    `json:"params_trainable"`
	TrainablePct    *float64 `json:"trainable_pct"`

	// Speed: training step seconds (each timed step), their median, tokens/s and samples/s
	// from the median; inference (generation) tokens/s.
	StepSeconds       []float64 `json:"step_seconds"`
	StepSecondsMedian *float64  `json:"step_seconds_median"`
	TrainTokensPerS   *float64  `json:"train_tokens_per_s"`
	TrainSamplesPerS  *float64  `json:"train_samples_per_s"`
	InferTokensPerS   *float64  `json:"infer_tokens_per_s"`
	// AchievedFLOPs is the predicted step FLOPs over the median step time.
	AchievedFLOPs *float64 `json:"achieved_flops_per_s"`

	// Memory. PeakRSS is the process's VmHWM after training (before inference); PeakHeap the
	// largest live Go heap seen by back-to-back garbage collections during the measured steps;
	// BaselineHeap the live heap before the model existed. Device memory: a GPU backend's, or
	// "not measured" with the reason.
	PeakRSSBytes     *int64 `json:"peak_rss_bytes"`
	BaselineRSSBytes *int64 `json:"baseline_rss_bytes"`
	PeakHeapBytes    *int64 `json:"peak_heap_bytes"`
	// HeapSamples is how many garbage collections sampled the live heap.
	HeapSamples int `json:"heap_samples"`
	// HeapPeaks are the training heaps of every measured step (TrainingHeapBytes is their maximum).
	HeapPeaks         []int64 `json:"heap_peaks"`
	BaselineHeapBytes *int64  `json:"baseline_heap_bytes"`
	// TrainingHeapBytes is PeakHeap − BaselineHeap: what the predictor predicts.
	TrainingHeapBytes *int64 `json:"training_heap_bytes"`
	DeviceMemory      string `json:"device_memory"`
	// Accounted bytes, counted from the run's variables: weights (base, packed, tuner),
	// gradients (= trainable weights, float32) and optimizer state (AdamW moments).
	Accounted *Accounted `json:"accounted"`
	// Predicted is the predictor's answer for the run's config.
	Predicted *Prediction `json:"predicted"`
	// PredictionError is (predicted − measured) / measured of the training heap.
	PredictionError *float64 `json:"prediction_error"`

	// Loss runs: held-out loss before and after, the last training loss, held-out next-token
	// accuracy after training (the task metric), and the training loss per step.
	EvalLossStart *float64  `json:"eval_loss_start"`
	EvalLoss      *float64  `json:"eval_loss"`
	TrainLoss     *float64  `json:"train_loss"`
	EvalAccuracy  *float64  `json:"eval_token_accuracy"`
	LossCurve     []float64 `json:"loss_curve"`

	WallSeconds float64 `json:"wall_seconds"`
	Backend     string  `json:"backend"`
	// BackendConfig is the backend's config string, e.g. "goswift:parallelism=-1" or "go:parallelism=-1".
	BackendConfig string   `json:"backend_config"`
	Machine       *Machine `json:"machine"`
	Versions      Versions `json:"versions"`
}

// Accounted are the bytes of the run's variables by role.
type Accounted struct {
	Weights   int64 `json:"weights"`
	Gradients int64 `json:"gradients"`
	Optimizer int64 `json:"optimizer"`
	Total     int64 `json:"total"`
}

// f returns a pointer to v, or nil when v is not finite (JSON has no NaN).
func f(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func i64(v int64) *int64 { return &v }

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ReadResults reads a results.jsonl file.
func ReadResults(path string) ([]Result, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "reading results")
	}
	defer fh.Close()
	var out []Result
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, errors.Wrapf(err, "%s line %d", path, line)
		}
		out = append(out, r)
	}
	return out, errors.Wrapf(sc.Err(), "reading %s", path)
}

// predictInputOf rebuilds the predictor's input of a GoSwift run.
func predictInputOf(r Result) (PredictInput, error) {
	cfg := r.Config
	if cfg == nil {
		c, err := models.Shape(r.Shape)
		if err != nil {
			return PredictInput{}, errors.WithMessagef(err, "%s has no config", r.ID)
		}
		cfg = c
	}
	tech, err := LookupTechnique(r.Technique)
	if err != nil {
		return PredictInput{}, errors.WithMessagef(err, "%s", r.ID)
	}
	return PredictInput{Config: cfg, Technique: tech, Batch: r.Batch, Seq: r.Seq, Rank: r.Rank, DType: r.DType,
		Backend: backendID(r.BackendConfig)}, nil
}
