package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
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

// spmdArgs drive GoSwift's real data-parallel code path (train.Parallel: XLA's SPMD
// partitioner through GoMLX's Exec.AutoSharding) on the GPU machine, against the plain path.
type spmdArgs struct {
	shape, device, dtype      string
	steps, batch, seq, accum  int
	rank                      int
	tolOneDevice, tolMultiDev float64
}

func (a *spmdArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.shape, "shape", "stories15m", "architecture shape: "+strings.Join(models.ShapeNames(), ", "))
	fs.StringVar(&a.device, "device", "cuda", "cuda or auto (the SPMD path needs an XLA/PJRT backend)")
	// f32 by default: the comparison is about the partitioning, and bf16 rounding of a
	// differently fused graph would blur a 1e-5 check.
	fs.StringVar(&a.dtype, "dtype", "f32", "base weights/activations: f32 or bf16")
	fs.IntVar(&a.steps, "steps", 3, "optimizer steps per run")
	fs.IntVar(&a.batch, "batch", 8, "rows per micro-batch (rounded up to a multiple of the device count)")
	fs.IntVar(&a.seq, "seq", 128, "sequence length")
	fs.IntVar(&a.accum, "grad-accum", 2, "micro-batches per step (exercises the accumulation executable too)")
	fs.IntVar(&a.rank, "rank", 8, "LoRA rank (q,k,v,o)")
	fs.Float64Var(&a.tolOneDevice, "tol", 1e-5, "relative loss tolerance: 1-device mesh vs plain")
	fs.Float64Var(&a.tolMultiDev, "tol-multi", 1e-4, "relative loss tolerance: all devices vs plain (reduction order differs)")
}

// spmdRun is one layout of the same training run.
type spmdRun struct {
	name string
	par  train.Parallel
	tol  float64 // relative, against "plain"; 0 for plain itself
}

// run trains the same LoRA steps plain, on a 1-device mesh (replicated and FSDP) and, with more
// than one device, on a mesh over all of them, and compares every step's loss with plain.
func (a *spmdArgs) run() (map[string]any, error) {
	start := time.Now()
	cfg, err := models.Shape(a.shape)
	if err != nil {
		return nil, err
	}
	dtype := dtypes.Float32
	switch a.dtype {
	case "f32":
	case "bf16":
		dtype = dtypes.BFloat16
	default:
		return nil, errors.Errorf("spmd: --dtype %q: want f32 or bf16", a.dtype)
	}
	if a.steps < 1 || a.batch < 1 || a.seq < 2 || a.accum < 1 {
		return nil, errors.Errorf("spmd: --steps %d, --batch %d, --seq %d, --grad-accum %d: want positive values (seq >= 2)",
			a.steps, a.batch, a.seq, a.accum)
	}
	backend, choice, err := xla.New(xla.Options{Want: a.device, PJRTOptions: map[string]any{"preallocate": false}})
	if err != nil {
		return nil, errors.WithMessage(err, "spmd: the SPMD path needs an XLA/PJRT backend (a CUDA plugin); none could be created")
	}
	if name := backend.Name(); name != "xla" && name != "stablehlo" {
		return nil, errors.Errorf("spmd: backend %q (%s) has no distributed execution: run this on the GPU machine", name, choice.Reason)
	}
	n := backend.NumDevices()
	batch := (a.batch + n - 1) / n * n // every layout sees the same rows
	runs := []spmdRun{
		{name: "plain"},
		{name: "mesh1", par: train.Parallel{Devices: 1}, tol: a.tolOneDevice},
		{name: "mesh1_fsdp", par: train.Parallel{Devices: 1, FSDP: true}, tol: a.tolOneDevice},
	}
	if n > 1 {
		runs = append(runs,
			spmdRun{name: fmt.Sprintf("mesh%d", n), par: train.Parallel{Devices: train.AllDevices}, tol: a.tolMultiDev},
			spmdRun{name: fmt.Sprintf("mesh%d_fsdp", n), par: train.Parallel{Devices: train.AllDevices, FSDP: true}, tol: a.tolMultiDev})
	}
	losses := map[string][]float64{}
	maxAbs, maxRel := map[string]float64{}, map[string]float64{}
	var bad []string
	for _, r := range runs {
		l, err := a.losses(backend, cfg, dtype, batch, r.par)
		if err != nil {
			return nil, errors.WithMessagef(err, "spmd: %s run (%+v)", r.name, r.par)
		}
		losses[r.name] = l
		if r.name == "plain" {
			continue
		}
		for i, v := range l {
			ref := losses["plain"][i]
			d := math.Abs(v - ref)
			maxAbs[r.name] = max(maxAbs[r.name], d)
			maxRel[r.name] = max(maxRel[r.name], d/math.Abs(ref))
		}
		if !(maxRel[r.name] <= r.tol) { // NaN fails too
			bad = append(bad, fmt.Sprintf("%s: max relative |Δ| %.3g > %g", r.name, maxRel[r.name], r.tol))
		}
	}
	out := map[string]any{"stage": "spmd", "shape": a.shape, "dtype": a.dtype, "devices": n, "batch": batch,
		"seq": a.seq, "steps": a.steps, "grad_accum": a.accum, "losses": losses, "max_abs_diff": maxAbs,
		"max_rel_diff": maxRel, "tol": a.tolOneDevice, "tol_multi": a.tolMultiDev, "ok": len(bad) == 0,
		"seconds": time.Since(start).Seconds(), "backend": xla.Describe(backend, choice)}
	if n == 1 {
		out["multi_device"] = "unverified: one device"
	}
	// The human-readable row (stdout carries the JSON line only).
	row := fmt.Sprintf("spmd %s %s, %d device(s): plain loss %.6f", a.shape, a.dtype, n, losses["plain"][len(losses["plain"])-1])
	for _, r := range runs[1:] {
		row += fmt.Sprintf(" | %s max|Δ| %.2e", r.name, maxAbs[r.name])
	}
	fmt.Fprintln(os.Stderr, row)
	if len(bad) > 0 {
		return out, errors.Errorf("spmd: the SPMD path's losses differ from the plain path: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

// losses trains a fresh copy of the same model (same seeds, same batches) under par and
// returns each step's loss.
func (a *spmdArgs) losses(backend backends.Backend, cfg *models.Config, dtype dtypes.DType, batch int, par train.Parallel) ([]float64, error) {
	ctx := context.New()
	if err := models.InitRandomAs(ctx, cfg, 1, models.LoadOptions{DType: dtype}); err != nil {
		return nil, err
	}
	m := models.New(cfg)
	if _, err := tuners.BuildAndAttach(&lora.Config{Rank: a.rank, Alpha: float64(2 * a.rank), Seed: 5,
		TargetModules: []string{"q_proj", "k_proj", "v_proj", "o_proj"}}, ctx, m); err != nil {
		return nil, err
	}
	tr, err := train.New(backend, ctx, m, data.SyntheticTokens{Batch: batch, Seq: a.seq, Vocab: cfg.VocabSize},
		train.Config{Steps: a.steps, LR: 1e-3, GradAccum: a.accum, NoProgress: true, Parallel: par})
	if err != nil {
		return nil, err
	}
	out := make([]float64, a.steps)
	for i := range out {
		r, err := tr.Step()
		if err != nil {
			return nil, errors.WithMessagef(err, "step %d", i)
		}
		out[i] = r.Loss
	}
	return out, nil
}
