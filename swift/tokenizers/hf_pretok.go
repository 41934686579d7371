package tokenizers

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/pkg/errors"
)

// piece is one pre-token in the making. first marks the piece that starts at offset 0 of the
// original text (what Metaspace's prepend_scheme "first" looks at).
type piece struct {
	text  string
	first bool
}

// preTokenizer splits (and possibly rewrites) pieces, like a tokenizer.json "pre_tokenizer".
type preTokenizer interface {
	preTokenize(in []piece) []piece
}

type preSeq []preTokenizer

func (p preSeq) preTokenize(in []piece) []piece {
	for _, x := range p {
		in = x.preTokenize(in)
	}
	return in
}

// splitBehavior is Hugging Face's SplitDelimiterBehavior: what happens to the matches.
type splitBehavior int

const (
	behRemoved splitBehavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

var behaviorNames = map[string]splitBehavior{
	"Removed": behRemoved, "Isolated": behIsolated, "MergedWithPrevious": behMergedWithPrevious,
	"MergedWithNext": behMergedWithNext, "Contiguous": behContiguous,
}

// applyBehavior turns matches/gaps into the kept spans, exactly as NormalizedString::split.
func applyBehavior(spans []span, b splitBehavior) []span {
	var acc []span
	switch b {
	case behIsolated:
		return spans
	case behRemoved:
		for _, s := range spans {
			if !s.match {
				acc = append(acc, s)
			}
		}
	case behContiguous:
		prev := false
		for _, s := range spans {
			if len(acc) > 0 && s.match == prev {
				acc[len(acc)-1].end = s.end
			} else {
				acc = append(acc, s)
			}
			prev = s.match
		}
	case behMergedWithPrevious:
		prev := false
		for _, s := range spans {
			if len(acc) > 0 && s.match && !prev {
				acc[len(acc)-1].end = s.end
			} else {
				acc = append(acc, s)
			}
			prev = s.match
		}
	case behMergedWithNext:
		prev := false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if len(acc) > 0 && s.match && !prev {
				acc[len(acc)-1].start = s.start
			} else {
				acc = append(acc, s)
			}
			prev = s.match
		}
		for i, j := 0, len(acc)-1; i < j; i, j = i+1, j-1 {
			acc[i], acc[j] = acc[j], acc[i]
		}
	}
	return acc
}

func splitPieces(in []piece, find func(string) []span, b splitBehavior, invert bool) []piece {
	out := make([]piece, 0, len(in)+8)
	for _, p := range in {
		spans := find(p.text)
		if invert {
			for i := range spans {
				spans[i].match = !spans[i].match
			}
		}
		for _, s := range applyBehavior(spans, b) {
			if s.end > s.start {
				out = append(out, piece{p.text[s.start:s.end], p.first && s.start == 0})
			}
		}
	}
	return out
}

// literalSpans finds the non-overlapping occurrences of lit in s.
func literalSpans(s, lit string) []span {
	if s == "" {
		return nil
	}
	var spans []span
	prev := 0
	if lit != "" {
		for i := 0; i <= len(s)-len(lit); {
			k := strings.Index(s[i:], lit)
			if k < 0 {
				break
			}
			st := i + k
			if st > prev {
				spans = append(spans, span{prev, st, false})
			}
			spans = append(spans, span{st, st + len(lit), true})
			prev = st + len(lit)
			i = prev
		}
	}
	if prev < len(s) {
		spans = append(spans, span{prev, len(s), false})
	}
	return spans
}

// charSpans makes each character matching pred its own match; runs of the others are gaps.
func charSpans(s string, pred func(rune) bool) []span {
	var spans []span
	gap := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if pred(r) {
			if i > gap {
				spans = append(spans, span{gap, i, false})
			}
			spans = append(spans, span{i, i + n, true})
			gap = i + n
		}
		i += n
	}
	if gap < len(s) {
		spans = append(spans, span{gap, len(s), false})
	}
	return spans
}

// preSplit is the "Split" pre-tokenizer (and the regex part of ByteLevel, Whitespace, ...).
type preSplit struct {
	find     func(string) []span
	behavior splitBehavior
	invert   bool
}

func (p preSplit) preTokenize(in []piece) []piece {
	return splitPieces(in, p.find, p.behavior, p.invert)
}

func regexFinder(re *regexp2.Regexp) func(string) []span {
	return func(s string) []span { return regexSpans(s, re) }
}

// GPT-2's pre-tokenization regex, used by the ByteLevel pre-tokenizer when use_regex is set.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

var gpt2Regex = mustCompileRegex(gpt2Pattern)

func mustCompileRegex(expr string) *regexp2.Regexp {
	re, err := compileRegex(expr)
	if err != nil {
		panic(err)
	}
	return re
}

// byteToUnicode is GPT-2's bytes_to_unicode table: printable bytes map to themselves, the
// others to U+0100 onwards, so that every byte is a visible character.
var (
	byteToUnicode    [256]rune
	byteToString     [256]string
	unicodeByteTable [0x200]int16 // inverse of byteToUnicode (all its runes are < 0x144), -1 elsewhere
)

func init() {
	for i := range unicodeByteTable {
		unicodeByteTable[i] = -1
	}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToUnicode[b] = rune(b)
		} else {
			byteToUnicode[b] = rune(256 + n)
			n++
		}
		byteToString[b] = string(byteToUnicode[b])
		unicodeByteTable[byteToUnicode[b]] = int16(b)
	}
}

