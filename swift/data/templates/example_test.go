package templates_test

import (
	"encoding/json"
	"fmt"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/templates"
)

// A tool-calling conversation rendered with the compact template: «» marks what is trained.
func Example() {
	tool := data.Tool{Name: "math.factorial", Parameters: json.RawMessage(
		`{"type": "dict", "properties": {"number": {"type": "integer"}}, "required": ["number"]}`)}
	call, _ := data.NewToolCall("math.factorial", []data.Arg{{Name: "number", Value: 5}})
	s := data.Sample{Tools: []data.Tool{tool}, Messages: []data.Message{
		{Role: data.RoleUser, Content: "Calculate the factorial of 5."},
		{Role: data.RoleAssistant, ToolCalls: []data.ToolCall{call}},
	}}
	tmpl, _ := templates.Get("compact")
	parts, _ := tmpl.Render(s, templates.Options{Loss: templates.LossScale{ToolCall: 2}})
	fmt.Println(templates.Show(parts))
	// The model's reply is parsed back into calls.
	_, calls, _ := tmpl.ParseReply(" math.factorial(number=7)", templates.Options{})
	fmt.Println(calls[0].Name, string(calls[0].Arguments))
	// Output:
	// Tools: math.factorial(number: int)
	// User: Calculate the factorial of 5.
	// Assistant:«w=2| math.factorial(number: 5)»«<EOS>»
	//
	// math.factorial {"number": 7}
}
