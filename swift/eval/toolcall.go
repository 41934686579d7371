package eval

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/goswift/goswift/swift/data"
)

// ToolCallItem is one tool-calling prediction to score.
type ToolCallItem struct {
	ID         string              `json:"id,omitempty"`
	Offered    []data.Tool         `json:"-"`
	Expected   []data.ExpectedCall `json:"expected"`
	Predicted  []data.ToolCall     `json:"predicted"`
	Output     string              `json:"output"`                // the generated text
	ParseError string              `json:"parse_error,omitempty"` // the reply did not parse as calls
}

// ToolCallScore is one item's outcome.
type ToolCallScore struct {
	ActEM        bool    `json:"act_em"`  // the action matches: the same functions called (as a multiset), arguments aside
	CallEM       bool    `json:"call_em"` // the calls match exactly: functions, argument names and values (alternatives allowed)
	ArgPrecision float64 `json:"arg_precision"`
	ArgRecall    float64 `json:"arg_recall"`
	ArgF1        float64 `json:"arg_f1"`
	Hallucinated bool    `json:"hallucinated"` // a call to a function not offered, or with an argument not in its schema
	// HallucinatedCalls counts such calls; Reason says why for the first.
	HallucinatedCalls int    `json:"hallucinated_calls,omitempty"`
	Reason            string `json:"reason,omitempty"`
}

// ToolCallReport aggregates item scores; rates are fractions of Items.
type ToolCallReport struct {
	Items         int     `json:"items"`
	ActEM         float64 `json:"act_em"`
	CallEM        float64 `json:"call_em"`
	ArgF1         float64 `json:"arg_f1"` // mean of the items' F1
	Hallucination float64 `json:"hallucination"`
	ParseFailures float64 `json:"parse_failures"`
	NoCall        float64 `json:"no_call"` // items answered without any call
	// CallHallucination is hallucinated calls / predicted calls (0 when none were predicted).
	CallHallucination float64         `json:"call_hallucination"`
	PredictedCalls    int             `json:"predicted_calls"`
	Scores            []ToolCallScore `json:"-"`
}

