package templates

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
)

// ToolFormat is how a template shows tools to the model and how the model calls them.
type ToolFormat interface {
	Name() string
	// SystemPrompt describes the tools; it is appended to the system prompt.
	SystemPrompt(tools []data.Tool) (string, error)
	// FormatCalls is the assistant text of tool calls.
	FormatCalls(calls []data.ToolCall) (string, error)
	// ContentSeparator goes between an assistant's text and its calls.
	ContentSeparator() string
	// CallsEnd, if not empty, ends an assistant turn that calls tools instead of the template's
	// footer (ReAct's "Observation:").
	CallsEnd() string
	// FormatResult is the content of a tool-result turn.
	FormatResult(m data.Message) string
	// Parse splits generated text into content and calls. Calls that parse are returned even
	// when another fails (with the error).
	Parse(text string) (content string, calls []data.ToolCall, err error)
	// Stop lists strings that end generation.
	Stop() []string
}

var toolFormats = map[string]ToolFormat{}

// RegisterToolFormat makes a tool format available by name; it panics on a duplicate.
func RegisterToolFormat(f ToolFormat) {
	if f == nil || f.Name() == "" {
		panic("templates: RegisterToolFormat with a nil format or an empty name")
	}
	if _, dup := toolFormats[f.Name()]; dup {
		panic("templates: RegisterToolFormat called twice for " + f.Name())
	}
	toolFormats[f.Name()] = f
}

