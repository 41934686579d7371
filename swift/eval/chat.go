package eval

import (
	"sort"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/templates"
	"github.com/goswift/goswift/swift/infer"
	"github.com/goswift/goswift/swift/tokenizers"
)

// Generator is batched generation from token ids (infer.Generator).
type Generator interface {
	Generate(prompts [][]int, opts infer.Options) ([]infer.Result, error)
}

// Chat asks a model to continue conversations with a template: the generation-based
// evaluations (tool calls, GSM8K) run on it.
type Chat struct {
	Gen       Generator
	Tokenizer tokenizers.Tokenizer
	Template  templates.Template
	Options   templates.Options
	// BatchSize prompts are generated together (16); prompts are grouped by length.
	BatchSize int
	// MaxNewTokens bounds each reply (128).
	MaxNewTokens int
	// Sampling defaults to greedy.
	Sampling infer.Sampling
	// Progress, if set, is called after each batch.
	Progress func(done, total int)
	// Images loads a sample's images for a vision-language model (nil: text only); Options.Image
	// must then say how an image appears in the tokens.
	Images func(s data.Sample) ([]data.Image, error)
}

// Replies generates the assistant reply to each sample's prompt (its messages up to the last
// assistant turn), stopping at EOS or the template's end-of-turn strings.
func (c *Chat) Replies(samples []data.Sample) ([]string, error) {
	if c.Gen == nil || c.Tokenizer == nil || c.Template == nil {
		return nil, errors.New("eval: Chat needs a generator, a tokenizer and a template")
	}
	bs, maxNew := c.BatchSize, c.MaxNewTokens
	if bs <= 0 {
		bs = 16
	}
	if maxNew <= 0 {
		maxNew = 128
	}
	prompts := make([][]int, len(samples))
	order := make([]int, len(samples))
	for i, s := range samples {
		ids, err := templates.EncodePrompt(c.Template, c.Tokenizer, s, c.Options)
		if err != nil {
			return nil, errors.WithMessagef(err, "eval: prompt of %s", name(s, i))
		}
		prompts[i], order[i] = ids, i
	}
	// Alike lengths together: less padding, fewer distinct shapes.
	sort.SliceStable(order, func(a, b int) bool { return len(prompts[order[a]]) < len(prompts[order[b]]) })
	out := make([]string, len(samples))
	opts := infer.Options{MaxNewTokens: maxNew, StopStrings: c.Template.Stop(c.Options), Decoder: c.Tokenizer, Sampling: c.Sampling}
	for start := 0; start < len(order); start += bs {
		idx := order[start:min(start+bs, len(order))]
		batch := make([][]int, len(idx))
		for k, i := range idx {
			batch[k] = prompts[i]
		}
		opts.Images = nil
		if c.Images != nil {
			ib, err := c.imageBatch(samples, idx)
			if err != nil {
				return nil, err
			}
			opts.Images = ib
		}
		res, err := c.Gen.Generate(batch, opts)
		if err != nil {
			return nil, errors.WithMessagef(err, "eval: generating for %s", name(samples[idx[0]], idx[0]))
		}
		for k, i := range idx {
			out[i] = res[k].Text
		}
		if c.Progress != nil {
			c.Progress(start+len(idx), len(order))
		}
	}
	return out, nil
}

func name(s data.Sample, i int) string {
	switch {
	case s.Source != "":
		return s.Source
	case s.ID != "":
		return s.ID
	}
	return "sample " + itoa(i)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// ToolCalls generates replies to tool-calling samples (each with Tools and Expected calls),
// parses them with the template's tool format and scores them (ScoreToolCalls).
func (c *Chat) ToolCalls(samples []data.Sample) (ToolCallReport, []ToolCallItem, error) {
	for i, s := range samples {
		if len(s.Expected) == 0 {
			return ToolCallReport{}, nil, errors.Errorf("eval: %s has no expected calls (ground truth)", name(s, i))
		}
	}
	replies, err := c.Replies(samples)
	if err != nil {
		return ToolCallReport{}, nil, err
	}
	items := make([]ToolCallItem, len(samples))
	for i, s := range samples {
		_, calls, perr := c.Template.ParseReply(replies[i], c.Options)
		items[i] = ToolCallItem{ID: s.ID, Offered: s.Tools, Expected: s.Expected, Predicted: calls, Output: replies[i]}
		if perr != nil {
			items[i].ParseError = perr.Error()
		}
	}
	return ScoreToolCalls(items), items, nil
}

// GSM8K generates answers to math questions (samples with Answer set) and scores the final
// numbers.
func (c *Chat) GSM8K(samples []data.Sample) (GSM8KReport, error) {
	refs := make([]string, len(samples))
	for i, s := range samples {
		if s.Answer == "" {
			return GSM8KReport{}, errors.Errorf("eval: %s has no reference answer", name(s, i))
		}
		refs[i] = s.Answer
	}
	replies, err := c.Replies(samples)
	if err != nil {
		return GSM8KReport{}, err
	}
	r := ScoreGSM8K(replies, refs)
	for i := range r.ItemsList {
		r.ItemsList[i].ID = samples[i].ID
	}
	return r, nil
}
