package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/eval"
)

// evalArgs are the flags of `goswift eval`.
type evalArgs struct {
	chatArgs
	model, tokenizer, device, adapter string
	task, dataset, output             string
	maxLength, batchSize, maxNew      int
	show                              int
}

func (a *evalArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.model, "model", "", "model: Hugging Face `dir` or llama2.c checkpoint")
	fs.StringVar(&a.tokenizer, "tokenizer", "", "tokenizer `file` (default: found beside the model)")
	fs.StringVar(&a.device, "device", "auto", "auto, cpu or cuda")
	fs.StringVar(&a.adapter, "adapter", "", "adapter `dir` saved by training")
	fs.StringVar(&a.task, "task", "", "ppl (perplexity of the assistant turns), gsm8k (final-number accuracy), toolcall (Act.EM, Call.EM, argument F1, hallucination) or vqa (exact-match answers about each record's images: a vision-language model)")
	fs.StringVar(&a.dataset, "dataset", "", "evaluation `files`, comma-separated (toolcall: BFCL questions with the answer file beside them, or records with \"expected\")")
	fs.StringVar(&a.output, "output", "", "write the result as JSON to this `file`")
	a.chatArgs.flags(fs)
	fs.IntVar(&a.maxLength, "max-length", 512, "ppl: tokens per example (longer ones are dropped)")
	fs.IntVar(&a.batchSize, "batch-size", 16, "examples (ppl) or prompts (generation) per batch")
	fs.IntVar(&a.maxNew, "max-new", 128, "gsm8k/toolcall: maximum new tokens per reply")
	fs.IntVar(&a.show, "show", 3, "print the first N predictions")
}

// evalResult is the JSON written to --output.
type evalResult struct {
	Task     string    `json:"task"`
	Model    string    `json:"model"`
	Adapter  string    `json:"adapter,omitempty"`
	Dataset  string    `json:"dataset"`
	Template string    `json:"template"`
	Items    int       `json:"items"`
	Metrics  any       `json:"metrics"`
	Details  any       `json:"predictions,omitempty"`
	Seconds  float64   `json:"seconds"`
	Time     time.Time `json:"time"`
}

// Run evaluates and prints the metrics (and writes --output).
func (a *evalArgs) Run(stdout, stderr io.Writer) error {
	switch {
	case a.model == "":
		return errors.New("goswift eval: --model is required")
	case a.dataset == "":
		return errors.New("goswift eval: --dataset is required")
	case a.task != "ppl" && a.task != "gsm8k" && a.task != "toolcall" && a.task != "vqa":
		return errors.Errorf("goswift eval: --task must be ppl, gsm8k, toolcall or vqa, got %q", a.task)
	case a.batchSize <= 0 || a.maxNew <= 0 || a.maxLength < 2:
		return errors.New("goswift eval: --batch-size, --max-new and --max-length must be positive")
	}
	samples, err := a.read(stdout, a.dataset, "--dataset")
	if err != nil {
		return err
	}
	m, err := swift.Load(a.model, swift.LoadOptions{Tokenizer: a.tokenizer, Device: a.device})
	if err != nil {
		return err
	}
	if m.Tokenizer == nil {
		return errors.Errorf("goswift eval: no tokenizer found beside %s: pass --tokenizer", a.model)
	}
	if a.adapter != "" {
		if _, err := m.LoadAdapter(a.adapter); err != nil {
			return err
		}
	}
	tmpl, opts, err := a.template(m, "")
	if err != nil {
		return err
	}
	res := evalResult{Task: a.task, Model: a.model, Adapter: a.adapter, Dataset: a.dataset, Template: tmpl.Name(),
		Items: len(samples), Time: time.Now().UTC()}
	start := time.Now()
	opts.Image = m.ImageTokens()
	chat := &eval.Chat{Gen: m.Generator(), Tokenizer: m.Tokenizer, Template: tmpl, Options: opts,
		BatchSize: a.batchSize, MaxNewTokens: a.maxNew}
	if m.VLM != nil {
		chat.Images = m.LoadImages
	}
	switch a.task {
	case "ppl":
		exs, err := m.EncodeSamples(tmpl, m.Tokenizer, samples, opts)
		if err != nil {
			return errors.WithMessage(err, "goswift eval: --dataset")
		}
		ds, err := data.NewSFTDataset(exs[:1], exs, data.SFTConfig{BatchSize: a.batchSize, MaxLength: a.maxLength})
		if err != nil {
			return errors.WithMessage(err, "goswift eval")
		}
		batches, err := ds.EvalBatches()
		if err != nil {
			return err
		}
		ppl, err := eval.Perplexity(m.Backend, m.Ctx, m.Arch, batches)
		if err != nil {
			return err
		}
		res.Metrics, res.Items = ppl, ds.NumEval()
		fmt.Fprintf(stdout, "perplexity %.4f (loss %.4f over %d tokens of %d examples)\n", ppl.Perplexity, ppl.Loss, ppl.Tokens, ds.NumEval())
	case "gsm8k":
		r, err := chat.GSM8K(samples)
		if err != nil {
			return err
		}
		res.Metrics, res.Details = map[string]float64{"accuracy": r.Accuracy, "no_number": r.NoNumber}, r.ItemsList
		for i := 0; i < min(a.show, len(r.ItemsList)); i++ {
			it := r.ItemsList[i]
			fmt.Fprintf(stdout, "[%s] %q -> %q (reference %s)\n", it.ID, it.Output, it.Extracted, it.Reference)
		}
		fmt.Fprintf(stdout, "gsm8k accuracy %.2f%% on %d items (%.0f%% without a number)\n", 100*r.Accuracy, r.Items, 100*r.NoNumber)
	case "vqa":
		if m.VLM == nil {
			return errors.Errorf("goswift eval: --task vqa needs a vision-language model; %s is a text model", a.model)
		}
		r, items, err := chat.VQA(samples)
		if err != nil {
			return err
		}
		res.Metrics, res.Details = r, items
		for i := 0; i < min(a.show, len(items)); i++ {
			fmt.Fprintf(stdout, "[%s] %q (reference %q) correct=%v\n", items[i].Source, items[i].Output, items[i].Reference, items[i].Correct)
		}
		fmt.Fprintln(stdout, r)
	case "toolcall":
		r, items, err := chat.ToolCalls(samples)
		if err != nil {
			return err
		}
		res.Metrics, res.Details = r, items
		for i := 0; i < min(a.show, len(items)); i++ {
			fmt.Fprintf(stdout, "[%s] %q act_em=%v call_em=%v\n", items[i].ID, items[i].Output, r.Scores[i].ActEM, r.Scores[i].CallEM)
		}
		fmt.Fprintf(stdout, "toolcall on %d items: Act.EM %.2f%%, Call.EM %.2f%%, argument F1 %.2f%%, hallucination %.2f%%, "+
			"parse failures %.2f%%, no call %.2f%%\n", r.Items, 100*r.ActEM, 100*r.CallEM, 100*r.ArgF1, 100*r.Hallucination,
			100*r.ParseFailures, 100*r.NoCall)
	}
	res.Seconds = time.Since(start).Seconds()
	if a.output == "" {
		return nil
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return errors.Wrap(err, "goswift eval: encoding the result")
	}
	if dir := filepath.Dir(a.output); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return errors.Wrapf(err, "--output %s", a.output)
		}
	}
	return errors.Wrapf(atomicfile.WriteBytes(a.output, append(js, '\n')), "--output %s", a.output)
}
