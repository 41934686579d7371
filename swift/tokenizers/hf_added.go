package tokenizers

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json "added_tokens".
type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedMatcher finds added tokens in text like Hugging Face's AddedVocabulary: leftmost-longest
// non-overlapping matches, then the single_word / lstrip / rstrip rules.
type addedMatcher struct {
	toks    []addedToken // content is the pattern (normalized for the normalized matcher)
	byFirst [256][]int   // indices into toks by first byte, longest first
}

func newAddedMatcher(toks []addedToken) *addedMatcher {
	m := &addedMatcher{}
	for _, t := range toks {
		if t.Content == "" {
			continue
		}
		m.toks = append(m.toks, t)
		m.byFirst[t.Content[0]] = append(m.byFirst[t.Content[0]], len(m.toks)-1)
	}
	for _, l := range &m.byFirst {
		sort.SliceStable(l, func(i, j int) bool { return len(m.toks[l[i]].Content) > len(m.toks[l[j]].Content) })
	}
	return m
}

// segment is a piece of text between added tokens (id -1) or an added token (id >= 0).
// off is its byte offset in the text that was split.
type segment struct {
	text string
	id   int
	off  int
}

// split cuts s on added tokens. With skipSpecial, special tokens are matched (so they still
// consume their text, as in Hugging Face) but left as text.
func (m *addedMatcher) split(s string, skipSpecial bool) []segment {
	if len(m.toks) == 0 || s == "" {
		if s == "" {
			return nil
		}
		return []segment{{text: s, id: -1}}
	}
	var out []segment
	last := 0 // end of the previous accepted split
	for i := 0; i < len(s); {
		cands := m.byFirst[s[i]]
		if len(cands) == 0 {
			i++
			continue
		}
		best := -1
		for _, k := range cands {
			if strings.HasPrefix(s[i:], m.toks[k].Content) {
				best = k
				break
			}
		}
		if best < 0 {
			i++
			continue
		}
		t := m.toks[best]
		start, stop := i, i+len(t.Content)
		i = stop
		if skipSpecial && t.Special {
			continue
		}
		if t.SingleWord {
			startOK := start == 0 || !endsWithWordChar(s[:start])
			stopOK := stop == len(s) || !startsWithWordChar(s[stop:])
			if !startOK || !stopOK {
				continue
			}
		}
		if t.LStrip {
			ns := len(strings.TrimRightFunc(s[:start], unicode.IsSpace))
			start = max(ns, last)
		}
		if t.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
			i = stop
		}
		if last < start {
			out = append(out, segment{text: s[last:start], id: -1, off: last})
		}
		out = append(out, segment{text: s[start:stop], id: t.ID, off: start})
		last = stop
	}
	if last < len(s) {
		out = append(out, segment{text: s[last:], id: -1, off: last})
	}
	return out
}

func isWordChar(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

func endsWithWordChar(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isWordChar(r)
}
