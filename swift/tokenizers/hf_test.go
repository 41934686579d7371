package tokenizers

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// charTokenizer returns a tokenizer.json with the given vocabulary (ids in order), merges and
// extra top-level or model fields ("model.x" keys go into the model).
func charTokenizer(tb testing.TB, vocab []string, merges []string, extra map[string]any) []byte {
	tb.Helper()
	v := map[string]int{}
	for i, s := range vocab {
		v[s] = i
	}
	model := map[string]any{"type": "BPE", "vocab": v, "merges": merges}
	doc := map[string]any{"model": model}
	for k, x := range extra {
		if after, ok := strings.CutPrefix(k, "model."); ok {
			model[after] = x
		} else {
			doc[k] = x
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func mustParseHF(tb testing.TB, data []byte) *HF {
	tb.Helper()
	tok, err := ParseHF(data, "test.json")
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func pieceTexts(ps []piece) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.text)
	}
	return out
}

func strsEqual(a, b []string) bool {
	return strings.Join(a, "\x00|") == strings.Join(b, "\x00|") && len(a) == len(b)
}

// The examples of Hugging Face's SplitDelimiterBehavior documentation.
func TestSplitBehaviors(t *testing.T) {
	want := map[string][]string{
		"Removed":            {"the", "final", "countdown"},
		"Isolated":           {"the", "-", "final", "-", "-", "countdown"},
		"MergedWithPrevious": {"the-", "final-", "-", "countdown"},
		"MergedWithNext":     {"the", "-final", "-", "-countdown"},
		"Contiguous":         {"the", "-", "final", "--", "countdown"},
	}
	for name, w := range want {
		for _, pat := range []map[string]any{{"String": "-"}, {"Regex": "-"}} {
			raw, _ := json.Marshal(map[string]any{"type": "Split", "pattern": pat, "behavior": name, "invert": false})
			o, err := parseObj("t.json", "pre_tokenizer", raw)
			if err != nil {
				t.Fatal(err)
			}
			p, err := parsePreTokenizer(o)
			if err != nil {
				t.Fatal(err)
			}
			got := pieceTexts(p.preTokenize([]piece{{text: "the-final--countdown", first: true}}))
			if !strsEqual(got, w) {
				t.Errorf("%s %v: got %q, want %q", name, pat, got, w)
			}
		}
	}
}

const (
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// The Llama-3 / Qwen2 pre-tokenizer: Split(regex, Isolated) then ByteLevel without its regex.
// Expected pieces derived by hand from the pattern: (?i:) makes 'LL a contraction; a space
// before digits stands alone because no alternative takes " 1"; \s+(?!\S) leaves the last
// space of a run for the word after it; "!!\n\n" is punctuation plus trailing newlines.
func TestPreTokenizerLlama3Qwen2(t *testing.T) {
	text := "I'LL pay 12345 dollars!!\n\n  ok  "
	for _, c := range []struct {
		pattern string
		want    []string
	}{
		{llama3Pattern, []string{"I", "'LL", "Ġpay", "Ġ", "123", "45", "Ġdollars", "!!ĊĊ", "Ġ", "Ġok", "ĠĠ"}},
		{qwen2Pattern, []string{"I", "'LL", "Ġpay", "Ġ", "1", "2", "3", "4", "5", "Ġdollars", "!!ĊĊ", "Ġ", "Ġok", "ĠĠ"}},
	} {
		raw, _ := json.Marshal(map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": c.pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		}})
		o, _ := parseObj("t.json", "pre_tokenizer", raw)
		p, err := parsePreTokenizer(o)
		if err != nil {
			t.Fatal(err)
		}
		got := pieceTexts(p.preTokenize([]piece{{text: text, first: true}}))
		if !strsEqual(got, c.want) {
			t.Errorf("pattern %.20q...:\n got %q\nwant %q", c.pattern, got, c.want)
		}
	}
	// The GPT-2 regex is case-sensitive: "'LL" is "'" + "LL".
	got := pieceTexts(preByteLevel{useRegex: true}.preTokenize([]piece{{text: "I'LL go  "}}))
	if w := []string{"I", "'", "LL", "Ġgo", "ĠĠ"}; !strsEqual(got, w) {
		t.Errorf("GPT-2 regex: got %q, want %q", got, w)
	}
	// \s is Unicode White_Space (NBSP, ideographic space) and \p{L} covers CJK; only an ASCII
	// space joins the following word (" ?\p{L}+"), so each NBSP stands alone.
	got = pieceTexts(preSplit{find: regexFinder(gpt2Regex), behavior: behIsolated}.preTokenize([]piece{{text: "a\u00a0\u00a0b\u3000中文"}}))
	if w := []string{"a", "\u00a0", "\u00a0", "b", "\u3000", "中文"}; !strsEqual(got, w) {
		t.Errorf("unicode classes: got %q, want %q", got, w)
	}
}

func TestUnkFuseIgnoreMerges(t *testing.T) {
	vocab := []string{"<unk>", "a", "b", "ab", "abb"}
	for _, c := range []struct {
		extra map[string]any
		text  string
		want  []int
	}{
		{map[string]any{"model.unk_token": "<unk>"}, "axxb", []int{1, 0, 0, 2}},
		{map[string]any{"model.unk_token": "<unk>", "model.fuse_unk": true}, "axxbxb", []int{1, 0, 2, 0, 2}},
		{map[string]any{}, "axb", []int{3}}, // no unk token: unknown characters are dropped (as HF)
		// ignore_merges: a word that is a vocabulary entry is taken whole, even with no merge path.
		{map[string]any{"model.ignore_merges": true}, "abb", []int{4}},
		{map[string]any{}, "abb", []int{3, 2}},
	} {
		tok := mustParseHF(t, charTokenizer(t, vocab, []string{"a b"}, c.extra))
		if got := tok.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("%v Encode(%q) = %v, want %v", c.extra, c.text, got, c.want)
		}
	}
}

func TestAddedTokenOptions(t *testing.T) {
	vocab := []string{"a", "b", " ", "<x>", "[M]", "w"}
	added := []map[string]any{
		{"id": 3, "content": "<x>", "special": true},
		{"id": 4, "content": "[M]", "special": false, "lstrip": true, "rstrip": true},
		{"id": 5, "content": "w", "special": false, "single_word": true},
	}
	tok := mustParseHF(t, charTokenizer(t, vocab, nil, map[string]any{"added_tokens": added}))
	for _, c := range []struct {
		text string
		want []int
	}{
		{"a<x>b", []int{0, 3, 1}},
		{"a  [M]  b", []int{0, 4, 1}},   // lstrip/rstrip swallow the spaces around [M]
		{"a w b", []int{0, 2, 5, 2, 1}}, // w alone is the added token
		{"awb", []int{0, 5, 1}},         // inside a word it is not: plain "w" from the vocab (same id)
	} {
		if got := tok.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	if got := tok.EncodeOrdinary("a<x>b"); !slices.Equal(got, []int{0, 1}) {
		// "<", "x", ">" are not in the vocabulary and there is no unk: dropped.
		t.Errorf("EncodeOrdinary = %v, want [0 1]", got)
	}
	// Without a decoder Hugging Face joins tokens with spaces; specials are skipped.
	if got := tok.Decode([]int{0, 3, 1}); got != "a b" {
		t.Errorf("Decode without decoder = %q", got)
	}
}

func TestNormalizersAndDigits(t *testing.T) {
	vocab := []string{"é", "e", "\u0301", "1", "2", "3", "x", "12"}
	extra := map[string]any{
		"normalizer":    map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "NFC"}, map[string]any{"type": "Lowercase"}, map[string]any{"type": "Strip", "strip_left": true, "strip_right": true}}},
		"pre_tokenizer": map[string]any{"type": "Digits", "individual_digits": true},
	}
	tok := mustParseHF(t, charTokenizer(t, vocab, []string{"1 2"}, extra))
	// NFC composes e + U+0301 into é; Lowercase maps X; digits are split one by one so the
	// "1 2" merge never applies; Strip removes the outer spaces (unknown chars are dropped).
	if got, want := tok.Encode("  e\u0301X12  "), []int{0, 6, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	extra["pre_tokenizer"] = map[string]any{"type": "Digits", "individual_digits": false}
	tok = mustParseHF(t, charTokenizer(t, vocab, []string{"1 2"}, extra))
	if got, want := tok.Encode("x12"), []int{6, 7}; !slices.Equal(got, want) {
		t.Errorf("Contiguous digits Encode = %v, want %v", got, want)
	}
}

// Every unsupported component must be a load error naming the file and the JSON path.
func TestUnsupportedComponents(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"model": map[string]any{"type": "BPE", "vocab": map[string]int{"a": 0, "b": 1, "ab": 2}, "merges": []string{"a b"}}}
	}
	cases := map[string]struct {
		edit func(map[string]any)
		want string
	}{
		"wordpiece": {func(d map[string]any) {
			d["model"] = map[string]any{"type": "WordPiece", "vocab": map[string]int{"a": 0}}
		}, `model: unsupported model type "WordPiece"`},
		"unigram":  {func(d map[string]any) { d["model"] = map[string]any{"type": "Unigram", "vocab": [][]any{{"a", -1.0}}} }, `model: unsupported model type "Unigram"`},
		"bertnorm": {func(d map[string]any) { d["normalizer"] = map[string]any{"type": "BertNormalizer"} }, `normalizer: unsupported normalizer type "BertNormalizer"`},
		"precomp": {func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "NFC"}, map[string]any{"type": "Precompiled"}}}
		}, `normalizer.normalizers[1]: unsupported normalizer type "Precompiled"`},
		"bertpre":   {func(d map[string]any) { d["pre_tokenizer"] = map[string]any{"type": "BertPreTokenizer"} }, `pre_tokenizer: unsupported pre_tokenizer type "BertPreTokenizer"`},
		"wpdecoder": {func(d map[string]any) { d["decoder"] = map[string]any{"type": "WordPiece"} }, `decoder: unsupported decoder type "WordPiece"`},
		"post":      {func(d map[string]any) { d["post_processor"] = map[string]any{"type": "Fancy"} }, `post_processor: unsupported post_processor type "Fancy"`},
		"dropout":   {func(d map[string]any) { d["model"].(map[string]any)["dropout"] = 0.1 }, "model.dropout"},
		"merge": {func(d map[string]any) { d["model"].(map[string]any)["merges"] = []string{"a b", "a c"} },
			`model.merges[1]: merge "a" + "c": token "c" is not in model.vocab`},
		"badmerge": {func(d map[string]any) { d["model"].(map[string]any)["merges"] = []string{"a b c"} }, "model.merges[0]"},
		"unk":      {func(d map[string]any) { d["model"].(map[string]any)["unk_token"] = "<unk>" }, "model.unk_token"},
		"nomodel":  {func(d map[string]any) { delete(d, "model") }, "model: missing"},
		"sparse":   {func(d map[string]any) { d["added_tokens"] = []any{map[string]any{"id": 1 << 30, "content": "x"}} }, "too sparse"},
		"behavior": {func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"String": " "}, "behavior": "Sideways"}
		}, "pre_tokenizer.behavior"},
		"badregex": {func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "(("}, "behavior": "Isolated"}
		}, "pre_tokenizer.pattern.Regex"},
		"notobject": {func(d map[string]any) { d["decoder"] = []int{1} }, "decoder: expected a JSON object"},
	}
	for name, c := range cases {
		d := base()
		c.edit(d)
		data, _ := json.Marshal(d)
		_, err := ParseHF(data, "dir/"+name+".json")
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "dir/"+name+".json") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q should name the file and contain %q", name, msg, c.want)
		}
	}
	if _, err := ParseHF([]byte("not json"), "x.json"); err == nil || !strings.Contains(err.Error(), "x.json") {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestTokenizerConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), readTinyLlamaSP(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `{"bos_token": {"content": "</s>", "lstrip": false}, "eos_token": null}`
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != 2 || tok.EOS() != -1 {
		t.Errorf("from config: bos %d eos %d, want 2 -1", tok.BOS(), tok.EOS())
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"eos_token": "<nope>"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json") {
		t.Errorf("unknown eos_token: %v", err)
	}
}

