package templates

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/tokenizers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func call(t testing.TB, name, args string) data.ToolCall {
	c, err := data.ParseToolCall([]byte(`{"name": "` + name + `", "arguments": ` + args + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var weatherTool = data.Tool{Name: "get_weather", Description: "Current weather in a city.",
	Parameters: json.RawMessage(`{"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}}, "required": ["city"]}`)}
var timeTool = data.Tool{Name: "get_time", Description: "Local time in a city.",
	Parameters: json.RawMessage(`{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}`)}

// conversations are the fixed conversations every template is rendered on.
func conversations(t testing.TB) []struct {
	name string
	s    data.Sample
	opts Options
} {
	msg := func(role, content string) data.Message { return data.Message{Role: role, Content: content} }
	weather := data.Sample{Tools: []data.Tool{weatherTool, timeTool}, Messages: []data.Message{
		msg("user", "Weather in Paris?"),
		{Role: "assistant", ToolCalls: []data.ToolCall{call(t, "get_weather", `{"city": "Paris", "unit": "C"}`)}},
		{Role: "tool", Name: "get_weather", Content: `{"temp": 21}`},
		msg("assistant", "It is 21 C in Paris."),
	}}
	return []struct {
		name string
		s    data.Sample
		opts Options
	}{
		{"single", data.Sample{Messages: []data.Message{msg("system", "Be brief."), msg("user", "Hi!"), msg("assistant", "Hello.")}}, Options{}},
		{"multi-turn", data.Sample{Messages: []data.Message{msg("user", "One?"), msg("assistant", "1."),
			msg("user", "Two?"), msg("assistant", "2.")}}, Options{}},
		{"multi-turn last_round", data.Sample{Messages: []data.Message{msg("user", "One?"), msg("assistant", "1."),
			msg("user", "Two?"), msg("assistant", "2.")}}, Options{Loss: LossScale{LastRound: true}}},
		{"tool call", weather, Options{}},
		{"tool call agent loss", weather, Options{Loss: LossScale{ToolCall: 2}}},
		{"two calls with text", data.Sample{Tools: []data.Tool{weatherTool, timeTool}, Messages: []data.Message{
			msg("system", "Use tools."), msg("user", "Paris weather and time?"),
			{Role: "assistant", Content: "Checking both.", ToolCalls: []data.ToolCall{
				call(t, "get_weather", `{"city": "Paris"}`), call(t, "get_time", `{"city": "Paris"}`)}},
		}}, Options{}},
		{"all turns", data.Sample{Messages: []data.Message{msg("user", "Hi!"), msg("assistant", "Hello.")}}, Options{Loss: LossScale{Prompt: 1}}},
		{"generation prompt", data.Sample{Tools: []data.Tool{weatherTool}, Messages: []data.Message{msg("user", "Weather in Rome?")}},
			Options{GenerationPrompt: true}},
	}
}

// TestGolden: the rendered text and loss mask of every template on the fixed conversations
// match testdata/golden/<template>.txt (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			tmpl, err := Get(name)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, c := range conversations(t) {
				parts, err := tmpl.Render(c.s, c.opts)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				b.WriteString("==== " + c.name + " ====\n" + Show(parts) + "\n")
			}
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if got := b.String(); got != string(want) {
				t.Fatalf("%s differs from the golden file:\n%s", name, diffLines(got, string(want)))
			}
		})
	}
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "(same lines)"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func storiesTokenizer(t testing.TB) tokenizers.Tokenizer {
	tok, err := tokenizers.Load(fixtures.Path(t, "models/stories260K/tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// byteWeights spreads part weights over the bytes of the rendered text. With a dummy-prefix
// tokenizer (llama2.c) the text after a special token starts with the prefix space, as it does
// in Hugging Face's legacy Llama tokenizer.
func byteWeights(parts []Part, dummyPrefix bool) (string, []float32, []float32) {
	var text strings.Builder
	var w, special []float32
	afterSpecial := false
	for _, p := range parts {
		if p.Special != NoSpecial {
			special = append(special, p.Weight)
			afterSpecial = p.Special == EOS // Decode drops the prefix space after BOS
			continue
		}
		t := p.Text
		if afterSpecial && dummyPrefix {
			t = " " + t
		}
		afterSpecial = false
		text.WriteString(t)
		for range len(t) {
			w = append(w, p.Weight)
		}
	}
	return text.String(), w, special
}

// TestTokenMasks: with the stories260K tokenizer, encoding keeps every part boundary on a token
// edge — the per-byte weights of the decoded tokens equal those of the rendered parts — and
// the generation prompt encodes to a prefix of the training tokens.
func TestTokenMasks(t *testing.T) {
	tok := storiesTokenizer(t)
	for _, name := range Names() {
		tmpl, _ := Get(name)
		for _, c := range conversations(t) {
			parts, err := tmpl.Render(c.s, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			ex, err := Encode(tok, parts)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, c.name, err)
			}
			_, dummy := tok.(*tokenizers.Llama2C)
			wantText, wantW, wantSpecial := byteWeights(parts, dummy)
			var gotText strings.Builder
			var gotW, gotSpecial []float32
			ids := make([]int, len(ex.IDs))
			for i, id := range ex.IDs {
				ids[i] = int(id)
			}
			prev := ""
			for i, id := range ids {
				if i == 0 && id == tok.BOS() {
					continue // the tokenizer's own BOS, not a part
				}
				if id == tok.BOS() || id == tok.EOS() {
					gotSpecial = append(gotSpecial, ex.Weights[i])
				}
				cur := tok.Decode(ids[:i+1])
				piece := cur[len(prev):]
				prev = cur
				gotText.WriteString(piece)
				for range len(piece) {
					gotW = append(gotW, ex.Weights[i])
				}
			}
			if gotText.String() != wantText {
				t.Fatalf("%s/%s: decoded %q, rendered %q", name, c.name, gotText.String(), wantText)
			}
			for i := range wantW {
				if gotW[i] != wantW[i] {
					t.Fatalf("%s/%s: byte %d (%q...) has token weight %v, part weight %v", name, c.name, i,
						clip(wantText[i:]), gotW[i], wantW[i])
				}
			}
			if strings.Join(fmtW(gotSpecial), ",") != strings.Join(fmtW(wantSpecial), ",") {
				t.Fatalf("%s/%s: special token weights %v, want %v", name, c.name, gotSpecial, wantSpecial)
			}
			if c.opts.GenerationPrompt || c.s.Messages[len(c.s.Messages)-1].Role != data.RoleAssistant {
				continue
			}
			prompt, err := EncodePrompt(tmpl, tok, c.s, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(prompt) > len(ids) || commonPrefix(prompt, ids) != len(prompt) {
				t.Fatalf("%s/%s: the generation prompt is not a prefix of the training tokens", name, c.name)
			}
		}
	}
}

func fmtW(ws []float32) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		b, _ := json.Marshal(w)
		out[i] = string(b)
	}
	return out
}

// TestRegistry: names are sorted, Get fails clearly, duplicates panic, ForModel picks sensibly.
func TestRegistry(t *testing.T) {
	names := Names()
	want := []string{"chatml", "compact", "default", "hermes", "llama-2", "llama-3", "react"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("Names() = %v, want %v", names, want)
	}
	if _, err := Get("nope"); err == nil || !strings.Contains(err.Error(), "chatml") {
		t.Fatalf("Get(nope) error %v should list the known templates", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("registering chatml twice did not panic")
			}
		}()
		Register(ChatML)
	}()
	if got := ForModel("llama", storiesTokenizer(t)); got != "compact" {
		t.Fatalf("ForModel(stories260K) = %s, want compact", got)
	}
	if got := ForModel("qwen2", nil); got != "chatml" {
		t.Fatalf("ForModel(qwen2) = %s", got)
	}
}

func TestParseLossScale(t *testing.T) {
	tests := []struct {
		spec string
		want LossScale
		err  string
	}{
		{"", LossScale{}, ""},
		{"default", LossScale{}, ""},
		{"all", LossScale{Prompt: 1}, ""},
		{"agent,last_round", LossScale{ToolCall: 2, LastRound: true}, ""},
		{"assistant=0.5, tool_call=3", LossScale{Assistant: 0.5, ToolCall: 3}, ""},
		{"tool_call=-1", LossScale{}, "must be a number >= 0"},
		{"bogus", LossScale{}, "unknown preset"},
		{"x=1", LossScale{}, "unknown key"},
	}
	for _, tc := range tests {
		got, err := ParseLossScale(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}
