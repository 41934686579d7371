package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParseRecord: every record shape, detected and forced, becomes the same conversation.
func TestParseRecord(t *testing.T) {
	tests := []struct {
		name, rec string
		format    Format
		want      string // Sample.String()
		tools     int
		answer    string
	}{
		{"messages", `{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}`,
			FormatMessages, "system: S | user: Q | assistant: A", 0, ""},
		{"messages content parts", `{"messages": [{"role": "user", "content": [{"type": "text", "text": "Q"}, {"type": "text", "text": "2"}]}, {"role": "assistant", "content": "A"}]}`,
			FormatMessages, "user: Q2 | assistant: A", 0, ""},
		{"openai tool calls", `{"messages": [{"role": "user", "content": "W?"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{\"city\": \"Rome\"}"}}]}, {"role": "tool", "name": "w", "content": "sunny"}, {"role": "assistant", "content": "Sunny."}],
			"tools": [{"type": "function", "function": {"name": "w", "description": "d", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]}`,
			FormatMessages, `user: W? | assistant:  <w {"city": "Rome"}> | tool: sunny | assistant: Sunny.`, 1, ""},
		{"ms-swift agent roles", `{"tools": "[{\"name\": \"w\", \"parameters\": {}}]", "messages": [{"role": "user", "content": "W?"}, {"role": "tool_call", "content": "{\"name\": \"w\", \"arguments\": {\"c\": 1}}"}, {"role": "tool_response", "content": "ok"}, {"role": "assistant", "content": "Done."}]}`,
			FormatMessages, `user: W? | assistant:  <w {"c": 1}> | tool: ok | assistant: Done.`, 1, ""},
		{"sharegpt", `{"system": "S", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}`,
			FormatShareGPT, "system: S | user: Q | assistant: A", 0, ""},
		{"alpaca", `{"instruction": "Do", "input": "this", "output": "done"}`, FormatAlpaca, "user: Do\nthis | assistant: done", 0, ""},
		{"query-response with history", `{"history": [["q0", "a0"]], "query": "q1", "response": "a1"}`,
			FormatQueryResponse, "user: q0 | assistant: a0 | user: q1 | assistant: a1", 0, ""},
		{"gsm8k", `{"question": "2+2?", "answer": "2+2=<<2+2=4>>4\n#### 4"}`, FormatQueryResponse, "user: 2+2? | assistant: 2+2=<<2+2=4>>4\n#### 4", 0, "4"},
		{"text", `{"text": "Once upon a time."}`, FormatText, "text: Once upon a time.", 0, ""},
		{"bfcl with ground truth", `{"id": "b1", "question": [[{"role": "user", "content": "Area of 3 by 4?"}]], "function": [{"name": "area", "parameters": {"type": "dict", "properties": {"w": {"type": "integer"}, "h": {"type": "integer"}, "unit": {"type": "string"}}, "required": ["w", "h"]}}], "ground_truth": [{"area": {"w": [3], "h": [4], "unit": ["", "cm"]}}]}`,
			FormatBFCL, `[b1] user: Area of 3 by 4? | assistant:  <area {"w": 3, "h": 4}>`, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, forced := range []Format{FormatAuto, tc.format} {
				s, f, err := ParseRecord([]byte(tc.rec), forced)
				if err != nil {
					t.Fatalf("%s: %v", forced, err)
				}
				if f != tc.format {
					t.Fatalf("format %s, want %s", f, tc.format)
				}
				if got := s.String(); got != tc.want {
					t.Fatalf("%s: got\n%q\nwant\n%q", forced, got, tc.want)
				}
				if len(s.Tools) != tc.tools || s.Answer != tc.answer {
					t.Fatalf("tools %d answer %q", len(s.Tools), s.Answer)
				}
			}
		})
	}
}

func TestParseRecordErrors(t *testing.T) {
	tests := []struct{ rec, want string }{
		{`[1]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`{"foo": 1}`, "cannot tell the record's format"},
		{`{"messages": [{"role": "wizard", "content": "x"}]}`, `unknown role "wizard"`},
		{`{"messages": []}`, "empty sample"},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}]}`, "without a name"},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": "{not json"}]}]}`, "arguments of f"},
		{`{"messages": [{"role": "user", "content": 5}]}`, "content must be a string"},
		{`{"instruction": "x"}`, "cannot tell"},
		{`{"ground_truth": []}`, "BFCL answer record"},
		{`{"messages": [{"role": "user", "content": "x"}], "tools": [{"description": "no name"}]}`, "has no name"},
	}
	for _, tc := range tests {
		_, _, err := ParseRecord([]byte(tc.rec), FormatAuto)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.rec, err, tc.want)
		}
	}
	if _, _, err := ParseRecord([]byte(`{"text": "x"}`), FormatAlpaca); err == nil || !strings.Contains(err.Error(), `missing "instruction"`) {
		t.Errorf("forced alpaca on a text record: %v", err)
	}
}

