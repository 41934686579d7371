package infer

import (
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
)

// Decoder turns token ids into text (a tokenizer); it is needed for stop strings.
type Decoder interface {
	Decode(ids []int) string
}

// Options control one Generate call.
type Options struct {
	// MaxNewTokens bounds the tokens generated per prompt (default 64).
	MaxNewTokens int
	// EOS stops a row when generated; -1 disables it. Default: the model config's EOS.
	EOS *int
	// StopStrings stop a row once its generated text contains one; the text is cut before it.
	// Needs Decoder.
	StopStrings []string
	Decoder     Decoder
	Sampling    Sampling
	// RecordLogits keeps each step's logits in the results (tests, scoring).
	RecordLogits bool
	// OnToken, if set, is called after every step with the row and its new token.
	OnToken func(row, token int)
	// Images are the prompts' images for a vision-language model ([B, K, C, H, W], in the
	// order of each prompt's image placeholder tokens); they enter at the prefill.
	Images *data.ImageBatch
}

// Result is one prompt's generation.
type Result struct {
	Tokens     []int  // generated ids (EOS excluded)
	Text       string // decoded Tokens, cut at a stop string (when Options.Decoder is set)
	StopReason string // "eos", "stop", "length"
	// Logits[t] are the logits [Vocab] that chose Tokens[t] (when RecordLogits).
	Logits [][]float32
}

// Generator runs batched generation with a fixed-capacity KV cache. It is safe for one
// goroutine at a time.
type Generator struct {
	backend backends.Backend
	ctx     *context.Context
	model   *models.Model

	mu     sync.Mutex
	execs  map[execKey]*context.Exec
	padTok int
}

type execKey struct {
	capacity int
	prefill  bool
	images   [4]int // K, C, H, W of the prefill's images; zero without
}

// NewGenerator prepares generation for a model whose variables are in ctx.
func NewGenerator(backend backends.Backend, ctx *context.Context, model *models.Model) *Generator {
	return &Generator{backend: backend, ctx: ctx, model: model, execs: map[execKey]*context.Exec{}}
}

// capacityStep rounds cache capacities up, so different prompt lengths share compiled graphs.
const capacityStep = 64

func (gen *Generator) exec(capacity int, prefill bool, images *data.ImageBatch) (*context.Exec, error) {
	gen.mu.Lock()
	defer gen.mu.Unlock()
	key := execKey{capacity: capacity, prefill: prefill}
	if images != nil {
		key.images = [4]int{images.K, images.C, images.H, images.W}
	}
	if e, ok := gen.execs[key]; ok {
		return e, nil
	}
	m := gen.model
	e, err := context.NewExec(gen.backend, gen.ctx, func(ctx *context.Context, in []*Node) []*Node {
		tokens, positions, valid := in[0], in[1], in[2] // [B, S] each
		b := tokens.Shape().Dimensions[0]
		var cache *models.Cache
		var imgs *Node // [B, K, C, H, W] at a vision-language prefill
		if prefill {
			cache = m.EmptyCache(tokens.Graph(), b, capacity, dtypes.Float32)
			if len(in) > 3 {
				imgs = in[3]
			}
		} else {
			cache = models.UnflattenCache(in[3:])
		}
		logits, next := m.StepImages(ctx, tokens, positions, valid, imgs, cache, true) // [B, 1, V]
		out := []*Node{Reshape(logits, b, m.Config.VocabSize)}
		return append(out, next.Flatten()...)
	})
	if err != nil {
		return nil, errors.Wrap(err, "building generation graph")
	}
	e.SetMaxCache(8)
	gen.execs[key] = e
	return e, nil
}

// Generate continues each prompt (token ids, BOS included if the model wants it). Prompts of
// different lengths are left-padded to one length; padding is masked out of attention and
// RoPE positions start at each prompt's first real token.
func (gen *Generator) Generate(prompts [][]int, opts Options) (results []Result, err error) {
	if len(prompts) == 0 {
		return nil, errors.New("generate: no prompts")
	}
	if err := opts.Sampling.Validate(); err != nil {
		return nil, err
	}
	if len(opts.StopStrings) > 0 && opts.Decoder == nil {
		return nil, errors.New("generate: stop strings need a tokenizer (Options.Decoder)")
	}
	if ib := opts.Images; ib != nil {
		if gen.model.Vision == nil {
			return nil, errors.New("generate: images given to a model without a vision tower")
		}
		if err := ib.Check(len(prompts)); err != nil {
			return nil, errors.WithMessage(err, "generate")
		}
	}
	cfg := gen.model.Config
	maxLen := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, errors.Errorf("generate: prompt %d is empty", i)
		}
		for _, id := range p {
			if id < 0 || id >= cfg.VocabSize {
				return nil, errors.Errorf("generate: prompt %d has token id %d outside the vocabulary [0, %d)", i, id, cfg.VocabSize)
			}
		}
		maxLen = max(maxLen, len(p))
	}
	maxNew := opts.MaxNewTokens
	if maxNew <= 0 {
		maxNew = 64
	}
	if cfg.MaxPositions > 0 && maxLen+maxNew > cfg.MaxPositions {
		maxNew = cfg.MaxPositions - maxLen
		if maxNew <= 0 {
			return nil, errors.Errorf("generate: prompt of %d tokens leaves no room in the model's %d positions", maxLen, cfg.MaxPositions)
		}
	}
	eos := cfg.EOSTokenID
	if opts.EOS != nil {
		eos = *opts.EOS
	}
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("generate: %v", r)
		}
	}()
	return gen.run(prompts, maxLen, maxNew, eos, opts)
}

