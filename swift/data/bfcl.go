package data

import (
	"encoding/json"

	"github.com/pkg/errors"
)

func parseBFCL(rec map[string]json.RawMessage) (Sample, error) {
	var s Sample
	if err := field(rec, "id", &s.ID, false); err != nil {
		return s, err
	}
	var turns [][]rawMessage
	if err := field(rec, "question", &turns, true); err != nil {
		return s, err
	}
	for _, turn := range turns {
		msgs, err := toMessages(turn)
		if err != nil {
			return s, err
		}
		s.Messages = append(s.Messages, msgs...)
	}
	var err error
	if s.Tools, err = parseTools(rec["function"]); err != nil {
		return s, err
	}
	if gt, ok := rec["ground_truth"]; ok {
		if s.Expected, err = ParseGroundTruth(gt); err != nil {
			return s, err
		}
		if err := s.AddExpectedAnswer(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// ParseGroundTruth decodes BFCL's [{"function": {"arg": [accepted values]}}].
func ParseGroundTruth(raw json.RawMessage) ([]ExpectedCall, error) {
	var calls []json.RawMessage
	if err := json.Unmarshal(raw, &calls); err != nil {
		return nil, errors.Wrap(err, "ground_truth must be a list")
	}
	out := make([]ExpectedCall, 0, len(calls))
	for i, c := range calls {
		kvs, err := OrderedObject(c)
		if err != nil {
			return nil, errors.WithMessagef(err, "ground_truth[%d]", i)
		}
		for _, kv := range kvs {
			if kv.Key == "" {
				return nil, errors.Errorf("ground_truth[%d]: empty function name", i)
			}
			v, err := DecodeJSON(kv.Value)
			if err != nil {
				return nil, errors.WithMessagef(err, "ground_truth[%d] %s", i, kv.Key)
			}
			args, ok := v.(map[string]any)
			if !ok {
				return nil, errors.Errorf("ground_truth[%d] %s: arguments must be an object", i, kv.Key)
			}
			e := ExpectedCall{Name: kv.Key, Args: map[string][]any{}}
			for name, alts := range args {
				l, ok := alts.([]any)
				if !ok {
					return nil, errors.Errorf("ground_truth[%d] %s.%s: accepted values must be a list", i, kv.Key, name)
				}
				e.Args[name] = l
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// AddExpectedAnswer appends, when the sample ends without an assistant turn, an assistant turn
// calling the expected functions with their first accepted value of every argument that may
// not be omitted (in the tool schema's order): a BFCL item becomes a training example.
func (s *Sample) AddExpectedAnswer() error {
	if len(s.Expected) == 0 || (len(s.Messages) > 0 && s.Messages[len(s.Messages)-1].Role == RoleAssistant) {
		return nil
	}
	var calls []ToolCall
	for _, e := range s.Expected {
		order := e.ArgNames()
		for _, t := range s.Tools {
			if t.Name == e.Name {
				if ps, err := t.Params(); err == nil && len(ps) > 0 {
					order = order[:0]
					for _, p := range ps {
						if _, ok := e.Args[p.Name]; ok {
							order = append(order, p.Name)
						}
					}
				}
			}
		}
		var args []Arg
		for _, name := range order {
			alts := e.Args[name]
			if len(alts) == 0 || Omittable(alts) {
				continue
			}
			args = append(args, Arg{name, FirstAccepted(alts[0])})
		}
		c, err := NewToolCall(e.Name, args)
		if err != nil {
			return err
		}
		calls = append(calls, c)
	}
	s.Messages = append(s.Messages, Message{Role: RoleAssistant, ToolCalls: calls})
	return nil
}

// Omittable reports whether accepted values include "" (the argument may be left out).
func Omittable(alts []any) bool {
	for _, a := range alts {
		if s, ok := a.(string); ok && s == "" {
			return true
		}
	}
	return false
}

// FirstAccepted turns an accepted value into a concrete one: nested objects of accepted-value
// lists take their first values.
func FirstAccepted(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, alts := range m {
		if l, ok := alts.([]any); ok {
			if len(l) > 0 && !Omittable(l) {
				out[k] = FirstAccepted(l[0])
			}
			continue
		}
		out[k] = alts
	}
	return out
}

// extras reads the evaluation references a conversation record may carry: "expected" (as
// WriteJSONL writes it), BFCL's "ground_truth", and "answer".
func extras(rec map[string]json.RawMessage, format Format, s *Sample) error {
	if format != FormatMessages && format != FormatShareGPT {
		return nil
	}
	if err := parseImages(rec, s); err != nil {
		return err
	}
	if raw, ok := rec["expected"]; ok && string(raw) != "null" {
		v, err := DecodeJSON(raw)
		if err != nil {
			return errors.WithMessage(err, "expected")
		}
		list, ok := v.([]any)
		if !ok {
			return errors.New("expected must be a list of {name, args}")
		}
		for i, item := range list {
			m, _ := item.(map[string]any)
			name, _ := m["name"].(string)
			args, _ := m["args"].(map[string]any)
			if name == "" {
				return errors.Errorf("expected[%d] has no name", i)
			}
			e := ExpectedCall{Name: name, Args: map[string][]any{}}
			for k, alts := range args {
				l, ok := alts.([]any)
				if !ok {
					return errors.Errorf("expected[%d].args.%s: accepted values must be a list", i, k)
				}
				e.Args[k] = l
			}
			s.Expected = append(s.Expected, e)
		}
	} else if raw, ok := rec["ground_truth"]; ok {
		var err error
		if s.Expected, err = ParseGroundTruth(raw); err != nil {
			return err
		}
	}
	return field(rec, "answer", &s.Answer, false)
}
