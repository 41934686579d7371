package lora_test

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// patternData is a tiny deterministic dataset over a vocabulary of 50.
type patternData struct{}

func (patternData) TrainBatch(step, micro int) (*data.Batch, error) {
	b := data.NewBatch(2, 8)
	for i := range b.Tokens {
		b.Tokens[i] = int32((i*7 + step*3 + micro) % 50)
		b.Targets[i] = int32((i*7 + 7 + step*3 + micro) % 50)
		b.Positions[i], b.Segments[i], b.Weights[i] = int32(i%8), 1, 1
	}
	return b, nil
}

func (p patternData) EvalBatches() ([]*data.Batch, error) {
	b, err := p.TrainBatch(0, 0)
	return []*data.Batch{b}, err
}

func values(ctx *context.Context, l *lora.LoRA, name string) map[string][]float32 {
	out := map[string][]float32{}
	for _, path := range l.Targets() {
		v := ctx.GetVariableByScopeAndName(lora.Scope+models.PathToScope(path), name)
		out[path] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	return out
}

func maxChange(before, after map[string][]float32) float64 {
	d := 0.0
	for k := range before {
		for i := range before[k] {
			d = math.Max(d, math.Abs(float64(after[k][i]-before[k][i])))
		}
	}
	return d
}

// TestLoRAPlusLearningRate: with loraplus_lr_ratio 16, B's learning rate is 16 × A's. Adam's first
// update of each element is ±lr (bias-corrected m/√v = sign(g)), so after one step max|ΔB| is
// 16·lr (A does not move yet: its gradient is 0 while B = 0), and A's first move is at the
// plain learning rate.
func TestLoRAPlusLearningRate(t *testing.T) {
	const lr, ratio = 1e-3, 16.0
	m := models.New(tiny(false))
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(false), 1); err != nil {
		t.Fatal(err)
	}
	tn, err := tuners.BuildAndAttach(&lora.Config{Rank: 4, LoRAPlusRatio: ratio, TargetModules: []string{"q_proj", "v_proj"}}, ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	l := tn.(*lora.LoRA)
	tr, err := train.New(testutil.Backend(t), ctx, m, patternData{},
		train.Config{Steps: 1000, LR: lr, NoProgress: true, LRMultiplier: tuners.LRMultiplier(tn)})
	if err != nil {
		t.Fatal(err)
	}
	a0, b0 := values(ctx, l, "lora_A"), values(ctx, l, "lora_B")
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	a1, b1 := values(ctx, l, "lora_A"), values(ctx, l, "lora_B")
	if d := maxChange(a0, a1); d != 0 {
		t.Fatalf("A moved by %g at the first step (its gradient is 0 while B = 0)", d)
	}
	if d := maxChange(b0, b1); math.Abs(d/(ratio*lr)-1) > 0.01 {
		t.Fatalf("max |ΔB| after one step = %g, want ratio·lr = %g", d, ratio*lr)
	}
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	// A's first non-zero gradient comes at Adam's step 2, whose bias-corrected update for a
	// gradient seen once is (0.1/(1−0.9²)) / √(0.001/(1−0.999²)) ≈ 0.744, times lr.
	want := lr * (0.1 / (1 - 0.9*0.9)) / math.Sqrt(0.001/(1-0.999*0.999))
	if d := maxChange(a1, values(ctx, l, "lora_A")); math.Abs(d/want-1) > 0.01 {
		t.Fatalf("max |ΔA| at the second step = %g, want %g (lr × Adam's step-2 factor)", d, want)
	}
	if got := tuners.LRMultiplier(tn)(0, ctx.GetVariableByScopeAndName(lora.Scope+"/model/layers/0/self_attn/q_proj", "lora_B")); got != ratio {
		t.Fatalf("LRMultiplier(lora_B) = %g", got)
	}
}