// referenceMerge is the plain quadratic BPE loop: find the lowest-priority adjacent pair
// (leftmost on ties), merge it, repeat. applyMerges must agree with it.
func referenceMerge(ids []int32, merges map[uint64]mergeRule) []int32 {
	ids = append([]int32(nil), ids...)
	for {
		best, bestRule := -1, mergeRule{}
		for i := 0; i+1 < len(ids); i++ {
			if r, ok := merges[pairKey(ids[i], ids[i+1])]; ok && (best < 0 || r.rank < bestRule.rank) {
				best, bestRule = i, r
			}
		}
		if best < 0 {
			return ids
		}
		ids[best] = bestRule.id
		ids = append(ids[:best+1], ids[best+2:]...)
	}
}

func TestApplyMergesMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Random merge tables over a small alphabet, with ties in priority.
	for trial := 0; trial < 300; trial++ {
		merges := map[uint64]mergeRule{}
		next := int32(6)
		for k := 0; k < 40; k++ {
			a, b := rng.Int32N(next), rng.Int32N(next)
			merges[pairKey(a, b)] = mergeRule{rank: int32(rng.IntN(10)), id: next}
			next++
		}
		ids := make([]int32, rng.IntN(30))
		for i := range ids {
			ids[i] = rng.Int32N(6)
		}
		want := referenceMerge(ids, merges)
		got := applyMerges(append([]int32(nil), ids...), merges)
		if len(got) != len(want) {
			t.Fatalf("trial %d: got %v, want %v", trial, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("trial %d: got %v, want %v", trial, got, want)
			}
		}
	}
}

// Tokenizers are used from data-loader goroutines: run with -race.
func TestConcurrentUse(t *testing.T) {
	toks := []Tokenizer{loadTinyLlamaSP(t), mustParseHF(t, charTokenizer(t, []string{"a", "b", "ab", " "}, []string{"a b"},
		map[string]any{"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false}}))}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- true }()
			for i := 0; i < 200; i++ {
				for _, tok := range toks {
					s := strings.Repeat("ab ", i%7) + "Hello world"
					_ = tok.Decode(tok.Encode(s))
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
