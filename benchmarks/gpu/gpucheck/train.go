package main

import (
	"flag"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/xla"
)

// H200PeakBF16 is the H200 SXM's dense bf16 tensor-core peak (FLOP/s), the MFU denominator.
const H200PeakBF16 = 989.4e12

type trainArgs struct {
	shape, device, dtype string
	steps, batch, seq    int
	rank, devices        int
	peak                 float64
}

func (a *trainArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.shape, "shape", "smollm-135m", "architecture shape: "+strings.Join(models.ShapeNames(), ", "))
	fs.StringVar(&a.device, "device", "cuda", "cuda, auto or cpu")
	fs.StringVar(&a.dtype, "dtype", "bf16", "base weights/activations: bf16 or f32")
	fs.IntVar(&a.steps, "steps", 20, "optimizer steps (the first two are warm-up, not timed)")
	fs.IntVar(&a.batch, "batch", 8, "batch size")
	fs.IntVar(&a.seq, "seq", 512, "sequence length")
	fs.IntVar(&a.rank, "rank", 8, "LoRA rank (q,k,v,o)")
	fs.IntVar(&a.devices, "devices", 0, "data-parallel devices (0: one device, no SPMD)")
	fs.Float64Var(&a.peak, "peak-flops", H200PeakBF16, "device peak FLOP/s for MFU")
}

// FLOPsPerToken of a LoRA step with a frozen base: forward 2·N plus the input gradient 2·N
// for every linear weight N (no weight gradient for the base), and attention's score/value
// products (4·L·S·H·D forward, twice that backward).
func FLOPsPerToken(c *models.Config, seq int) float64 {
	linear := float64(c.NumParams() - int64(c.VocabSize)*int64(c.HiddenSize)) // embedding lookups are free
	if c.TieWordEmbeddings {
		linear += float64(c.VocabSize) * float64(c.HiddenSize) // ... but the tied head is a matmul
	}
	attn := 12 * float64(c.NumLayers) * float64(seq) * float64(c.QDim())
	return 4*linear + attn
}

func (a *trainArgs) run() (map[string]any, error) {
	cfg, err := models.Shape(a.shape)
	if err != nil {
		return nil, err
	}
	backend, choice, err := xla.New(xla.Options{Want: a.device, PJRTOptions: map[string]any{"preallocate": false}})
	if err != nil {
		return nil, err
	}
	dtype := dtypes.BFloat16
	if a.dtype == "f32" {
		dtype = dtypes.Float32
	}
	ctx := context.New()
	if err := models.InitRandomAs(ctx, cfg, 1, models.LoadOptions{DType: dtype}); err != nil {
		return nil, err
	}
	m := models.New(cfg)
	if _, err := tuners.BuildAndAttach(&lora.Config{Rank: a.rank, Alpha: float64(2 * a.rank),
		TargetModules: []string{"q_proj", "k_proj", "v_proj", "o_proj"}}, ctx, m); err != nil {
		return nil, err
	}
	tr, err := train.New(backend, ctx, m, data.SyntheticTokens{Batch: a.batch, Seq: a.seq, Vocab: cfg.VocabSize},
		train.Config{Steps: a.steps, LR: 1e-4, NoProgress: true, Parallel: train.Parallel{Devices: a.devices}})
	if err != nil {
		return nil, err
	}
	mem := startMemorySampler()
	var timed time.Duration
	for i := range a.steps {
		start := time.Now()
		if _, err := tr.Step(); err != nil {
			return nil, errors.WithMessagef(err, "step %d", i)
		}
		if i >= 2 {
			timed += time.Since(start)
		}
	}
	peakMiB := mem.stop()
	tokens := float64(a.batch*a.seq) * float64(a.steps-2)
	tps := tokens / timed.Seconds()
	fpt := FLOPsPerToken(cfg, a.seq)
	return map[string]any{"stage": "train", "engine": "goswift", "shape": a.shape, "dtype": a.dtype,
		"batch": a.batch, "seq": a.seq, "steps": a.steps, "tokens_per_s": tps,
		"mfu": tps * fpt / a.peak, "flops_per_token": fpt, "peak_gpu_mib": peakMiB,
		"backend": xla.Describe(backend, choice)}, nil
}

// memorySampler polls nvidia-smi's used memory (with PJRT preallocation off, the allocator's
// real footprint plus the CUDA context) and keeps the peak.
type memorySampler struct {
	mu   sync.Mutex
	peak float64
	done chan struct{}
}

func startMemorySampler() *memorySampler {
	s := &memorySampler{peak: -1, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				out, err := exec.Command("nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits").Output()
				if err != nil {
					continue
				}
				for _, line := range strings.Fields(string(out)) {
					if v, err := strconv.ParseFloat(line, 64); err == nil {
						s.mu.Lock()
						s.peak = max(s.peak, v)
						s.mu.Unlock()
					}
				}
			}
		}
	}()
	return s
}

func (s *memorySampler) stop() float64 {
	close(s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
