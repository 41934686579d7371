package bench

import (
	"math"
	"testing"
)

// TestCalibrateRecoversModel: on runs whose training heaps a known model produced, Calibrate
// finds that model's coefficients again (the calibrate matrix determines every one of them).
func TestCalibrateRecoversModel(t *testing.T) {
	truth := memoryModels["go"]
	truth.HeadTensors, truth.BlockHidden, truth.UpdateOverhead = 3.9, 24, 3.1 // something else than the base
	m, err := NewMatrix(MatrixOptions{Name: "calibrate"})
	if err != nil {
		t.Fatal(err)
	}
	var results []Result
	for _, spec := range m.Specs {
		cfg, err := spec.ModelConfig()
		if err != nil {
			t.Fatal(err)
		}
		tech, _ := LookupTechnique(spec.Technique)
		in := PredictInput{Config: cfg, Technique: tech, Batch: spec.Batch, Seq: spec.Seq, Rank: spec.Rank}
		p, err := Predict(in)
		if err != nil {
			t.Fatal(err)
		}
		plan, _ := newPlan(in)
		heap := p.AccountedBytes + truth.activations(plan, in, int64(spec.Batch*spec.Seq), p.GradientBytes/4)
		results = append(results, Result{ID: spec.ID(), Engine: "goswift", Status: "ok", Kind: spec.Kind,
			Technique: spec.Technique, Shape: spec.Shape, Config: cfg, Batch: spec.Batch, Seq: spec.Seq, Rank: spec.Rank,
			DType: "f32", TrainingHeapBytes: i64(heap), Accounted: &Accounted{Total: p.AccountedBytes}})
	}
	got, residuals, err := Calibrate(results, memoryModels["go"], "test")
	if err != nil {
		t.Fatal(err)
	}
	want, have := truth.vector(), got.vector()
	for i := range want {
		if math.Abs(have[i]-want[i]) > 1e-3*math.Max(1, math.Abs(want[i])) {
			t.Errorf("%s = %g, want %g", termNames[i], have[i], want[i])
		}
	}
	for _, r := range residuals {
		if math.Abs(r.Error()) > 1e-4 {
			t.Errorf("%s: residual %+.2g", r.ID, r.Error())
		}
	}
	if _, _, err := Calibrate(results[:3], memoryModels["go"], "test"); err == nil {
		t.Error("calibrating on 3 runs: no error")
	}
}

// TestMemoryModelFor: the default CPU backend and a GPU backend without a model.
func TestMemoryModelFor(t *testing.T) {
	if _, name := MemoryModelFor("go"); name != "go" {
		t.Errorf("go: %q", name)
	}
	if _, name := MemoryModelFor("xla"); name == "xla" {
		t.Errorf("xla has no calibrated model but got %q", name)
	}
	if _, name := MemoryModelFor(""); name == "" {
		t.Error("default: no name")
	}
}