// ScoreToolCalls scores every item and aggregates.
//
// Act.EM (ToolBench's action exact match, the SWIFT paper's agent metric): the predicted calls
// name exactly the expected functions (as a multiset, in any order), whatever their arguments.
//
// Call.EM (BFCL's AST check; stricter): in addition the predicted and expected calls pair up one
// to one by name and in each pair every argument matches: an expected argument is either given
// with one of its accepted values or omitted when "" is accepted, and no other argument is
// given. Values compare by type: numbers numerically (5 == 5.0), strings after BFCL's
// normalisation (case, spaces and ,./-_*^ ignored), lists element-wise, nested objects key by
// key with their own accepted values.
//
// Argument F1: over the (name, value) pairs of the item. True positives are predicted arguments
// of a call paired with an expected call whose value is accepted; precision divides by all
// predicted arguments (of all predicted calls), recall by the expected arguments that may not be
// omitted plus the omittable ones the prediction gave. An item whose predictions pair with no
// expected call scores 0; an item expecting and predicting only argument-less calls that pair
// up scores 1.
//
// Hallucination: an item is hallucinated when a predicted call names a function that was not
// offered, or passes an argument the function's schema does not have.
func ScoreToolCalls(items []ToolCallItem) ToolCallReport {
	r := ToolCallReport{Items: len(items), Scores: make([]ToolCallScore, len(items))}
	halluCalls := 0
	for i, it := range items {
		s := ScoreToolCall(it)
		r.Scores[i] = s
		r.ActEM += b2f(s.ActEM)
		r.CallEM += b2f(s.CallEM)
		r.ArgF1 += s.ArgF1
		r.Hallucination += b2f(s.Hallucinated)
		r.ParseFailures += b2f(it.ParseError != "")
		r.NoCall += b2f(len(it.Predicted) == 0)
		r.PredictedCalls += len(it.Predicted)
		halluCalls += s.HallucinatedCalls
	}
	if n := float64(len(items)); n > 0 {
		r.ActEM /= n
		r.CallEM /= n
		r.ArgF1 /= n
		r.Hallucination /= n
		r.ParseFailures /= n
		r.NoCall /= n
	}
	if r.PredictedCalls > 0 {
		r.CallHallucination = float64(halluCalls) / float64(r.PredictedCalls)
	}
	return r
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ScoreToolCall scores one item (see ScoreToolCalls).
func ScoreToolCall(it ToolCallItem) ToolCallScore {
	var s ToolCallScore
	s.Hallucinated, s.HallucinatedCalls, s.Reason = hallucinations(it.Offered, it.Predicted)

	pred := make([][]data.Arg, len(it.Predicted))
	predArgs := 0
	for i, c := range it.Predicted {
		pred[i], _ = c.Args() // unreadable arguments count as none
		predArgs += len(pred[i])
	}
	// Pair each expected call with an unpaired predicted call of the same name, preferring one
	// that matches fully.
	used := make([]bool, len(it.Predicted))
	pairs := 0
	allMatch := len(it.Predicted) == len(it.Expected)
	tp, gold := 0, 0
	for _, e := range it.Expected {
		best, bestFull := -1, false
		for j, c := range it.Predicted {
			if used[j] || c.Name != e.Name {
				continue
			}
			full := callMatches(e, pred[j])
			if best < 0 || (full && !bestFull) {
				best, bestFull = j, full
			}
		}
		for name, alts := range e.Args {
			if !data.Omittable(alts) {
				gold++
			} else if best >= 0 && hasArg(pred[best], name) {
				gold++
			}
		}
		if best < 0 {
			allMatch = false
			continue
		}
		used[best] = true
		pairs++
		if !bestFull {
			allMatch = false
		}
		for _, a := range pred[best] {
			if alts, ok := e.Args[a.Name]; ok && acceptedAny(a.Value, alts) {
				tp++
			}
		}
	}
	s.CallEM = allMatch
	s.ActEM = len(it.Predicted) == len(it.Expected) && pairs == len(it.Expected)
	switch {
	case pairs == 0:
	case gold == 0 && predArgs == 0:
		s.ArgPrecision, s.ArgRecall, s.ArgF1 = 1, 1, 1
	default:
		s.ArgPrecision, s.ArgRecall = ratio(tp, predArgs), ratio(tp, gold)
		if s.ArgPrecision+s.ArgRecall > 0 {
			s.ArgF1 = 2 * s.ArgPrecision * s.ArgRecall / (s.ArgPrecision + s.ArgRecall)
		}
	}
	return s
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func hasArg(args []data.Arg, name string) bool {
	for _, a := range args {
		if a.Name == name {
			return true
		}
	}
	return false
}

// callMatches: every expected argument given with an accepted value or omittable, no other
// argument given, none given twice.
func callMatches(e data.ExpectedCall, args []data.Arg) bool {
	seen := map[string]bool{}
	for _, a := range args {
		alts, ok := e.Args[a.Name]
		if !ok || seen[a.Name] || !acceptedAny(a.Value, alts) {
			return false
		}
		seen[a.Name] = true
	}
	for name, alts := range e.Args {
		if !seen[name] && !data.Omittable(alts) {
			return false
		}
	}
	return true
}

func hallucinations(offered []data.Tool, calls []data.ToolCall) (bool, int, string) {
	n, reason := 0, ""
	for _, c := range calls {
		why := ""
		var tool *data.Tool
		for i := range offered {
			if offered[i].Name == c.Name {
				tool = &offered[i]
				break
			}
		}
		if tool == nil {
			why = "function " + c.Name + " was not offered"
		} else if params, err := tool.Params(); err == nil && len(tool.Parameters) > 0 {
			known := map[string]bool{}
			for _, p := range params {
				known[p.Name] = true
			}
			args, _ := c.Args()
			for _, a := range args {
				if !known[a.Name] {
					why = "argument " + a.Name + " is not in the schema of " + c.Name
					break
				}
			}
		}
		if why != "" {
			n++
			if reason == "" {
				reason = why
			}
		}
	}
	return n > 0, n, reason
}

func acceptedAny(v any, alts []any) bool {
	for _, alt := range alts {
		if valueMatches(v, alt) {
			return true
		}
	}
	return false
}

// valueMatches compares a predicted value with one accepted value.
func valueMatches(v, alt any) bool {
	switch a := alt.(type) {
	case nil:
		return v == nil
	case bool:
		b, ok := v.(bool)
		return ok && a == b
	case string:
		s, ok := v.(string)
		return ok && normalizeString(s) == normalizeString(a)
	case json.Number, float64, float32, int, int64, int32:
		x, ok1 := toFloat(v)
		y, ok2 := toFloat(a)
		return ok1 && ok2 && (x == y || math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y)))
	case []any:
		l, ok := v.([]any)
		if !ok || len(l) != len(a) {
			return false
		}
		for i := range a {
			if !valueMatches(l[i], a[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k := range m {
			if _, ok := a[k]; !ok {
				return false
			}
		}
		for k, want := range a {
			got, present := m[k]
			alts, isAlts := want.([]any)
			if !isAlts { // a plain nested value, not a list of accepted values
				if !present || !valueMatches(got, want) {
					return false
				}
				continue
			}
			if !present {
				if !data.Omittable(alts) {
					return false
				}
				continue
			}
			if !acceptedAny(got, alts) {
				return false
			}
		}
		return true
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	}
	return 0, false
}

// normalizeString is BFCL's string standardisation: lower case, without spaces and ,./-_*^.
func normalizeString(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if strings.ContainsRune(" ,./-_*^", r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
