package qlora_test

import (
	"fmt"
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
	"github.com/goswift/goswift/swift/tuners/qlora"
)

// TestGradientCheckpointing: QLoRA's custom-gradient decoding composes with gradient
// checkpointing (gomlx_ext/remat): two steps give the same losses and LoRA weights as without.
func TestGradientCheckpointing(t *testing.T) {
	run := func(checkpoint bool) ([]float64, []float32) {
		cfg, ctx := load(t, models.LoadOptions{})
		m := models.New(cfg)
		m.GradientCheckpointing = checkpoint
		if _, err := tuners.BuildAndAttach(&qlora.Config{}, ctx, m); err != nil {
			t.Fatal(err)
		}
		tr, err := train.New(testutil.Backend(t), ctx, m, data.SyntheticTokens{Batch: 2, Seq: 16, Vocab: cfg.VocabSize}, train.Config{Steps: 2, LR: 1e-2, NoProgress: true})
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		for range 2 {
			r, err := tr.Step()
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, r.Loss)
		}
		b := ctx.GetVariableByScopeAndName(lora.Scope+"/model/layers/2/mlp/down_proj", "lora_B")
		return losses, tensors.MustCopyFlatData[float32](b.MustValue())
	}
	l1, b1 := run(false)
	l2, b2 := run(true)
	for i := range l1 {
		if math.Abs(l1[i]-l2[i]) > 1e-5 {
			t.Fatalf("step %d loss %g without checkpointing, %g with", i, l1[i], l2[i])
		}
	}
	for i := range b1 {
		if math.Abs(float64(b1[i]-b2[i])) > 1e-5 {
			t.Fatalf("lora_B[%d] %g vs %g", i, b1[i], b2[i])
		}
	}
}

// QLoRA on a small random model: the base projections are stored NF4 with double-quantised
// scales, LoRA trains on top.
func ExampleConfig() {
	mc := &models.Config{ModelType: "llama", VocabSize: 64, HiddenSize: 64, IntermediateSize: 128, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 4, HeadDim: 16, RMSNormEps: 1e-5, RopeTheta: 10000}
	ctx := context.New()
	if err := models.InitRandom(ctx, mc, 1); err != nil {
		panic(err)
	}
	m := models.New(mc)
	if _, err := tuners.BuildAndAttach(&qlora.Config{Config: lora.Config{Rank: 4}}, ctx, m); err != nil {
		panic(err)
	}
	mode, packed := qlora.IsPacked(ctx, "/model/layers/0/mlp/up_proj")
	trainable, total := tuners.CountParams(ctx)
	fmt.Println(mode, packed, trainable, total == mc.NumParams()+trainable)
	// Output: nf4 true 8704 true
}
