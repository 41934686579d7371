package kernels

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"

	kbackend "github.com/goswift/goswift/kernels/backend"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/xla"
)

// newBackend creates a backend from a GOMLX_BACKEND-style config through the project's xla
// package (which filters simplego's stdout line), whatever $GOMLX_BACKEND says.
func newBackend(tb testing.TB, config string) backends.Backend {
	tb.Helper()
	env := func(k string) (string, bool) {
		if k == xla.EnvBackend {
			return config, true
		}
		return os.LookupEnv(k)
	}
	b, _, err := xla.New(xla.Options{Want: "cpu", Env: env})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// stepTrainer builds the stories15M-shaped model with LoRA r8 on q, k, v, o and its trainer.
func stepTrainer(tb testing.TB, backend backends.Backend, batch, seq int) *train.Trainer {
	tb.Helper()
	cfg, err := models.Shape("stories15m")
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg, 1); err != nil {
		tb.Fatal(err)
	}
	m := models.New(cfg)
	if _, err := tuners.BuildAndAttach(&lora.Config{Rank: 8, Alpha: 16, TargetModules: []string{"q_proj", "k_proj", "v_proj", "o_proj"}}, ctx, m); err != nil {
		tb.Fatal(err)
	}
	tr, err := train.New(backend, ctx, m, data.SyntheticTokens{Batch: batch, Seq: seq, Vocab: cfg.VocabSize},
		train.Config{Steps: 1 << 20, LR: 1e-3, NoProgress: true})
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// stepBackends are the backends of BenchmarkTrainStep: GOSWIFT_STEP_BACKENDS (comma separated
// configs) or goswift and simplego with the project's default simplego config.
func stepBackends() []string {
	if s := os.Getenv("GOSWIFT_STEP_BACKENDS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{"goswift:parallelism=-1", xla.GoConfigUnlimited}
}

// BenchmarkTrainStep: one optimizer step of the stories15M-shaped Llama with LoRA r8 on
// q,k,v,o at batch 8 × seq 256, in tokens/s (wall) and tokens per CPU-second, per backend.
//
// It takes minutes on simplego: it runs only with GOSWIFT_KERNELS_BENCH=1 (run.sh sets it).
func BenchmarkTrainStep(b *testing.B) {
	if os.Getenv("GOSWIFT_KERNELS_BENCH") == "" {
		b.Skip("set GOSWIFT_KERNELS_BENCH=1 (benchmarks/kernels/run.sh does)")
	}
	const batch, seq = 8, 256
	for _, config := range stepBackends() {
		b.Run(strings.ReplaceAll(config, ":", "_"), func(b *testing.B) {
			backend := newBackend(b, config)
			tr := stepTrainer(b, backend, batch, seq)
			if _, err := tr.Step(); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			c0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				if _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
			}
			cpu := (cpuTime() - c0).Seconds()
			if kb, ok := backend.(*kbackend.Backend); ok && os.Getenv("GOSWIFT_STEP_PROFILE") != "" {
				kb.EnableProfile(true, os.Getenv("GOSWIFT_STEP_PROFILE") == "shapes")
				w0 := time.Now()
				if _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
				var total time.Duration
				for _, e := range kb.Profile() {
					total += e.Time
				}
				fmt.Fprintf(os.Stderr, "  step %.3fs, in executables %.3fs\n", time.Since(w0).Seconds(), total.Seconds())
				for _, e := range kb.Profile() {
					fmt.Fprintf(os.Stderr, "  %-16s %5d calls %8.3fs\n", e.Kind, e.Calls, e.Time.Seconds())
				}
				kb.EnableProfile(false, false)
			}
			tokens := float64(batch * seq * b.N)
			b.ReportMetric(tokens/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(tokens/cpu, "tokens/cpu-s")
			b.ReportMetric(cpu/float64(b.N), "cpu-s/step")
		})
	}
}