func (gen *Generator) run(prompts [][]int, maxLen, maxNew, eos int, opts Options) ([]Result, error) {
	b := len(prompts)
	capacity := (maxLen + maxNew + capacityStep - 1) / capacityStep * capacityStep
	pads := make([]int, b)
	tok := make([]int32, b*maxLen)
	pos := make([]int32, b*maxLen)
	valid := make([]bool, b*maxLen)
	for r, p := range prompts {
		pads[r] = maxLen - len(p)
		for j, id := range p {
			k := r*maxLen + pads[r] + j
			tok[k], pos[k], valid[k] = int32(id), int32(j), true
		}
	}
	prefill, err := gen.exec(capacity, true, opts.Images)
	if err != nil {
		return nil, err
	}
	decode, err := gen.exec(capacity, false, nil)
	if err != nil {
		return nil, err
	}
	prefillArgs := []any{tensors.FromFlatDataAndDimensions(tok, b, maxLen),
		tensors.FromFlatDataAndDimensions(pos, b, maxLen), tensors.FromFlatDataAndDimensions(valid, b, maxLen)}
	if ib := opts.Images; ib != nil {
		prefillArgs = append(prefillArgs, tensors.FromFlatDataAndDimensions(ib.Pixels, b, ib.K, ib.C, ib.H, ib.W))
	}
	outs, err := prefill.Exec(prefillArgs...)
	if err != nil {
		return nil, errors.Wrap(err, "generate: prefill")
	}
	results := make([]Result, b)
	done := make([]bool, b)
	sm := newSampler(opts.Sampling)
	vocab := gen.model.Config.VocabSize
	for step := 0; ; step++ {
		logits := tensors.MustCopyFlatData[float32](outs[0]) // [B, V]
		next := make([]int32, b)
		for r := range b {
			if done[r] {
				next[r] = int32(max(eos, 0))
				continue
			}
			row := logits[r*vocab : (r+1)*vocab]
			id := sm.next(row)
			next[r] = int32(id)
			if opts.RecordLogits {
				results[r].Logits = append(results[r].Logits, append([]float32(nil), row...))
			}
			if id == eos {
				done[r], results[r].StopReason = true, "eos"
				continue
			}
			results[r].Tokens = append(results[r].Tokens, id)
			if opts.OnToken != nil {
				opts.OnToken(r, id)
			}
			if len(opts.StopStrings) > 0 && hasStop(continuation(opts.Decoder, prompts[r], results[r].Tokens), opts.StopStrings) {
				done[r], results[r].StopReason = true, "stop"
			}
		}
		if allTrue(done) || step+1 >= maxNew {
			break
		}
		stepPos := make([]int32, b)
		stepValid := make([]bool, b)
		for r := range b {
			stepPos[r] = int32(maxLen + step - pads[r])
			stepValid[r] = true
		}
		args := []any{tensors.FromFlatDataAndDimensions(next, b, 1),
			tensors.FromFlatDataAndDimensions(stepPos, b, 1), tensors.FromFlatDataAndDimensions(stepValid, b, 1)}
		for _, t := range outs[1:] {
			args = append(args, t)
		}
		outs, err = decode.Exec(args...)
		if err != nil {
			return nil, errors.Wrapf(err, "generate: decode step %d", step)
		}
	}
	for r := range results {
		if results[r].StopReason == "" {
			results[r].StopReason = "length"
		}
		if opts.Decoder != nil {
			results[r].Text = cutAtStop(continuation(opts.Decoder, prompts[r], results[r].Tokens), opts.StopStrings)
		}
	}
	return results, nil
}

// continuation decodes the generated tokens as they read after the prompt: decoding them alone
// would lose context-dependent text (a sentencepiece decoder strips the first piece's space).
func continuation(dec Decoder, prompt, generated []int) string {
	if len(generated) == 0 {
		return ""
	}
	full := dec.Decode(append(append([]int(nil), prompt...), generated...))
	if head := dec.Decode(prompt); strings.HasPrefix(full, head) {
		return full[len(head):]
	}
	return dec.Decode(generated)
}

func hasStop(text string, stops []string) bool {
	for _, s := range stops {
		if s != "" && strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// cutAtStop cuts text before the earliest stop string.
func cutAtStop(text string, stops []string) string {
	cut := len(text)
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && i < cut {
			cut = i
		}
	}
	return text[:cut]
}

func allTrue(v []bool) bool {
	for _, x := range v {
		if !x {
			return false
		}
	}
	return true
}
