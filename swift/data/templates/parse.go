package templates

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
)

func jsonString(s string) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// compactValue writes a decoded JSON value with ", " and ": " separators.
func compactValue(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return data.CanonicalJSON(b.Bytes())
}

// firstJSONObject decodes the JSON object at the start of s and returns the rest of s.
func firstJSONObject(s string) (json.RawMessage, string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, s, errors.Wrap(err, "malformed JSON")
	}
	return raw, s[min(int(dec.InputOffset()), len(s)):], nil
}

func parseHermes(text string) (string, []data.ToolCall, error) {
	const open, closing = "<tool_call>", "</tool_call>"
	i := strings.Index(text, open)
	if i < 0 {
		t := strings.TrimSpace(text)
		if strings.HasPrefix(t, "{") { // a bare call object (Llama-3.1 style)
			raw, rest, err := firstJSONObject(t)
			if err == nil && strings.TrimSpace(rest) == "" {
				if c, err := data.ParseToolCall(raw); err == nil {
					return "", []data.ToolCall{c}, nil
				}
			}
		}
		return t, nil, nil
	}
	content := strings.TrimSpace(text[:i])
	var calls []data.ToolCall
	var firstErr error
	rest := text[i:]
	for n := 0; ; n++ {
		j := strings.Index(rest, open)
		if j < 0 {
			break
		}
		body := rest[j+len(open):]
		end := strings.Index(body, closing)
		next := strings.Index(body, open)
		switch {
		case end >= 0 && (next < 0 || end < next):
			rest = body[end+len(closing):]
			body = body[:end]
		case next >= 0:
			rest = body[next:]
			body = body[:next]
		default:
			rest = ""
		}
		c, err := parseCallObject(body)
		if err != nil {
			if firstErr == nil {
				firstErr = errors.WithMessagef(err, "tool call %d", n)
			}
			continue
		}
		calls = append(calls, c)
	}
	return content, calls, firstErr
}

func parseCallObject(body string) (data.ToolCall, error) {
	body = strings.TrimSpace(body)
	raw, rest, err := firstJSONObject(body)
	if err != nil {
		return data.ToolCall{}, err
	}
	if strings.TrimSpace(rest) != "" {
		return data.ToolCall{}, errors.Errorf("text after the call's JSON: %q", clip(rest))
	}
	return data.ParseToolCall(raw)
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func parseReAct(text string) (string, []data.ToolCall, error) {
	const action, input = "Action:", "Action Input:"
	first := indexKeyword(text, action)
	if first < 0 {
		content := strings.TrimSpace(text)
		if k := strings.LastIndex(content, "Final Answer:"); k >= 0 {
			content = strings.TrimSpace(content[k+len("Final Answer:"):])
		}
		return content, nil, nil
	}
	content := strings.TrimSpace(text[:first])
	var calls []data.ToolCall
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	rest := text[first:]
	for {
		i := indexKeyword(rest, action)
		if i < 0 {
			break
		}
		rest = rest[i+len(action):]
		line, after, _ := strings.Cut(rest, "\n")
		var body string
		if k := strings.Index(line, input); k >= 0 { // "Action: f Action Input: {...}" on one line
			line, body = line[:k], rest[k+len(input):]
		} else if j := strings.Index(after, input); j >= 0 && strings.TrimSpace(after[:j]) == "" {
			body = after[j+len(input):]
		} else {
			fail(errors.Errorf("Action %q without an Action Input", strings.TrimSpace(line)))
			rest = after
			continue
		}
		name := strings.TrimSpace(line)
		if name == "" || strings.ContainsAny(name, " \t\r") {
			fail(errors.Errorf("Action %q is not a function name", name))
			rest = body
			continue
		}
		// The input runs to the next step (or the end).
		end := len(body)
		for _, stop := range []string{"\nObservation", "\nThought:", "\nAction:", "\nFinal Answer:"} {
			if k := strings.Index(body, stop); k >= 0 && k < end {
				end = k
			}
		}
		rest = body[end:]
		args := strings.TrimSpace(body[:end])
		if args == "" {
			args = "{}"
		}
		raw, tail, err := firstJSONObject(args)
		if err != nil || strings.TrimSpace(tail) != "" {
			fail(errors.Errorf("Action %s: Action Input is not a JSON object: %q", name, clip(args)))
			continue
		}
		if _, err := data.OrderedObject(raw); err != nil {
			fail(errors.WithMessagef(err, "Action %s", name))
			continue
		}
		calls = append(calls, data.ToolCall{Name: name, Arguments: raw})
	}
	return content, calls, firstErr
}

// indexKeyword finds kw at the start of s or of a line.
func indexKeyword(s, kw string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], kw)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || s[i-1] == '\n' || s[i-1] == ' ' {
			return i
		}
		off = i + 1
	}
}

