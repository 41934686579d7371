package eval_test

import (
	"encoding/json"
	"fmt"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/eval"
)

// Scoring tool calls against BFCL ground truth (accepted values per argument; "" = may be
// omitted).
func ExampleScoreToolCalls() {
	gt, _ := data.ParseGroundTruth(json.RawMessage(`[{"area": {"base": [10], "height": [5], "unit": ["units", ""]}}]`))
	tools := []data.Tool{{Name: "area", Parameters: json.RawMessage(
		`{"type": "dict", "properties": {"base": {"type": "integer"}, "height": {"type": "integer"}, "unit": {"type": "string"}}}`)}}
	call := func(name, args string) data.ToolCall {
		c, _ := data.ParseToolCall([]byte(`{"name": "` + name + `", "arguments": ` + args + `}`))
		return c
	}
	r := eval.ScoreToolCalls([]eval.ToolCallItem{
		{Offered: tools, Expected: gt, Predicted: []data.ToolCall{call("area", `{"base": 10, "height": 5.0}`)}},
		{Offered: tools, Expected: gt, Predicted: []data.ToolCall{call("area", `{"base": 10}`)}},
		{Offered: tools, Expected: gt, Predicted: []data.ToolCall{call("volume", `{"base": 10, "height": 5}`)}},
	})
	fmt.Printf("Act.EM %.2f, Call.EM %.2f, argument F1 %.2f, hallucination %.2f\n", r.ActEM, r.CallEM, r.ArgF1, r.Hallucination)
	// Output: Act.EM 0.67, Call.EM 0.33, argument F1 0.56, hallucination 0.33
}
