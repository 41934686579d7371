package export

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift/tokenizers"
)

// TestLlama2CTokenizerJSON: tok512.bin converted to tokenizer.json encodes a text set (every
// line of the first 64 KB of tinyshakespeare, the golden prompt, and edge cases) to the same
// ids as the llama2.c tokenizer, with the same special tokens, and decodes them back.
func TestLlama2CTokenizerJSON(t *testing.T) {
	l2c, err := tokenizers.LoadLlama2C(fixtures.Path(t, "models/stories260K/tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := Llama2CTokenizerJSON(l2c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, js, 0o644); err != nil {
		t.Fatal(err)
	}
	hf, err := tokenizers.LoadHF(path)
	if err != nil {
		t.Fatal(err)
	}
	if hf.VocabSize() != l2c.VocabSize() || hf.BOS() != 1 || hf.EOS() != 2 {
		t.Fatalf("vocab %d bos %d eos %d", hf.VocabSize(), hf.BOS(), hf.EOS())
	}
	shakespeare, err := os.ReadFile(fixtures.Path(t, "datasets/tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"Once upon a time, there was a little", "", " ", "  two  spaces", "tab\tand\nnewline",
		"ünïcödé — “quotes” 日本語 😀", "Lily's dog said: \"Hi!\"", string(shakespeare[:65536])}
	texts = append(texts, strings.Split(string(shakespeare[:65536]), "\n")...)
	tokens := 0
	for _, text := range texts {
		want, got := l2c.Encode(text), hf.Encode(text)
		if !slices.Equal(want, got) {
			t.Fatalf("Encode(%.60q): llama2.c %v, tokenizer.json %v", text, head(want), head(got))
		}
		if ws, gs := l2c.EncodeWithSpecial(text), hf.EncodeWithSpecial(text); !slices.Equal(ws, gs) {
			t.Fatalf("EncodeWithSpecial(%.60q) differs: %v vs %v", text, head(ws), head(gs))
		}
		if d := hf.Decode(got); d != l2c.Decode(want) {
			t.Fatalf("Decode(%.60q): %.60q vs %.60q", text, d, l2c.Decode(want))
		}
		tokens += len(want)
	}
	t.Logf("%d texts, %d tokens: identical ids", len(texts), tokens)
}

func head(ids []int) []int {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}
