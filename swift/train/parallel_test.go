package train_test

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/full"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/qlora"
	"github.com/goswift/goswift/xla"
)

// TestDataParallelEmulated drives the data-parallel path in emulated k-shard mode (the plan,
// the batch split, the per-shard gradients summed as XLA's all-reduce would) and checks the
// k-shard step equals the one-device step.
func TestDataParallelEmulated(t *testing.T) {
	tests := []struct {
		name string
		cfg  func() tuners.Config
	}{
		{"lora", func() tuners.Config { return &lora.Config{Rank: 4, Seed: 10} }},
		{"qlora", func() tuners.Config { return &qlora.Config{Config: lora.Config{Rank: 4, Seed: 10}} }},
		{"full", func() tuners.Config { return &full.Config{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := func(p train.Parallel) ([]float64, map[string][]float32) {
				ctx, m, ds := setupWith(t, tc.cfg(), data.TextConfig{SeqLen: 16, BatchSize: 4, Seed: 6})
				tr, err := train.New(testutil.Backend(t), ctx, m, ds, train.Config{Steps: 2, LR: 5e-3, GradAccum: 2,
					NoProgress: true, Parallel: p})
				if err != nil {
					t.Fatal(err)
				}
				var losses []float64
				for range 2 {
					r, err := tr.Step()
					if err != nil {
						t.Fatal(err)
					}
					losses = append(losses, r.Loss, r.GradNorm)
				}
				w := map[string][]float32{}
				for _, v := range tuners.TrainableVariables(ctx) {
					w[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](v.MustValue())
				}
				return losses, w
			}
			l1, w1 := run(train.Parallel{})
			for _, k := range []int{2, 4} {
				lk, wk := run(train.Parallel{Devices: k, Emulate: true})
				for i := range l1 {
					if math.Abs(l1[i]-lk[i]) > 1e-4*math.Abs(l1[i]) {
						t.Fatalf("k=%d: value %d (loss, grad norm per step) %.8f vs one device %.8f", k, i, lk[i], l1[i])
					}
				}
				// Norm-relative: Adam turns rounding-level gradient differences of near-zero
				// elements into visible per-element update differences.
				for name, a := range w1 {
					num, den := 0.0, 0.0
					for j := range a {
						num += math.Pow(float64(a[j]-wk[name][j]), 2)
						den += math.Pow(float64(a[j]), 2)
					}
					if den > 0 && math.Sqrt(num/den) > 1e-5 {
						t.Fatalf("k=%d: %s differs by %g (norm-relative)", k, name, math.Sqrt(num/den))
					}
				}
			}
		})
	}
}

// TestParallelPlanSpecs checks the sharding spec of every variable kind against a hand-written
// table, with and without FSDP.
func TestParallelPlanSpecs(t *testing.T) {
	ctx, m, ds := setup(t, &lora.Config{Rank: 4, Seed: 11}, data.TextConfig{SeqLen: 16, BatchSize: 4, Seed: 7})
	tr, err := train.New(testutil.Backend(t), ctx, m, ds, train.Config{Steps: 1, NoProgress: true,
		Parallel: train.Parallel{Devices: 4, Emulate: true, FSDP: true}})
	if err != nil {
		t.Fatal(err)
	}
	plan := tr.Plan()
	want := []struct{ name, kind, spec string }{
		{"/model/embed_tokens/weight", "base", "data"},              // [512, 64]: 512 % 4 == 0
		{"/model/layers/0/self_attn/k_proj/weight", "base", "data"}, // [32, 64]
		{"/model/layers/0/mlp/gate_proj/weight", "base", "data"},    // [172, 64]: 172 % 4 == 0
		{"/model/norm/weight", "base", "data"},                      // [64]
		{"/tuners/lora/model/layers/0/self_attn/q_proj/lora_A", "adapter", "replicated"},
		{"/tuners/lora/model/layers/0/self_attn/q_proj/lora_B", "adapter", "replicated"},
		{"/tuners/lora/#enabled", "state", "replicated"},
		{"/optimizer/adam_m/tuners/lora/model/layers/0/self_attn/q_proj/lora_B", "optimizer", "replicated"},
		{"/optimizer/grad_acc/tuners/lora/model/layers/0/self_attn/q_proj/lora_A", "optimizer", "replicated"},
	}
	for _, w := range want {
		spec, ok := plan.Vars[w.name]
		if !ok {
			t.Fatalf("no spec for %s; plan:\n%s", w.name, plan)
		}
		got := "replicated"
		if !spec.IsReplicated() {
			got = strings.Join(spec.Axes[0], ",")
		}
		if plan.Kinds[w.name] != w.kind || got != w.spec {
			t.Errorf("%s: %s/%s, want %s/%s", w.name, plan.Kinds[w.name], got, w.kind, w.spec)
		}
	}
	// Without FSDP every base weight is replicated; a batch that does not split is an error.
	noFSDP, err := train.NewPlan(ctx, train.Parallel{Devices: 4})
	if err != nil {
		t.Fatal(err)
	}
	for name, spec := range noFSDP.Vars {
		if !spec.IsReplicated() {
			t.Errorf("without FSDP %s is sharded: %s", name, spec)
		}
	}
	b, _ := ds.TrainBatch(0, 0)
	b.B, b.S = 3, len(b.Tokens)/3 // 3 rows over 4 devices
	if _, err := noFSDP.SplitBatch(b); err == nil || !strings.Contains(err.Error(), "does not split") {
		t.Fatalf("split error %v", err)
	}
}

// TestParallelNeedsDevices: asking simplego (one device) for real multi-device training is a
// clear error pointing at Emulate and XLA.
func TestParallelNeedsDevices(t *testing.T) {
	ctx, m, ds := setup(t, &lora.Config{Rank: 4}, data.TextConfig{SeqLen: 16, BatchSize: 4})
	_, err := train.New(testutil.Backend(t), ctx, m, ds, train.Config{Steps: 1, NoProgress: true, Parallel: train.Parallel{Devices: 2}})
	if err == nil || !strings.Contains(err.Error(), "needs the XLA backend") {
		t.Fatalf("error %v", err)
	}
}

// TestParallelXLA runs the real SPMD path on XLA when a CUDA PJRT plugin is installed: a
// 1-device mesh gives the same loss as the plain path, and with every device the step runs.
// Skipped (with the places searched) otherwise; multi-device is unverified where it can't run.
func TestParallelXLA(t *testing.T) {
	plugins := xla.FindCUDAPlugins(xla.Options{})
	if len(plugins) == 0 {
		t.Skip("no CUDA PJRT plugin installed here: the XLA SPMD path is exercised only on a GPU machine (benchmarks/gpu)")
	}
	backend, choice, err := xla.New(xla.Options{Want: "cuda"})
	if err != nil {
		t.Fatalf("CUDA plugin found (%v) but not usable: %v", plugins, err)
	}
	t.Logf("backend: %s", xla.Describe(backend, choice))
	stepLoss := func(p train.Parallel) float64 {
		ctx, m, ds := setup(t, &lora.Config{Rank: 4, Seed: 12}, data.TextConfig{SeqLen: 16, BatchSize: 8, Seed: 8})
		tr, err := train.New(backend, ctx, m, ds, train.Config{Steps: 1, LR: 1e-3, NoProgress: true, Parallel: p})
		if err != nil {
			t.Fatal(err)
		}
		r, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		return r.Loss
	}
	plain := stepLoss(train.Parallel{})
	if mesh1 := stepLoss(train.Parallel{Devices: 1}); math.Abs(mesh1-plain) > 1e-5*math.Abs(plain) {
		t.Fatalf("SPMD on a 1-device mesh: loss %.7f vs plain %.7f", mesh1, plain)
	}
	if n := backend.NumDevices(); n > 1 {
		multi := stepLoss(train.Parallel{Devices: n})
		if math.Abs(multi-plain) > 1e-4*math.Abs(plain) {
			t.Fatalf("%d-device loss %.6f vs one device %.6f", n, multi, plain)
		}
	} else {
		t.Logf("one device: multi-device SPMD unverified here")
	}
}
