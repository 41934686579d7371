package peft_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/peft"
	"github.com/goswift/goswift/swift/weights"
)

// Save a LoRA adapter in PEFT's layout and load it back (tuners.LoadAdapter recognises PEFT
// directories).
func ExampleSave() {
	mc := &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
	ctx := context.New()
	if err := models.InitRandom(ctx, mc, 1); err != nil {
		panic(err)
	}
	m := models.New(mc)
	tn, err := tuners.BuildAndAttach(&lora.Config{Rank: 4, Alpha: 8, TargetModules: []string{"q_proj", "v_proj"}}, ctx, m)
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "peft")
	defer os.RemoveAll(dir)
	if err := peft.Save(dir, ctx, tn, m, "my-base-model"); err != nil {
		panic(err)
	}
	src, err := weights.OpenSafetensors(filepath.Join(dir, peft.WeightsFile))
	if err != nil {
		panic(err)
	}
	defer src.Close()
	fmt.Println(src.Names()[:2])

	ctx2 := context.New()
	if err := models.InitRandom(ctx2, mc, 1); err != nil {
		panic(err)
	}
	loaded, err := tuners.LoadAdapter(dir, ctx2, models.New(mc))
	if err != nil {
		panic(err)
	}
	fmt.Println(loaded.Name(), loaded.Config().(*lora.Config).TargetModules)
	// Output:
	// [base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight]
	// lora [q_proj v_proj]
}
