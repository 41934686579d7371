package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

// TestInferGolden: `goswift infer` on stories260K with the golden prompt prints the golden
// greedy text.
func TestInferGolden(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	var g struct {
		Prompt     string `json:"prompt"`
		GreedyIDs  []int  `json:"greedy_ids"`
		GreedyText string `json:"greedy_text"`
	}
	data, err := os.ReadFile(fixtures.Path(t, "golden/stories260K.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err = run([]string{"infer", "--device", "cpu", "--model", model, "--prompt", g.Prompt,
		"--max-new", "48"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, errOut.String())
	}
	if got := strings.TrimSuffix(out.String(), "\n"); got != g.GreedyText {
		t.Fatalf("infer printed\n%q\nwant\n%q", got, g.GreedyText)
	}
}

// TestCLIErrors: unknown verbs and flags, missing or bad arguments are one clear error each.
func TestCLIErrors(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no verb", nil, "no verb"},
		{"unknown verb", []string{"fly"}, `unknown verb "fly"`},
		{"unknown flag", []string{"infer", "--modle", model}, "flag provided but not defined: -modle"},
		{"stray argument", []string{"infer", "--model", model, "extra"}, `unexpected argument "extra"`},
		{"no model", []string{"infer", "--prompt", "hi"}, "--model is required"},
		{"no prompt", []string{"infer", "--model", model}, "--prompt is required"},
		{"missing file", []string{"infer", "--model", "/nonexistent/m.bin", "--prompt", "x"}, "/nonexistent/m.bin"},
		{"bad max-new", []string{"infer", "--model", model, "--prompt", "x", "--max-new", "0"}, "--max-new must be positive"},
		{"bad top-p", []string{"infer", "--model", model, "--prompt", "x", "--temperature", "1", "--top-p", "2"}, "top-p"},
		{"bad device", []string{"infer", "--model", model, "--prompt", "x", "--device", "tpu"}, "tpu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(tc.args, &out, &errOut)
			if err == nil {
				t.Fatalf("expected an error, got output %q", out.String())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
