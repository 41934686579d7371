package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// Format names a dataset record shape.
type Format string

// The record shapes ReadFile understands. FormatAuto detects the shape of every record from its
// keys (first match wins):
//
//	messages       {"messages": [{"role", "content", "tool_calls"?, "name"?, "loss"?}], "tools"?, "system"?}
//	sharegpt       {"conversations": [{"from", "value"}], "system"?, "tools"?}
//	bfcl           {"id", "question": [[{"role", "content"}]], "function": [tools], "ground_truth"?}
//	alpaca         {"instruction", "input"?, "output", "system"?, "history"?}
//	query-response {"query"|"question"|"prompt", "response"|"answer"|"completion"|"output", "history"?, "system"?}
//	text           {"text"}
//
// gsm8k is query-response ({"question", "answer"}) whose answer ends in "#### N": N becomes
// Sample.Answer (any query-response record with such an answer gets it).
const (
	FormatAuto          Format = "auto"
	FormatMessages      Format = "messages"
	FormatShareGPT      Format = "sharegpt"
	FormatAlpaca        Format = "alpaca"
	FormatQueryResponse Format = "query-response"
	FormatText          Format = "text"
	FormatGSM8K         Format = "gsm8k"
	FormatBFCL          Format = "bfcl"
)

// Formats lists the accepted format names, sorted.
func Formats() []string {
	out := []string{string(FormatAuto), string(FormatMessages), string(FormatShareGPT), string(FormatAlpaca),
		string(FormatQueryResponse), string(FormatText), string(FormatGSM8K), string(FormatBFCL)}
	sort.Strings(out)
	return out
}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatAuto, nil
	}
	for _, f := range Formats() {
		if f == s {
			return Format(s), nil
		}
	}
	return "", errors.Errorf("unknown dataset format %q (known: %s)", s, strings.Join(Formats(), ", "))
}

var (
	queryKeys    = []string{"query", "question", "prompt"}
	responseKeys = []string{"response", "answer", "completion", "output"}
)

// DetectFormat picks the format of one record from its keys.
func DetectFormat(rec map[string]json.RawMessage) (Format, error) {
	has := func(k string) bool { _, ok := rec[k]; return ok }
	hasAny := func(keys []string) bool {
		for _, k := range keys {
			if has(k) {
				return true
			}
		}
		return false
	}
	switch {
	case has("messages"):
		return FormatMessages, nil
	case has("conversations"):
		return FormatShareGPT, nil
	case has("question") && has("function"):
		return FormatBFCL, nil
	case has("instruction") && has("output"):
		return FormatAlpaca, nil
	case hasAny(queryKeys) && hasAny(responseKeys):
		return FormatQueryResponse, nil
	case has("text"):
		return FormatText, nil
	case has("ground_truth"):
		return "", errors.New("a BFCL answer record: read the question file (its answers are found beside it)")
	}
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "", errors.Errorf("cannot tell the record's format from its keys %v (want messages, conversations, "+
		"instruction/output, query/response, question/answer, question/function or text)", keys)
}

// ParseRecord decodes one JSON record of the given format (FormatAuto: detected) into a Sample.
// It returns the format used.
func ParseRecord(raw []byte, format Format) (Sample, Format, error) {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		return Sample{}, format, errors.Wrap(err, "not a JSON object")
	}
	if rec == nil {
		return Sample{}, format, errors.New("not a JSON object (null)")
	}
	if format == FormatAuto || format == "" {
		f, err := DetectFormat(rec)
		if err != nil {
			return Sample{}, format, err
		}
		format = f
	}
	var s Sample
	var err error
	switch format {
	case FormatMessages:
		s, err = parseMessagesRecord(rec)
	case FormatShareGPT:
		s, err = parseShareGPT(rec)
	case FormatAlpaca:
		s, err = parseAlpaca(rec)
	case FormatQueryResponse, FormatGSM8K:
		s, err = parseQueryResponse(rec)
	case FormatText:
		err = field(rec, "text", &s.Text, true)
	case FormatBFCL:
		s, err = parseBFCL(rec)
	default:
		return Sample{}, format, errors.Errorf("unknown dataset format %q", format)
	}
	if err != nil {
		return Sample{}, format, errors.WithMessagef(err, "%s record", format)
	}
	if s.ID == "" {
		_ = field(rec, "id", &s.ID, false)
	}
	if err := extras(rec, format, &s); err != nil {
		return Sample{}, format, errors.WithMessagef(err, "%s record", format)
	}
	if err := s.Validate(); err != nil {
		return Sample{}, format, errors.WithMessagef(err, "%s record", format)
	}
	return s, format, nil
}

