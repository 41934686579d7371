package tokenizers

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder is a tokenizer.json "decoder": it rewrites the list of token strings; the results
// are concatenated. Unlike Hugging Face, which turns byte sequences that are not valid UTF-8
// into U+FFFD, the decoders here keep the raw bytes (Go strings may hold any bytes): the
// output is the same for valid UTF-8, and concatenating the decodes of consecutive chunks
// still reassembles characters split across tokens.
type decoder interface {
	decodeChain(toks []string) []string
}

type decSeq []decoder

func (d decSeq) decodeChain(toks []string) []string {
	for _, x := range d {
		toks = x.decodeChain(toks)
	}
	return toks
}

// decByteLevel maps bytes_to_unicode characters back to bytes; a token with any other
// character is kept as it is (an added token such as "<|im_start|>" or " hello").
type decByteLevel struct{}

func (decByteLevel) decodeChain(toks []string) []string {
	var buf []byte
	for _, t := range toks {
		start := len(buf)
		ok := true
		for _, r := range t {
			if r < 0 || int(r) >= len(unicodeByteTable) || unicodeByteTable[r] < 0 {
				ok = false
				break
			}
			buf = append(buf, byte(unicodeByteTable[r]))
		}
		if !ok {
			buf = append(buf[:start], t...)
		}
	}
	return []string{string(buf)}
}

// decMetaspace turns the replacement character back into spaces; in the first token it is
// dropped altogether when a prefix was prepended (Hugging Face's behaviour).
type decMetaspace struct {
	repl    rune
	prepend bool
}

func (d decMetaspace) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var sb strings.Builder
		for k := 0; k < len(t); {
			r, n := utf8.DecodeRuneInString(t[k:])
			if r == d.repl && !(r == utf8.RuneError && n == 1) {
				if !(i == 0 && d.prepend) {
					sb.WriteByte(' ')
				}
			} else {
				sb.WriteString(t[k : k+n])
			}
			k += n
		}
		out[i] = sb.String()
	}
	return out
}

// decReplace replaces a literal or regex in each token.
type decReplace struct{ r normReplace }

func (d decReplace) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = d.r.normalize(t)
	}
	return out
}

// decByteFallback turns runs of "<0xNN>" tokens into the bytes they stand for.
type decByteFallback struct{}

func (decByteFallback) decodeChain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var run []byte
	for _, t := range toks {
		if b := parseByteToken(t); b >= 0 {
			run = append(run, byte(b))
			continue
		}
		if len(run) > 0 {
			out = append(out, string(run))
			run = run[:0]
		}
		out = append(out, t)
	}
	if len(run) > 0 {
		out = append(out, string(run))
	}
	return out
}

// decFuse joins all tokens into one.
type decFuse struct{}

func (decFuse) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }

// decStrip removes up to start leading and stop trailing occurrences of content per token.
type decStrip struct {
	content     string
	start, stop int
}

func (d decStrip) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		for k := 0; k < d.start && d.content != "" && strings.HasPrefix(t, d.content); k++ {
			t = t[len(d.content):]
		}
		for k := 0; k < d.stop && d.content != "" && strings.HasSuffix(t, d.content); k++ {
			t = t[:len(t)-len(d.content)]
		}
		out[i] = t
	}
	return out
}

// decBPE replaces the end-of-word suffix by a space (nothing after the last token).
type decBPE struct{ suffix string }

func (d decBPE) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rep := " "
		if i == len(toks)-1 {
			rep = ""
		}
		if d.suffix != "" {
			t = strings.ReplaceAll(t, d.suffix, rep)
		}
		out[i] = t
	}
	return out
}

const supportedDecoders = "Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder"

