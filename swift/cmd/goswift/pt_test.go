package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

func readLog(t *testing.T, path string) []map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, rec)
	}
	return out
}

// TestPTRunResumeAndInfer: `goswift pt` writes args.json, the log, checkpoints and the adapter;
// --resume-from continues the run to more steps with the same losses as a straight run; infer
// --adapter uses the adapter.
func TestPTRunResumeAndInfer(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	text := fixtures.Path(t, "datasets/tinyshakespeare.txt")
	common := []string{"--device", "cpu", "--model", model, "--data", text, "--rank", "4", "--batch-size", "2",
		"--seq-len", "16", "--lr", "3e-3", "--warmup", "1", "--eval-every", "0", "--save-every", "2", "--no-progress"}
	run1 := func(args ...string) string {
		var out, errOut bytes.Buffer
		if err := run(append([]string{"pt"}, args...), &out, &errOut); err != nil {
			t.Fatalf("%v\n%s", err, errOut.String())
		}
		return out.String()
	}
	straight := t.TempDir()
	run1(append(common, "--output", straight, "--steps", "6")...)
	split := t.TempDir()
	run1(append(common, "--output", split, "--steps", "6")...)
	// Rerun the second half of the split run from its step-4 checkpoint.
	if err := os.RemoveAll(filepath.Join(split, "checkpoint-000006")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(split, "latest"), []byte("checkpoint-000004\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run1("--resume-from", split, "--no-progress")
	if !strings.Contains(out, "resumed from") || !strings.Contains(out, "at step 4") {
		t.Fatalf("resume output:\n%s", out)
	}
	for _, f := range []string{"args.json", "train_log.jsonl", "adapter/adapter_config.json", "adapter/adapter_model.safetensors", "latest"} {
		if _, err := os.Stat(filepath.Join(straight, f)); err != nil {
			t.Fatalf("missing %s: %v", f, err)
		}
	}
	lossAt := func(dir string) map[int]float64 {
		m := map[int]float64{}
		for _, rec := range readLog(t, filepath.Join(dir, "train_log.jsonl")) {
			if l, ok := rec["loss"]; ok {
				m[int(rec["step"])] = l // a resumed run's records overwrite the replayed steps
			}
		}
		return m
	}
	a, b := lossAt(straight), lossAt(split)
	for step := 1; step <= 6; step++ {
		if a[step] != b[step] {
			t.Fatalf("step %d: straight loss %v, resumed %v", step, a[step], b[step])
		}
	}
	var inferOut, errOut bytes.Buffer
	if err := run([]string{"infer", "--device", "cpu", "--model", model, "--adapter", filepath.Join(straight, "adapter"),
		"--prompt", "ROMEO:", "--max-new", "8"}, &inferOut, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.HasPrefix(inferOut.String(), "ROMEO:") {
		t.Fatalf("infer --adapter printed %q", inferOut.String())
	}
}

// TestPTErrors: flags the tuner doesn't take, bad values and resume mismatches are clear errors.
func TestPTErrors(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	text := fixtures.Path(t, "datasets/tinyshakespeare.txt")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no data", []string{"--model", model, "--output", t.TempDir()}, "--data is required"},
		{"no output", []string{"--model", model, "--data", text}, "--output is required"},
		{"unknown tuner", []string{"--model", model, "--data", text, "--output", t.TempDir(), "--tuner", "nope"}, `unknown tuner "nope"`},
		{"bad alpha", []string{"--model", model, "--data", text, "--output", t.TempDir(), "--alpha", "-1"}, "lora_alpha"},
		{"resume nothing", []string{"--resume-from", t.TempDir()}, "args.json"},
		{"missing data file", []string{"--model", model, "--data", "/nonexistent.txt", "--output", t.TempDir()}, "/nonexistent.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(append([]string{"pt", "--device", "cpu", "--no-progress"}, tc.args...), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