// Validate checks a sample can be rendered: known roles, something to train on or ask.
func (s Sample) Validate() error {
	if s.Text == "" && len(s.Messages) == 0 {
		return errors.New("empty sample: no messages and no text")
	}
	for i, m := range s.Messages {
		switch m.Role {
		case RoleSystem, RoleUser, RoleAssistant, RoleTool:
		default:
			return errors.Errorf("message %d: unknown role %q", i, m.Role)
		}
		for j, c := range m.ToolCalls {
			if c.Name == "" {
				return errors.Errorf("message %d: tool call %d has no name", i, j)
			}
			if _, err := c.Args(); err != nil {
				return errors.WithMessagef(err, "message %d: tool call %d", i, j)
			}
		}
		if m.Loss != nil && (*m.Loss < 0 || *m.Loss != *m.Loss) {
			return errors.Errorf("message %d: loss weight %v must be >= 0", i, *m.Loss)
		}
	}
	if n := s.ImageTags(); len(s.Images) > 0 && n > 0 && n != len(s.Images) {
		return errors.Errorf("%d %s tags in the messages but %d images", n, ImageTag, len(s.Images))
	}
	for i, t := range s.Tools {
		if t.Name == "" {
			return errors.Errorf("tool %d has no name", i)
		}
		if _, err := t.Params(); err != nil {
			return err
		}
	}
	return nil
}

// field decodes rec[key] into dst; a missing key is an error only when required.
func field(rec map[string]json.RawMessage, key string, dst any, required bool) error {
	raw, ok := rec[key]
	if !ok || string(raw) == "null" {
		if required {
			return errors.Errorf("missing %q", key)
		}
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errors.Wrapf(err, "field %q", key)
	}
	return nil
}

// firstField decodes the first present key of keys into dst.
func firstField(rec map[string]json.RawMessage, keys []string, dst *string) error {
	for _, k := range keys {
		if _, ok := rec[k]; ok {
			return field(rec, k, dst, true)
		}
	}
	return errors.Errorf("missing one of %v", keys)
}

var roleNames = map[string]string{
	"system": RoleSystem,
	"user":   RoleUser, "human": RoleUser,
	"assistant": RoleAssistant, "gpt": RoleAssistant, "model": RoleAssistant, "bot": RoleAssistant,
	"tool": RoleTool, "function": RoleTool, "observation": RoleTool, "tool_response": RoleTool, "ipython": RoleTool,
	// A call written as its own message: the content is {"name", "arguments"}.
	"tool_call": "tool_call", "function_call": "tool_call",
}

// rawMessage is a message in any of the accepted spellings.
type rawMessage struct {
	Role      string            `json:"role"`
	From      string            `json:"from"`
	Content   json.RawMessage   `json:"content"`
	Value     json.RawMessage   `json:"value"`
	ToolCalls []json.RawMessage `json:"tool_calls"`
	Name      string            `json:"name"`
	Loss      json.RawMessage   `json:"loss"`
}

