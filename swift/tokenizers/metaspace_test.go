package tokenizers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testdata/tiny_llama_sp/tokenizer.json is a hand-made tokenizer of the TinyLlama / Llama-2
// kind: normalizer Prepend("▁") + Replace(" " -> "▁"), no pre-tokenizer (the whole segment is
// one BPE word), byte_fallback with all 256 "<0xNN>" pieces (byte b = id b+3), post_processor
// "<s> $A", decoder Replace("▁" -> " "), ByteFallback, Fuse, Strip(1 leading " ").
//
// Vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>,
// 259 ▁, 260 e, 261 h, 262 l, 263 o, 264 w, 265 r, 266 d, 267 t, 268 a, 269 n, 270 i, 271 s,
// 272 ",", 273 ".", 274 H, 275 T, 276 !, then one piece per merge, in rank order:
//
//	rank: merge      -> id      rank: merge      -> id      rank: merge    -> id
//	 0: ▁ t      -> 277 ▁t     7: ▁w or    -> 284 ▁wor  14: a n     -> 291 an
//	 1: h e      -> 278 he     8: H ell    -> 285 Hell  15: ▁a n    -> 292 ▁an
//	 2: l l      -> 279 ll     9: Hell o   -> 286 Hello 16: ▁an d   -> 293 ▁and
//	 3: ▁ w      -> 280 ▁w    10: ▁ Hello  -> 287 ▁Hello 17: ▁ ▁   -> 294 ▁▁
//	 4: o r      -> 281 or    11: ▁wor l   -> 288 ▁worl 18: i n     -> 295 in
//	 5: e ll     -> 282 ell   12: ▁worl d  -> 289 ▁world 19: ▁ in   -> 296 ▁in
//	 6: ▁t he    -> 283 ▁the  13: ▁ a      -> 290 ▁a    20: e r     -> 297 er
//
// BPE repeatedly merges the adjacent pair of lowest rank (leftmost first on ties).
var metaspaceGolden = []struct {
	text string
	ids  []int
	why  string
}{
	{"Hello world", []int{287, 289},
		"▁Hello▁world: ll(2) ▁w(3) or(4) ell(5) ▁wor(7) Hell(8) Hello(9) ▁Hello(10) ▁worl(11) ▁world(12)"},
	{"and then", []int{293, 283, 269},
		"▁and▁then: ▁t(0) he(1) ▁the(6); ▁a(13) beats a n(14), then ▁an(15) ▁and(16); the final n has no merge"},
	{"Hi 😀", []int{259, 274, 270, 259, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3},
		"▁Hi▁😀: no pair merges; 😀 is not a piece, so byte fallback F0 9F 98 80"},
	{"  in", []int{294, 296},
		"prepend gives ▁▁▁in: ▁▁ at position 0 (17) wins the tie with position 1; in(18); ▁in(19)"},
	{"er", []int{259, 297}, "▁er: only e r(20)"},
	{"<s>Hello", []int{1, 287}, "<s> is split out first; the segment after it gets its own ▁ prefix"},
	{"Hello</s>", []int{287, 2}, "</s> is split out"},
	{"", []int{}, "empty text: no prefix, no ids"},
}