func parseDecoder(o *jobj) (decoder, error) {
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		seq, err := parseList(o, "decoders", parseDecoder)
		return decSeq(seq), err
	case "ByteLevel":
		return decByteLevel{}, nil
	case "Metaspace":
		m, err := parseMetaspace(o)
		if err != nil {
			return nil, err
		}
		r, _ := utf8.DecodeRuneInString(m.repl)
		return decMetaspace{repl: r, prepend: m.scheme != prependNever}, nil
	case "Replace":
		n, err := parseNormalizer(o) // same fields as the Replace normalizer
		if err != nil {
			return nil, err
		}
		return decReplace{n.(normReplace)}, nil
	case "ByteFallback":
		return decByteFallback{}, nil
	case "Fuse":
		return decFuse{}, nil
	case "Strip":
		c, err := o.char("content", ' ')
		if err != nil {
			return nil, err
		}
		d := decStrip{content: string(c)}
		if d.start, err = o.integer("start", 0); err != nil {
			return nil, err
		}
		if d.stop, err = o.integer("stop", 0); err != nil {
			return nil, err
		}
		return d, nil
	case "BPEDecoder":
		s, ok, err := o.str("suffix")
		if err != nil {
			return nil, err
		}
		if !ok {
			s = "</w>"
		}
		return decBPE{s}, nil
	}
	return nil, unsupported(o, "decoder", typ, supportedDecoders)
}

// postProc is what a tokenizer.json "post_processor" does to a single sequence: special ids
// before and after it.
type postProc struct {
	prefix, suffix []int
}

const supportedPostProcessors = "TemplateProcessing, ByteLevel, Sequence, RobertaProcessing, BertProcessing"

func parsePostProcessor(o *jobj, p *postProc) error {
	typ, err := o.typ()
	if err != nil {
		return err
	}
	switch typ {
	case "ByteLevel":
		return nil // only trims offsets
	case "Sequence":
		l, err := o.list("processors")
		if err != nil {
			return err
		}
		for i, raw := range l {
			c, err := parseObj(o.file, o.sub("processors")+"["+strconv.Itoa(i)+"]", raw)
			if err != nil {
				return err
			}
			if err := parsePostProcessor(c, p); err != nil {
				return err
			}
		}
		return nil
	case "RobertaProcessing", "BertProcessing":
		ids := [2]int{}
		for k, f := range []string{"cls", "sep"} {
			var pair []json.RawMessage
			var id int
			if err := json.Unmarshal(o.fields[f], &pair); err != nil || len(pair) != 2 || json.Unmarshal(pair[1], &id) != nil || id < 0 {
				return o.errorf(f, "expected [\"token\", id]")
			}
			ids[k] = id
		}
		p.prefix = append([]int{ids[0]}, p.prefix...)
		p.suffix = append(p.suffix, ids[1])
		return nil
	case "TemplateProcessing":
		return parseTemplate(o, p)
	}
	return unsupported(o, "post_processor", typ, supportedPostProcessors)
}

func parseTemplate(o *jobj, p *postProc) error {
	var specials map[string]struct {
		IDs []int `json:"ids"`
	}
	if o.has("special_tokens") {
		if err := json.Unmarshal(o.fields["special_tokens"], &specials); err != nil {
			return o.errorf("special_tokens", "expected an object of {\"ids\": [...]}: %v", err)
		}
	}
	items, err := o.list("single")
	if err != nil {
		return err
	}
	var pre, post []int
	seenSeq := false
	for i, raw := range items {
		where := "single[" + strconv.Itoa(i) + "]"
		var it struct {
			SpecialToken *struct {
				ID string `json:"id"`
			}
			Sequence *struct {
				ID string `json:"id"`
			}
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return o.errorf(where, "%v", err)
		}
		switch {
		case it.Sequence != nil:
			if seenSeq || it.Sequence.ID != "A" {
				return o.errorf(where, "unsupported single template: sequence %q (only one $A)", it.Sequence.ID)
			}
			seenSeq = true
		case it.SpecialToken != nil:
			sp, ok := specials[it.SpecialToken.ID]
			if !ok {
				return o.errorf(where, "special token %q is not in special_tokens", it.SpecialToken.ID)
			}
			for _, id := range sp.IDs {
				if id < 0 {
					return o.errorf(where, "negative id %d", id)
				}
			}
			if seenSeq {
				post = append(post, sp.IDs...)
			} else {
				pre = append(pre, sp.IDs...)
			}
		default:
			return o.errorf(where, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}")
		}
	}
	if !seenSeq && len(items) > 0 {
		return o.errorf("single", "template has no $A")
	}
	p.prefix = append(pre, p.prefix...)
	p.suffix = append(p.suffix, post...)
	return nil
}
