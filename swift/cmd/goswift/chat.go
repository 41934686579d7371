package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/templates"
	"github.com/goswift/goswift/swift/infer"
)

// readConversations reads --messages: a dataset file (one conversation per record, any format
// ReadFile takes) or a single JSON list of messages.
func readConversations(path string) ([]data.Sample, error) {
	samples, _, err := data.ReadFile(path, data.ReadOptions{})
	if err == nil {
		return samples, nil
	}
	raw, rerr := os.ReadFile(path)
	if rerr != nil {
		return nil, errors.Wrap(rerr, "--messages")
	}
	s, _, perr := data.ParseRecord(append(append([]byte(`{"messages": `), raw...), '}'), data.FormatMessages)
	if perr != nil {
		return nil, errors.WithMessage(err, "--messages") // the dataset reader's error names file:line
	}
	return []data.Sample{s}, nil
}

// chat renders each conversation (from --messages, then each --prompt as a user turn) with the
// template, generates the assistant's reply (stopping at EOS or the end-of-turn string) and
// prints it, with the tool calls it parses to.
func (a *inferArgs) chat(stdout, stderr io.Writer, m *swift.Model, opts infer.Options) error {
	var convs []data.Sample
	if a.messages != "" {
		var err error
		if convs, err = readConversations(a.messages); err != nil {
			return err
		}
	}
	switch {
	case len(a.images) == 0:
	case len(a.prompts) == len(a.images) || len(a.prompts) == 1:
	default:
		return errors.Errorf("goswift infer: %d --image for %d --prompt: give one per prompt, or one prompt for all", len(a.images), len(a.prompts))
	}
	for i, p := range a.prompts {
		s := data.Sample{Messages: []data.Message{{Role: data.RoleUser, Content: p}}, Source: fmt.Sprintf("--prompt %d", i+1)}
		switch {
		case len(a.images) == 0:
		case len(a.prompts) == 1:
			s.Images = a.images
		default:
			s.Images = []string{a.images[i]}
		}
		if n := s.ImageTags(); n > 0 && n != len(s.Images) {
			return errors.Errorf("goswift infer: --prompt %d has %d %s tags but %d images", i+1, n, data.ImageTag, len(s.Images))
		}
		convs = append(convs, s)
	}
	ca := chatArgs{Template: a.template, ToolFormat: a.toolFormat, System: a.system}
	tmpl, topts, err := ca.template(m, "")
	if err != nil {
		return err
	}
	topts.Image = m.ImageTokens()
	if opts.Images, err = m.ImageBatch(convs); err != nil {
		return errors.WithMessage(err, "goswift infer")
	}
	prompts := make([][]int, len(convs))
	for i, s := range convs {
		if prompts[i], err = templates.EncodePrompt(tmpl, m.Tokenizer, s, topts); err != nil {
			return errors.WithMessagef(err, "goswift infer: conversation %d", i+1)
		}
	}
	opts.StopStrings = append(opts.StopStrings, tmpl.Stop(topts)...)
	opts.Decoder = m.Tokenizer
	start := time.Now()
	results, err := m.Generator().Generate(prompts, opts)
	if err != nil {
		return err
	}
	total := 0
	for i, r := range results {
		if len(results) > 1 {
			fmt.Fprintf(stdout, "=== conversation %d\n", i+1)
		}
		fmt.Fprintln(stdout, r.Text)
		if _, calls, perr := tmpl.ParseReply(r.Text, topts); len(calls) > 0 || (perr != nil && len(convs[i].Tools) > 0) {
			js, _ := json.Marshal(calls)
			fmt.Fprintf(stdout, "tool_calls: %s\n", js)
			if perr != nil {
				fmt.Fprintf(stdout, "tool_calls parse error: %v\n", perr)
			}
		}
		total += len(r.Tokens)
	}
	fmt.Fprintf(stderr, "[template %s; %d tokens in %.2fs; %s]\n", tmpl.Name(), total, time.Since(start).Seconds(), m.Device.Reason)
	return nil
}