func (r rawMessage) toMessage() (Message, error) {
	role := r.Role
	if role == "" {
		role = r.From
	}
	std, ok := roleNames[strings.ToLower(role)]
	if !ok {
		return Message{}, errors.Errorf("unknown role %q", role)
	}
	content := r.Content
	if len(content) == 0 {
		content = r.Value
	}
	text, err := contentText(content)
	if err != nil {
		return Message{}, err
	}
	m := Message{Role: std, Content: text, Name: r.Name}
	if std == "tool_call" {
		c, err := ParseToolCall([]byte(text))
		if err != nil {
			return Message{}, errors.WithMessage(err, "tool_call message")
		}
		m = Message{Role: RoleAssistant, ToolCalls: []ToolCall{c}}
	}
	for i, raw := range r.ToolCalls {
		c, err := ParseToolCall(raw)
		if err != nil {
			return Message{}, errors.WithMessagef(err, "tool_calls[%d]", i)
		}
		m.ToolCalls = append(m.ToolCalls, c)
	}
	if len(r.Loss) > 0 && string(r.Loss) != "null" {
		var w float32
		var b bool
		switch {
		case json.Unmarshal(r.Loss, &b) == nil:
			if b {
				w = 1
			}
		case json.Unmarshal(r.Loss, &w) == nil:
		default:
			return Message{}, errors.Errorf("loss %s: want a number or a boolean", r.Loss)
		}
		m.Loss = &w
	}
	return m, nil
}

