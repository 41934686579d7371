package data

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// VariantConfig configures ToolCallVariants. Zero fields take the defaults in parentheses.
type VariantConfig struct {
	Train   int // training items (600)
	HeldOut int // held-out items (60)
	// Functions caps how many BFCL items (each one function) the variants come from, the
	// shortest first (all eligible).
	Functions int
	// Distractors other functions are offered beside the right one, in random order (1).
	Distractors int
	// MaxArgs: eligible items have at most this many arguments without a default (3).
	MaxArgs int
	// MaxPromptChars: eligible items' question plus compact signatures fit in this many bytes
	// (240; stories260K reads ~1.4 bytes a token).
	MaxPromptChars int
	// MaxDigits caps the digits of the new values (3): a 6-digit original gets a value of at
	// most MaxDigits digits.
	MaxDigits int
	Seed      uint64
}

func (c VariantConfig) withDefaults() VariantConfig {
	if c.Train == 0 {
		c.Train = 600
	}
	if c.HeldOut == 0 {
		c.HeldOut = 60
	}
	if c.Distractors == 0 {
		c.Distractors = 1
	}
	if c.MaxArgs == 0 {
		c.MaxArgs = 3
	}
	if c.MaxPromptChars == 0 {
		c.MaxPromptChars = 240
	}
	if c.MaxDigits == 0 {
		c.MaxDigits = 3
	}
	return c
}

// template is an eligible BFCL item: its question with the integer arguments' places marked.
type variantBase struct {
	s       Sample
	numeric []string // names of the integer arguments substituted
	spans   [][2]int // where each one's value is written in the question
	orig    []int
}

// ToolCallVariants builds a tool-calling training set and a held-out set from BFCL items
// (samples with one user question, one expected call and its tool): each variant rewrites the
// integer argument values written in the question (each must appear exactly once) with new
// random integers of the same number of digits (at most cfg.MaxDigits), and updates the
// expected call. Held-out items
// use the same functions with values never used in training: an integer is held out when a
// hash of it falls in one quarter. Training items carry the assistant's call turn; held-out
// items only the question (their Expected holds the answer). Every item offers its function
// and cfg.Distractors others from the eligible set.
func ToolCallVariants(items []Sample, cfg VariantConfig) (train, heldOut []Sample, err error) {
	cfg = cfg.withDefaults()
	var bases []variantBase
	for _, s := range items {
		if b, ok := eligible(s, cfg); ok {
			bases = append(bases, b)
		}
	}
	if len(bases) == 0 {
		return nil, nil, errors.Errorf("tool-call variants: none of the %d items is eligible (one question, one call, "+
			"integer arguments written once in the question, at most %d required arguments)", len(items), cfg.MaxArgs)
	}
	sort.SliceStable(bases, func(i, j int) bool { return promptChars(bases[i].s) < promptChars(bases[j].s) })
	if cfg.Functions > 0 && len(bases) > cfg.Functions {
		bases = bases[:cfg.Functions]
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x70015))
	make1 := func(held bool) (Sample, error) {
		b := bases[rng.IntN(len(bases))]
		return variant(b, bases, held, cfg, rng)
	}
	for range cfg.Train {
		s, err := make1(false)
		if err != nil {
			return nil, nil, err
		}
		train = append(train, s)
	}
	for range cfg.HeldOut {
		s, err := make1(true)
		if err != nil {
			return nil, nil, err
		}
		heldOut = append(heldOut, s)
	}
	return train, heldOut, nil
}

// HeldOutValue reports whether an integer is reserved for held-out items.
func HeldOutValue(v int) bool { return (uint32(v)*2654435761)>>28%4 == 0 }

func promptChars(s Sample) int {
	n := len(s.Messages[0].Content)
	for _, t := range s.Tools {
		n += len(t.Name) + len(t.Parameters)/8
	}
	return n
}

func eligible(s Sample, cfg VariantConfig) (variantBase, bool) {
	b := variantBase{s: s}
	if len(s.Expected) != 1 || len(s.Tools) != 1 || len(s.Messages) < 1 || s.Messages[0].Role != RoleUser ||
		s.Tools[0].Name != s.Expected[0].Name {
		return b, false
	}
	q := s.Messages[0].Content
	sigLen := len(s.Tools[0].Name)
	params, err := s.Tools[0].Params()
	if err != nil {
		return b, false
	}
	for _, p := range params {
		sigLen += len(p.Name) + 8
	}
	if len(q)+sigLen > cfg.MaxPromptChars {
		return b, false
	}
	required := 0
	for _, name := range s.Expected[0].ArgNames() {
		alts := s.Expected[0].Args[name]
		if len(alts) == 0 || Omittable(alts) {
			continue
		}
		required++
		n, ok := alts[0].(json.Number)
		if !ok {
			continue
		}
		v, err := strconv.Atoi(string(n))
		if err != nil || v < 0 {
			continue
		}
		at := wholeNumberAt(q, string(n))
		if len(at) != 1 {
			return b, false // written twice or not at all: cannot rewrite it safely
		}
		b.numeric = append(b.numeric, name)
		b.spans = append(b.spans, [2]int{at[0], at[0] + len(n)})
		b.orig = append(b.orig, v)
	}
	if required == 0 || required > cfg.MaxArgs || len(b.numeric) == 0 {
		return b, false
	}
	// Overlapping or adjacent spans would make rewriting ambiguous.
	order := make([]int, len(b.spans))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return b.spans[order[i]][0] < b.spans[order[j]][0] })
	for k := 1; k < len(order); k++ {
		if b.spans[order[k]][0] <= b.spans[order[k-1]][1] {
			return b, false
		}
	}
	return b, true
}

