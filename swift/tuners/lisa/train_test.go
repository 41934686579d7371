package lisa_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/freeze"
	"github.com/goswift/goswift/swift/tuners/lisa"
)

var lisaCfg = lisa.Config{ActivatedLayers: 2, StepInterval: 3, Seed: 4}

// newLISA builds the tiny model with LISA attached and a trainer over it; activeSet says
// whether the trainer gets LISA's active set (the saving) or only its multipliers (the old
// path: gradients and moments for every block).
func newLISA(t *testing.T, cfg train.Config, activeSet bool) (*lisa.LISA, *context.Context, *train.Trainer) {
	t.Helper()
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		t.Fatal(err)
	}
	m := models.New(tiny())
	c := lisaCfg
	tn, err := tuners.BuildAndAttach(&c, ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NoProgress = true
	cfg.LRMultiplier = tuners.LRMultiplier(tn)
	if activeSet {
		cfg.ActiveSet = tuners.ActiveSet(tn)
	}
	tr, err := train.New(testutil.Backend(t), ctx, m, data.SyntheticTokens{Batch: 2, Seq: 8, Vocab: tiny().VocabSize}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tn.(*lisa.LISA), ctx, tr
}

func copyOf(v *context.Variable) []float32 { return tensors.MustCopyFlatData[float32](v.MustValue()) }

// optimizerBytes is the memory held by /optimizer/* variables.
func optimizerBytes(ctx *context.Context) (n int64) {
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Scope(), "/optimizer/") {
			n += int64(v.Shape().Memory())
		}
	}
	return n
}

func steps(t *testing.T, tr *train.Trainer, n int) []float64 {
	t.Helper()
	var out []float64
	for range n {
		r, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Loss)
	}
	return out
}

// TestInactiveLayersUntouched trains one LISA interval (3 steps, 2 of 6 blocks active) with
// the active set and checks: the inactive blocks' weights are bit-identical and they have no
// optimizer state at all; the active blocks and the non-block weights move and have moments;
// the optimizer state is exactly 8 bytes per active parameter, less than the old path's
// (multipliers only: moments for every block) by the inactive blocks' share.
func TestInactiveLayersUntouched(t *testing.T) {
	l, ctx, tr := newLISA(t, train.Config{Steps: 3, LR: 1e-2}, true)
	active := l.ActiveLayers(0)
	vars := tuners.TrainableVariables(ctx)
	before := map[string][]float32{}
	for _, v := range vars {
		before[v.ScopeAndName()] = copyOf(v)
	}
	steps(t, tr, 3)
	state := func(v *context.Variable, scope string) *context.Variable {
		return ctx.GetVariableByScopeAndName(scope+v.Scope(), v.Name())
	}
	var frozenVars, movedVars int
	var activeParams, inactiveParams int64
	for _, v := range vars {
		name := v.ScopeAndName()
		layer, inBlock := freeze.LayerOf(v.Scope())
		m1, m2 := state(v, "/optimizer/adam_m"), state(v, "/optimizer/adam_v")
		if !inBlock || slices.Contains(active, layer) {
			if slices.Equal(copyOf(v), before[name]) {
				t.Fatalf("%s (active %v) did not move", name, active)
			}
			if m1 == nil || m2 == nil {
				t.Fatalf("%s (active %v) has no moments", name, active)
			}
			activeParams += int64(v.Shape().Size())
			movedVars++
			continue
		}
		if !slices.Equal(copyOf(v), before[name]) {
			t.Fatalf("%s: block %d is inactive (active %v) but its weights changed", name, layer, active)
		}
		if m1 != nil || m2 != nil {
			t.Fatalf("%s: block %d is inactive but has optimizer state", name, layer)
		}
		inactiveParams += int64(v.Shape().Size())
		frozenVars++
	}
	if frozenVars == 0 || movedVars == 0 {
		t.Fatalf("%d inactive and %d active variables checked", frozenVars, movedVars)
	}
	lisaBytes := optimizerBytes(ctx)
	if want := 8 * activeParams; lisaBytes != want {
		t.Fatalf("optimizer state %d bytes, want 8 × %d active parameters = %d", lisaBytes, activeParams, want)
	}
	_, ctxOld, trOld := newLISA(t, train.Config{Steps: 3, LR: 1e-2}, false)
	steps(t, trOld, 1)
	oldBytes := optimizerBytes(ctxOld)
	if want := 8 * (activeParams + inactiveParams); oldBytes != want {
		t.Fatalf("old path: optimizer state %d bytes, want %d", oldBytes, want)
	}
	t.Logf("active blocks %v: %d variables moved, %d inactive untouched; optimizer state %d bytes (old path %d, "+
		"saved %d = 8 × %d inactive parameters, %.0f%%)", active, movedVars, frozenVars, lisaBytes, oldBytes,
		oldBytes-lisaBytes, inactiveParams, 100*float64(oldBytes-lisaBytes)/float64(oldBytes))
}

