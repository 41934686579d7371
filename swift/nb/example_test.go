package nb_test

import (
	"github.com/goswift/goswift/swift/nb"
)

// Outside a notebook, Show prints the plain-text form; in a GoNB cell the same call displays
// an SVG bar chart.
func ExampleBarChart() {
	nb.Show(&nb.BarChart{Title: "peak memory", Unit: "MiB", LowerIsBetter: true, Bars: []nb.Bar{
		{Label: "LoRA", Value: 412},
		{Label: "QLoRA", Value: 203},
	}})
	// Output:
	// peak memory
	//   LoRA   ████████████████████████████████████████ 412 MiB
	//   QLoRA  ████████████████████ 203 MiB
}

func ExampleGenerations() {
	nb.Show(nb.Generations([]string{"ROMEO:"},
		nb.Column{Name: "base", Texts: []string{" Once upon a time"}},
		nb.Column{Name: "LoRA", Texts: []string{" What light through yonder"}}))
	// Output:
	// prompt "ROMEO:"
	//   base: ROMEO: Once upon a time
	//   LoRA: ROMEO: What light through yonder
}

func ExampleTable() {
	nb.Show(&nb.Table{Header: []string{"tuner", "trainable", "held-out loss"}, Rows: [][]string{
		{"LoRA r=8", "24,576", "2.91"},
		{"full", "260,000", "2.65"},
	}})
	// Output:
	//   tuner     trainable  held-out loss
	//  ────────────────────────────────────
	//   LoRA r=8     24,576           2.91
	//   full        260,000           2.65
}

func ExampleLineChart() {
	nb.Show(&nb.LineChart{Title: "tokens/s by batch size", XLabel: "batch", Series: []nb.Series{
		{Name: "LoRA", X: []float64{1, 2, 4, 8}, Y: []float64{900, 1500, 2100, 2300}, Markers: true},
	}})
	// Output:
	// tokens/s by batch size
	//   LoRA: 4 points, batch=1: 900 → batch=8: 2300 (lowest 900 at 1)
}