// ToolFormatNames lists the registered tool formats, sorted.
func ToolFormatNames() []string {
	out := make([]string, 0, len(toolFormats))
	for n := range toolFormats {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// GetToolFormat returns a registered tool format.
func GetToolFormat(name string) (ToolFormat, error) {
	f, ok := toolFormats[name]
	if !ok {
		return nil, errors.Errorf("unknown tool format %q (known: %s)", name, strings.Join(ToolFormatNames(), ", "))
	}
	return f, nil
}

func init() {
	RegisterToolFormat(Hermes{})
	RegisterToolFormat(ReAct{})
	RegisterToolFormat(Compact{})
}

func canonicalOrEmpty(raw []byte) (string, error) {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return "{}", nil
	}
	return data.CanonicalJSON(raw)
}

// Hermes is the Hermes/Qwen2.5 tool format: tools as JSON inside <tools></tools> in the system
// prompt, each call a {"name", "arguments"} object inside <tool_call></tool_call>, results
// inside <tool_response></tool_response>.
type Hermes struct{}

func (Hermes) Name() string             { return "hermes" }
func (Hermes) ContentSeparator() string { return "\n" }
func (Hermes) CallsEnd() string         { return "" }
func (Hermes) Stop() []string           { return nil }
func (Hermes) FormatResult(m data.Message) string {
	return "<tool_response>\n" + m.Content + "\n</tool_response>"
}

func (Hermes) SystemPrompt(tools []data.Tool) (string, error) {
	var b strings.Builder
	b.WriteString("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
		"You are provided with function signatures within <tools></tools> XML tags:\n<tools>")
	for _, t := range tools {
		params, err := canonicalOrEmpty(t.Parameters)
		if err != nil {
			return "", errors.WithMessagef(err, "tool %s", t.Name)
		}
		name, _ := jsonString(t.Name)
		desc, _ := jsonString(t.Description)
		fmt.Fprintf(&b, "\n{\"type\": \"function\", \"function\": {\"name\": %s, \"description\": %s, \"parameters\": %s}}", name, desc, params)
	}
	b.WriteString("\n</tools>\n\nFor each function call, return a json object with function name and arguments " +
		"within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>")
	return b.String(), nil
}

func (Hermes) FormatCalls(calls []data.ToolCall) (string, error) {
	parts := make([]string, len(calls))
	for i, c := range calls {
		args, err := canonicalOrEmpty(c.Arguments)
		if err != nil {
			return "", errors.WithMessagef(err, "call of %s", c.Name)
		}
		name, _ := jsonString(c.Name)
		parts[i] = fmt.Sprintf("<tool_call>\n{\"name\": %s, \"arguments\": %s}\n</tool_call>", name, args)
	}
	return strings.Join(parts, "\n"), nil
}

// Parse implements ToolFormat: <tool_call> blocks (an unterminated last one too), or a bare
// {"name", "arguments"} object when there is no tag.
func (Hermes) Parse(text string) (string, []data.ToolCall, error) {
	return parseHermes(text)
}

// ReAct is the ReAct format: tools listed with their JSON parameters, calls as
// "Action: NAME\nAction Input: {JSON}", ended by "Observation:" (where the tool's result goes).
type ReAct struct{}

func (ReAct) Name() string                       { return "react" }
func (ReAct) ContentSeparator() string           { return "\n" }
func (ReAct) CallsEnd() string                   { return "\nObservation:" }
func (ReAct) Stop() []string                     { return []string{"Observation:"} }
func (ReAct) FormatResult(m data.Message) string { return m.Content }

func (ReAct) SystemPrompt(tools []data.Tool) (string, error) {
	var b strings.Builder
	b.WriteString("Answer the following questions as best you can. You have access to the following tools:\n\n")
	names := make([]string, len(tools))
	for i, t := range tools {
		params, err := canonicalOrEmpty(t.Parameters)
		if err != nil {
			return "", errors.WithMessagef(err, "tool %s", t.Name)
		}
		names[i] = t.Name
		fmt.Fprintf(&b, "%s: %s Parameters: %s Format the arguments as a JSON object.\n\n", t.Name, t.Description, params)
	}
	fmt.Fprintf(&b, "Use the following format:\n\nQuestion: the input question you must answer\n"+
		"Thought: you should always think about what to do\nAction: the action to take, should be one of [%s]\n"+
		"Action Input: the input to the action\nObservation: the result of the action\n"+
		"... (this Thought/Action/Action Input/Observation can be repeated zero or more times)\n"+
		"Thought: I now know the final answer\nFinal Answer: the final answer to the original input question\n\nBegin!",
		strings.Join(names, ", "))
	return b.String(), nil
}

func (ReAct) FormatCalls(calls []data.ToolCall) (string, error) {
	parts := make([]string, len(calls))
	for i, c := range calls {
		args, err := canonicalOrEmpty(c.Arguments)
		if err != nil {
			return "", errors.WithMessagef(err, "call of %s", c.Name)
		}
		parts[i] = "Action: " + c.Name + "\nAction Input: " + args
	}
	return strings.Join(parts, "\n"), nil
}

// Parse implements ToolFormat: every "Action:" line with the "Action Input:" after it.
func (ReAct) Parse(text string) (string, []data.ToolCall, error) { return parseReAct(text) }

// Compact is a terse format for tiny models (stories260K: a 512-token vocabulary and 512
// positions): tools as Python-like signatures on one line, "Tools: name(arg: type, opt?: type);
// ...", and calls written the same way with values, "name(arg: value, ...)" (JSON values),
// several joined by "; ". The parser also reads Python's "name(arg=value)". A colon rather than
// "=" because tiny vocabularies have ":" as a token while "=", "{" or "_" only exist as byte
// fallbacks, which a model pretrained on stories can hardly emit.
type Compact struct{}

func (Compact) Name() string                       { return "compact" }
func (Compact) ContentSeparator() string           { return "\n" }
func (Compact) CallsEnd() string                   { return "" }
func (Compact) Stop() []string                     { return nil }
func (Compact) FormatResult(m data.Message) string { return m.Content }

var compactTypes = map[string]string{"integer": "int", "number": "float", "float": "float", "string": "str",
	"boolean": "bool", "array": "list", "tuple": "tuple", "dict": "dict", "object": "dict", "any": "any"}

// Signature is a tool's compact signature: name(arg: type, optional?: type).
func Signature(t data.Tool) (string, error) {
	params, err := t.Params()
	if err != nil {
		return "", err
	}
	args := make([]string, len(params))
	for i, p := range params {
		typ := compactTypes[p.Type]
		if typ == "" {
			typ = p.Type
		}
		opt := "?"
		if p.Required {
			opt = ""
		}
		args[i] = p.Name + opt
		if typ != "" {
			args[i] += ": " + typ
		}
	}
	return t.Name + "(" + strings.Join(args, ", ") + ")", nil
}

func (Compact) SystemPrompt(tools []data.Tool) (string, error) {
	sigs := make([]string, len(tools))
	for i, t := range tools {
		s, err := Signature(t)
		if err != nil {
			return "", err
		}
		sigs[i] = s
	}
	return "Tools: " + strings.Join(sigs, "; "), nil
}

// FormatCall renders one call as name(arg: value, ...), values in compact JSON.
func FormatCall(c data.ToolCall) (string, error) {
	args, err := c.Args()
	if err != nil {
		return "", err
	}
	parts := make([]string, len(args))
	for i, a := range args {
		v, err := compactValue(a.Value)
		if err != nil {
			return "", errors.WithMessagef(err, "argument %s of %s", a.Name, c.Name)
		}
		parts[i] = a.Name + ": " + v
	}
	return c.Name + "(" + strings.Join(parts, ", ") + ")", nil
}

func (Compact) FormatCalls(calls []data.ToolCall) (string, error) {
	parts := make([]string, len(calls))
	for i, c := range calls {
		s, err := FormatCall(c)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return strings.Join(parts, "; "), nil
}

// Parse implements ToolFormat: the text is a list of calls (optionally inside [...]), or, when
// it does not read as calls, plain content.
func (Compact) Parse(text string) (string, []data.ToolCall, error) { return parseCompact(text) }
