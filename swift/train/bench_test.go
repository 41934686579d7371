package train_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/peakmem"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/xla"
)

// stories15M is the shape of llama2.c's stories15M (random weights: speed and memory only).
func stories15M() *models.Config {
	c, err := models.Shape("stories15m")
	if err != nil {
		panic(err)
	}
	return c
}

// stepSetup is one training-step configuration of the stories15M-shaped model with LoRA r8 on
// q, k, v, o.
type stepSetup struct {
	batch, seq int
	plainGrad  bool // GoMLX's own DotGeneral gradient instead of gomlx_ext/dotgrad
	checkpoint bool // gradient checkpointing
	goConfig   string
}

func (s stepSetup) String() string {
	grad := "dotgrad"
	if s.plainGrad {
		grad = "gomlx-grad"
	}
	if s.checkpoint {
		grad += "+remat"
	}
	return fmt.Sprintf("b%d_s%d/%s/%s", s.batch, s.seq, grad, strings.TrimPrefix(s.goConfig, "go:"))
}

// newStepTrainer builds the model, LoRA and trainer for s.
func newStepTrainer(tb testing.TB, s stepSetup) *train.Trainer {
	tb.Helper()
	cfg := stories15M()
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg, 1); err != nil {
		tb.Fatal(err)
	}
	if s.plainGrad {
		ctx.SetParam(models.ParamPlainMatMulGradient, true)
	}
	m := models.New(cfg)
	m.GradientCheckpointing = s.checkpoint
	if _, err := tuners.BuildAndAttach(&lora.Config{Rank: 8, Alpha: 16, TargetModules: []string{"q_proj", "k_proj", "v_proj", "o_proj"}}, ctx, m); err != nil {
		tb.Fatal(err)
	}
	var backend backends.Backend
	var err error
	if s.goConfig == "" {
		backend = testutil.Backend(tb)
	} else if backend, _, err = xla.New(xla.Options{Want: "cpu", GoConfig: s.goConfig}); err != nil {
		tb.Fatal(err)
	}
	tr, err := train.New(backend, ctx, m, data.SyntheticTokens{Batch: s.batch, Seq: s.seq, Vocab: cfg.VocabSize},
		train.Config{Steps: 1 << 20, LR: 1e-3, NoProgress: true})
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// BenchmarkTrainStep: one optimizer step of the stories15M-shaped Llama with LoRA r8 on
// q,k,v,o, in tokens/s: the custom-gradient matmuls at 8×256 (and with gradient checkpointing),
// and custom vs GoMLX's own gradient side by side at 1×64 (at 8×256 GoMLX's own gradient would
// materialise the classifier's batch·seq × vocab × dim product: see TestTrainStepPeakRSS).
func BenchmarkTrainStep(b *testing.B) {
	for _, s := range []stepSetup{
		{batch: 1, seq: 64},
		{batch: 1, seq: 64, plainGrad: true},
		{batch: 8, seq: 256},
		{batch: 8, seq: 256, checkpoint: true},
		{batch: 1, seq: 64, goConfig: xla.GoConfigSequential},
		{batch: 1, seq: 64, goConfig: xla.GoConfigUnlimited},
	} {
		b.Run(s.String(), func(b *testing.B) {
			tr := newStepTrainer(b, s)
			if _, err := tr.Step(); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.batch*s.seq*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// TestTrainStepPeakRSS reports the peak resident memory of one training step (each
// configuration alone in a child process). Opt-in: GOSWIFT_PEAK=1 (make bench runs it).
func TestTrainStepPeakRSS(t *testing.T) {
	if os.Getenv("GOSWIFT_PEAK") == "" {
		t.Skip("set GOSWIFT_PEAK=1 to measure peak RSS (make bench)")
	}
	for _, key := range []string{"b8_s256/dotgrad", "b8_s256/dotgrad+remat", "b1_s64/dotgrad", "b1_s64/gomlx-grad"} {
		r, err := peakmem.Run("TestTrainStepPeakChild", key, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-24s peak RSS %7.0f MB (workload %7.0f MB), step %.1fs = %.0f tokens/s", key,
			float64(r.PeakBytes)/1e6, float64(r.WorkloadBytes())/1e6, r.Values["seconds"], r.Values["tokens_per_s"])
	}
	// GoMLX's own DotGeneral gradient materialises, for the tied classifier alone, the
	// [batch·seq, vocab, dim] product in float32.
	const bs, v, d = 8 * 256, 32000, 288
	t.Logf("predicted: GoMLX's own gradient at 8×256 would materialise %.1f GB for the classifier's product alone (%d×%d×%d×4 bytes)",
		float64(bs)*v*d*4/1e9, bs, v, d)
}

// TestTrainStepPeakChild runs one configuration's step inside a peakmem child process.
func TestTrainStepPeakChild(t *testing.T) {
	key, ok := peakmem.ChildKey()
	if !ok {
		t.Skip("only runs as a peakmem child")
	}
	s := stepSetup{batch: 1, seq: 64}
	if strings.HasPrefix(key, "b8_s256") {
		s.batch, s.seq = 8, 256
	}
	s.plainGrad = strings.Contains(key, "gomlx-grad")
	s.checkpoint = strings.Contains(key, "remat")
	tr := newStepTrainer(t, s)
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	sec := time.Since(start).Seconds()
	peakmem.Report(map[string]float64{"seconds": sec, "tokens_per_s": float64(s.batch*s.seq) / sec})
}
