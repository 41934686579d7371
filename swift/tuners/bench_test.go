package tuners_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/peakmem"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/neftune"
)

// stories15M is the shape of llama2.c's stories15M (random weights: speed and memory only).
func stories15M() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 32000, HiddenSize: 288, IntermediateSize: 768, NumLayers: 6,
		NumHeads: 6, NumKVHeads: 6, HeadDim: 48, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true,
		RoPE: models.RoPEInterleaved, MaxPositions: 256}
}

// benchTuners are the tuners compared, at their defaults (LoRA family: r8, alpha 32, all-linear).
var benchTuners = []struct {
	name   string
	config func() tuners.Config
}{
	{"lora", func() tuners.Config { return &lora.Config{} }},
	{"lora+neftune", func() tuners.Config { return tuners.WithModifiers(&lora.Config{}, &neftune.Config{}) }},
	{"qlora", func() tuners.Config { return mustConfig("qlora") }},
	{"dora", func() tuners.Config { return mustConfig("dora") }},
	{"full", func() tuners.Config { return mustConfig("full") }},
	{"freeze", func() tuners.Config { return mustConfig("freeze") }},
	{"lisa", func() tuners.Config { return mustConfig("lisa") }},
	{"llamapro", func() tuners.Config { return mustConfig("llamapro") }},
	{"adapter", func() tuners.Config { return mustConfig("adapter") }},
}

// benchShape is batch × seq: 4×64 by default (one 8×256 step of the stories15M shape takes
// minutes on two shared cores), GOSWIFT_BENCH_SHAPE=8x256 for the full shape.
func benchShape() (int, int) {
	if s := os.Getenv("GOSWIFT_BENCH_SHAPE"); s != "" {
		if bs, ss, ok := strings.Cut(s, "x"); ok {
			b, err1 := strconv.Atoi(bs)
			sq, err2 := strconv.Atoi(ss)
			if err1 == nil && err2 == nil {
				return b, sq
			}
		}
	}
	return 4, 64
}

// newBenchTrainer builds the stories15M-shaped model, the tuner and its trainer.
func newBenchTrainer(tb testing.TB, name string, batch, seq int) (*train.Trainer, int64, int64) {
	tb.Helper()
	var cfgFn func() tuners.Config
	for _, bt := range benchTuners {
		if bt.name == name {
			cfgFn = bt.config
		}
	}
	if cfgFn == nil {
		tb.Fatalf("no bench tuner %q", name)
	}
	mc := stories15M()
	ctx := context.New()
	if err := models.InitRandom(ctx, mc, 1); err != nil {
		tb.Fatal(err)
	}
	m := models.New(mc)
	tn, err := tuners.BuildAndAttach(cfgFn(), ctx, m)
	if err != nil {
		tb.Fatal(err)
	}
	trainable, total := tuners.CountParams(ctx)
	tr, err := train.New(testutil.Backend(tb), ctx, m, data.SyntheticTokens{Batch: batch, Seq: seq, Vocab: mc.VocabSize},
		train.Config{Steps: 1 << 20, LR: 1e-4, NoProgress: true, LRMultiplier: tuners.LRMultiplier(tn), ActiveSet: tuners.ActiveSet(tn)})
	if err != nil {
		tb.Fatal(err)
	}
	return tr, trainable, total
}

// BenchmarkTunerStep: one optimizer step per tuner on the stories15M-shaped model, at
// GOSWIFT_BENCH_SHAPE (default 4×64), in tokens/s, with the trainable parameter count.
func BenchmarkTunerStep(b *testing.B) {
	batch, seq := benchShape()
	for _, bt := range benchTuners {
		b.Run(bt.name, func(b *testing.B) {
			tr, trainable, _ := newBenchTrainer(b, bt.name, batch, seq)
			if _, err := tr.Step(); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*seq*b.N)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(float64(trainable), "trainable")
		})
	}
}

// TestTunerStepPeakRSS reports, per tuner, trainable parameters, the step time and the peak
// resident memory of training the stories15M-shaped model (each alone in a child process).
// Opt-in: GOSWIFT_PEAK=1; GOSWIFT_BENCH_SHAPE=BxS (default 4x64); GOSWIFT_PEAK_TUNERS=a,b to
// choose tuners.
func TestTunerStepPeakRSS(t *testing.T) {
	if os.Getenv("GOSWIFT_PEAK") == "" {
		t.Skip("set GOSWIFT_PEAK=1 to measure each tuner's training-step time and peak RSS")
	}
	batch, seq := benchShape()
	only := os.Getenv("GOSWIFT_PEAK_TUNERS")
	t.Logf("stories15M shape (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000), batch %d × seq %d, backend %s",
		batch, seq, testutil.Backend(t).Name())
	t.Logf("%-13s %12s %12s %10s %10s %12s", "tuner", "trainable", "total", "step s", "tokens/s", "peak RSS MB")
	for _, bt := range benchTuners {
		if only != "" && !strings.Contains(","+only+",", ","+bt.name+",") {
			continue
		}
		r, err := peakmem.Run("TestTunerStepPeakChild", bt.name, nil)
		if err != nil {
			t.Fatalf("%+v", err)
		}
		t.Logf("%-13s %12.0f %12.0f %10.2f %10.0f %12.0f", bt.name, r.Values["trainable"], r.Values["total"],
			r.Values["seconds"], float64(batch*seq)/r.Values["seconds"], float64(r.PeakBytes)/1e6)
	}
}

// TestTunerStepPeakChild runs one tuner's steps inside a peakmem child process: a compile step,
// then the timed step.
func TestTunerStepPeakChild(t *testing.T) {
	name, ok := peakmem.ChildKey()
	if !ok {
		t.Skip("only runs as a peakmem child")
	}
	batch, seq := benchShape()
	tr, trainable, total := newBenchTrainer(t, name, batch, seq)
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	peakmem.Report(map[string]float64{"seconds": time.Since(start).Seconds(), "trainable": float64(trainable), "total": float64(total)})
}
