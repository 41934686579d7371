package templates

import (
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/tokenizers"
)

// Encode tokenizes rendered parts into an example: ids and the loss weight of each id.
//
// Consecutive text parts are encoded together, as one string, so the tokens are exactly those
// of the rendered text (the first run with the tokenizer's special tokens, e.g. BOS; special
// parts become their ids). Each token takes the weight of the part it starts in: the boundary
// between parts is found by encoding the text up to it and taking the common prefix with the
// whole run, so a generation prompt (the text up to the assistant header) encodes to a prefix of
// the training sequence. Templates end their headers with a character that does not merge with
// what follows (a newline, a colon, a special token), which keeps boundaries on token edges.
func Encode(tok tokenizers.Tokenizer, parts []Part) (data.Example, error) {
	var ex data.Example
	first := true
	for i := 0; i < len(parts); {
		p := parts[i]
		if p.Special == Image {
			for range p.Repeat {
				ex.IDs = append(ex.IDs, int32(p.Token))
				ex.Weights = append(ex.Weights, 0)
			}
			i++
			continue
		}
		if p.Special != NoSpecial {
			id := tok.BOS()
			if p.Special == EOS {
				id = tok.EOS()
			}
			if id < 0 {
				if p.Special == BOS {
					i++
					continue // a tokenizer without BOS simply has none
				}
				return ex, errors.New("encode: the template ends turns with EOS but the tokenizer has none")
			}
			first = false // an explicit BOS replaces the tokenizer's
			ex.IDs = append(ex.IDs, int32(id))
			ex.Weights = append(ex.Weights, p.Weight)
			i++
			continue
		}
		j := i
		var text strings.Builder
		var ends []int // byte offset where each part of the run ends
		for ; j < len(parts) && parts[j].Special == NoSpecial; j++ {
			text.WriteString(parts[j].Text)
			ends = append(ends, text.Len())
		}
		run := text.String()
		enc := tok.Encode
		if first {
			enc = func(s string) []int { return tokenizers.EncodeWithSpecial(tok, s) }
			first = false
		}
		ids := enc(run)
		// starts[k]: the index of the first token of part i+k.
		starts := make([]int, len(ends)+1)
		for k := 0; k+1 < len(ends); k++ {
			starts[k+1] = max(starts[k], commonPrefix(enc(run[:ends[k]]), ids))
		}
		starts[len(ends)] = len(ids)
		for k := range ends {
			for t := starts[k]; t < starts[k+1]; t++ {
				ex.IDs = append(ex.IDs, int32(ids[t]))
				ex.Weights = append(ex.Weights, parts[i+k].Weight)
			}
		}
		i = j
	}
	for _, id := range ex.IDs {
		if id < 0 || int(id) >= tok.VocabSize() {
			return ex, errors.Errorf("encode: token id %d outside the tokenizer's vocabulary", id)
		}
	}
	return ex, nil
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// EncodeSample renders a sample with the template and encodes it.
func EncodeSample(t Template, tok tokenizers.Tokenizer, s data.Sample, opts Options) (data.Example, error) {
	parts, err := render(t, s, opts)
	if err != nil {
		return data.Example{}, err
	}
	return Encode(tok, parts)
}

// render renders s, turning image tags into Image parts when opts.Image asks for it.
func render(t Template, s data.Sample, opts Options) ([]Part, error) {
	if opts.Image.PerImage > 0 {
		s = s.WithImageTags()
	}
	parts, err := t.Render(s, opts)
	if err != nil || opts.Image.PerImage <= 0 {
		return parts, err
	}
	return SplitImages(parts, opts.Image, len(s.Images))
}

// SplitImages replaces each data.ImageTag inside text parts by an Image part of img.PerImage
// placeholder tokens, checking that there are as many tags as images.
func SplitImages(parts []Part, img ImageTokens, images int) ([]Part, error) {
	var out []Part
	tags := 0
	for _, p := range parts {
		if p.Special != NoSpecial || !strings.Contains(p.Text, data.ImageTag) {
			out = append(out, p)
			continue
		}
		pieces := strings.Split(p.Text, data.ImageTag)
		for k, piece := range pieces {
			if k > 0 {
				out = append(out, Part{Special: Image, Token: img.TokenID, Repeat: img.PerImage, Role: p.Role})
				tags++
			}
			if piece != "" {
				q := p
				q.Text = piece
				out = append(out, q)
			}
		}
	}
	if tags != images {
		return nil, errors.Errorf("render: %d %s tags but %d images", tags, data.ImageTag, images)
	}
	return out, nil
}

// PromptSample returns the conversation the model is asked to continue for evaluation: the
// sample's messages up to (not including) its last assistant turn.
func PromptSample(s data.Sample) data.Sample {
	p := s
	msgs := s.Messages
	for len(msgs) > 0 && msgs[len(msgs)-1].Role == data.RoleAssistant {
		msgs = msgs[:len(msgs)-1]
	}
	p.Messages = msgs
	return p
}

// EncodePrompt renders the generation prompt of a sample (its messages up to the last assistant
// turn, then the assistant header) and encodes it.
func EncodePrompt(t Template, tok tokenizers.Tokenizer, s data.Sample, opts Options) ([]int, error) {
	opts.GenerationPrompt = true
	parts, err := render(t, PromptSample(s), opts)
	if err != nil {
		return nil, err
	}
	ex, err := Encode(tok, parts)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(ex.IDs))
	for i, id := range ex.IDs {
		ids[i] = int(id)
	}
	return ids, nil
}

// EncodeSamples encodes many samples for training, naming the sample at fault on error.
func EncodeSamples(t Template, tok tokenizers.Tokenizer, samples []data.Sample, opts Options) ([]data.Example, error) {
	out := make([]data.Example, len(samples))
	for i, s := range samples {
		ex, err := EncodeSample(t, tok, s, opts)
		if err != nil {
			where := s.Source
			if where == "" {
				where = "sample " + s.ID
			}
			return nil, errors.WithMessagef(err, "%s", where)
		}
		out[i] = ex
	}
	return out, nil
}
