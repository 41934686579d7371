package models

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/fixtures"
)

type storiesGolden struct {
	PromptIDs           []int     `json:"prompt_ids"`
	LastLogits          []float64 `json:"last_logits"`
	PromptTokenLogprobs []float64 `json:"prompt_token_logprobs"`
	PromptMeanNLL       float64   `json:"prompt_mean_nll"`
}

type hfGolden struct {
	InputIDs []int       `json:"input_ids"`
	Logits   [][]float64 `json:"logits"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// loadCheckpoint opens and loads a checkpoint into a fresh context.
func loadCheckpoint(t *testing.T, path string) (*Checkpoint, *context.Context) {
	t.Helper()
	ck, err := OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ck.Close() })
	ctx := context.New()
	if err := LoadVariables(ctx, ck, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return ck, ctx
}

func sequenceLogits(t *testing.T, ctx *context.Context, cfg *Config, ids []int) [][]float32 {
	t.Helper()
	tok, pos, seg := make([]int32, len(ids)), make([]int32, len(ids)), make([]int32, len(ids))
	for i, id := range ids {
		tok[i], pos[i], seg[i] = int32(id), int32(i), 1
	}
	flat := graphLogits(t, ctx, New(cfg), [][]int32{tok}, [][]int32{pos}, [][]int32{seg})
	v := cfg.VocabSize
	out := make([][]float32, len(ids))
	for i := range out {
		out[i] = flat[i*v : (i+1)*v]
	}
	return out
}

func logSoftmaxAt(row []float32, id int) float64 {
	maxV := math.Inf(-1)
	for _, v := range row {
		maxV = math.Max(maxV, float64(v))
	}
	sum := 0.0
	for _, v := range row {
		sum += math.Exp(float64(v) - maxV)
	}
	return float64(row[id]) - maxV - math.Log(sum)
}

// TestStories260KGolden: the llama2.c checkpoint reproduces the float64 reference: last-position
// logits and per-token log-probs within 1e-3 (abs), the golden file's stated tolerance.
func TestStories260KGolden(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	var g storiesGolden
	readJSON(t, fixtures.Path(t, "golden/stories260K.json"), &g)
	ck, ctx := loadCheckpoint(t, model)
	if ck.Config.RoPE != RoPEInterleaved || !ck.Config.TieWordEmbeddings || ck.Config.NumKVHeads != 4 {
		t.Fatalf("unexpected config %s", ck.Config)
	}
	logits := sequenceLogits(t, ctx, ck.Config, g.PromptIDs)
	last := logits[len(logits)-1]
	maxDiff := 0.0
	for i, want := range g.LastLogits {
		maxDiff = math.Max(maxDiff, math.Abs(float64(last[i])-want))
	}
	if maxDiff > 1e-3 {
		t.Fatalf("last logits: max abs diff %g > 1e-3", maxDiff)
	}
	nll := 0.0
	for i, want := range g.PromptTokenLogprobs {
		got := logSoftmaxAt(logits[i], g.PromptIDs[i+1])
		nll -= got
		if d := math.Abs(got - want); d > 1e-3 {
			t.Fatalf("log-prob of prompt token %d: got %.6f want %.6f", i+1, got, want)
		}
	}
	if mean := nll / float64(len(g.PromptTokenLogprobs)); math.Abs(mean-g.PromptMeanNLL) > 1e-3 {
		t.Fatalf("mean NLL %.6f, golden %.6f", mean, g.PromptMeanNLL)
	}
	t.Logf("stories260K: last logits max abs diff %.2g", maxDiff)
}

// TestHFGoldens: real Hugging Face layouts against logits computed independently with the
// transformers conventions, within 1e-4 (abs).
func TestHFGoldens(t *testing.T) {
	for _, name := range []string{"tiny_llama", "tiny_qwen2"} {
		t.Run(name, func(t *testing.T) {
			dir := fixtures.Path(t, filepath.Join("golden/hf", name))
			var g hfGolden
			readJSON(t, dir+".golden.json", &g)
			ck, ctx := loadCheckpoint(t, dir)
			got := sequenceLogits(t, ctx, ck.Config, g.InputIDs)
			maxDiff := 0.0
			for s, row := range g.Logits {
				for i, want := range row {
					maxDiff = math.Max(maxDiff, math.Abs(float64(got[s][i])-want))
				}
			}
			if maxDiff > 1e-4 {
				t.Fatalf("%s: max abs logit diff %g > 1e-4", name, maxDiff)
			}
			t.Logf("%s (%s): max abs diff %.2g", name, ck.Config, maxDiff)
		})
	}
}

// TestHFRoundTrip: SaveHF writes a model in HF layout (config.json + safetensors), the loader
// reads it back and the logits are the same — for the llama2.c model (exported with its q/k
// rows permuted to half-rotation RoPE) and for the qwen2 golden (biases, tied head).
func TestHFRoundTrip(t *testing.T) {
	for _, rel := range []string{"models/stories260K/stories260K.bin", "golden/hf/tiny_qwen2"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			ck, ctx := loadCheckpoint(t, fixtures.Path(t, rel))
			dir := t.TempDir()
			if err := SaveHF(dir, ctx, ck.Config, "F32"); err != nil {
				t.Fatal(err)
			}
			ck2, ctx2 := loadCheckpoint(t, dir)
			if ck2.Format != "hf" || ck2.Config.RoPE != RoPEHalf {
				t.Fatalf("reloaded as %s with RoPE %s", ck2.Format, ck2.Config.RoPE)
			}
			ids := []int{1, 403, 407, 261, 378, 432, 383, 286}
			a := sequenceLogits(t, ctx, ck.Config, ids)
			b := sequenceLogits(t, ctx2, ck2.Config, ids)
			for s := range a {
				for i := range a[s] {
					if d := math.Abs(float64(a[s][i] - b[s][i])); d > 1e-5 {
						t.Fatalf("position %d logit %d: %g vs reloaded %g", s, i, a[s][i], b[s][i])
					}
				}
			}
		})
	}
}
