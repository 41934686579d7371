package export

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/tokenizers"
)

// llama2.c's special pieces (run.c hard-codes ids 0, 1, 2) and their tokenizer.json names.
var llama2cSpecial = []string{"<unk>", "<s>", "</s>"}

// Llama2CTokenizerJSON converts a llama2.c tokenizer (a sentencepiece BPE vocabulary with scores
// and byte fallback) to a Hugging Face tokenizer.json of the Llama-2 kind, which encodes every
// text to the same ids as llama2.c's run.c (verified on a text set by the tests):
//
//   - vocab: the pieces with ' ' written '▁', ids unchanged; ids 0-2 are <unk>, <s>, </s>
//     (added special tokens); "<0xNN>" pieces are the byte-fallback tokens;
//   - merges: every way of writing a piece as two pieces, ranked by the piece's score (highest
//     first) — llama2.c merges the adjacent pair whose concatenation scores highest;
//   - normalizer Prepend("▁") + Replace(" ", "▁") (the dummy prefix), no pre-tokenizer;
//     BPE with byte_fallback and fuse_unk; post-processor "<s> $A"; decoder Replace("▁", " "),
//     ByteFallback, Fuse, Strip one leading space.
func Llama2CTokenizerJSON(tok *tokenizers.Llama2C) ([]byte, error) {
	n := tok.VocabSize()
	if n <= len(llama2cSpecial) {
		return nil, errors.Errorf("export: llama2.c tokenizer has %d pieces", n)
	}
	piece := func(id int) string {
		if id < len(llama2cSpecial) {
			return llama2cSpecial[id]
		}
		return strings.ReplaceAll(tok.Token(id), " ", "▁")
	}
	vocab := make(map[string]int, n)
	for id := range n {
		p := piece(id)
		if _, dup := vocab[p]; dup {
			continue // llama2.c looks a piece up by its lowest id
		}
		vocab[p] = id
	}
	if len(vocab) != n {
		return nil, errors.Errorf("export: llama2.c tokenizer has duplicate pieces (%d distinct of %d): "+
			"tokenizer.json cannot represent it", len(vocab), n)
	}
	type merge struct {
		a, b  string
		score float32
		id, k int
	}
	var merges []merge
	for id := len(llama2cSpecial); id < n; id++ {
		raw := tok.Token(id)
		if len(raw) < 2 || isByteToken(raw) || !(tok.Score(id) > -1e10) {
			continue
		}
		p := piece(id)
		for k := 1; k < len(p); k++ {
			a, b := p[:k], p[k:]
			ia, okA := vocab[a]
			ib, okB := vocab[b]
			if okA && okB && ia >= len(llama2cSpecial) && ib >= len(llama2cSpecial) {
				merges = append(merges, merge{a: a, b: b, score: tok.Score(id), id: id, k: k})
			}
		}
	}
	sort.SliceStable(merges, func(i, j int) bool {
		if merges[i].score != merges[j].score {
			return merges[i].score > merges[j].score
		}
		return merges[i].id < merges[j].id
	})
	mergeList := make([][2]string, len(merges))
	for i, m := range merges {
		mergeList[i] = [2]string{m.a, m.b}
	}
	added := make([]map[string]any, len(llama2cSpecial))
	for id, content := range llama2cSpecial {
		added[id] = map[string]any{"id": id, "content": content, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true}
	}
	str := func(s string) map[string]any { return map[string]any{"String": s} }
	doc := map[string]any{
		"version":    "1.0",
		"truncation": nil, "padding": nil,
		"added_tokens": added,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": str(" "), "content": "▁"},
		}},
		"pre_tokenizer": nil,
		"post_processor": map[string]any{
			"type": "TemplateProcessing",
			"single": []any{
				map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
			},
			"pair": []any{
				map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 1}},
				map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}},
			},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}},
		},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": str("▁"), "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": "<unk>", "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": vocab, "merges": mergeList,
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return nil, errors.Wrap(err, "export: encoding tokenizer.json")
	}
	return buf.Bytes(), nil
}

// TokenizerConfigJSON is a minimal tokenizer_config.json for a converted llama2.c tokenizer.
func TokenizerConfigJSON(maxLength int) []byte {
	js, _ := json.MarshalIndent(map[string]any{
		"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
		"unk_token": "<unk>", "model_max_length": maxLength, "clean_up_tokenization_spaces": false,
	}, "", "  ")
	return append(js, '\n')
}

func isByteToken(p string) bool {
	return len(p) == 6 && strings.HasPrefix(p, "<0x") && p[5] == '>'
}
