package infer

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testmodel"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/models"
)

type golden struct {
	PromptIDs []int `json:"prompt_ids"`
	GreedyIDs []int `json:"greedy_ids"`
}

func loadStories(t testing.TB) (*Generator, *models.Config, golden) {
	t.Helper()
	ckCfg, ctx := testmodel.Stories260K(t, models.LoadOptions{})
	var g golden
	data, err := os.ReadFile(fixtures.Path(t, "golden/stories260K.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return NewGenerator(testutil.Backend(t), ctx, models.New(ckCfg)), ckCfg, g
}

// TestGreedyGolden: greedy generation with the KV cache reproduces the float64 reference's ids.
func TestGreedyGolden(t *testing.T) {
	gen, _, g := loadStories(t)
	res, err := gen.Generate([][]int{g.PromptIDs}, Options{MaxNewTokens: len(g.GreedyIDs)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res[0].Tokens, g.GreedyIDs) {
		t.Fatalf("greedy ids:\n got %v\nwant %v", res[0].Tokens, g.GreedyIDs)
	}
	if res[0].StopReason != "length" {
		t.Fatalf("stop reason %q, want length", res[0].StopReason)
	}
}

// TestCacheMatchesRecompute: at every step, the logits computed with the KV cache equal a full
// recompute over the prompt plus the tokens generated so far, within 1e-5 — for a batch of
// prompts of different lengths (left padding) and with sampling.
func TestCacheMatchesRecompute(t *testing.T) {
	gen, _, g := loadStories(t)
	prompts := [][]int{g.PromptIDs, {1, 403, 407}, g.PromptIDs[:6]}
	const steps = 12
	res, err := gen.Generate(prompts, Options{MaxNewTokens: steps, RecordLogits: true,
		EOS: new(int(-1)), Sampling: Sampling{Temperature: 0.9, TopP: 0.95, Seed: 5}})
	if err != nil {
		t.Fatal(err)
	}
	for r, p := range prompts {
		if len(res[r].Tokens) != steps {
			t.Fatalf("row %d: %d tokens, want %d", r, len(res[r].Tokens), steps)
		}
		full := append(append([]int(nil), p...), res[r].Tokens...)
		ref, err := gen.Logits([][]int{full})
		if err != nil {
			t.Fatal(err)
		}
		maxDiff := 0.0
		for step := range steps {
			want := ref[0][len(p)+step-1] // logits after the prompt and step tokens
			got := res[r].Logits[step]
			for i := range want {
				maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-want[i])))
			}
		}
		if maxDiff > 1e-5 {
			t.Fatalf("row %d: cached vs recomputed logits differ by %g > 1e-5", r, maxDiff)
		}
		t.Logf("row %d (prompt %d tokens): max |cache - recompute| = %.2g", r, len(p), maxDiff)
	}
}

// TestBatchEqualsSingle: left padding does not change any row's greedy continuation.
func TestBatchEqualsSingle(t *testing.T) {
	gen, _, g := loadStories(t)
	prompts := [][]int{g.PromptIDs, {1, 403, 407, 261}, {1}}
	batch, err := gen.Generate(prompts, Options{MaxNewTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	for r, p := range prompts {
		single, err := gen.Generate([][]int{p}, Options{MaxNewTokens: 10})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(single[0].Tokens, batch[r].Tokens) {
			t.Fatalf("row %d: batched %v vs alone %v", r, batch[r].Tokens, single[0].Tokens)
		}
	}
}

// TestSamplingSeeded: the same seed gives the same tokens; another seed differs; top-k 1 is greedy.
func TestSamplingSeeded(t *testing.T) {
	gen, _, g := loadStories(t)
	run := func(s Sampling) []int {
		res, err := gen.Generate([][]int{g.PromptIDs}, Options{MaxNewTokens: 20, Sampling: s, EOS: new(int(-1))})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Tokens
	}
	a := run(Sampling{Temperature: 1.5, TopK: 40, Seed: 1})
	b := run(Sampling{Temperature: 1.5, TopK: 40, Seed: 1})
	c := run(Sampling{Temperature: 1.5, TopK: 40, Seed: 2})
	if !slices.Equal(a, b) {
		t.Fatalf("same seed gave %v and %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatalf("seeds 1 and 2 gave the same %v", a)
	}
	if greedy := run(Sampling{Temperature: 1, TopK: 1, Seed: 9}); !slices.Equal(greedy, g.GreedyIDs[:20]) {
		t.Fatalf("top-k 1 gave %v, want greedy %v", greedy, g.GreedyIDs[:20])
	}
}

// fakeDecoder spells ids as letters: enough to test stop strings without a tokenizer.
type fakeDecoder struct{}

func (fakeDecoder) Decode(ids []int) string {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte('a' + id%26)
	}
	return string(b)
}

// TestStopAndEOS: stop strings cut the text and stop the row; EOS stops it without being kept.
func TestStopAndEOS(t *testing.T) {
	gen, _, g := loadStories(t)
	dec := fakeDecoder{}
	full, err := gen.Generate([][]int{g.PromptIDs}, Options{MaxNewTokens: 10, Decoder: dec})
	if err != nil {
		t.Fatal(err)
	}
	text := full[0].Text
	stop := text[4:6]
	res, err := gen.Generate([][]int{g.PromptIDs}, Options{MaxNewTokens: 10, Decoder: dec, StopStrings: []string{stop}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].StopReason != "stop" || res[0].Text != text[:4] {
		t.Fatalf("stop %q: got reason %q text %q, want text %q", stop, res[0].StopReason, res[0].Text, text[:4])
	}
	eos := g.GreedyIDs[3]
	res, err = gen.Generate([][]int{g.PromptIDs}, Options{MaxNewTokens: 10, EOS: &eos})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].StopReason != "eos" || !slices.Equal(res[0].Tokens, g.GreedyIDs[:3]) {
		t.Fatalf("eos %d: reason %q tokens %v", eos, res[0].StopReason, res[0].Tokens)
	}
}

// TestGenerateErrors: bad input is an error, never a panic.
func TestGenerateErrors(t *testing.T) {
	gen, cfg, _ := loadStories(t)
	tests := []struct {
		name    string
		prompts [][]int
		opts    Options
	}{
		{"no prompts", nil, Options{}},
		{"empty prompt", [][]int{{}}, Options{}},
		{"id out of range", [][]int{{1, cfg.VocabSize}}, Options{}},
		{"negative id", [][]int{{1, -3}}, Options{}},
		{"bad temperature", [][]int{{1}}, Options{Sampling: Sampling{Temperature: -1}}},
		{"bad top-p", [][]int{{1}}, Options{Sampling: Sampling{Temperature: 1, TopP: 1.5}}},
		{"stop without decoder", [][]int{{1}}, Options{StopStrings: []string{"x"}}},
		{"prompt fills positions", [][]int{make([]int, cfg.MaxPositions)}, Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := gen.Generate(tc.prompts, tc.opts); err == nil {
				t.Fatal("expected an error")
			} else {
				t.Log(err)
			}
		})
	}
}
