package eval

import (
	"regexp"
	"strconv"
	"strings"
)

var numberRE = regexp.MustCompile(`-?\$?\d[\d,]*(?:\.\d+)?|-?\$?\.\d+`)

// ExtractAnswer returns the final number of a GSM8K-style answer: the number after the last
// "####" if there is one, else the last number in the text ("" if none). Thousands separators
// and "$" are dropped ("$1,200.50" → "1200.50").
func ExtractAnswer(text string) string {
	if i := strings.LastIndex(text, "####"); i >= 0 {
		if m := numberRE.FindString(text[i+4:]); m != "" {
			return cleanNumber(m)
		}
	}
	all := numberRE.FindAllString(text, -1)
	if len(all) == 0 {
		return ""
	}
	return cleanNumber(all[len(all)-1])
}

func cleanNumber(s string) string {
	s = strings.NewReplacer(",", "", "$", "").Replace(s)
	return strings.TrimSuffix(s, ".")
}

// SameNumber compares two answers numerically ("18" == "18.00"); non-numbers compare as text.
func SameNumber(a, b string) bool {
	a, b = cleanNumber(strings.TrimSpace(a)), cleanNumber(strings.TrimSpace(b))
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil {
		return a != "" && a == b
	}
	return x == y
}

// GSM8KItem is one generated answer and its reference.
type GSM8KItem struct {
	ID        string `json:"id,omitempty"`
	Output    string `json:"output"`
	Reference string `json:"reference"`
	Extracted string `json:"extracted"`
	Correct   bool   `json:"correct"`
}

// GSM8KReport is the accuracy over items.
type GSM8KReport struct {
	Items     int     `json:"items"`
	Accuracy  float64 `json:"accuracy"`
	NoNumber  float64 `json:"no_number"` // fraction of outputs without any number
	ItemsList []GSM8KItem
}

// ScoreGSM8K extracts each output's final number and compares it with the reference.
func ScoreGSM8K(outputs, references []string) GSM8KReport {
	r := GSM8KReport{Items: len(outputs)}
	for i, out := range outputs {
		it := GSM8KItem{Output: out, Reference: references[i], Extracted: ExtractAnswer(out)}
		it.Correct = it.Extracted != "" && SameNumber(it.Extracted, ExtractAnswer(references[i]))
		r.Accuracy += b2f(it.Correct)
		r.NoNumber += b2f(it.Extracted == "")
		r.ItemsList = append(r.ItemsList, it)
	}
	if r.Items > 0 {
		r.Accuracy /= float64(r.Items)
		r.NoNumber /= float64(r.Items)
	}
	return r
}
