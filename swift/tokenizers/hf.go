package tokenizers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// HF is a Hugging Face tokenizer.json tokenizer with a BPE model, of either kind:
//   - byte-level (GPT-2, Qwen2, Llama-3, SmolLM): ByteLevel pre-tokenizer (possibly after a
//     Split regex), merges by rank, ByteLevel decoder;
//   - sentencepiece-style (Llama-2, TinyLlama, Mistral): "▁" for spaces via normalizer
//     (Prepend + Replace) or Metaspace pre-tokenizer, byte_fallback "<0xNN>" tokens, and a
//     Replace/ByteFallback/Fuse/Strip decoder.
//
// Encode follows Hugging Face's encode(text, add_special_tokens=False): added tokens (special
// or not) are split out of the text first and map to their ids; each remaining segment is
// normalized, pre-tokenized and run through BPE. EncodeWithSpecial also applies the
// post_processor (e.g. Llama's "<s> $A"). Any component this package does not implement makes
// ParseHF fail with an error naming the file and the component.
type HF struct {
	name       string
	model      *bpeModel
	normalizer normalizer
	preTok     preTokenizer
	decoder    decoder // nil: tokens are joined with " " (Hugging Face without a decoder)
	post       *postProc
	added      []addedToken
	rawAdded   *addedMatcher // added tokens with normalized=false, matched on the raw text
	normAdded  *addedMatcher // normalized=true, matched on the normalized text
	pieces     []string
	valid      []bool
	special    []bool
	bos, eos   int
}

// LoadHF reads a tokenizer.json. When a tokenizer_config.json sits beside it, its bos_token
// and eos_token decide BOS() and EOS(); otherwise they are guessed (see ParseHF).
func LoadHF(path string) (*HF, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrapf(err, "reading tokenizer.json %s", path)
	}
	t, err := ParseHF(data, path)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	if cfg, err := os.ReadFile(cfgPath); err == nil {
		if err := t.applyConfig(cfg, cfgPath); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// ParseHF parses the bytes of a tokenizer.json; name is used in error messages.
//
// BOS() is the first special id the post_processor puts before the text, else the first of
// "<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>" that exists, else -1. EOS() is the
// last special id the post_processor puts after the text, else the first of "</s>",
// "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>", "<|eot_id|>", else -1. LoadHF
// overrides both from tokenizer_config.json; SetSpecialIDs overrides them by hand.
func ParseHF(data []byte, name string) (*HF, error) {
	top, err := parseObj(name, "tokenizer.json", data)
	if err != nil {
		return nil, err
	}
	top.path = ""
	t := &HF{name: name, bos: -1, eos: -1}
	if !top.has("model") {
		return nil, errors.Errorf("%s: model: missing", name)
	}
	mo, err := top.child("model")
	if err != nil {
		return nil, err
	}
	if t.model, err = parseBPEModel(mo); err != nil {
		return nil, err
	}
	if top.has("added_tokens") {
		if err := json.Unmarshal(top.fields["added_tokens"], &t.added); err != nil {
			return nil, errors.Errorf("%s: added_tokens: %v", name, err)
		}
		for i, a := range t.added {
			if a.ID < 0 {
				return nil, errors.Errorf("%s: added_tokens[%d] %q: negative id %d", name, i, a.Content, a.ID)
			}
		}
	}
	if top.has("normalizer") {
		o, err := top.child("normalizer")
		if err != nil {
			return nil, err
		}
		if t.normalizer, err = parseNormalizer(o); err != nil {
			return nil, err
		}
	}
	if top.has("pre_tokenizer") {
		o, err := top.child("pre_tokenizer")
		if err != nil {
			return nil, err
		}
		if t.preTok, err = parsePreTokenizer(o); err != nil {
			return nil, err
		}
	}
	if top.has("decoder") {
		o, err := top.child("decoder")
		if err != nil {
			return nil, err
		}
		if t.decoder, err = parseDecoder(o); err != nil {
			return nil, err
		}
	}
	if top.has("post_processor") {
		o, err := top.child("post_processor")
		if err != nil {
			return nil, err
		}
		t.post = &postProc{}
		if err := parsePostProcessor(o, t.post); err != nil {
			return nil, err
		}
	}
	if err := t.buildIDs(); err != nil {
		return nil, err
	}
	t.guessSpecial()
	return t, nil
}

// buildIDs builds the id -> piece table from model.vocab and added_tokens (added tokens win,
// as in Hugging Face's id_to_token) and the added-token matchers.
func (t *HF) buildIDs() error {
	maxID, count := -1, len(t.model.vocab)+len(t.added)
	for _, id := range t.model.vocab {
		maxID = max(maxID, int(id))
	}
	for _, a := range t.added {
		maxID = max(maxID, a.ID)
	}
	// Real vocabularies are dense; refusing very sparse ids bounds the table by the input.
	if maxID >= 2*count+1024 {
		return errors.Errorf("%s: ids are too sparse: largest id %d for %d tokens", t.name, maxID, count)
	}
	t.pieces = make([]string, maxID+1)
	t.valid = make([]bool, maxID+1)
	t.special = make([]bool, maxID+1)
	for tok, id := range t.model.vocab {
		t.pieces[id], t.valid[id] = tok, true
	}
	var raw, norm []addedToken
	for _, a := range t.added {
		t.pieces[a.ID], t.valid[a.ID] = a.Content, true
		if a.Special {
			t.special[a.ID] = true
		}
		if a.Normalized {
			if t.normalizer != nil {
				a.Content = t.normalizer.normalize(a.Content)
			}
			norm = append(norm, a)
		} else {
			raw = append(raw, a)
		}
	}
	t.rawAdded, t.normAdded = newAddedMatcher(raw), newAddedMatcher(norm)
	return nil
}

var (
	bosNames = []string{"<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>"}
	eosNames = []string{"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>", "<|eot_id|>"}
)

func (t *HF) guessSpecial() {
	if t.post != nil && len(t.post.prefix) > 0 {
		t.bos = t.post.prefix[0]
	} else {
		t.bos = t.idOfFirst(bosNames)
	}
	if t.post != nil && len(t.post.suffix) > 0 {
		t.eos = t.post.suffix[len(t.post.suffix)-1]
	} else {
		t.eos = t.idOfFirst(eosNames)
	}
}

func (t *HF) idOfFirst(names []string) int {
	for _, n := range names {
		if id := t.TokenID(n); id >= 0 {
			return id
		}
	}
	return -1
}

// applyConfig reads bos_token / eos_token from a tokenizer_config.json: a string, an object
// with "content", or null (no such token).
func (t *HF) applyConfig(data []byte, path string) error {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return errors.Wrapf(err, "parsing %s", path)
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"bos_token", &t.bos}, {"eos_token", &t.eos}} {
		raw, ok := cfg[f.key]
		if !ok {
			continue
		}
		if isNull(raw) {
			*f.dst = -1
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			var obj struct {
				Content string `json:"content"`
			}
			if err := json.Unmarshal(raw, &obj); err != nil {
				return errors.Errorf("%s: %s: expected a string, {\"content\": ...} or null", path, f.key)
			}
			s = obj.Content
		}
		id := t.TokenID(s)
		if id < 0 {
			return errors.Errorf("%s: %s %q is not a token of %s", path, f.key, s, t.name)
		}
		*f.dst = id
	}
	return nil
}

