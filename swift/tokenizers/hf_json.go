package tokenizers

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// jobj is one JSON object of a tokenizer.json, read field by field so that every error names
// the file and the JSON path of the offending field.
type jobj struct {
	file   string
	path   string // JSON path for messages, e.g. "pre_tokenizer.pretokenizers[1]"
	fields map[string]json.RawMessage
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

func parseObj(file, path string, raw json.RawMessage) (*jobj, error) {
	o := &jobj{file: file, path: path}
	if err := json.Unmarshal(raw, &o.fields); err != nil {
		return nil, errors.Errorf("%s: %s: expected a JSON object: %v", file, path, err)
	}
	if o.fields == nil {
		return nil, errors.Errorf("%s: %s: expected a JSON object, got null", file, path)
	}
	return o, nil
}

func (o *jobj) errorf(field, format string, args ...any) error {
	return errors.Errorf("%s: %s: %s", o.file, o.sub(field), strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (o *jobj) sub(field string) string {
	if o.path == "" {
		return field
	}
	if strings.HasPrefix(field, "[") {
		return o.path + field
	}
	return o.path + "." + field
}

func (o *jobj) has(field string) bool { return !isNull(o.fields[field]) }

// typ is the "type" field ("" if absent).
func (o *jobj) typ() (string, error) {
	s, _, err := o.str("type")
	return s, err
}

// str reads an optional string field; ok is false when absent or null.
func (o *jobj) str(field string) (s string, ok bool, err error) {
	raw := o.fields[field]
	if isNull(raw) {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, o.errorf(field, "expected a string: %v", err)
	}
	return s, true, nil
}

// boolean reads an optional bool field.
func (o *jobj) boolean(field string, def bool) (bool, error) {
	raw := o.fields[field]
	if isNull(raw) {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, o.errorf(field, "expected true/false: %v", err)
	}
	return b, nil
}

// integer reads an optional non-negative int field.
func (o *jobj) integer(field string, def int) (int, error) {
	raw := o.fields[field]
	if isNull(raw) {
		return def, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
		return 0, o.errorf(field, "expected a non-negative integer, got %s", clip(string(raw)))
	}
	return n, nil
}

// char reads a field that must hold a single character (e.g. Metaspace "replacement").
func (o *jobj) char(field string, def rune) (rune, error) {
	s, ok, err := o.str(field)
	if err != nil || !ok {
		return def, err
	}
	r := []rune(s)
	if len(r) != 1 {
		return 0, o.errorf(field, "expected a single character, got %q", s)
	}
	return r[0], nil
}

// list reads an optional array of raw values.
func (o *jobj) list(field string) ([]json.RawMessage, error) {
	raw := o.fields[field]
	if isNull(raw) {
		return nil, nil
	}
	var l []json.RawMessage
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, o.errorf(field, "expected an array: %v", err)
	}
	return l, nil
}

// child parses an object field.
func (o *jobj) child(field string) (*jobj, error) {
	return parseObj(o.file, o.sub(field), o.fields[field])
}

// pattern reads a {"String": "..."} or {"Regex": "..."} field.
func (o *jobj) pattern(field string) (lit string, re string, isRegex bool, err error) {
	p, err := o.child(field)
	if err != nil {
		return "", "", false, err
	}
	if s, ok, err := p.str("String"); err != nil || ok {
		return s, "", false, err
	}
	if s, ok, err := p.str("Regex"); err != nil || ok {
		return "", s, true, err
	}
	return "", "", false, o.errorf(field, "expected {\"String\": ...} or {\"Regex\": ...}")
}

func unsupported(o *jobj, kind, typ, supported string) error {
	return errors.Errorf("%s: %s: unsupported %s type %q (supported: %s)", o.file, o.path, kind, typ, supported)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// parseList parses the JSON list o[field] of component objects with parse (the "Sequence"
// normalizer, pre-tokenizer and decoder).
func parseList[T any](o *jobj, field string, parse func(*jobj) (T, error)) ([]T, error) {
	l, err := o.list(field)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(l))
	for i, raw := range l {
		c, err := parseObj(o.file, o.sub(field)+"["+strconv.Itoa(i)+"]", raw)
		if err != nil {
			return nil, err
		}
		item, err := parse(c)
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}
