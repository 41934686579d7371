package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/swift/bench"
	"github.com/goswift/goswift/swift/models"
)

// TestBenchPredictOnly: `goswift bench --predict-only` prints every technique's predicted
// memory and whether it fits, as a table or JSON, for a built-in shape or a config.json.
func TestBenchPredictOnly(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"bench", "--predict-only", "--shape", "smollm-135m", "--batch", "1", "--seq", "64", "--memory", "64GB"},
		&out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, want := range append([]string{"smollm-135m shape", "budget 64.00 GB", "activations", "yes"}, bench.TechniqueNames()...) {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	dir := t.TempDir()
	cfg := `{"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
		"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": true}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"bench", "--predict-only", "--config", dir, "--technique", "full", "--memory", "1MB", "--json"},
		&out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var got struct {
		Techniques []struct {
			Technique string            `json:"technique"`
			Predicted *bench.Prediction `json:"predicted"`
			Fits      bool              `json:"fits"`
		} `json:"techniques"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(got.Techniques) != 1 || got.Techniques[0].Technique != "full" || got.Techniques[0].Fits ||
		got.Techniques[0].Predicted.TotalBytes <= 1e6 {
		t.Errorf("predict-only JSON: %+v", got)
	}
}

// TestBenchErrors: bad bench flags are one error each, naming the flag.
func TestBenchErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no shape", []string{"bench", "--predict-only"}, "--shape or --config"},
		{"bad shape", []string{"bench", "--predict-only", "--shape", "gpt5"}, "--shape"},
		{"shape and config", []string{"bench", "--predict-only", "--shape", "stories15m", "--config", "x"}, "not both"},
		{"bad config", []string{"bench", "--predict-only", "--config", "/nonexistent/config.json"}, "--config"},
		{"bad technique", []string{"bench", "--predict-only", "--shape", "stories15m", "--technique", "magic"}, "--technique"},
		{"bad memory", []string{"bench", "--predict-only", "--shape", "stories15m", "--memory", "lots"}, "--memory"},
		{"bad dtype", []string{"bench", "--predict-only", "--shape", "stories15m", "--dtype", "f8"}, "dtype"},
		{"quick and full", []string{"bench", "--quick", "--full", "--list"}, "exclude each other"},
		{"bad techniques", []string{"bench", "--techniques", "lora,magic", "--list"}, "--techniques"},
		{"bad report", []string{"bench", "--report", "/nonexistent"}, "--report"},
		{"child without spec", []string{"bench", "--child"}, bench.EnvSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(bench.EnvSpec, "")
			var out, errOut bytes.Buffer
			err := run(tc.args, &out, &errOut)
			if err == nil {
				t.Fatalf("no error; output %q", out.String())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestBenchListAndChild: --list prints the matrix; --child runs the spec in $GOSWIFT_BENCH_SPEC
// in-process and prints its result line (what the suite's child processes do).
func TestBenchListAndChild(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"bench", "--quick", "--list", "--no-peer"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"matrix quick", "speed/lora/stories15m/b4s128r8", "memory/full/smollm-135m/b1s64"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--list lacks %q:\n%s", want, out.String())
		}
	}
	spec := bench.Spec{Kind: bench.KindSpeed, Technique: "lora", Shape: "tiny", Batch: 1, Seq: 8, Rank: 4, DType: "f32",
		Steps: 2, Warmup: 1, Seed: 1, InferTokens: 4, Device: "cpu",
		Config: tinyBenchConfig()}
	raw, _ := json.Marshal(spec)
	t.Setenv(bench.EnvSpec, string(raw))
	out.Reset()
	if err := run([]string{"bench", "--child"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	text := out.String()
	line := strings.TrimSpace(text[strings.Index(text, "{"):])
	for _, e := range bench.ValidateResult([]byte(line)) {
		t.Error(e)
	}
}

// tinyBenchConfig is a small Llama for a fast child run.
func tinyBenchConfig() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 256, HiddenSize: 32, IntermediateSize: 64, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 8, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true,
		MaxPositions: 64, BOSTokenID: 1, EOSTokenID: 2}
}
