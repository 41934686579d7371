package data

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// Roles of a conversation's messages. Readers map every dataset's role names onto these.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool" // a tool's result, answering the assistant's tool call
)

// Sample is one training or evaluation example: a conversation, the tools it may call, and,
// for evaluation, the reference answer.
type Sample struct {
	ID       string    `json:"id,omitempty"`
	Messages []Message `json:"messages,omitempty"`
	Tools    []Tool    `json:"tools,omitempty"`
	// Text is a plain-text sample ({"text": ...}): trained on as a whole, without a template.
	Text string `json:"text,omitempty"`
	// Expected lists the accepted tool calls (BFCL ground truth: for each argument the values
	// accepted, "" meaning it may be left out).
	Expected []ExpectedCall `json:"expected,omitempty"`
	// Answer is the reference final answer (GSM8K: the number after "####").
	Answer string `json:"answer,omitempty"`
	// Images are the sample's image files (multimodal records, ms-swift's top-level "images"),
	// in the order of the "<image>" tags of its messages; relative paths are resolved against
	// the dataset file's directory when it is read.
	Images []string `json:"images,omitempty"`
	// Source is "file:line" of the record (error messages, reports).
	Source string `json:"-"`
}

// Message is one turn.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content,omitempty"`
	// ToolCalls are an assistant turn's function calls (rendered after Content).
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// Name is the tool's name in a tool-result turn.
	Name string `json:"name,omitempty"`
	// Loss, if set, overrides the loss weight of this turn (0 excludes an assistant turn; a
	// positive value trains any turn with that weight).
	Loss *float32 `json:"loss,omitempty"`
}

// ToolCall is one function call: a name and a JSON object of arguments, key order preserved.
type ToolCall struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Arg is one argument of a call, in the order written.
type Arg struct {
	Name  string
	Value any // decoded JSON: json.Number, string, bool, nil, []any, map[string]any
}

// Args decodes the arguments in their written order. Empty arguments are no arguments.
func (c ToolCall) Args() ([]Arg, error) {
	if len(bytes.TrimSpace(c.Arguments)) == 0 {
		return nil, nil
	}
	kvs, err := OrderedObject(c.Arguments)
	if err != nil {
		return nil, errors.WithMessagef(err, "arguments of %s", c.Name)
	}
	out := make([]Arg, len(kvs))
	for i, kv := range kvs {
		v, err := DecodeJSON(kv.Value)
		if err != nil {
			return nil, errors.WithMessagef(err, "argument %s of %s", kv.Key, c.Name)
		}
		out[i] = Arg{kv.Key, v}
	}
	return out, nil
}

// NewToolCall builds a call from ordered arguments.
func NewToolCall(name string, args []Arg) (ToolCall, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		k, _ := marshal(a.Name)
		v, err := marshal(a.Value)
		if err != nil {
			return ToolCall{}, errors.Wrapf(err, "argument %s of %s", a.Name, name)
		}
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
	}
	b.WriteByte('}')
	return ToolCall{Name: name, Arguments: b.Bytes()}, nil
}

// Tool is a function the model may call: its JSON-schema parameters are kept verbatim.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// Param is one parameter of a tool, in schema order.
type Param struct {
	Name        string
	Type        string // the schema's type ("integer", "string", "array", "dict", ...)
	Description string
	Required    bool
	Enum        []any
}

// Params lists the tool's parameters in the schema's order.
func (t Tool) Params() ([]Param, error) {
	if len(bytes.TrimSpace(t.Parameters)) == 0 {
		return nil, nil
	}
	kvs, err := OrderedObject(t.Parameters)
	if err != nil {
		return nil, errors.WithMessagef(err, "parameters of tool %s", t.Name)
	}
	var props []KeyValue
	required := map[string]bool{}
	for _, kv := range kvs {
		switch kv.Key {
		case "properties":
			if props, err = OrderedObject(kv.Value); err != nil {
				return nil, errors.WithMessagef(err, "properties of tool %s", t.Name)
			}
		case "required":
			var names []string
			if err := json.Unmarshal(kv.Value, &names); err != nil {
				return nil, errors.Wrapf(err, "required of tool %s", t.Name)
			}
			for _, n := range names {
				required[n] = true
			}
		}
	}
	out := make([]Param, len(props))
	for i, p := range props {
		var s struct {
			Type        any    `json:"type"`
			Description string `json:"description"`
			Enum        []any  `json:"enum"`
		}
		if err := json.Unmarshal(p.Value, &s); err != nil {
			return nil, errors.Wrapf(err, "parameter %s of tool %s", p.Key, t.Name)
		}
		typ, _ := s.Type.(string)
		if l, ok := s.Type.([]any); ok && len(l) > 0 { // ["string", "null"]
			typ, _ = l[0].(string)
		}
		out[i] = Param{Name: p.Key, Type: typ, Description: s.Description, Required: required[p.Key], Enum: s.Enum}
	}
	return out, nil
}

// ExpectedCall is a reference call with, for each argument, the accepted values. An accepted
// value "" means the argument may be omitted. A value that is itself an object holds, per key,
// its own list of accepted values (BFCL's nested ground truth).
type ExpectedCall struct {
	Name string           `json:"name"`
	Args map[string][]any `json:"args"`
}

// ArgNames lists the expected arguments sorted by name.
func (e ExpectedCall) ArgNames() []string {
	names := make([]string, 0, len(e.Args))
	for n := range e.Args {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// KeyValue is one member of a JSON object.
type KeyValue struct {
	Key   string
	Value json.RawMessage
}

// OrderedObject splits a JSON object into its members in written order (duplicates kept).
func OrderedObject(raw []byte) ([]KeyValue, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, errors.Wrap(err, "reading a JSON object")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.Errorf("expected a JSON object, found %s", describeToken(tok))
	}
	var out []KeyValue
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.Wrap(err, "reading a JSON object")
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.Wrapf(err, "reading the value of %q", key)
		}
		out = append(out, KeyValue{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.Wrap(err, "reading a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return out, nil
}

func describeToken(tok any) string {
	switch t := tok.(type) {
	case json.Delim:
		return string(t)
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// DecodeJSON decodes a JSON value keeping numbers as json.Number (so 5 and 5.0 stay apart until
// compared).
func DecodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.Wrap(err, "decoding JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// CanonicalJSON rewrites a JSON value with Python json.dumps' separators (", " and ": "),
// keeping key order: the form tool calls and schemas take in rendered prompts.
func CanonicalJSON(raw []byte) (string, error) {
	var b strings.Builder
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := canonical(&b, dec); err != nil {
		return "", err
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("trailing data after the JSON value")
	}
	return b.String(), nil
}

func canonical(b *strings.Builder, dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return errors.Wrap(err, "reading JSON")
	}
	switch t := tok.(type) {
	case json.Delim:
		closing := map[json.Delim]byte{'{': '}', '[': ']'}[t]
		b.WriteByte(byte(t))
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return errors.Wrap(err, "reading JSON")
				}
				kb, _ := marshal(k)
				b.Write(kb)
				b.WriteString(": ")
			}
			if err := canonical(b, dec); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errors.Wrap(err, "reading JSON")
		}
		b.WriteByte(closing)
	default:
		v, _ := marshal(t)
		b.Write(v)
	}
	return nil
}

// marshal is json.Marshal without HTML escaping ("<" stays "<").
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