// contentText accepts a string or OpenAI content parts [{"type": "text", "text": ...}].
func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("content must be a string or a list of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "" && p.Type != "text" {
			return "", errors.Errorf("content part of type %q: only text is supported", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// ParseToolCall reads a call written as {"name", "arguments"|"parameters"} or OpenAI's
// {"function": {...}}, with the arguments as an object or a JSON string holding one.
func ParseToolCall(raw []byte) (ToolCall, error) {
	var c struct {
		Function   json.RawMessage `json:"function"`
		Name       string          `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return ToolCall{}, errors.Wrap(err, "tool call")
	}
	if len(c.Function) > 0 && c.Name == "" {
		return ParseToolCall(c.Function)
	}
	if c.Name == "" {
		return ToolCall{}, errors.New("tool call without a name")
	}
	args := c.Arguments
	if len(args) == 0 {
		args = c.Parameters
	}
	args = bytes.TrimSpace(args)
	var s string
	if len(args) > 0 && args[0] == '"' {
		if err := json.Unmarshal(args, &s); err != nil {
			return ToolCall{}, errors.Wrapf(err, "arguments of %s", c.Name)
		}
		args = []byte(strings.TrimSpace(s))
	}
	if len(args) == 0 || string(args) == "null" {
		args = []byte("{}")
	}
	if _, err := OrderedObject(args); err != nil {
		return ToolCall{}, errors.WithMessagef(err, "arguments of %s", c.Name)
	}
	return ToolCall{Name: c.Name, Arguments: append(json.RawMessage(nil), args...)}, nil
}

// parseTools accepts a list of tools (OpenAI {"type": "function", "function": {...}} or plain
// {"name", "description", "parameters"}) or a JSON string holding one.
func parseTools(raw json.RawMessage) ([]Tool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errors.Wrap(err, "tools")
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		raw = []byte(s)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.Wrap(err, "tools must be a list")
	}
	out := make([]Tool, len(list))
	for i, item := range list {
		var t struct {
			Function json.RawMessage `json:"function"`
			Tool
		}
		if err := json.Unmarshal(item, &t); err != nil {
			return nil, errors.Wrapf(err, "tools[%d]", i)
		}
		if len(t.Function) > 0 && t.Name == "" {
			if err := json.Unmarshal(t.Function, &t.Tool); err != nil {
				return nil, errors.Wrapf(err, "tools[%d].function", i)
			}
		}
		if t.Name == "" {
			return nil, errors.Errorf("tools[%d] has no name", i)
		}
		out[i] = t.Tool
	}
	return out, nil
}

func toMessages(raws []rawMessage) ([]Message, error) {
	var out []Message
	for i, r := range raws {
		m, err := r.toMessage()
		if err != nil {
			return nil, errors.WithMessagef(err, "message %d", i)
		}
		// A call-only assistant message continues the assistant message before it.
		if n := len(out); n > 0 && m.Role == RoleAssistant && m.Content == "" && len(m.ToolCalls) > 0 &&
			out[n-1].Role == RoleAssistant {
			out[n-1].ToolCalls = append(out[n-1].ToolCalls, m.ToolCalls...)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

func withSystem(rec map[string]json.RawMessage, msgs []Message) ([]Message, error) {
	var sys string
	if err := field(rec, "system", &sys, false); err != nil {
		return nil, err
	}
	if sys != "" && (len(msgs) == 0 || msgs[0].Role != RoleSystem) {
		msgs = append([]Message{{Role: RoleSystem, Content: sys}}, msgs...)
	}
	return msgs, nil
}

func parseMessagesRecord(rec map[string]json.RawMessage) (Sample, error) {
	var raws []rawMessage
	if err := field(rec, "messages", &raws, true); err != nil {
		return Sample{}, err
	}
	return conversationRecord(rec, raws)
}

func parseShareGPT(rec map[string]json.RawMessage) (Sample, error) {
	var raws []rawMessage
	if err := field(rec, "conversations", &raws, true); err != nil {
		return Sample{}, err
	}
	return conversationRecord(rec, raws)
}

func conversationRecord(rec map[string]json.RawMessage, raws []rawMessage) (Sample, error) {
	msgs, err := toMessages(raws)
	if err != nil {
		return Sample{}, err
	}
	if msgs, err = withSystem(rec, msgs); err != nil {
		return Sample{}, err
	}
	tools, err := parseTools(rec["tools"])
	if err != nil {
		return Sample{}, err
	}
	return Sample{Messages: msgs, Tools: tools}, nil
}

// history is [[query, response], ...] before the record's own exchange.
func history(rec map[string]json.RawMessage) ([]Message, error) {
	var h [][]string
	if err := field(rec, "history", &h, false); err != nil {
		return nil, err
	}
	var out []Message
	for i, pair := range h {
		if len(pair) != 2 {
			return nil, errors.Errorf("history[%d] has %d entries, want [query, response]", i, len(pair))
		}
		out = append(out, Message{Role: RoleUser, Content: pair[0]}, Message{Role: RoleAssistant, Content: pair[1]})
	}
	return out, nil
}

func parseAlpaca(rec map[string]json.RawMessage) (Sample, error) {
	var instr, input, output string
	if err := field(rec, "instruction", &instr, true); err != nil {
		return Sample{}, err
	}
	if err := field(rec, "input", &input, false); err != nil {
		return Sample{}, err
	}
	if err := field(rec, "output", &output, true); err != nil {
		return Sample{}, err
	}
	if input != "" {
		instr += "\n" + input
	}
	return exchange(rec, instr, output)
}

func parseQueryResponse(rec map[string]json.RawMessage) (Sample, error) {
	var q, r string
	if err := firstField(rec, queryKeys, &q); err != nil {
		return Sample{}, err
	}
	if err := firstField(rec, responseKeys, &r); err != nil {
		return Sample{}, err
	}
	return exchange(rec, q, r)
}

func exchange(rec map[string]json.RawMessage, query, response string) (Sample, error) {
	msgs, err := history(rec)
	if err != nil {
		return Sample{}, err
	}
	msgs = append(msgs, Message{Role: RoleUser, Content: query}, Message{Role: RoleAssistant, Content: response})
	if msgs, err = withSystem(rec, msgs); err != nil {
		return Sample{}, err
	}
	return Sample{Messages: msgs, Answer: FinalAnswer(response)}, nil
}

// FinalAnswer returns the text after the last "####" line of a GSM8K-style answer ("" if none).
func FinalAnswer(response string) string {
	i := strings.LastIndex(response, "####")
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(response[i+4:])
}

// String renders a sample briefly (tests, errors).
func (s Sample) String() string {
	var b strings.Builder
	if s.ID != "" {
		fmt.Fprintf(&b, "[%s] ", s.ID)
	}
	if s.Text != "" {
		return b.String() + "text: " + s.Text
	}
	for i, m := range s.Messages {
		if i > 0 {
			b.WriteString(" | ")
		}
		fmt.Fprintf(&b, "%s: %s", m.Role, m.Content)
		for _, c := range m.ToolCalls {
			args, err := CanonicalJSON(c.Arguments)
			if err != nil {
				args = string(c.Arguments)
			}
			fmt.Fprintf(&b, " <%s %s>", c.Name, args)
		}
	}
	return b.String()
}
