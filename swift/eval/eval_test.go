package eval

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/goswift/goswift/swift/data"
)

func mustCall(t *testing.T, name, args string) data.ToolCall {
	t.Helper()
	c, err := data.ParseToolCall([]byte(`{"name": "` + name + `", "arguments": ` + args + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func expected(t *testing.T, gt string) []data.ExpectedCall {
	t.Helper()
	e, err := data.ParseGroundTruth(json.RawMessage(gt))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var offered = []data.Tool{
	{Name: "area", Parameters: json.RawMessage(`{"type": "dict", "properties": {"base": {"type": "integer"}, "height": {"type": "integer"}, "unit": {"type": "string"}}, "required": ["base", "height"]}`)},
	{Name: "book", Parameters: json.RawMessage(`{"type": "dict", "properties": {"city": {"type": "string"}, "budget": {"type": "dict"}, "days": {"type": "array"}}}`)},
	{Name: "noop", Parameters: json.RawMessage(`{"type": "dict", "properties": {}}`)},
}

// TestScoreToolCall: Act.EM, argument F1 and hallucination on tricky hand-made predictions.
func TestScoreToolCall(t *testing.T) {
	area := `[{"area": {"base": [10], "height": [5], "unit": ["units", "", "u"]}}]`
	tests := []struct {
		name          string
		gt            string
		pred          []data.ToolCall
		callEM, actEM bool
		p, r, f1      float64
		hallu         bool
	}{
		{"exact", area, []data.ToolCall{mustCall(t, "area", `{"base": 10, "height": 5}`)}, true, true, 1, 1, 1, false},
		{"optional given with an accepted value", area, []data.ToolCall{mustCall(t, "area", `{"height": 5, "base": 10.0, "unit": "Units"}`)}, true, true, 1, 1, 1, false},
		{"optional given with a wrong value", area, []data.ToolCall{mustCall(t, "area", `{"base": 10, "height": 5, "unit": "cm"}`)}, false, true, 2.0 / 3, 2.0 / 3, 2.0 / 3, false},
		{"missing required arg", area, []data.ToolCall{mustCall(t, "area", `{"base": 10}`)}, false, true, 1, 0.5, 2.0 / 3, false},
		{"extra arg not in schema", area, []data.ToolCall{mustCall(t, "area", `{"base": 10, "height": 5, "color": "red"}`)}, false, true, 2.0 / 3, 1, 0.8, true},
		{"wrong value", area, []data.ToolCall{mustCall(t, "area", `{"base": 11, "height": 5}`)}, false, true, 0.5, 0.5, 0.5, false},
		{"string for a number", area, []data.ToolCall{mustCall(t, "area", `{"base": "10", "height": 5}`)}, false, true, 0.5, 0.5, 0.5, false},
		{"wrong function offered", area, []data.ToolCall{mustCall(t, "book", `{"city": "x"}`)}, false, false, 0, 0, 0, false},
		{"function not offered", area, []data.ToolCall{mustCall(t, "volume", `{"base": 10, "height": 5}`)}, false, false, 0, 0, 0, true},
		{"no call", area, nil, false, false, 0, 0, 0, false},
		{"call twice", area, []data.ToolCall{mustCall(t, "area", `{"base": 10, "height": 5}`), mustCall(t, "area", `{"base": 10, "height": 5}`)},
			false, false, 0.5, 1, 2.0 / 3, false},
		{"nested dict and list alternatives", `[{"book": {"city": ["San Diego", "SD"], "budget": [{"min": [300], "max": [400, ""]}], "days": [[1, 2], [2, 1]]}}]`,
			[]data.ToolCall{mustCall(t, "book", `{"city": "san-diego", "budget": {"min": 300}, "days": [2, 1]}`)}, true, true, 1, 1, 1, false},
		{"nested dict with an extra key", `[{"book": {"city": ["SD"], "budget": [{"min": [300]}]}}]`,
			[]data.ToolCall{mustCall(t, "book", `{"city": "SD", "budget": {"min": 300, "max": 1}}`)}, false, true, 0.5, 0.5, 0.5, false},
		{"two calls any order", `[{"area": {"base": [1], "height": [2]}}, {"noop": {}}]`,
			[]data.ToolCall{mustCall(t, "noop", `{}`), mustCall(t, "area", `{"base": 1, "height": 2}`)}, true, true, 1, 1, 1, false},
		{"argument-less call", `[{"noop": {}}]`, []data.ToolCall{mustCall(t, "noop", `{}`)}, true, true, 1, 1, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ScoreToolCall(ToolCallItem{Offered: offered, Expected: expected(t, tc.gt), Predicted: tc.pred})
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
			if s.CallEM != tc.callEM || s.ActEM != tc.actEM || !near(s.ArgPrecision, tc.p) || !near(s.ArgRecall, tc.r) ||
				!near(s.ArgF1, tc.f1) || s.Hallucinated != tc.hallu {
				t.Fatalf("got %+v\nwant call_em=%v act_em=%v p=%.3f r=%.3f f1=%.3f hallucinated=%v", s, tc.callEM, tc.actEM, tc.p, tc.r, tc.f1, tc.hallu)
			}
		})
	}
}

func TestScoreToolCallsReport(t *testing.T) {
	gt := expected(t, `[{"area": {"base": [10], "height": [5]}}]`)
	items := []ToolCallItem{
		{Offered: offered, Expected: gt, Predicted: []data.ToolCall{mustCall(t, "area", `{"base": 10, "height": 5}`)}},
		{Offered: offered, Expected: gt, Predicted: []data.ToolCall{mustCall(t, "nope", `{}`)}},
		{Offered: offered, Expected: gt, ParseError: "bad", Output: "area(base="},
		{Offered: offered, Expected: gt, Predicted: []data.ToolCall{mustCall(t, "area", `{"base": 10, "height": 5, "z": 1}`), mustCall(t, "area", `{"base": 1, "height": 5}`)}},
	}
	r := ScoreToolCalls(items)
	if r.Items != 4 || r.CallEM != 0.25 || r.ActEM != 0.25 || r.Hallucination != 0.5 || r.ParseFailures != 0.25 || r.NoCall != 0.25 ||
		r.PredictedCalls != 4 || r.CallHallucination != 0.5 {
		t.Fatalf("report %+v", r)
	}
}

func TestExtractAnswer(t *testing.T) {
	tests := []struct{ text, want string }{
		{"She sold 48+24 = <<48+24=72>>72 clips.\n#### 72", "72"},
		{"#### 1,200", "1200"},
		{"The answer is $18.", "18"},
		{"It costs $1,234.50 in total", "1234.50"},
		{"no numbers here", ""},
		{"temperature -3 then -7", "-7"},
		{"#### .5", ".5"},
		{"3 apples #### 4 #### 5", "5"},
	}
	for _, tc := range tests {
		if got := ExtractAnswer(tc.text); got != tc.want {
			t.Errorf("ExtractAnswer(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	if !SameNumber("18", "18.00") || SameNumber("18", "19") || SameNumber("", "") {
		t.Fatal("SameNumber")
	}
	r := ScoreGSM8K([]string{"so #### 72", "the answer is 10", "I don't know"}, []string{"72", "11", "3"})
	if r.Accuracy != 1.0/3 || r.NoNumber != 1.0/3 {
		t.Fatalf("gsm8k report %+v", r)
	}
}
