package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift/data"
)

// toolCallData writes a tool-calling training set (messages JSONL with tools and tool_calls)
// and a held-out BFCL question/answer pair built from BFCL simple_python items.
func toolCallData(t *testing.T, dir string, cfg data.VariantConfig) (trainPath, heldPath string) {
	t.Helper()
	items, _, err := data.ReadFile(fixtures.Path(t, "datasets/bfcl_BFCL_v4_simple_python.json"), data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	train, held, err := data.ToolCallVariants(items, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var tr, q, a bytes.Buffer
	if err := data.WriteJSONL(&tr, train); err != nil {
		t.Fatal(err)
	}
	if err := data.WriteBFCL(&q, &a, held); err != nil {
		t.Fatal(err)
	}
	trainPath, heldPath = filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "held.json")
	for p, b := range map[string][]byte{trainPath: tr.Bytes(), heldPath: q.Bytes(), filepath.Join(dir, "held_answer.json"): a.Bytes()} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return trainPath, heldPath
}

func runVerb(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(args, &out, &errOut); err != nil {
		t.Fatalf("goswift %s: %v\n%s\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// TestSFTResumeAndEval: `goswift sft` trains with packing and the agent loss scale, resumes
// exactly, and `goswift eval` scores the adapter on each task, writing JSON.
func TestSFTResumeAndEval(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	dir := t.TempDir()
	trainPath, heldPath := toolCallData(t, dir, data.VariantConfig{Functions: 4, Train: 40, HeldOut: 4, Seed: 2})
	common := []string{"sft", "--device", "cpu", "--model", model, "--dataset", trainPath, "--val-dataset", heldPath,
		"--template", "compact", "--packing", "--max-length", "256", "--loss-scale", "agent", "--rank", "4",
		"--batch-size", "2", "--lr", "3e-3", "--warmup", "1", "--eval-every", "0", "--save-every", "2", "--no-progress"}
	straight, split := filepath.Join(dir, "straight"), filepath.Join(dir, "split")
	out := runVerb(t, append(common, "--output", straight, "--steps", "4")...)
	if !strings.Contains(out, "template compact") || !strings.Contains(out, "shapes [2, 256]") {
		t.Fatalf("sft output:\n%s", out)
	}
	runVerb(t, append(common, "--output", split, "--steps", "2")...)
	out = runVerb(t, "sft", "--resume-from", split, "--steps", "4", "--no-progress")
	if !strings.Contains(out, "at step 2") {
		t.Fatalf("resume output:\n%s", out)
	}
	lossAt := func(dir string) map[int]float64 {
		m := map[int]float64{}
		for _, rec := range readLog(t, filepath.Join(dir, "train_log.jsonl")) {
			if l, ok := rec["loss"]; ok {
				m[int(rec["step"])] = l
			}
		}
		return m
	}
	a, b := lossAt(straight), lossAt(split)
	for step := 1; step <= 4; step++ {
		if a[step] == 0 || a[step] != b[step] {
			t.Fatalf("step %d: straight loss %v, resumed %v", step, a[step], b[step])
		}
	}
	adapter := filepath.Join(straight, "adapter")
	for _, task := range []string{"ppl", "toolcall"} {
		res := filepath.Join(dir, task+".json")
		out := runVerb(t, "eval", "--device", "cpu", "--model", model, "--adapter", adapter, "--task", task,
			"--dataset", heldPath, "--template", "compact", "--max-new", "24", "--output", res)
		raw, err := os.ReadFile(res)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Task    string         `json:"task"`
			Items   int            `json:"items"`
			Metrics map[string]any `json:"metrics"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		key := map[string]string{"ppl": "perplexity", "toolcall": "act_em"}[task]
		if r.Task != task || r.Items != 4 || r.Metrics[key] == nil {
			t.Fatalf("%s result %s\noutput:\n%s", task, raw, out)
		}
	}
	gsm := filepath.Join(dir, "gsm.jsonl")
	if err := os.WriteFile(gsm, []byte(`{"question": "What is 2 plus 3?", "answer": "2+3=5\n#### 5"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = runVerb(t, "eval", "--device", "cpu", "--model", model, "--task", "gsm8k", "--dataset", gsm, "--max-new", "8")
	if !strings.Contains(out, "gsm8k accuracy") {
		t.Fatalf("gsm8k output:\n%s", out)
	}
}

// TestInferChat: --messages and --system render a conversation with the template and stop at
// the end of the assistant's turn.
func TestInferChat(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	msgs := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(msgs, []byte(`[{"role": "user", "content": "Tell me a story."}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runVerb(t, "infer", "--device", "cpu", "--model", model, "--messages", msgs, "--system", "You tell stories.",
		"--prompt", "Hi", "--max-new", "12")
	if !strings.Contains(out, "=== conversation 2") {
		t.Fatalf("infer chat output:\n%s", out)
	}
}

func TestSFTEvalErrors(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}`+"\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"sft no dataset", []string{"sft", "--model", model, "--output", t.TempDir()}, "--dataset is required"},
		{"sft bad line", []string{"sft", "--model", model, "--dataset", bad, "--output", t.TempDir()}, bad + ":2:"},
		{"sft unknown template", []string{"sft", "--model", model, "--dataset", bad, "--skip-bad", "--output", t.TempDir(), "--template", "nope"}, `unknown template "nope"`},
		{"sft bad loss scale", []string{"sft", "--model", model, "--dataset", bad, "--skip-bad", "--output", t.TempDir(), "--loss-scale", "x=1"}, "--loss-scale"},
		{"sft bad truncation", []string{"sft", "--model", model, "--dataset", bad, "--output", t.TempDir(), "--truncation", "mid"}, "--truncation"},
		{"sft bad format", []string{"sft", "--model", model, "--dataset", bad, "--output", t.TempDir(), "--format", "csv"}, "--format"},
		{"sft nothing held out", []string{"sft", "--model", model, "--dataset", bad, "--skip-bad", "--output", t.TempDir(), "--val-fraction", "0"}, "no held-out"},
		{"eval bad task", []string{"eval", "--model", model, "--dataset", bad, "--task", "bleu"}, "--task must be"},
		{"eval missing file", []string{"eval", "--model", model, "--dataset", "/nonexistent.jsonl", "--task", "ppl"}, "/nonexistent.jsonl"},
		{"eval toolcall without ground truth", []string{"eval", "--model", model, "--dataset", bad, "--skip-bad", "--task", "toolcall"}, "no expected calls"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(append(tc.args, "--device", "cpu"), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
