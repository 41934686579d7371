package tokenizers

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/pkg/errors"
	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites one segment of text (the text between added tokens) before
// pre-tokenization, like a tokenizer.json "normalizer".
type normalizer interface {
	normalize(s string) string
}

type normSeq []normalizer

func (n normSeq) normalize(s string) string {
	for _, x := range n {
		s = x.normalize(s)
	}
	return s
}

// normPrepend prepends its string to non-empty text (the Llama-2 "▁" dummy prefix).
type normPrepend string

func (n normPrepend) normalize(s string) string {
	if s == "" {
		return s
	}
	return string(n) + s
}

// normReplace replaces every occurrence of a literal or a regex by content.
type normReplace struct {
	lit     string
	re      *regexp2.Regexp
	content string
}

func (n normReplace) normalize(s string) string {
	if n.re == nil {
		if n.lit == "" {
			return s
		}
		return strings.ReplaceAll(s, n.lit, n.content)
	}
	spans := regexSpans(s, n.re)
	var sb strings.Builder
	for _, sp := range spans {
		if sp.match {
			sb.WriteString(n.content)
		} else {
			sb.WriteString(s[sp.start:sp.end])
		}
	}
	return sb.String()
}

type normForm struct{ f norm.Form }

func (n normForm) normalize(s string) string { return n.f.String(s) }

type normLower struct{}

func (normLower) normalize(s string) string { return strings.ToLower(s) }

type normStrip struct{ left, right bool }

func (n normStrip) normalize(s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

const supportedNormalizers = "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip"

func parseNormalizer(o *jobj) (normalizer, error) {
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		seq, err := parseList(o, "normalizers", parseNormalizer)
		return normSeq(seq), err
	case "Prepend":
		s, ok, err := o.str("prepend")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, o.errorf("prepend", "missing")
		}
		return normPrepend(s), nil
	case "Replace":
		lit, expr, isRe, err := o.pattern("pattern")
		if err != nil {
			return nil, err
		}
		content, _, err := o.str("content")
		if err != nil {
			return nil, err
		}
		r := normReplace{lit: lit, content: content}
		if isRe {
			if r.re, err = compileRegex(expr); err != nil {
				return nil, errors.Wrapf(err, "%s: %s", o.file, o.sub("pattern.Regex"))
			}
		}
		return r, nil
	case "NFC":
		return normForm{norm.NFC}, nil
	case "NFD":
		return normForm{norm.NFD}, nil
	case "NFKC":
		return normForm{norm.NFKC}, nil
	case "NFKD":
		return normForm{norm.NFKD}, nil
	case "Lowercase":
		return normLower{}, nil
	case "Strip":
		l, err := o.boolean("strip_left", true)
		if err != nil {
			return nil, err
		}
		r, err := o.boolean("strip_right", true)
		if err != nil {
			return nil, err
		}
		return normStrip{l, r}, nil
	}
	return nil, unsupported(o, "normalizer", typ, supportedNormalizers)
}

// span is a byte range of a string, marked when a pattern matched it.
type span struct {
	start, end int
	match      bool
}

// compileRegex compiles a tokenizer.json regex (written for Oniguruma) with regexp2 in its
// default .NET-like mode, which has the semantics these patterns rely on: \s is Unicode
// White_Space, \p{L}/\p{N} are Unicode categories, (?i:...) folds case, and look-ahead such as
// \s+(?!\S) works. (regexp2's RE2 mode would make \s ASCII-only, which is wrong here.) The
// backtracking stack is unbounded so long whitespace runs cannot make a match fail.
func compileRegex(expr string) (*regexp2.Regexp, error) {
	re, err := regexp2.Compile(expr, regexp2.None, regexp2.OptionMaxBacktrackingStackSize(-1))
	if err != nil {
		return nil, errors.Wrapf(err, "compiling regex %q", clip(expr))
	}
	return re, nil
}

// regexSpans splits s into the matches of re and the gaps between them, in order, like
// Hugging Face's Pattern::find_matches. Empty matches are dropped. Positions are byte offsets
// into s; invalid UTF-8 bytes count as one (U+FFFD) character each.
func regexSpans(s string, re *regexp2.Regexp) []span {
	if s == "" {
		return nil
	}
	runes := make([]rune, 0, len(s))
	offs := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		runes = append(runes, r)
		offs = append(offs, i)
		i += n
	}
	offs = append(offs, len(s))
	spans := make([]span, 0, len(runes)/2+1)
	prev := 0
	err := re.FindRunesMatches(runes, 0, func(v regexp2.MatchView) bool {
		idx, n, ok := v.GroupRange(0)
		if !ok || n == 0 {
			return true
		}
		st, en := offs[idx], offs[idx+n]
		if st > prev {
			spans = append(spans, span{prev, st, false})
		}
		spans = append(spans, span{st, en, true})
		prev = en
		return true
	})
	_ = err // no timeout and no stack limit are set, so matching cannot fail
	if prev < len(s) {
		spans = append(spans, span{prev, len(s), false})
	}
	return spans
}