// TestFirstIntervalMatchesMultipliers: within the first interval (and with clipping off, since
// the old path's global norm also counted the inactive blocks' gradients) the active-set step
// trains exactly what the multiplier-only step does.
func TestFirstIntervalMatchesMultipliers(t *testing.T) {
	cfg := train.Config{Steps: 3, LR: 1e-2, ClipNorm: -1, WeightDecay: 0.01}
	_, ctxA, a := newLISA(t, cfg, true)
	_, ctxB, b := newLISA(t, cfg, false)
	la, lb := steps(t, a, 3), steps(t, b, 3)
	for i := range la {
		if math.Abs(la[i]-lb[i]) > 1e-6 {
			t.Fatalf("step %d: loss %g with the active set, %g with multipliers only", i, la[i], lb[i])
		}
	}
	for _, v := range tuners.TrainableVariables(ctxA) {
		w, ref := copyOf(v), copyOf(ctxB.GetVariableByScopeAndName(v.Scope(), v.Name()))
		for i := range w {
			if d := math.Abs(float64(w[i] - ref[i])); d > 1e-6 {
				t.Fatalf("%s[%d]: %g vs %g", v.ScopeAndName(), i, w[i], ref[i])
			}
		}
	}
}

// TestJoiningLayerStartsFresh: at the first step of the second interval a block that joins
// has fresh moments with its own bias correction (t = 1), so its AdamW step is ±lr per
// element (m̂ = g, v̂ = g²), and a block that left has no state any more.
func TestJoiningLayerStartsFresh(t *testing.T) {
	l, ctx, tr := newLISA(t, train.Config{Steps: 4, LR: 1e-2, ClipNorm: -1}, true)
	first, second := l.ActiveLayers(0), l.ActiveLayers(3)
	var joined, left int = -1, -1
	for _, a := range second {
		if !slices.Contains(first, a) {
			joined = a
		}
	}
	for _, a := range first {
		if !slices.Contains(second, a) {
			left = a
		}
	}
	if joined < 0 || left < 0 {
		t.Fatalf("intervals 0 and 1 draw %v and %v: no block joins (pick another seed)", first, second)
	}
	steps(t, tr, 3)
	var v *context.Variable
	for _, tv := range tuners.TrainableVariables(ctx) {
		if i, ok := freeze.LayerOf(tv.Scope()); ok && i == joined && tv.Shape().Rank() == 2 {
			v = tv
			break
		}
	}
	w0 := copyOf(v)
	steps(t, tr, 1)
	if got, want := tr.ActiveKey(), fmt.Sprintf("layers %d,%d", second[0], second[1]); got != want {
		t.Fatalf("active key %q, want %q", got, want)
	}
	lr := train.Config{Steps: 4, LR: 1e-2}.LearningRate(3)
	w1 := copyOf(v)
	maxStep := 0.0
	for i := range w1 {
		maxStep = max(maxStep, math.Abs(float64(w1[i]-w0[i])))
	}
	if math.Abs(maxStep-lr)/lr > 0.01 {
		t.Fatalf("%s (block %d joined at step 3): largest update %g, want lr %g (a fresh AdamW step)",
			v.ScopeAndName(), joined, maxStep, lr)
	}
	for u := range ctx.IterVariables() {
		if strings.HasPrefix(u.Scope(), "/optimizer/") {
			if i, ok := freeze.LayerOf(strings.TrimPrefix(strings.TrimPrefix(u.Scope(), "/optimizer/adam_m"), "/optimizer/adam_v")); ok && i == left {
				t.Fatalf("block %d left the active set but %s remains", left, u.ScopeAndName())
			}
		}
	}
}

