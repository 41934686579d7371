package tokenizers

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"
)

// Tokenizer turns text into token ids and back.
//
// Implementations are safe for concurrent use by multiple goroutines.
type Tokenizer interface {
	// Encode tokenizes text. No special tokens (BOS/EOS) are added; see SpecialEncoder.
	Encode(text string) []int
	// Decode turns ids back into text. Special tokens (BOS, EOS, pad and, for tokenizer.json,
	// every added token marked special) are skipped; the sentencepiece-style leading space of
	// the first piece is stripped as the model's decoder does. Ids out of range are skipped.
	Decode(ids []int) string
	// VocabSize is the number of ids (the largest id + 1).
	VocabSize() int
	// BOS is the beginning-of-sequence id, -1 if none is known.
	BOS() int
	// EOS is the end-of-sequence id, -1 if none is known.
	EOS() int
	// Token is the raw piece string of id (as stored in the vocabulary, e.g. "Ġthe", "▁the",
	// "<0x0A>"), "" if id is out of range. Meant for debugging and tables.
	Token(id int) string
}

// SpecialEncoder is implemented by tokenizers that know which special tokens the model expects
// around a single sequence: llama2.c prepends BOS; a tokenizer.json applies its post_processor
// (e.g. Llama's TemplateProcessing "<s> $A", or nothing for GPT-2/Qwen2).
type SpecialEncoder interface {
	// EncodeWithSpecial is Encode plus the special tokens the model expects (e.g. a BOS prefix).
	EncodeWithSpecial(text string) []int
	// AddsBOS reports whether EncodeWithSpecial starts the sequence with BOS.
	AddsBOS() bool
}

// EncodeWithSpecial encodes text with the special tokens the model expects: it uses
// SpecialEncoder when tok implements it and otherwise prepends BOS() when there is one.
func EncodeWithSpecial(tok Tokenizer, text string) []int {
	if se, ok := tok.(SpecialEncoder); ok {
		return se.EncodeWithSpecial(text)
	}
	ids := tok.Encode(text)
	if bos := tok.BOS(); bos >= 0 {
		ids = append([]int{bos}, ids...)
	}
	return ids
}

var (
	_ Tokenizer      = (*Llama2C)(nil)
	_ Tokenizer      = (*HF)(nil)
	_ SpecialEncoder = (*Llama2C)(nil)
	_ SpecialEncoder = (*HF)(nil)
)

// Load opens a tokenizer, choosing the format from path:
//   - a directory: DIR/tokenizer.json (Hugging Face layout), else DIR/tokenizer.bin (llama2.c);
//   - *.json: a Hugging Face tokenizer.json (LoadHF);
//   - anything else (*.bin, *.model, ...): a llama2.c tokenizer.bin (LoadLlama2C). SentencePiece
//     protobuf .model files are not supported: convert them to tokenizer.json.
func Load(path string) (Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, errors.Wrapf(err, "loading tokenizer %s", path)
	}
	if st.IsDir() {
		for _, name := range []string{"tokenizer.json", "tokenizer.bin"} {
			p := filepath.Join(path, name)
			if _, err := os.Stat(p); err == nil {
				return Load(p)
			}
		}
		return nil, errors.Errorf("loading tokenizer: directory %s has neither tokenizer.json nor tokenizer.bin", path)
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		t, err := LoadHF(path)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
	t, err := LoadLlama2C(path)
	if err != nil {
		return nil, err
	}
	return t, nil
}
