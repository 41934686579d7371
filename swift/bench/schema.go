package bench

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// ResultSchema is the JSON Schema (draft 2020-12) of one results.jsonl line.
//
//go:embed result.schema.json
var ResultSchema []byte

// ValidateResult checks one results.jsonl line against ResultSchema and returns every
// violation (nil when the line is valid). The validator implements the keywords the schema
// uses: type, const, enum, required, properties, additionalProperties (false), items,
// minItems, minLength, minimum, maximum, exclusiveMinimum, format (date-time), allOf and
// if/then.
func ValidateResult(line []byte) []error {
	var schema map[string]any
	if err := json.Unmarshal(ResultSchema, &schema); err != nil {
		return []error{errors.Wrap(err, "result.schema.json")}
	}
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []error{errors.Wrap(err, "not JSON")}
	}
	var errs []error
	validate(schema, v, "$", &errs)
	return errs
}

func validate(schema map[string]any, v any, path string, errs *[]error) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, errors.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if t, ok := schema["type"]; ok && !typeMatches(t, v) {
		fail("type %s, want %v", typeName(v), t)
		return
	}
	if c, ok := schema["const"]; ok && !equalJSON(c, v) {
		fail("%v, want %v", v, c)
	}
	if e, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return equalJSON(x, v) }) {
		fail("%v is not one of %v", v, e)
	}
	switch x := v.(type) {
	case string:
		if n, ok := num(schema["minLength"]); ok && float64(len(x)) < n {
			fail("string %q shorter than %g", x, n)
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				fail("%q is not an RFC 3339 date-time", x)
			}
		}
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			fail("%s is not a finite number", x)
			return
		}
		if n, ok := num(schema["minimum"]); ok && f < n {
			fail("%g < minimum %g", f, n)
		}
		if n, ok := num(schema["maximum"]); ok && f > n {
			fail("%g > maximum %g", f, n)
		}
		if n, ok := num(schema["exclusiveMinimum"]); ok && f <= n {
			fail("%g must be > %g", f, n)
		}
	case []any:
		if n, ok := num(schema["minItems"]); ok && float64(len(x)) < n {
			fail("%d items, want at least %g", len(x), n)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, it := range x {
				validate(items, it, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	case map[string]any:
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, present := x[r.(string)]; !present {
					fail("missing field %q", r)
				}
			}
		}
		props, _ := schema["properties"].(map[string]any)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				validate(ps, x[k], path+"."+k, errs)
			} else if schema["additionalProperties"] == false {
				fail("unexpected field %q", k)
			}
		}
	}
	if all, ok := schema["allOf"].([]any); ok {
		for _, s := range all {
			sub := s.(map[string]any)
			if cond, ok := sub["if"].(map[string]any); ok {
				var condErrs []error
				validate(cond, v, path, &condErrs)
				if len(condErrs) > 0 {
					continue
				}
				if then, ok := sub["then"].(map[string]any); ok {
					validate(then, v, path, errs)
				}
				continue
			}
			validate(sub, v, path, errs)
		}
	}
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func typeMatches(t, v any) bool {
	var types []string
	switch x := t.(type) {
	case string:
		types = []string{x}
	case []any:
		for _, s := range x {
			types = append(types, s.(string))
		}
	}
	got := typeName(v)
	for _, want := range types {
		if want == got || (want == "number" && got == "integer") {
			return true
		}
	}
	return false
}

// equalJSON compares a schema value (decoded as float64) with a document value (json.Number).
func equalJSON(schemaV, v any) bool {
	if n, ok := v.(json.Number); ok {
		f, err := n.Float64()
		sf, ok2 := schemaV.(float64)
		return err == nil && ok2 && f == sf
	}
	return fmt.Sprint(schemaV) == fmt.Sprint(v)
}