// wholeNumberAt finds num in text where it is not part of a longer number.
func wholeNumberAt(text, num string) []int {
	var out []int
	isNum := func(c byte) bool { return (c >= '0' && c <= '9') || c == '.' || c == ',' }
	for off := 0; ; {
		i := strings.Index(text[off:], num)
		if i < 0 {
			return out
		}
		i += off
		end := i + len(num)
		before := i > 0 && (isNum(text[i-1]) || text[i-1] == '-')
		after := end < len(text) && (text[end] >= '0' && text[end] <= '9' ||
			(end+1 < len(text) && (text[end] == '.' || text[end] == ',') && text[end+1] >= '0' && text[end+1] <= '9'))
		if !before && !after {
			out = append(out, i)
		}
		off = i + 1
	}
}

func newValue(orig, maxDigits int, held bool, rng *rand.Rand, avoid map[int]bool) int {
	digits := min(len(strconv.Itoa(orig)), maxDigits)
	lo, hi := 1, 9
	if digits > 1 {
		lo = 1
		for range digits - 1 {
			lo *= 10
		}
		hi = lo*10 - 1
	}
	if orig >= 0 && digits == 1 {
		lo = 2 // 0 and 1 read as words too often ("a", "one")
	}
	for range 10000 {
		v := lo + rng.IntN(hi-lo+1)
		if HeldOutValue(v) == held && !avoid[v] {
			return v
		}
	}
	return lo
}

func variant(b variantBase, bases []variantBase, held bool, cfg VariantConfig, rng *rand.Rand) (Sample, error) {
	q := b.s.Messages[0].Content
	e := ExpectedCall{Name: b.s.Expected[0].Name, Args: map[string][]any{}}
	for k, v := range b.s.Expected[0].Args {
		e.Args[k] = v
	}
	// Rewrite from the last span to the first so offsets stay valid.
	order := make([]int, len(b.spans))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return b.spans[order[i]][0] > b.spans[order[j]][0] })
	used := map[int]bool{}
	for _, i := range order {
		v := newValue(b.orig[i], cfg.MaxDigits, held, rng, used)
		used[v] = true
		sp := b.spans[i]
		q = q[:sp[0]] + strconv.Itoa(v) + q[sp[1]:]
		e.Args[b.numeric[i]] = []any{json.Number(strconv.Itoa(v))}
	}
	tools := []Tool{b.s.Tools[0]}
	if n := min(cfg.Distractors, len(bases)-1); n > 0 {
		for _, j := range rng.Perm(len(bases)) {
			if len(tools) > n {
				break
			}
			if t := bases[j].s.Tools[0]; t.Name != tools[0].Name {
				tools = append(tools, t)
			}
		}
	}
	rng.Shuffle(len(tools), func(i, j int) { tools[i], tools[j] = tools[j], tools[i] })
	suffix := "t"
	if held {
		suffix = "h"
	}
	s := Sample{ID: b.s.ID + "-" + suffix + strconv.Itoa(rng.IntN(1_000_000)), Tools: tools,
		Messages: []Message{{Role: RoleUser, Content: q}}, Expected: []ExpectedCall{e}}
	if !held {
		if err := s.AddExpectedAnswer(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// WriteBFCL writes samples as a BFCL question file and its answer file (ReadFile reads the
// pair back, finding the answers beside the questions).
func WriteBFCL(questions, answers io.Writer, samples []Sample) error {
	for _, s := range samples {
		var msgs []map[string]string
		for _, m := range s.Messages {
			if m.Role != RoleAssistant {
				msgs = append(msgs, map[string]string{"role": m.Role, "content": m.Content})
			}
		}
		q, err := marshal(map[string]any{"id": s.ID, "question": [][]map[string]string{msgs}, "function": s.Tools})
		if err != nil {
			return errors.Wrapf(err, "writing %s", s.ID)
		}
		var gt []map[string]map[string][]any
		for _, e := range s.Expected {
			gt = append(gt, map[string]map[string][]any{e.Name: e.Args})
		}
		a, err := marshal(map[string]any{"id": s.ID, "ground_truth": gt})
		if err != nil {
			return errors.Wrapf(err, "writing %s", s.ID)
		}
		if _, err := questions.Write(append(q, '\n')); err != nil {
			return errors.Wrap(err, "writing BFCL questions")
		}
		if _, err := answers.Write(append(a, '\n')); err != nil {
			return errors.Wrap(err, "writing BFCL answers")
		}
	}
	return nil
}