// preByteLevel is the "ByteLevel" pre-tokenizer: optional prefix space, optional GPT-2 regex
// split, then every byte written as its bytes_to_unicode character.
type preByteLevel struct {
	addPrefixSpace, useRegex bool
}

func (p preByteLevel) preTokenize(in []piece) []piece {
	if p.addPrefixSpace {
		for i := range in {
			if !strings.HasPrefix(in[i].text, " ") {
				in[i].text = " " + in[i].text
			}
		}
	}
	if p.useRegex {
		in = splitPieces(in, regexFinder(gpt2Regex), behIsolated, false)
	}
	for i := range in {
		in[i].text = byteLevelMap(in[i].text)
	}
	return in
}

func byteLevelMap(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for k := 0; k < len(s); k++ {
		sb.WriteString(byteToString[s[k]])
	}
	return sb.String()
}

// prepend schemes of Metaspace.
const (
	prependAlways = iota
	prependFirst
	prependNever
)

// preMetaspace is the "Metaspace" pre-tokenizer: ' ' -> replacement, prepend it per scheme,
// and (if split) split before each replacement.
type preMetaspace struct {
	repl   string
	scheme int
	split  bool
}

func (p preMetaspace) preTokenize(in []piece) []piece {
	for i := range in {
		t := strings.ReplaceAll(in[i].text, " ", p.repl)
		if !strings.HasPrefix(t, p.repl) && (p.scheme == prependAlways || (p.scheme == prependFirst && in[i].first)) {
			t = p.repl + t
		}
		in[i].text = t
	}
	if !p.split {
		return in
	}
	repl := p.repl
	return splitPieces(in, func(s string) []span { return literalSpans(s, repl) }, behMergedWithNext, false)
}

var whitespaceRegex = mustCompileRegex(`\w+|[^\w\s]+`)

const supportedPreTokenizers = "Sequence, ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit, CharDelimiterSplit"

func parsePreTokenizer(o *jobj) (preTokenizer, error) {
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		seq, err := parseList(o, "pretokenizers", parsePreTokenizer)
		return preSeq(seq), err
	case "ByteLevel":
		ap, err := o.boolean("add_prefix_space", true)
		if err != nil {
			return nil, err
		}
		ur, err := o.boolean("use_regex", true)
		if err != nil {
			return nil, err
		}
		return preByteLevel{addPrefixSpace: ap, useRegex: ur}, nil
	case "Split":
		lit, expr, isRe, err := o.pattern("pattern")
		if err != nil {
			return nil, err
		}
		bs, _, err := o.str("behavior")
		if err != nil {
			return nil, err
		}
		b, ok := behaviorNames[bs]
		if !ok {
			return nil, o.errorf("behavior", "unsupported split behavior %q", bs)
		}
		inv, err := o.boolean("invert", false)
		if err != nil {
			return nil, err
		}
		p := preSplit{behavior: b, invert: inv}
		if isRe {
			re, err := compileRegex(expr)
			if err != nil {
				return nil, errors.Wrapf(err, "%s: %s", o.file, o.sub("pattern.Regex"))
			}
			p.find = regexFinder(re)
		} else {
			p.find = func(s string) []span { return literalSpans(s, lit) }
		}
		return p, nil
	case "Metaspace":
		return parseMetaspace(o)
	case "Digits":
		ind, err := o.boolean("individual_digits", false)
		if err != nil {
			return nil, err
		}
		b := behContiguous
		if ind {
			b = behIsolated
		}
		isDigit := func(r rune) bool { return r >= '0' && r <= '9' }
		return preSplit{find: func(s string) []span { return charSpans(s, isDigit) }, behavior: b}, nil
	case "Whitespace":
		return preSplit{find: regexFinder(whitespaceRegex), behavior: behRemoved, invert: true}, nil
	case "WhitespaceSplit":
		return preSplit{find: func(s string) []span { return charSpans(s, unicode.IsSpace) }, behavior: behRemoved}, nil
	case "CharDelimiterSplit":
		d, err := o.char("delimiter", 0)
		if err != nil {
			return nil, err
		}
		return preSplit{find: func(s string) []span { return charSpans(s, func(r rune) bool { return r == d }) }, behavior: behRemoved}, nil
	}
	return nil, unsupported(o, "pre_tokenizer", typ, supportedPreTokenizers)
}

func parseMetaspace(o *jobj) (preMetaspace, error) {
	r, err := o.char("replacement", '▁')
	if err != nil {
		return preMetaspace{}, err
	}
	p := preMetaspace{repl: string(r), scheme: prependAlways}
	if s, ok, err := o.str("prepend_scheme"); err != nil {
		return p, err
	} else if ok {
		switch s {
		case "always":
			p.scheme = prependAlways
		case "first":
			p.scheme = prependFirst
		case "never":
			p.scheme = prependNever
		default:
			return p, o.errorf("prepend_scheme", "unsupported value %q (always, first, never)", s)
		}
	} else {
		// Older files: add_prefix_space true means "always".
		ap, err := o.boolean("add_prefix_space", true)
		if err != nil {
			return p, err
		}
		if !ap {
			p.scheme = prependNever
		}
	}
	if p.split, err = o.boolean("split", true); err != nil {
		return p, err
	}
	return p, nil
}