// TestScanErrorsAndSkipBad: a malformed line is an error naming file:line, or with SkipBad is
// counted and reported; JSON arrays number records by their line.
func TestScanErrorsAndSkipBad(t *testing.T) {
	jsonl := writeFile(t, "d.jsonl", `{"text": "a"}`+"\n\n"+`{"text": `+"\n"+`{"text": "c"}`+"\n"+`{"bogus": 1}`+"\n")
	_, _, err := ReadFile(jsonl, ReadOptions{})
	if err == nil || !strings.Contains(err.Error(), jsonl+":3:") || !strings.Contains(err.Error(), "--skip-bad") {
		t.Fatalf("error %v should name %s:3 and --skip-bad", err, jsonl)
	}
	got, st, err := ReadFile(jsonl, ReadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || st.Records != 2 || st.Skipped != 2 || len(st.Errors) != 2 ||
		!strings.HasPrefix(st.Errors[1], jsonl+":5:") || got[1].Source != jsonl+":4" {
		t.Fatalf("got %d samples, stats %+v, second source %q", len(got), st, got[1].Source)
	}
	arr := writeFile(t, "d.json", "[\n  {\"text\": \"a\"},\n  {\"text\": 7},\n  {\"text\": \"c\"}\n]\n")
	if _, _, err := ReadFile(arr, ReadOptions{}); err == nil || !strings.Contains(err.Error(), arr+":3:") {
		t.Fatalf("array error %v should name line 3", err)
	}
	got, _, err = ReadFile(arr, ReadOptions{SkipBad: true, Limit: 1})
	if err != nil || len(got) != 1 || got[0].Text != "a" {
		t.Fatalf("limit 1: %v %v", got, err)
	}
	for name, content := range map[string]string{"bom.jsonl": "\xEF\xBB\xBF{\"text\": \"a\"}\n", "bom.json": "\xEF\xBB\xBF [{\"text\": \"a\"}]"} {
		if got, _, err := ReadFile(writeFile(t, name, content), ReadOptions{}); err != nil || len(got) != 1 {
			t.Fatalf("%s with a byte-order mark: %v %v", name, got, err)
		}
	}
	if _, _, err := ReadFile(writeFile(t, "e.jsonl", "\n\n"), ReadOptions{}); err == nil || !strings.Contains(err.Error(), "no records") {
		t.Fatalf("empty file: %v", err)
	}
	if _, _, err := ReadFile("/nonexistent.jsonl", ReadOptions{}); err == nil || !strings.Contains(err.Error(), "/nonexistent.jsonl") {
		t.Fatalf("missing file: %v", err)
	}
	if _, _, err := ReadFile(jsonl, ReadOptions{Format: "csv"}); err == nil || !strings.Contains(err.Error(), `unknown dataset format "csv"`) {
		t.Fatalf("bad format: %v", err)
	}
}

// TestSharedDatasets: GSM8K and BFCL (with the answers beside the questions) load directly.
func TestSharedDatasets(t *testing.T) {
	gsm, st, err := ReadFile(fixtures.Path(t, "datasets/gsm8k_test.jsonl"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 1319 || gsm[0].Answer != "18" || len(gsm[0].Messages) != 2 {
		t.Fatalf("gsm8k: %d records, first answer %q", st.Records, gsm[0].Answer)
	}
	for _, name := range []string{"bfcl_BFCL_v4_simple_python.json", "bfcl_BFCL_v4_multiple.json"} {
		items, st, err := ReadFile(fixtures.Path(t, "datasets", name), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range items {
			if len(s.Expected) == 0 || len(s.Tools) == 0 || s.Messages[len(s.Messages)-1].Role != RoleAssistant {
				t.Fatalf("%s: %s lacks ground truth, tools or the answer turn", name, s.ID)
			}
		}
		if st.Formats[FormatBFCL] != len(items) {
			t.Fatalf("%s: formats %v", name, st.Formats)
		}
	}
}

// TestWriteRoundTrip: WriteJSONL and WriteBFCL write what ReadFile reads back.
func TestWriteRoundTrip(t *testing.T) {
	items, _, err := ReadFile(fixtures.Path(t, "datasets/bfcl_BFCL_v4_multiple.json"), ReadOptions{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var jsonl, q, a strings.Builder
	if err := WriteJSONL(&jsonl, items); err != nil {
		t.Fatal(err)
	}
	if err := WriteBFCL(&q, &a, items); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"x.jsonl": jsonl.String(), "b.json": q.String(), "b_answer.json": a.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"x.jsonl", "b.json"} {
		back, _, err := ReadFile(filepath.Join(dir, f), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range items {
			if back[i].String() != items[i].String() || len(back[i].Expected) != len(items[i].Expected) ||
				len(back[i].Tools) != len(items[i].Tools) {
				t.Fatalf("%s item %d:\n%s\nread back as\n%s", f, i, items[i], back[i])
			}
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		`{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{\"a\": 1}"}}]}], "tools": "[]"}`,
		`{"conversations": [{"from": "human", "value": "Q"}]}`,
		`{"question": [[{"role": "user", "content": "x"}]], "function": [{"name": "f", "parameters": {"properties": {"a": {"type": "integer"}}}}], "ground_truth": [{"f": {"a": [1, ""]}}]}`,
		`{"instruction": "i", "output": "o", "history": [["a", "b"]]}`,
		`{"text": "t"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, _, err := ParseRecord(raw, FormatAuto)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseRecord returned an invalid sample: %v", err)
		}
		_ = s.String()
	})
}

func FuzzParseGroundTruth(f *testing.F) {
	f.Add([]byte(`[{"f": {"a": [1, ""], "b": [{"k": [2]}]}}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		calls, err := ParseGroundTruth(raw)
		if err != nil {
			return
		}
		s := Sample{Messages: []Message{{Role: RoleUser, Content: "q"}}, Expected: calls}
		if err := s.AddExpectedAnswer(); err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("answer built from %s is invalid: %v", raw, err)
		}
	})
}
