package eval

import (
	"strings"
	"testing"

	"github.com/goswift/goswift/swift/data"
)

func TestNormalizeAnswer(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sneaker", "sneaker"}, {" A Sneaker.", "sneaker"}, {"the  ankle   boot!", "ankle boot"},
		{"an apple?", "apple"}, {"T-shirt\n", "t-shirt"}, {"", ""},
	} {
		if got := NormalizeAnswer(tc.in); got != tc.want {
			t.Errorf("NormalizeAnswer(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScoreVQA(t *testing.T) {
	qa := func(answer string) data.Sample {
		return data.Sample{Messages: []data.Message{{Role: data.RoleUser, Content: "<image>What is in this picture?"},
			{Role: data.RoleAssistant, Content: answer}}, Images: []string{"x.png"}}
	}
	samples := []data.Sample{qa("bag"), qa("bag"), qa("coat"), qa("ankle boot")}
	rep, items, err := ScoreVQA(samples, []string{" bag", "coat", "Coat.", "ankle boot"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.N != 4 || rep.Correct != 3 || rep.Accuracy != 0.75 || rep.PerAnswer["bag"] != 0.5 || rep.PerAnswer["coat"] != 1 {
		t.Fatalf("report %+v", rep)
	}
	if items[1].Correct || !items[2].Correct {
		t.Fatalf("items %+v", items)
	}
	if !strings.Contains(rep.String(), "3/4 = 75.0%") {
		t.Fatalf("String() = %q", rep.String())
	}
	if _, _, err := ScoreVQA(samples, []string{"x"}); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
	noRef := []data.Sample{{Messages: []data.Message{{Role: data.RoleUser, Content: "q"}}, Source: "f.jsonl:3"}}
	if _, _, err := ScoreVQA(noRef, []string{"a"}); err == nil || !strings.Contains(err.Error(), "f.jsonl:3") {
		t.Fatalf("no reference: error %v, want the source named", err)
	}
}