func loadTinyLlamaSP(tb testing.TB) *HF {
	tb.Helper()
	tok, err := LoadHF(filepath.Join("testdata", "tiny_llama_sp", "tokenizer.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestMetaspaceGolden(t *testing.T) {
	tok := loadTinyLlamaSP(t)
	if tok.VocabSize() != 298 || tok.BOS() != 1 || tok.EOS() != 2 || !tok.AddsBOS() {
		t.Fatalf("vocab %d bos %d eos %d addsBOS %v", tok.VocabSize(), tok.BOS(), tok.EOS(), tok.AddsBOS())
	}
	for _, c := range metaspaceGolden {
		got := tok.Encode(c.text)
		if !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v (%s)", c.text, got, c.ids, c.why)
		}
		want := strings.NewReplacer("<s>", "", "</s>", "").Replace(c.text)
		if dec := tok.Decode(c.ids); dec != want {
			t.Errorf("Decode(%v) = %q, want %q", c.ids, dec, want)
		}
	}
	if got := tok.EncodeWithSpecial("Hello world"); !slices.Equal(got, []int{1, 287, 289}) {
		t.Errorf("EncodeWithSpecial = %v, want [1 287 289]", got)
	}
	if got := tok.Decode([]int{1, 287, 289, 2}); got != "Hello world" {
		t.Errorf("Decode with BOS/EOS = %q", got)
	}
	if tok.Token(287) != "▁Hello" || tok.Token(3) != "<0x00>" {
		t.Errorf("Token: %q %q", tok.Token(287), tok.Token(3))
	}
	texts := append([]string{"\xff\xfe invalid", "a\x00b"}, roundTripTexts...)
	for _, s := range texts {
		if got := tok.Decode(tok.Encode(s)); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
}

// modifyJSON rewrites top-level fields of a tokenizer.json.
func modifyJSON(tb testing.TB, data []byte, edit func(doc map[string]any)) []byte {
	tb.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		tb.Fatal(err)
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func readTinyLlamaSP(tb testing.TB) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", "tiny_llama_sp", "tokenizer.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// The same tokenizer written the newer way (Mistral, Llama-2 with legacy=false): no
// normalizer, a Metaspace pre-tokenizer with prepend_scheme "first" and split false.
func TestMetaspacePreTokenizerFirst(t *testing.T) {
	data := modifyJSON(t, readTinyLlamaSP(t), func(doc map[string]any) {
		doc["normalizer"] = nil
		doc["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	})
	tok, err := ParseHF(data, "first.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		ids  []int
	}{
		{"Hello world", []int{287, 289}},
		// Only the text at offset 0 gets "▁": after <s> the segment starts with "Hello".
		{"<s>Hello", []int{1, 286}},
		// A leading space already gives the "▁", none is added: ▁Hello.
		{" Hello", []int{287}},
	} {
		if got := tok.Encode(c.text); !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
	// The legacy normalizer, by contrast, prepends to every segment and always: "▁▁Hello" is
	// ll(2) ell(5) Hell(8) Hello(9), then ▁ Hello(10) at position 1 beats ▁ ▁(17).
	legacy := loadTinyLlamaSP(t)
	if got := legacy.Encode(" Hello"); !slices.Equal(got, []int{259, 287}) {
		t.Errorf("legacy Encode(\" Hello\") = %v, want [259 287]", got)
	}
	// With split true, each "▁" starts a new word: "▁Hello▁world" -> "▁Hello", "▁world".
	data = modifyJSON(t, readTinyLlamaSP(t), func(doc map[string]any) {
		doc["normalizer"] = nil
		doc["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}
		doc["decoder"] = map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}
	})
	tok, err = ParseHF(data, "split.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("Hello world"); !slices.Equal(got, []int{287, 289}) {
		t.Errorf("split Metaspace Encode = %v", got)
	}
	if got := tok.Decode([]int{287, 289}); got != "Hello world" {
		t.Errorf("Metaspace decoder = %q", got)
	}
}

// Merges may also be written as ["a", "b"] pairs (tokenizers >= 0.20).
func TestMergesPairForm(t *testing.T) {
	data := modifyJSON(t, readTinyLlamaSP(t), func(doc map[string]any) {
		model := doc["model"].(map[string]any)
		var pairs [][]string
		for _, m := range model["merges"].([]any) {
			pairs = append(pairs, strings.SplitN(m.(string), " ", 2))
		}
		model["merges"] = pairs
	})
	tok, err := ParseHF(data, "pairs.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range metaspaceGolden {
		if got := tok.Encode(c.text); !slices.Equal(got, c.ids) {
			t.Errorf("pair-form Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
}
