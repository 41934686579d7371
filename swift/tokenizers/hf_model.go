package tokenizers

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// bpeModel is a tokenizer.json "model" of type "BPE".
type bpeModel struct {
	vocab        map[string]int32
	merges       map[uint64]mergeRule
	unkID        int32 // -1: no unk token
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	byteIDs      [256]int32
	cache        *wordCache
}

func parseBPEModel(o *jobj) (*bpeModel, error) {
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	if typ == "" && o.has("merges") {
		typ = "BPE" // very old files have no "type"
	}
	if typ != "BPE" {
		if typ == "" {
			typ = "(none)"
		}
		return nil, unsupported(o, "model", typ, "BPE")
	}
	m := &bpeModel{unkID: -1, cache: newWordCache()}
	if o.has("dropout") {
		var d float64
		if err := json.Unmarshal(o.fields["dropout"], &d); err != nil {
			return nil, o.errorf("dropout", "expected a number: %v", err)
		}
		if d != 0 {
			return nil, o.errorf("dropout", "BPE dropout %g is not supported (it makes encoding random)", d)
		}
	}
	if m.fuseUnk, err = o.boolean("fuse_unk", false); err != nil {
		return nil, err
	}
	if m.byteFallback, err = o.boolean("byte_fallback", false); err != nil {
		return nil, err
	}
	if m.ignoreMerges, err = o.boolean("ignore_merges", false); err != nil {
		return nil, err
	}
	if m.prefix, _, err = o.str("continuing_subword_prefix"); err != nil {
		return nil, err
	}
	if m.suffix, _, err = o.str("end_of_word_suffix"); err != nil {
		return nil, err
	}
	if !o.has("vocab") {
		return nil, o.errorf("vocab", "missing")
	}
	if err := json.Unmarshal(o.fields["vocab"], &m.vocab); err != nil {
		return nil, o.errorf("vocab", "expected an object of token -> id: %v", err)
	}
	for tok, id := range m.vocab {
		if id < 0 {
			return nil, o.errorf("vocab", "token %q has negative id %d", tok, id)
		}
	}
	if unk, ok, err := o.str("unk_token"); err != nil {
		return nil, err
	} else if ok {
		id, found := m.vocab[unk]
		if !found {
			return nil, o.errorf("unk_token", "%q is not in model.vocab", unk)
		}
		m.unkID = id
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	if err := m.parseMerges(o); err != nil {
		return nil, err
	}
	return m, nil
}

// parseMerges reads "merges" in either form: "a b" strings or ["a", "b"] pairs. The rank is
// the position; a merge listed twice keeps its later rank (as Hugging Face's map insert).
func (m *bpeModel) parseMerges(o *jobj) error {
	l, err := o.list("merges")
	if err != nil {
		return err
	}
	m.merges = make(map[uint64]mergeRule, len(l))
	var a, b string
	for i, raw := range l {
		where := "merges[" + strconv.Itoa(i) + "]"
		var s string
		var pair []string
		if err := json.Unmarshal(raw, &s); err == nil {
			parts := strings.Split(s, " ")
			if len(parts) != 2 {
				return o.errorf(where, "merge %q is not two tokens separated by one space", clip(s))
			}
			a, b = parts[0], parts[1]
		} else if err := json.Unmarshal(raw, &pair); err == nil && len(pair) == 2 {
			a, b = pair[0], pair[1]
		} else {
			return o.errorf(where, "expected \"a b\" or [\"a\", \"b\"], got %s", clip(string(raw)))
		}
		ia, okA := m.vocab[a]
		ib, okB := m.vocab[b]
		if !okA || !okB {
			missing := a
			if okA {
				missing = b
			}
			return o.errorf(where, "merge %q + %q: token %q is not in model.vocab", a, b, missing)
		}
		// The merged token carries the continuing_subword_prefix only through its first half.
		merged := a + strings.TrimPrefix(b, m.prefix)
		id, ok := m.vocab[merged]
		if !ok {
			return o.errorf(where, "merge %q + %q: result %q is not in model.vocab", a, b, merged)
		}
		m.merges[pairKey(ia, ib)] = mergeRule{rank: int32(i), id: id}
	}
	return nil
}

// tokenize appends the ids of one pre-token word.
func (m *bpeModel) tokenize(w string, out []int) []int {
	if w == "" {
		return out
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(out, int(id))
		}
	}
	ids, ok := m.cache.get(w)
	if !ok {
		ids = applyMerges(m.initial(w), m.merges)
		m.cache.put(w, ids)
	}
	for _, id := range ids {
		out = append(out, int(id))
	}
	return out
}

// initial is the word as one symbol per character (Hugging Face's merge_word before merging):
// the character's token (with continuing_subword_prefix after the first character and
// end_of_word_suffix on the last), else its "<0xNN>" byte tokens if byte_fallback, else the
// unk token (consecutive unknowns fused if fuse_unk), else the character is dropped.
// An invalid UTF-8 byte counts as one character.
func (m *bpeModel) initial(w string) []int32 {
	ids := make([]int32, 0, len(w))
	pendingUnk := false
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		s := w[i : i+n]
		if i > 0 && m.prefix != "" {
			s = m.prefix + s
		}
		if i+n == len(w) && m.suffix != "" {
			s += m.suffix
		}
		if id, ok := m.vocab[s]; ok {
			if pendingUnk {
				ids = append(ids, m.unkID)
				pendingUnk = false
			}
			ids = append(ids, id)
			i += n
			continue
		}
		if m.byteFallback && m.hasBytes(s) {
			// Hugging Face does not flush a pending unk here; neither do we.
			for k := 0; k < len(s); k++ {
				ids = append(ids, m.byteIDs[s[k]])
			}
			i += n
			continue
		}
		if m.unkID >= 0 {
			if pendingUnk && !m.fuseUnk {
				ids = append(ids, m.unkID)
			}
			pendingUnk = true
		}
		i += n
	}
	if pendingUnk {
		ids = append(ids, m.unkID)
	}
	return ids
}

func (m *bpeModel) hasBytes(s string) bool {
	for k := 0; k < len(s); k++ {
		if m.byteIDs[s[k]] < 0 {
			return false
		}
	}
	return true
}
