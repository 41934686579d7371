package bench_test

import (
	"fmt"

	"github.com/goswift/goswift/swift/bench"
	"github.com/goswift/goswift/swift/models"
)

// Will LoRA on the SmolLM-135M shape fit? The predictor answers from the config alone.
func ExamplePredict() {
	cfg, err := models.Shape("smollm-135m")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"qlora-nf4", "lora", "full"} {
		tech, err := bench.LookupTechnique(name)
		if err != nil {
			panic(err)
		}
		p, err := bench.Predict(bench.PredictInput{Config: cfg, Technique: tech, Batch: 1, Seq: 64, Rank: 8})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-9s trains %s parameters; weights + gradients + optimizer %s\n", name,
			bench.FormatCount(p.ParamsTrainable), bench.FormatBytes(p.AccountedBytes))
	}
	// Output:
	// qlora-nf4 trains 921.6K parameters; weights + gradients + optimizer 183 MB
	// lora      trains 921.6K parameters; weights + gradients + optimizer 553 MB
	// full      trains 134.52M parameters; weights + gradients + optimizer 2.15 GB
}

// The quick matrix, one fresh process per run (what `goswift bench --quick --list` prints).
func ExampleNewMatrix() {
	m, err := bench.NewMatrix(bench.MatrixOptions{Name: "quick", NoPeer: true})
	if err != nil {
		panic(err)
	}
	fmt.Print(m)
	// Output:
	// matrix quick: 6 runs, 0 peer runs
	//   speed/lora/stories15m/b4s128r8
	//   speed/qlora-nf4/stories15m/b4s128r8
	//   speed/full/stories15m/b4s128
	//   memory/qlora-nf4/smollm-135m/b1s64r8
	//   memory/lora/smollm-135m/b1s64r8
	//   memory/full/smollm-135m/b1s64
}
