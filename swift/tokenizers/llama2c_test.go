package tokenizers

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

func loadStories(tb testing.TB) *Llama2C {
	tb.Helper()
	tok, err := LoadLlama2C(fixtures.Path(tb, "models/stories260K/tok512.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

type storiesGolden struct {
	Prompt     string `json:"prompt"`
	PromptIDs  []int  `json:"prompt_ids"`
	GreedyIDs  []int  `json:"greedy_ids"`
	GreedyText string `json:"greedy_text"`
}

func TestLlama2CGolden(t *testing.T) {
	tok := loadStories(t)
	raw, err := os.ReadFile(fixtures.Path(t, "golden/stories260K.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g storiesGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 512 || tok.BOS() != 1 || tok.EOS() != 2 {
		t.Fatalf("vocab %d bos %d eos %d, want 512 1 2", tok.VocabSize(), tok.BOS(), tok.EOS())
	}
	// prompt_ids are run.c's encode(prompt, bos=1, eos=0).
	if got := tok.EncodeWithSpecial(g.Prompt); !slices.Equal(got, g.PromptIDs) {
		t.Errorf("EncodeWithSpecial(%q) = %v, want %v", g.Prompt, got, g.PromptIDs)
	}
	if got := EncodeWithSpecial(tok, g.Prompt); !slices.Equal(got, g.PromptIDs) {
		t.Errorf("package EncodeWithSpecial = %v, want %v", got, g.PromptIDs)
	}
	if got := tok.Encode(g.Prompt); !slices.Equal(got, g.PromptIDs[1:]) {
		t.Errorf("Encode(%q) = %v, want %v", g.Prompt, got, g.PromptIDs[1:])
	}
	if got := tok.Decode(g.PromptIDs); got != g.Prompt {
		t.Errorf("Decode(prompt_ids) = %q, want %q", got, g.Prompt)
	}
	// greedy_text is the decode of the whole sequence: run.c prints the prompt (its first piece
	// after BOS loses its space) and then each generated piece as it is, " girl" included.
	all := append(append([]int{}, g.PromptIDs...), g.GreedyIDs...)
	if got := tok.Decode(all); got != g.GreedyText {
		t.Errorf("Decode(prompt_ids+greedy_ids) = %q, want %q", got, g.GreedyText)
	}
	var sb strings.Builder
	prev := -1
	for _, id := range all {
		sb.WriteString(tok.DecodePiece(prev, id))
		prev = id
	}
	if sb.String() != g.GreedyText {
		t.Errorf("streamed DecodePiece = %q, want %q", sb.String(), g.GreedyText)
	}
	// Decode of the continuation alone strips its dummy-prefix space.
	if got, want := tok.Decode(g.GreedyIDs), strings.TrimPrefix(g.GreedyText, g.Prompt+" "); got != want {
		t.Errorf("Decode(greedy_ids) = %q, want %q", got, want)
	}
}

func TestLlama2CRoundTrip(t *testing.T) {
	tok := loadStories(t)
	texts := append([]string{"a\x00b", "invalid \xff\xfe utf8 \xe4\xb8", "\x80 stray continuation"}, roundTripTexts...)
	for _, s := range texts {
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Errorf("Decode(Encode(%q)) = %q (ids %v)", s, got, ids)
		}
		if got := tok.Decode(append([]int{1}, ids...)); got != s {
			t.Errorf("Decode(BOS+Encode(%q)) = %q", s, got)
		}
	}
	if ids := tok.Encode(""); len(ids) != 0 {
		t.Errorf("Encode(\"\") = %v, want []", ids)
	}
	// Characters outside the 512 vocabulary fall back to bytes b+3.
	ids := tok.Encode("中")
	want := []int{tok.spaceIDInt(), 0xE4 + 3, 0xB8 + 3, 0xAD + 3}
	if !slices.Equal(ids, want) {
		t.Errorf("Encode(中) = %v, want %v", ids, want)
	}
	if tok.Token(3) != "<0x00>" || tok.Token(1) != "\n<s>\n" || tok.Token(-1) != "" || tok.Token(512) != "" {
		t.Errorf("Token: %q %q", tok.Token(3), tok.Token(1))
	}
}

func (t *Llama2C) spaceIDInt() int { return int(t.spaceID) }

// buildLlama2C writes a llama2.c tokenizer.bin in memory.
func buildLlama2C(maxLen int32, pieces []string, scores []float32) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(maxLen))
	for i, p := range pieces {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(scores[i]))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// tinyLlama2C is a hand-made vocabulary to check run.c's merge order: pieces 0..258 are
// <unk>, BOS, EOS and the 256 byte tokens, then the pieces below with their scores.
func tinyLlama2C(t *testing.T) *Llama2C {
	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n"}
	scores := []float32{0, 0, 0}
	for b := 0; b < 256; b++ {
		pieces = append(pieces, "<0x"+strings.ToUpper(hex2(b))+">")
		scores = append(scores, 0)
	}
	extra := []struct {
		p string
		s float32
	}{
		{" ", -100}, {"a", -100}, {"b", -100}, {"c", -100}, // 259..262
		{"ab", -5},  // 263
		{"bc", -1},  // 264: higher score than "ab": "abc" -> a + bc
		{" a", -3},  // 265
		{"aa", -2},  // 266
		{"abc", -4}, // 267: reachable from "ab"+"c" only; "a"+"bc" also concatenates to it
	}
	for _, e := range extra {
		pieces = append(pieces, e.p)
		scores = append(scores, e.s)
	}
	tok, err := ParseLlama2C(buildLlama2C(8, pieces, scores), "tiny.bin")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func hex2(b int) string {
	const h = "0123456789abcdef"
	return string([]byte{h[b>>4], h[b&15]})
}

func TestLlama2CMergeOrder(t *testing.T) {
	tok := tinyLlama2C(t)
	for _, c := range []struct {
		text string
		want []int
	}{
		// " abc": symbols [" ", a, b, c]; best pair is b+c (-1) -> [" ", a, bc]; then a+bc = "abc"
		// (-4) beats " "+a = " a" (-3)? No: -3 > -4, so " a" merges first -> [" a", bc].
		{"abc", []int{265, 264}},
		// " aaa": pairs " a"(-3), aa(-2), aa(-2): leftmost aa wins -> [" ", aa, a]; then " "+aa
		// and aa+a are not pieces -> done.
		{"aaa", []int{259, 266, 260}},
		// "ab" alone: [" ", a, b] -> " a" (-3) beats ab (-5) -> [" a", b].
		{"ab", []int{265, 261}},
		// Unknown "z" falls back to byte 0x7A -> id 0x7A+3.
		{"z", []int{259, 0x7A + 3}},
	} {
		if got := tok.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
		if got := tok.Decode(c.want); got != c.text {
			t.Errorf("Decode(%v) = %q, want %q", c.want, got, c.text)
		}
	}
}

func TestLlama2CParseErrors(t *testing.T) {
	good := buildLlama2C(4, []string{"<unk>", "<s>", "</s>", "a"}, []float32{0, 0, 0, -1})
	if _, err := ParseLlama2C(good, "good.bin"); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"bad header":  {0x0A, 0x85, 0x01, 0x0A},
		"truncated":   good[:len(good)-1],
		"half header": good[:len(good)-8],
		"neg length":  append(binary.LittleEndian.AppendUint32(good[:4:4], 0), 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF),
		"too few":     buildLlama2C(4, []string{"<unk>"}, []float32{0}),
	} {
		_, err := ParseLlama2C(data, "x/"+name+".bin")
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), "x/"+name+".bin") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
}

func TestLoadDispatch(t *testing.T) {
	p := fixtures.Path(t, "models/stories260K/tok512.bin")
	tok, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tok.(*Llama2C); !ok {
		t.Fatalf("Load(%s) = %T", p, tok)
	}
	dir := t.TempDir()
	data, _ := os.ReadFile(p)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if tok, err := Load(dir); err != nil || tok.VocabSize() != 512 {
		t.Fatalf("Load(dir) = %v, %v", tok, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("Load of a missing file: no error")
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of an empty directory: no error")
	}
}

// runcEncode is a literal port of llama2.c run.c's encode (bos=0, eos=0): the quadratic
// reference the heap-based Encode must match.
func runcEncode(t *Llama2C, text string) []int {
	lookup := func(s string) int {
		if id, ok := t.lookup[s]; ok {
			return int(id)
		}
		return -1
	}
	var tokens []int
	if text != "" {
		tokens = append(tokens, lookup(" "))
	}
	var buf []byte
	for i := 0; i < len(text); i++ {
		if text[i]&0xC0 != 0x80 {
			buf = buf[:0]
		}
		buf = append(buf, text[i])
		if i+1 < len(text) && text[i+1]&0xC0 == 0x80 && len(buf) < 4 {
			continue
		}
		if id := lookup(string(buf)); id != -1 {
			tokens = append(tokens, id)
		} else {
			for _, b := range buf {
				tokens = append(tokens, int(b)+3)
			}
		}
		buf = buf[:0]
	}
	for {
		bestScore, bestID, bestIdx := float32(-1e10), -1, -1
		for i := 0; i+1 < len(tokens); i++ {
			id := lookup(t.pieces[tokens[i]] + t.pieces[tokens[i+1]])
			if id != -1 && t.scores[id] > bestScore {
				bestScore, bestID, bestIdx = t.scores[id], id, i
			}
		}
		if bestIdx == -1 {
			return tokens
		}
		tokens[bestIdx] = bestID
		tokens = append(tokens[:bestIdx+1], tokens[bestIdx+2:]...)
	}
}

func TestLlama2CMatchesRunC(t *testing.T) {
	tok := loadStories(t)
	raw, err := os.ReadFile(fixtures.Path(t, "datasets/tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	texts := append([]string{}, roundTripTexts...)
	texts = append(texts, "é\x80\x80\x80\x80 over-long group", "\xe4\xb8")
	for i := 0; i < len(lines); i += 97 {
		texts = append(texts, lines[i], strings.Join(lines[i:min(i+5, len(lines))], "\n"))
	}
	for _, s := range texts {
		if got, want := tok.Encode(s), runcEncode(tok, s); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("Encode(%q) = %v, run.c gives %v", s, got, want)
		}
	}
	tiny := tinyLlama2C(t)
	for _, s := range []string{"abcabc aaaa", "ab ab abc", "cab  bca"} {
		if got, want := tiny.Encode(s), runcEncode(tiny, s); !slices.Equal(got, want) {
			t.Errorf("tiny Encode(%q) = %v, run.c gives %v", s, got, want)
		}
	}
}