// parseCompact reads "name(arg: value, ...)" or "name(arg=value, ...)" calls separated by ";",
// "," or newlines, optionally inside [...]. Text that does not start like a call is content.
func parseCompact(text string) (string, []data.ToolCall, error) {
	p := &callParser{s: strings.TrimSpace(text)}
	bracket := p.eat('[')
	p.space()
	if !p.startsCall() {
		return strings.TrimSpace(text), nil, nil
	}
	var calls []data.ToolCall
	for {
		p.space()
		if bracket && p.eat(']') {
			break
		}
		c, err := p.call()
		if err != nil {
			return "", calls, err
		}
		calls = append(calls, c)
		p.space()
		if p.done() || (bracket && p.eat(']')) {
			break
		}
		if !p.eat(';') && !p.eat(',') && !p.eat('\n') {
			return "", calls, errors.Errorf("unexpected %q after call %s", clip(p.s[p.i:]), c.Name)
		}
	}
	p.space()
	if !p.done() {
		return "", calls, errors.Errorf("text after the calls: %q", clip(p.s[p.i:]))
	}
	return "", calls, nil
}

type callParser struct {
	s     string
	i     int
	depth int
}

const maxValueDepth = 64

func (p *callParser) done() bool { return p.i >= len(p.s) }

func (p *callParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\r' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *callParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdent(r rune) bool {
	return r == '_' || r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func (p *callParser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[p.i:])
		if (p.i == start && !isIdentStart(r)) || (p.i > start && !isIdent(r)) {
			break
		}
		p.i += n
	}
	return p.s[start:p.i]
}

func (p *callParser) startsCall() bool {
	save := p.i
	defer func() { p.i = save }()
	if p.ident() == "" {
		return false
	}
	p.space()
	return p.eat('(')
}

func (p *callParser) call() (data.ToolCall, error) {
	name := p.ident()
	if name == "" {
		return data.ToolCall{}, errors.Errorf("expected a function name at %q", clip(p.s[p.i:]))
	}
	p.space()
	if !p.eat('(') {
		return data.ToolCall{}, errors.Errorf("expected ( after %s", name)
	}
	var args []data.Arg
	for {
		p.space()
		if p.eat(')') {
			break
		}
		if len(args) > 0 {
			if !p.eat(',') {
				return data.ToolCall{}, errors.Errorf("%s: expected , or ) at %q", name, clip(p.s[p.i:]))
			}
			p.space()
			if p.eat(')') { // trailing comma
				break
			}
		}
		key := p.ident()
		p.space()
		if key == "" || !(p.eat('=') || p.eat(':')) {
			return data.ToolCall{}, errors.Errorf("%s: expected arg: value at %q", name, clip(p.s[p.i:]))
		}
		p.space()
		v, err := p.value()
		if err != nil {
			return data.ToolCall{}, errors.WithMessagef(err, "%s: argument %s", name, key)
		}
		args = append(args, data.Arg{Name: key, Value: v})
	}
	return data.NewToolCall(name, args)
}

// value reads a JSON value, also accepting Python's 'strings', True/False/None and (tuples).
func (p *callParser) value() (any, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxValueDepth {
		return nil, errors.New("values nested too deeply")
	}
	p.space()
	if p.done() {
		return nil, errors.New("missing value")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.doubleQuoted()
	case c == '\'':
		return p.singleQuoted()
	case c == '[' || c == '(':
		closing := map[byte]byte{'[': ']', '(': ')'}[c]
		p.i++
		list := []any{}
		for {
			p.space()
			if p.eat(closing) {
				return list, nil
			}
			if len(list) > 0 {
				if !p.eat(',') {
					return nil, errors.Errorf("expected , or %c in a list", closing)
				}
				p.space()
				if p.eat(closing) {
					return list, nil
				}
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
	case c == '{':
		p.i++
		obj := map[string]any{}
		for n := 0; ; n++ {
			p.space()
			if p.eat('}') {
				return obj, nil
			}
			if n > 0 {
				if !p.eat(',') {
					return nil, errors.New("expected , or } in an object")
				}
				p.space()
			}
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, errors.New("object keys must be strings")
			}
			p.space()
			if !p.eat(':') {
				return nil, errors.New("expected : in an object")
			}
			if obj[ks], err = p.value(); err != nil {
				return nil, err
			}
		}
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		word := p.ident()
		switch word {
		case "true", "True":
			return true, nil
		case "false", "False":
			return false, nil
		case "null", "None":
			return nil, nil
		}
		return nil, errors.Errorf("unexpected %q", clip(word+p.s[p.i:]))
	}
}

func (p *callParser) number() (any, error) {
	start := p.i
	p.eat('-')
	p.eat('+')
	for p.i < len(p.s) && strings.IndexByte("0123456789.eE+-", p.s[p.i]) >= 0 {
		p.i++
	}
	lit := strings.TrimPrefix(p.s[start:p.i], "+")
	if strings.HasPrefix(lit, ".") || strings.HasPrefix(lit, "-.") {
		lit = strings.Replace(lit, ".", "0.", 1)
	}
	lit = strings.TrimSuffix(lit, ".")
	var n json.Number
	if err := json.Unmarshal([]byte(lit), &n); err != nil || lit == "" {
		return nil, errors.Errorf("bad number %q", p.s[start:p.i])
	}
	return n, nil
}

func (p *callParser) doubleQuoted() (any, error) {
	start := p.i
	p.i++
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			var s string
			if err := json.Unmarshal([]byte(p.s[start:p.i]), &s); err != nil {
				return nil, errors.Errorf("bad string %s", clip(p.s[start:p.i]))
			}
			return s, nil
		}
		p.i++
	}
	return nil, errors.New("unterminated string")
}

func (p *callParser) singleQuoted() (any, error) {
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c == '\'':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return nil, errors.New("unterminated string")
}
