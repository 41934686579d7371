package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// sampleResult is a valid ok speed result.
func sampleResult() *Result {
	r := &Result{Schema: SchemaVersion, Suite: "s", Time: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC).Format(time.RFC3339),
		ID: "speed/lora/stories15m/b4s128r8", Engine: "goswift", Status: "ok", Kind: KindSpeed, Technique: "lora",
		Tuner: "lora", TunerConfig: json.RawMessage(`{"r":8}`), Shape: "stories15m", Config: tinyConfig(), Batch: 4, Seq: 128, Rank: 8,
		DType: "f32", Seed: 1, ParamsTotal: 15302304, ParamsTrainable: 110592, TrainablePct: f(0.72),
		StepSeconds: []float64{5, 6, 7}, StepSecondsMedian: f(6), TrainTokensPerS: f(85), TrainSamplesPerS: f(0.66),
		InferTokensPerS: f(20), AchievedFLOPs: f(3e9), PeakRSSBytes: i64(7e8), BaselineRSSBytes: i64(2e7),
		PeakHeapBytes: i64(5e8), HeapSamples: 300, HeapPeaks: []int64{5e8}, BaselineHeapBytes: i64(1e6),
		TrainingHeapBytes: i64(4.99e8), DeviceMemory: "not measured: CPU",
		Accounted: &Accounted{Weights: 1, Gradients: 1, Optimizer: 2, Total: 4},
		Predicted: &Prediction{ParamsTotal: 1, ParamsTrainable: 1, WeightsBytes: 1, GradientBytes: 1, OptimizerBytes: 1,
			ActivationBytes: 1, TotalBytes: 4, AccountedBytes: 3, FLOPsPerStep: 1e9, Model: "goswift"},
		PredictionError: f(0.01), WallSeconds: 60, Backend: "simplego", BackendConfig: "go:parallelism=-1", Machine: DescribeMachine(),
		Versions: Versions{Go: "go1.26", GoMLX: "v0.26.0", GoSwift: "abc"}}
	return r
}

// TestValidateResult: a valid line passes; each broken line fails naming the field.
func TestValidateResult(t *testing.T) {
	valid, err := json.Marshal(sampleResult())
	if err != nil {
		t.Fatal(err)
	}
	if errs := ValidateResult(valid); len(errs) > 0 {
		t.Fatalf("valid line rejected: %v", errs)
	}
	edit := func(fn func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		fn(m)
		out, _ := json.Marshal(m)
		return out
	}
	tests := []struct {
		name string
		line []byte
		want string
	}{
		{"not JSON", []byte("{"), "not JSON"},
		{"missing field", edit(func(m map[string]any) { delete(m, "peak_rss_bytes") }), `missing field "peak_rss_bytes"`},
		{"extra field", edit(func(m map[string]any) { m["speed"] = 1 }), `unexpected field "speed"`},
		{"wrong schema", edit(func(m map[string]any) { m["schema"] = "v0" }), "$.schema"},
		{"zero tokens/s", edit(func(m map[string]any) { m["train_tokens_per_s"] = 0 }), "$.train_tokens_per_s"},
		{"negative heap", edit(func(m map[string]any) { m["training_heap_bytes"] = -5 }), "$.training_heap_bytes"},
		{"ok speed without tokens/s", edit(func(m map[string]any) { m["train_tokens_per_s"] = nil }), "$.train_tokens_per_s"},
		{"bad kind", edit(func(m map[string]any) { m["kind"] = "fast" }), "$.kind"},
		{"bad time", edit(func(m map[string]any) { m["time"] = "yesterday" }), "$.time"},
		{"accuracy > 1", edit(func(m map[string]any) { m["eval_token_accuracy"] = 1.5 }), "$.eval_token_accuracy"},
		{"ok loss without losses", edit(func(m map[string]any) { m["kind"] = "loss" }), "$.eval_loss"},
		{"error without message", edit(func(m map[string]any) { m["status"] = "error" }), "$.error"},
		{"string for number", edit(func(m map[string]any) { m["batch"] = "4" }), "$.batch"},
		{"prediction without error", edit(func(m map[string]any) { m["prediction_error"] = nil }), "$.prediction_error"},
		{"bad prediction", edit(func(m map[string]any) { m["predicted"] = map[string]any{"total_bytes": 1} }), "$.predicted"},
	}
	for _, tc := range tests {
		errs := ValidateResult(tc.line)
		if len(errs) == 0 {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		var all []string
		for _, e := range errs {
			all = append(all, e.Error())
		}
		if joined := strings.Join(all, "; "); !strings.Contains(joined, tc.want) {
			t.Errorf("%s: errors %q do not mention %q", tc.name, joined, tc.want)
		}
	}
}

// TestFailedResultValidates: what the suite records for a run that printed nothing is valid.
func TestFailedResultValidates(t *testing.T) {
	r := failedResult(Spec{Kind: KindSpeed, Technique: "lora", Shape: "stories15m", Batch: 1, Seq: 8, DType: "f32"}, nil)
	r.Suite, r.Time = "s", time.Now().UTC().Format(time.RFC3339)
	r.Versions = CurrentVersions()
	line, _ := json.Marshal(r)
	if errs := ValidateResult(line); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"16GB", 16e9, true}, {"24 GiB", 24 << 30, true}, {"512MiB", 512 << 20, true}, {"1000", 1000, true},
		{"1.5gb", 1.5e9, true}, {"lots", 0, false}, {"12 furlongs", 0, false}, {"-1GB", 0, false},
	} {
		got, err := ParseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