// SetSpecialIDs sets BOS() and EOS() (-1 for none). Not safe to call concurrently with use.
func (t *HF) SetSpecialIDs(bos, eos int) { t.bos, t.eos = bos, eos }

// TokenID is the id of a token string (added tokens first, then the model vocabulary), -1 if
// there is none.
func (t *HF) TokenID(tok string) int {
	for _, a := range t.added {
		if a.Content == tok {
			return a.ID
		}
	}
	if id, ok := t.model.vocab[tok]; ok {
		return int(id)
	}
	return -1
}

// Encode tokenizes text without adding special tokens; added tokens written in the text
// (e.g. "<|im_start|>") become their ids.
func (t *HF) Encode(text string) []int { return t.encode(text, false) }

// EncodeOrdinary is Encode with special added tokens treated as plain text (Hugging Face's
// encode_special_tokens=True): use it for untrusted text that must not inject control tokens.
func (t *HF) EncodeOrdinary(text string) []int { return t.encode(text, true) }

// EncodeWithSpecial is Encode plus the post_processor's special tokens around the text.
func (t *HF) EncodeWithSpecial(text string) []int {
	ids := t.Encode(text)
	if t.post == nil {
		return ids
	}
	out := make([]int, 0, len(t.post.prefix)+len(ids)+len(t.post.suffix))
	out = append(out, t.post.prefix...)
	out = append(out, ids...)
	return append(out, t.post.suffix...)
}

// AddsBOS reports whether the post_processor starts a sequence with BOS.
func (t *HF) AddsBOS() bool {
	return t.post != nil && len(t.post.prefix) > 0 && t.post.prefix[0] == t.bos && t.bos >= 0
}

func (t *HF) encode(text string, ordinary bool) []int {
	out := make([]int, 0, len(text)/3+1)
	for _, seg := range t.rawAdded.split(text, ordinary) {
		if seg.id >= 0 {
			out = append(out, seg.id)
			continue
		}
		s := seg.text
		if t.normalizer != nil {
			s = t.normalizer.normalize(s)
		}
		for _, sub := range t.normAdded.split(s, ordinary) {
			if sub.id >= 0 {
				out = append(out, sub.id)
				continue
			}
			pieces := []piece{{text: sub.text, first: seg.off == 0 && sub.off == 0}}
			if t.preTok != nil {
				pieces = t.preTok.preTokenize(pieces)
			}
			for _, p := range pieces {
				out = t.model.tokenize(p.text, out)
			}
		}
	}
	return out
}

// Decode turns ids into text through the tokenizer.json decoder, skipping special added
// tokens (BOS, EOS, pad, <|im_start|>, ...) and ids out of range.
func (t *HF) Decode(ids []int) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= len(t.pieces) || !t.valid[id] || t.special[id] {
			continue
		}
		toks = append(toks, t.pieces[id])
	}
	if t.decoder == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.decoder.decodeChain(toks), "")
}

// VocabSize is the largest id (model vocabulary or added token) + 1.
func (t *HF) VocabSize() int { return len(t.pieces) }

// BOS is the beginning-of-sequence id, -1 if none (see ParseHF for how it is chosen).
func (t *HF) BOS() int { return t.bos }

// EOS is the end-of-sequence id, -1 if none (see ParseHF for how it is chosen).
func (t *HF) EOS() int { return t.eos }

// Token is the raw token string of id ("" if out of range).
func (t *HF) Token(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// IsSpecial reports whether id is an added token marked special (skipped by Decode).
func (t *HF) IsSpecial(id int) bool { return id >= 0 && id < len(t.special) && t.special[id] }

// String describes the tokenizer, e.g. for notebooks.
func (t *HF) String() string {
	return "tokenizers.HF(" + t.name + ", vocab " + strconv.Itoa(len(t.pieces)) + ")"
}
