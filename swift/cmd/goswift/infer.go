package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/infer"
)

// inferArgs are the flags of `goswift infer`.
type inferArgs struct {
	model, tokenizer, device string
	adapter                  string
	prompts                  stringList
	images                   stringList
	stops                    stringList
	maxNew                   int
	temperature, topP        float64
	topK                     int
	seed                     uint64
	// Chat mode (chat.go): --template, --system, --messages, --tool-format.
	template, system, messages, toolFormat string
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, "|") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func (a *inferArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.model, "model", "", "model: a Hugging Face directory (config.json, *.safetensors, tokenizer.json) or a llama2.c checkpoint `file`")
	fs.StringVar(&a.adapter, "adapter", "", "adapter `dir` saved by training (adapter_config.json + adapter_model.safetensors)")
	fs.StringVar(&a.tokenizer, "tokenizer", "", "tokenizer `file` (tokenizer.json or llama2.c tokenizer.bin); default: found beside the model")
	fs.StringVar(&a.device, "device", "auto", "auto, cpu or cuda")
	fs.Var(&a.prompts, "prompt", "prompt `text` (repeat for a batch)")
	fs.Var(&a.images, "image", "image `file` (PNG/JPEG) for a vision-language model (repeatable: one per --prompt, or all for a single --prompt); implies chat mode")
	fs.Var(&a.stops, "stop", "stop `string` (repeatable)")
	fs.IntVar(&a.maxNew, "max-new", 64, "maximum new tokens per prompt")
	fs.Float64Var(&a.temperature, "temperature", 0, "sampling temperature; 0 = greedy")
	fs.Float64Var(&a.topP, "top-p", 0, "nucleus sampling probability mass (0 = off)")
	fs.IntVar(&a.topK, "top-k", 0, "sample among the K most likely tokens (0 = off)")
	fs.Uint64Var(&a.seed, "seed", 0, "sampling seed")
	fs.StringVar(&a.template, "template", "", "chat: render each --prompt as a user turn with this template (default: from the model when --system or --messages is given)")
	fs.StringVar(&a.system, "system", "", "chat: system prompt")
	fs.StringVar(&a.messages, "messages", "", "chat: `file` of conversations ({\"messages\": [...], \"tools\": [...]} per line, or one JSON list of messages)")
	fs.StringVar(&a.toolFormat, "tool-format", "", "chat: override the template's tool format")
}

// Run loads the model and prints each prompt followed by its continuation.
func (a *inferArgs) Run(stdout, stderr io.Writer) error {
	if a.model == "" {
		return errors.New("goswift infer: --model is required")
	}
	chat := a.template != "" || a.system != "" || a.messages != "" || len(a.images) > 0
	if len(a.prompts) == 0 && a.messages == "" {
		return errors.New("goswift infer: --prompt is required")
	}
	if a.maxNew <= 0 {
		return errors.Errorf("goswift infer: --max-new must be positive, got %d", a.maxNew)
	}
	m, err := swift.Load(a.model, swift.LoadOptions{Tokenizer: a.tokenizer, Device: a.device})
	if err != nil {
		return err
	}
	if a.adapter != "" {
		if _, err := m.LoadAdapter(a.adapter); err != nil {
			return err
		}
	}
	if m.Tokenizer == nil {
		return errors.Errorf("goswift infer: no tokenizer found beside %s: pass --tokenizer", a.model)
	}
	opts := infer.Options{
		MaxNewTokens: a.maxNew,
		StopStrings:  a.stops,
		Sampling:     infer.Sampling{Temperature: a.temperature, TopP: a.topP, TopK: a.topK, Seed: a.seed},
	}
	if chat {
		return a.chat(stdout, stderr, m, opts)
	}
	start := time.Now()
	results, err := m.Generate(a.prompts, opts)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	total := 0
	for i, r := range results {
		fmt.Fprintln(stdout, a.prompts[i]+r.Text)
		total += len(r.Tokens)
	}
	fmt.Fprintf(stderr, "[%d tokens in %.2fs, %.1f tokens/s; %s]\n", total, elapsed.Seconds(),
		float64(total)/elapsed.Seconds(), m.Device.Reason)
	return nil
}