// TestResumeIsExact: 2N steps straight equal N steps, a checkpoint, a fresh trainer resumed
// from it and N more — bit-identical losses — with interval boundaries (every 3 steps) inside
// both halves and, for N = 3, at the resume point itself (N = 5 resumes mid-interval, where the
// moments' bias-correction steps must come from the checkpoint); gradient accumulation and weight
// decay on, so the accumulators and decay follow the set too.
func TestResumeIsExact(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			cfg := func(dir string) train.Config {
				return train.Config{Steps: 2 * n, LR: 1e-2, WarmupSteps: 1, GradAccum: 2, WeightDecay: 0.01, OutputDir: dir}
			}
			_, _, straight := newLISA(t, cfg(""), true)
			want := steps(t, straight, 2*n)

			dir := t.TempDir()
			_, _, first := newLISA(t, cfg(dir), true)
			got := steps(t, first, n)
			if _, err := first.SaveCheckpoint(); err != nil {
				t.Fatal(err)
			}
			_, _, second := newLISA(t, cfg(dir), true)
			if err := second.Resume(dir); err != nil {
				t.Fatal(err)
			}
			if second.StepsDone() != n || second.ActiveKey() != first.ActiveKey() {
				t.Fatalf("resumed at step %d with set %q, want %d and %q", second.StepsDone(), second.ActiveKey(), n, first.ActiveKey())
			}
			got = append(got, steps(t, second, n)...)
			if !slices.Equal(got, want) {
				t.Fatalf("losses differ:\nstraight %v\nresumed  %v", want, got)
			}

			// A trainer without the active set cannot take this checkpoint (its moments are a subset).
			_, _, plain := newLISA(t, cfg(dir), false)
			if err := plain.Resume(dir); err == nil || !strings.Contains(err.Error(), "active set") {
				t.Fatalf("resume without ActiveSet: %v", err)
			}
		})
	}
}

// TestEmulatedParallelFollowsTheSet: the emulated two-device step (shards run one after
// another, gradients summed in the accumulators) follows the active set across an interval
// boundary, the planner giving the joining blocks' new state their owner's spec, and trains
// what the one-device step trains. GradAccum is 1 here: the apply step must still add the
// earlier shards' accumulated gradients (it once added them only with GradAccum > 1).
func TestEmulatedParallelFollowsTheSet(t *testing.T) {
	cfg := train.Config{Steps: 5, LR: 1e-2}
	_, _, plain := newLISA(t, cfg, true)
	cfg.Parallel = train.Parallel{Devices: 2, Emulate: true}
	_, ctx, emu := newLISA(t, cfg, true)
	want, got := steps(t, plain, 5), steps(t, emu, 5)
	for i := range want {
		if math.Abs(want[i]-got[i]) > 1e-5*math.Abs(want[i]) {
			t.Fatalf("step %d: loss %g emulated on 2 devices, %g on one", i, got[i], want[i])
		}
	}
	plan := emu.Plan().String()
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Scope(), "/optimizer/") && !strings.Contains(plan, v.ScopeAndName()) {
			t.Fatalf("%s is not in the plan:\n%s", v.ScopeAndName(), plan)
		}
	}
}
