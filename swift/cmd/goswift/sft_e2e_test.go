package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/templates"
	"github.com/goswift/goswift/swift/eval"
	"github.com/goswift/goswift/swift/tokenizers"
)

// e2eConfig sizes the end-to-end tool-calling run.
type e2eConfig struct {
	functions, train, heldOut, steps int
}

// The always-on run is the acceptance run: 60 held-out items, 40 steps of 8 packed rows
// of 256 positions (~56k positions). It took 81 s in all (60 s of training) on the 2 shared
// cores when they were quiet, and several minutes when other jobs shared them.
// GOSWIFT_E2E_LONG=1 trains 100 steps and scores 100 held-out items (Act.EM reached 80% at 75
// and 100 steps in development runs of this setting).
var (
	e2eShort = e2eConfig{functions: 8, train: 600, heldOut: 60, steps: 40}
	e2eLong  = e2eConfig{functions: 8, train: 1200, heldOut: 100, steps: 100}
)

// TestSFTToolCallingEndToEnd: SFT of stories260K with LoRA on a tool-calling set built from
// BFCL schemas (compact template: the tools as signatures, prompts under 256 tokens), through
// the CLI. Held-out items call the same functions with argument values never seen in
// training. The held-out loss falls, and Act.EM (the right function called) on the held-out
// items beats the untrained model's by at least 10 points. Call.EM (every argument right too)
// is logged, not asserted: stories260K learns which function to call and the call syntax in 40
// steps, but not to copy the question's numbers into the arguments (Call.EM still 0% after 100
// steps).
func TestSFTToolCallingEndToEnd(t *testing.T) {
	cfg := e2eShort
	if os.Getenv("GOSWIFT_E2E_LONG") == "1" {
		cfg = e2eLong
	}
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	dir := t.TempDir()
	trainPath, heldPath := toolCallData(t, dir, data.VariantConfig{Functions: cfg.functions, Train: cfg.train,
		HeldOut: cfg.heldOut, MaxDigits: 2, Seed: 1})
	checkPromptLengths(t, heldPath, 256)
	out := runVerb(t, "eval", "--device", "cpu", "--model", model, "--task", "toolcall", "--dataset", heldPath,
		"--template", "compact", "--max-new", "40", "--batch-size", "32", "--output", filepath.Join(dir, "before.json"))
	t.Logf("untrained: %s", lastLine(out))
	sftOut := runVerb(t, "sft", "--device", "cpu", "--model", model, "--dataset", trainPath, "--val-dataset", heldPath,
		"--template", "compact", "--packing", "--max-length", "256", "--batch-size", "8",
		"--steps", strconv.Itoa(cfg.steps), "--lr", "5e-3", "--warmup", "5", "--rank", "16", "--alpha", "32",
		"--target-modules", "all-linear,lm_head", "--eval-every", "0", "--save-every", "0", "--no-progress",
		"--output", filepath.Join(dir, "run"))
	t.Logf("sft:\n%s", sftOut)
	m := regexp.MustCompile(`held-out loss: ([0-9.]+) before, ([0-9.]+) after`).FindStringSubmatch(sftOut)
	if m == nil {
		t.Fatalf("no held-out loss line in:\n%s", sftOut)
	}
	before, _ := strconv.ParseFloat(m[1], 64)
	after, _ := strconv.ParseFloat(m[2], 64)
	if !(after < before) {
		t.Fatalf("held-out loss did not fall: %v -> %v", before, after)
	}
	out = runVerb(t, "eval", "--device", "cpu", "--model", model, "--adapter", filepath.Join(dir, "run", "adapter"),
		"--task", "toolcall", "--dataset", heldPath, "--template", "compact", "--max-new", "40", "--batch-size", "32",
		"--output", filepath.Join(dir, "after.json"))
	t.Logf("trained: %s", lastLine(out))
	b, a := readMetrics(t, filepath.Join(dir, "before.json")), readMetrics(t, filepath.Join(dir, "after.json"))
	t.Logf("%d held-out items, untrained → after SFT: Act.EM %.1f%% → %.1f%%, Call.EM %.1f%% → %.1f%%, "+
		"argument F1 %.1f%% → %.1f%%, hallucination %.1f%% → %.1f%%", cfg.heldOut, 100*b.ActEM, 100*a.ActEM,
		100*b.CallEM, 100*a.CallEM, 100*b.ArgF1, 100*a.ArgF1, 100*b.Hallucination, 100*a.Hallucination)
	if a.ActEM-b.ActEM < 0.10 {
		t.Fatalf("Act.EM rose from %.1f%% to %.1f%%: less than 10 points", 100*b.ActEM, 100*a.ActEM)
	}
}

// checkPromptLengths: every held-out prompt, rendered with the compact template, is at most
// limit stories260K tokens.
func checkPromptLengths(t *testing.T, path string, limit int) {
	t.Helper()
	held, _, err := data.ReadFile(path, data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizers.Load(fixtures.Path(t, "models/stories260K/tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	longest := 0
	for _, s := range held {
		ids, err := templates.EncodePrompt(templates.CompactTools, tok, s, templates.Options{})
		if err != nil {
			t.Fatal(err)
		}
		longest = max(longest, len(ids))
	}
	if longest > limit {
		t.Fatalf("the longest held-out prompt has %d tokens, more than %d", longest, limit)
	}
	t.Logf("%d held-out prompts, the longest %d tokens", len(held), longest)
}

func lastLine(s string) string {
	lines := regexp.MustCompile(`\n`).Split(regexp.MustCompile(`\n+$`).ReplaceAllString(s, ""), -1)
	return lines[len(lines)-1]
}

func readMetrics(t *testing.T, path string) eval.ToolCallReport {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Metrics eval.ToolCallReport `json:"metrics"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r.Metrics
}
