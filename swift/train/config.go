package train

import (
	"math"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/pkg/errors"
)

// Config is a training run's hyper-parameters. Zero fields take the defaults in parentheses.
type Config struct {
	Steps     int `json:"steps"`      // optimizer steps (required)
	GradAccum int `json:"grad_accum"` // micro-batches per optimizer step (1)

	LR          float64 `json:"lr"`            // peak learning rate (1e-4)
	WarmupSteps int     `json:"warmup_steps"`  // linear warm-up from 0 (0)
	MinLRRatio  float64 `json:"min_lr_ratio"`  // cosine decay floor, as a fraction of LR (0)
	WeightDecay float64 `json:"weight_decay"`  // AdamW decoupled decay on matrices; never on norms/biases (0)
	Beta1       float64 `json:"beta1"`         // (0.9)
	Beta2       float64 `json:"beta2"`         // (0.999)
	Epsilon     float64 `json:"epsilon"`       // (1e-8)
	ClipNorm    float64 `json:"max_grad_norm"` // global gradient-norm clip; <0 disables (1.0)

	EvalEvery  int    `json:"eval_every"`       // evaluate every N steps; 0: only at start and end
	SaveEvery  int    `json:"save_every"`       // checkpoint every N steps; 0: only at the end
	KeepLast   int    `json:"keep_checkpoints"` // checkpoints kept (2)
	OutputDir  string `json:"output_dir"`       // where checkpoints and the log go; "" saves nothing
	LogEvery   int    `json:"log_every"`        // log line every N steps (1)
	Seed       int64  `json:"seed"`             // dropout RNG seed (data order is the dataset's)
	NoProgress bool   `json:"-"`                // no progress bar

	// Parallel configures data parallelism (default: one device).
	Parallel Parallel `json:"parallel,omitempty"`

	// LRMultiplier, if set, scales the learning rate of variable v at step (0-based): LoRA+
	// gives B a larger rate, LISA switches whole layers on and off (0). The multipliers are a
	// graph input, so changing them never recompiles.
	LRMultiplier func(step int, v *context.Variable) float64 `json:"-"`

	// ActiveSet, if set, says which trainable variables train at step (0-based): LISA's
	// always-trained parts plus the interval's decoder blocks (tuners.ActiveSet fills it from
	// the tuners). key names the subset (equal keys, equal subsets; never ""). The step graph
	// takes gradients of the active variables only and AdamW keeps moments (and gradient
	// accumulators) only for them: when the key changes the trainer drops the state of the
	// variables that leave, creates zero state for those that join (their bias correction
	// restarts at their first step) and compiles a step graph for the new set. nil: every
	// trainable variable, one graph for the run.
	ActiveSet func(step int) (key string, active func(v *context.Variable) bool) `json:"-"`
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.GradAccum == 0 {
		c.GradAccum = 1
	}
	if c.LR == 0 {
		c.LR = 1e-4
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Epsilon == 0 {
		c.Epsilon = 1e-8
	}
	if c.ClipNorm == 0 {
		c.ClipNorm = 1
	}
	if c.KeepLast == 0 {
		c.KeepLast = 2
	}
	if c.LogEvery == 0 {
		c.LogEvery = 1
	}
	return c
}

// Validate checks the values, naming the field at fault.
func (c Config) Validate() error {
	bad := func(name string, v any, want string) error {
		return errors.Errorf("train config: %s=%v: %s", name, v, want)
	}
	switch {
	case c.Steps <= 0:
		return bad("steps", c.Steps, "must be positive")
	case c.GradAccum < 0:
		return bad("grad_accum", c.GradAccum, "must be positive")
	case c.LR < 0 || math.IsNaN(c.LR) || math.IsInf(c.LR, 0):
		return bad("lr", c.LR, "must be a positive number")
	case c.WarmupSteps < 0:
		return bad("warmup_steps", c.WarmupSteps, "must be >= 0")
	case c.MinLRRatio < 0 || c.MinLRRatio > 1:
		return bad("min_lr_ratio", c.MinLRRatio, "must be in [0, 1]")
	case c.WeightDecay < 0:
		return bad("weight_decay", c.WeightDecay, "must be >= 0")
	case c.Beta1 < 0 || c.Beta1 >= 1:
		return bad("beta1", c.Beta1, "must be in [0, 1)")
	case c.Beta2 < 0 || c.Beta2 >= 1:
		return bad("beta2", c.Beta2, "must be in [0, 1)")
	case c.Epsilon < 0:
		return bad("epsilon", c.Epsilon, "must be >= 0")
	case c.Parallel.Devices < 0 && c.Parallel.Devices != AllDevices:
		return bad("parallel.devices", c.Parallel.Devices, "must be >= 0, or AllDevices (-1)")
	case c.EvalEvery < 0 || c.SaveEvery < 0 || c.KeepLast < 0 || c.LogEvery < 0:
		return errors.Errorf("train config: eval_every, save_every, keep_checkpoints and log_every must be >= 0")
	}
	return nil
}

// LearningRate is the schedule: linear warm-up to LR over WarmupSteps, then cosine decay
// towards LR·MinLRRatio, reached one step after the last (as transformers' cosine schedule).
// step is 0-based.
func (c Config) LearningRate(step int) float64 {
	c = c.WithDefaults()
	if c.WarmupSteps > 0 && step < c.WarmupSteps {
		return c.LR * float64(step+1) / float64(c.WarmupSteps)
	}
	decay := c.Steps - c.WarmupSteps
	if decay <= 0 {
		return c.LR
	}
	progress := float64(step-c.WarmupSteps) / float64(decay)
	return c.LR * (c.MinLRRatio + (1-c.MinLRRatio)*0.5*(1+math.Cos(math.Pi*progress)))
}
