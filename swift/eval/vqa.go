package eval

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
)

// imageBatch loads the images of samples[idx...] into one [B, K, C, H, W] batch.
func (c *Chat) imageBatch(samples []data.Sample, idx []int) (*data.ImageBatch, error) {
	per := make([][]data.Image, len(idx))
	for j, i := range idx {
		ims, err := c.Images(samples[i])
		if err != nil {
			return nil, errors.WithMessagef(err, "eval: images of %s", name(samples[i], i))
		}
		per[j] = ims
	}
	ib, err := data.StackImages(per)
	return ib, errors.WithMessagef(err, "eval: images of the batch starting at %s", name(samples[idx[0]], idx[0]))
}

// VQAItem is one visual question's outcome.
type VQAItem struct {
	ID, Source string
	Reference  string // the reference answer (the sample's last assistant turn)
	Output     string // the model's reply
	Correct    bool
}

// VQAReport is exact-match accuracy on visual questions, overall and per reference answer.
type VQAReport struct {
	N, Correct int
	Accuracy   float64
	// PerAnswer maps each reference answer to its accuracy.
	PerAnswer map[string]float64
}

// String renders the report with the per-answer accuracies, sorted by answer.
func (r VQAReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "VQA exact match: %d/%d = %.1f%%", r.Correct, r.N, 100*r.Accuracy)
	answers := make([]string, 0, len(r.PerAnswer))
	for a := range r.PerAnswer {
		answers = append(answers, a)
	}
	sort.Strings(answers)
	for _, a := range answers {
		fmt.Fprintf(&b, "\n  %-16s %.1f%%", a, 100*r.PerAnswer[a])
	}
	return b.String()
}

// NormalizeAnswer lowercases, trims spaces and trailing punctuation, and drops a leading
// article, so "A sneaker." matches "sneaker" (the VQA convention, simplified).
func NormalizeAnswer(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimRight(s, ".!? \n")
	for _, art := range []string{"a ", "an ", "the "} {
		s = strings.TrimPrefix(s, art)
	}
	return strings.Join(strings.Fields(s), " ")
}

// ScoreVQA compares replies with references by NormalizeAnswer equality.
func ScoreVQA(samples []data.Sample, outputs []string) (VQAReport, []VQAItem, error) {
	if len(samples) != len(outputs) {
		return VQAReport{}, nil, errors.Errorf("eval: %d samples but %d outputs", len(samples), len(outputs))
	}
	r := VQAReport{PerAnswer: map[string]float64{}}
	counts := map[string][2]int{}
	items := make([]VQAItem, len(samples))
	for i, s := range samples {
		ref := ""
		if n := len(s.Messages); n > 0 && s.Messages[n-1].Role == data.RoleAssistant {
			ref = s.Messages[n-1].Content
		}
		if ref == "" {
			return VQAReport{}, nil, errors.Errorf("eval: %s has no reference answer (a last assistant turn)", name(s, i))
		}
		ok := NormalizeAnswer(outputs[i]) == NormalizeAnswer(ref)
		items[i] = VQAItem{ID: s.ID, Source: s.Source, Reference: ref, Output: outputs[i], Correct: ok}
		key := NormalizeAnswer(ref)
		c := counts[key]
		c[1]++
		if ok {
			c[0]++
			r.Correct++
		}
		counts[key] = c
		r.N++
	}
	if r.N > 0 {
		r.Accuracy = float64(r.Correct) / float64(r.N)
	}
	for a, c := range counts {
		r.PerAnswer[a] = float64(c[0]) / float64(c[1])
	}
	return r, items, nil
}

// VQA generates each sample's answer from its images and question and scores exact match.
func (c *Chat) VQA(samples []data.Sample) (VQAReport, []VQAItem, error) {
	if c.Images == nil {
		return VQAReport{}, nil, errors.New("eval: VQA needs Chat.Images (an image loader) and a vision-language model")
	}
	outs, err := c.Replies(samples)
	if err != nil {
		return VQAReport{}, nil, err
	}
	return ScoreVQA(samples, outs)
}
