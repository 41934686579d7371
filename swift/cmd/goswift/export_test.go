package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// trainedAdapter writes a LoRA adapter for stories260K with seeded non-zero weights (as
// training would leave them).
func trainedAdapter(t *testing.T, model string) string {
	t.Helper()
	m, err := swift.Load(model, swift.LoadOptions{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := m.Attach(&lora.Config{Rank: 4, TargetModules: []string{"q_proj", "k_proj", "v_proj"}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, v := range tuners.TrainableVariables(m.Ctx) {
		data := tensors.MustCopyFlatData[float32](v.MustValue())
		for i := range data {
			data[i] = float32(0.02 * rng.NormFloat64())
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...))
	}
	dir := filepath.Join(t.TempDir(), "adapter")
	if err := tuners.SaveAdapter(dir, m.Ctx, tn, model); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExportCLI: `goswift export` writes a PEFT adapter, a merged HF checkpoint and a quantised
// one; infer runs on the merged checkpoint (HF path, converted tokenizer.json) with the same
// greedy text as the base with the adapter, and on the base with the PEFT adapter.
func TestExportCLI(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	adapter := trainedAdapter(t, model)
	out := t.TempDir()
	run1 := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(args, &stdout, &stderr); err != nil {
			t.Fatalf("goswift %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
	for _, f := range []string{"peft", "merged", "quantized"} {
		run1("export", "--model", model, "--adapter", adapter, "--format", f, "--output", filepath.Join(out, f))
	}
	for _, f := range []string{"peft/adapter_config.json", "peft/adapter_model.safetensors", "merged/config.json",
		"merged/model.safetensors", "merged/tokenizer.json", "quantized/model.safetensors", "quantized/tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatalf("missing %s: %v", f, err)
		}
	}
	infer := func(args ...string) string {
		return run1(append([]string{"infer", "--device", "cpu", "--prompt", "Once upon a time", "--max-new", "24"}, args...)...)
	}
	want := infer("--model", model, "--adapter", adapter)
	if got := infer("--model", filepath.Join(out, "merged")); got != want {
		t.Fatalf("merged export generates\n%q\nthe adapter model\n%q", got, want)
	}
	if got := infer("--model", model, "--adapter", filepath.Join(out, "peft")); got != want {
		t.Fatalf("PEFT adapter generates\n%q\nthe GoSwift adapter\n%q", got, want)
	}
}

func TestExportErrors(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--output", t.TempDir()}, "--model is required"},
		{[]string{"--model", model}, "--output is required"},
		{[]string{"--model", model, "--output", t.TempDir(), "--format", "onnx"}, `unknown --format "onnx"`},
		{[]string{"--model", model, "--output", t.TempDir(), "--format", "peft"}, "needs --adapter"},
		{[]string{"--model", model, "--output", t.TempDir(), "--dtype", "F8"}, "--dtype"},
		{[]string{"--model", model, "--output", t.TempDir(), "--format", "quantized", "--quant-type", "int4"}, "--quant-type"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(append([]string{"export"}, tc.args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("export %v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
