package templates

import (
	"strings"
	"testing"

	"github.com/goswift/goswift/swift/data"
)

// callsString renders parsed calls as name{canonical args} for comparison.
func callsString(t testing.TB, calls []data.ToolCall) string {
	var parts []string
	for _, c := range calls {
		args, err := data.CanonicalJSON(c.Arguments)
		if err != nil {
			t.Fatalf("call %s has bad arguments %s: %v", c.Name, c.Arguments, err)
		}
		parts = append(parts, c.Name+args)
	}
	return strings.Join(parts, " ")
}

func TestParseReplies(t *testing.T) {
	tests := []struct {
		format, text  string
		content, want string
		err           string
	}{
		// Compact: Python-like calls.
		{"compact", ` get_weather(city="Paris", unit="C")`, "", `get_weather{"city": "Paris", "unit": "C"}`, ""},
		{"compact", `f(a=1, b=-2.5e3, c=True, d=None, e='it\'s', f=[1, (2, 3)], g={"k": [1]})`, "",
			`f{"a": 1, "b": -2.5e3, "c": true, "d": null, "e": "it's", "f": [1, [2, 3]], "g": {"k": [1]}}`, ""},
		{"compact", `[f(a=1), g()]`, "", `f{"a": 1} g{}`, ""},
		{"compact", "f(a=1); g(b=2)\n", "", `f{"a": 1} g{"b": 2}`, ""},
		{"compact", `math.factorial(number=5,)`, "", `math.factorial{"number": 5}`, ""},
		{"compact", `It is sunny.`, "It is sunny.", "", ""},
		{"compact", `f(a=1`, "", "", "expected , or )"},
		{"compact", `f(a=1) and more`, "", `f{"a": 1}`, "unexpected"},
		{"compact", `f(1)`, "", "", "expected arg: value"},
		{"compact", `f(a: 1, b : "x")`, "", `f{"a": 1, "b": "x"}`, ""},
		{"compact", `f(a="x)`, "", "", "unterminated string"},
		// Hermes: JSON inside <tool_call> tags.
		{"hermes", "Sure.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>", "Sure.", `f{"a": 1}`, ""},
		{"hermes", "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 2}\"}</tool_call><tool_call>{\"name\": \"g\", \"arguments\": {}}", "", `f{"a": 2} g{}`, ""},
		{"hermes", `{"name": "f", "parameters": {"x": "y"}}`, "", `f{"x": "y"}`, ""},
		{"hermes", "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": }</tool_call><tool_call>{\"name\": \"g\", \"arguments\": {}}</tool_call>", "", `g{}`, "tool call 0"},
		{"hermes", "Just text.", "Just text.", "", ""},
		// ReAct.
		{"react", "Thought: look it up\nAction: get_weather\nAction Input: {\"city\": \"Rome\"}\nObservation:", "Thought: look it up", `get_weather{"city": "Rome"}`, ""},
		{"react", "Thought: done\nFinal Answer: 42", "42", "", ""},
		{"react", "Action: f\nAction Input: not json", "", "", "not a JSON object"},
		{"react", "Action: f\n", "", "", "without an Action Input"},
	}
	for _, tc := range tests {
		f, err := GetToolFormat(tc.format)
		if err != nil {
			t.Fatal(err)
		}
		content, calls, err := f.Parse(tc.text)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: error %v, want %q", tc.format, tc.text, err, tc.err)
			}
		} else if err != nil {
			t.Errorf("%s %q: %v", tc.format, tc.text, err)
		}
		if content != tc.content || callsString(t, calls) != tc.want {
			t.Errorf("%s %q: got content %q calls %q; want %q %q", tc.format, tc.text, content, callsString(t, calls), tc.content, tc.want)
		}
	}
}

// TestFormatParseRoundTrip: every tool format parses back the calls it renders.
func TestFormatParseRoundTrip(t *testing.T) {
	calls := []data.ToolCall{call(t, "get_weather", `{"city": "São Paulo", "days": [1, 2], "opts": {"metric": true}, "note": "a \"quoted\" <b>"}`),
		call(t, "noop", `{}`)}
	want := callsString(t, calls)
	for _, name := range ToolFormatNames() {
		f, _ := GetToolFormat(name)
		text, err := f.FormatCalls(calls)
		if err != nil {
			t.Fatal(err)
		}
		content, got, err := f.Parse("Let me see.\n" + text)
		if name == "compact" { // compact calls stand alone: no content before them
			content, got, err = f.Parse(text)
		}
		if err != nil {
			t.Fatalf("%s: parsing %q: %v", name, text, err)
		}
		if s := callsString(t, got); s != want {
			t.Fatalf("%s: round trip of %q gave %s, want %s", name, text, s, want)
		}
		if name != "compact" && content != "Let me see." {
			t.Fatalf("%s: content %q", name, content)
		}
	}
}

// TestTemplateParseReply: a template's ParseReply cuts at its end-of-turn string first.
func TestTemplateParseReply(t *testing.T) {
	content, calls, err := ChatML.ParseReply("<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call><|im_end|>junk", Options{})
	if err != nil || content != "" || callsString(t, calls) != "f{}" {
		t.Fatalf("got %q %v %v", content, calls, err)
	}
	if _, _, err := ChatML.ParseReply("x", Options{ToolFormat: "nope"}); err == nil {
		t.Fatal("unknown tool format accepted")
	}
}

func fuzzToolFormat(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	tf, err := GetToolFormat(name)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		_, calls, _ := tf.Parse(text) // must not panic
		for _, c := range calls {
			if c.Name == "" {
				t.Fatalf("call without a name from %q", text)
			}
			if _, err := c.Args(); err != nil {
				t.Fatalf("parsed call %s has unreadable arguments %q: %v", c.Name, c.Arguments, err)
			}
			// What parses renders, and renders back to the same calls.
			out, err := tf.FormatCalls([]data.ToolCall{c})
			if err != nil {
				t.Fatalf("cannot render parsed call %s%s: %v", c.Name, c.Arguments, err)
			}
			if _, again, err := tf.Parse(out); err != nil || len(again) != 1 || again[0].Name != c.Name {
				t.Fatalf("re-parsing %q: %v %v", out, again, err)
			}
		}
	})
}

func FuzzParseCompact(f *testing.F) {
	fuzzToolFormat(f, "compact", `f(a=1, b="x")`, `[f(a=[1, {"k": 'v'}]), g()]`, "f(a=1); g(b=True)", "text")
}

func FuzzParseHermes(f *testing.F) {
	fuzzToolFormat(f, "hermes", "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>",
		`{"name": "f", "arguments": "{}"}`, "<tool_call>{\"function\": {\"name\": \"g\"}}")
}

func FuzzParseReAct(f *testing.F) {
	fuzzToolFormat(f, "react", "Thought: t\nAction: f\nAction Input: {\"a\": 1}\nObservation:", "Final Answer: 3")
}
