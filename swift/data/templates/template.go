package templates

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
)

// Template renders conversations into weighted text for training and into prompts for
// generation, and parses generated replies back into content and tool calls.
type Template interface {
	Name() string
	// Render turns a sample into parts. With opts.GenerationPrompt the sample must not end with
	// an assistant turn, and the parts end with the assistant header the model continues from.
	Render(s data.Sample, opts Options) ([]Part, error)
	// Stop lists strings that end an assistant turn in generated text (besides EOS).
	Stop(opts Options) []string
	// ParseReply splits a generated assistant reply into its content and tool calls.
	ParseReply(text string, opts Options) (content string, calls []data.ToolCall, err error)
}

// Special marks a part that is a special token rather than text.
type Special int

const (
	NoSpecial Special = iota
	BOS               // the tokenizer's beginning-of-sequence id
	EOS               // the tokenizer's end-of-sequence id
	Image             // an image's placeholder tokens: Repeat copies of Token (Options.Image)
)

// Part is a piece of a rendered conversation: text (or one special token) and the loss weight
// of the tokens it becomes.
type Part struct {
	Text    string
	Special Special
	Weight  float32
	Role    string // the turn's role ("header" parts are the role markers of assistant turns)
	// Token and Repeat are an Image part's placeholder id and count.
	Token, Repeat int
}

// Options tune rendering.
type Options struct {
	Loss LossScale
	// ToolFormat overrides the template's tool format ("hermes", "react", "compact").
	ToolFormat string
	// GenerationPrompt ends the rendering with the assistant header (for generation).
	GenerationPrompt bool
	// System replaces the template's default system prompt when the sample has none.
	System string
	// Image, when PerImage > 0, turns each data.ImageTag of the rendered text into PerImage
	// placeholder tokens TokenID (a vision-language model's image slots; never trained).
	Image ImageTokens
}

// ImageTokens says how an image appears in the token sequence.
type ImageTokens struct {
	TokenID, PerImage int
}

// LossScale weights the loss of each part of a conversation. Zero fields take the defaults in
// parentheses. A message's own Loss overrides its turn's weight.
type LossScale struct {
	Assistant float32 // assistant text, end-of-turn marker and EOS (1)
	ToolCall  float32 // the tool-call text of assistant turns (= Assistant)
	Prompt    float32 // everything else: system, user and tool turns, role headers (0)
	LastRound bool    // train only the last assistant turn
}

func (l LossScale) withDefaults() LossScale {
	if l.Assistant == 0 {
		l.Assistant = 1
	}
	if l.ToolCall == 0 {
		l.ToolCall = l.Assistant
	}
	return l
}

// ParseLossScale reads a --loss-scale value: comma-separated presets and key=value pairs.
//
//	default          assistant turns only, weight 1
//	all              every token, weight 1 (prompt=1)
//	last_round       only the last assistant turn
//	agent            tool-call text weighted 2 (the SWIFT paper's agent loss scale)
//	assistant=W, tool_call=W, prompt=W   explicit weights
func ParseLossScale(spec string) (LossScale, error) {
	var l LossScale
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		key, val, hasVal := strings.Cut(item, "=")
		if !hasVal {
			switch item {
			case "", "default":
			case "all":
				l.Prompt = 1
			case "last_round":
				l.LastRound = true
			case "agent":
				l.ToolCall = 2
			default:
				return l, errors.Errorf("--loss-scale: unknown preset %q (default, all, last_round, agent, or key=weight)", item)
			}
			continue
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(val), 32)
		if err != nil || w < 0 {
			return l, errors.Errorf("--loss-scale: %s: weight %q must be a number >= 0", key, val)
		}
		switch strings.TrimSpace(key) {
		case "assistant":
			l.Assistant = float32(w)
		case "tool_call":
			l.ToolCall = float32(w)
		case "prompt":
			l.Prompt = float32(w)
		default:
			return l, errors.Errorf("--loss-scale: unknown key %q (assistant, tool_call, prompt)", key)
		}
	}
	return l, nil
}

// Chat is a template described by its turn formats ("{content}" is replaced by the turn's text,
// "{system}" by the system prompt). All registered templates are Chats.
type Chat struct {
	TemplateName string
	System       string // system turn
	User         string // user turn
	// FirstUser, if set, is the first user turn when there is a system prompt, which it embeds
	// (llama-2's <<SYS>>); then there is no separate system turn.
	FirstUser       string
	Tool            string // tool-result turn; its {content} is the tool format's FormatResult
	AssistantHeader string // starts an assistant turn: the generation prompt ends here
	ContentPrefix   string // before the assistant's text (llama-2's space after [/INST])
	AssistantFooter string // ends an assistant turn (trained)
	EOS             bool   // the tokenizer's EOS after each assistant turn (trained)
	AfterFooter     string // untrained text after the footer/EOS (chatml's newline)
	BOSEachTurn     bool   // a BOS before every user turn but the first (llama-2)
	DefaultSystem   string
	StopStrings     []string
	Tools           ToolFormat // default tool format
	ToolJoin        string     // between the system prompt and the tools' description ("\n\n")
}

// Name implements Template.
func (c *Chat) Name() string { return c.TemplateName }

func (c *Chat) toolFormat(opts Options) (ToolFormat, error) {
	if opts.ToolFormat == "" {
		return c.Tools, nil
	}
	return GetToolFormat(opts.ToolFormat)
}

// Stop implements Template: the template's end-of-turn strings and the tool format's.
func (c *Chat) Stop(opts Options) []string {
	out := append([]string(nil), c.StopStrings...)
	if tf, err := c.toolFormat(opts); err == nil {
		out = append(out, tf.Stop()...)
	}
	return out
}

// ParseReply implements Template with the tool format's parser.
func (c *Chat) ParseReply(text string, opts Options) (string, []data.ToolCall, error) {
	tf, err := c.toolFormat(opts)
	if err != nil {
		return text, nil, err
	}
	for _, s := range c.StopStrings {
		if i := strings.Index(text, s); i >= 0 {
			text = text[:i]
		}
	}
	return tf.Parse(text)
}

func fill(format, content, system string) string {
	return strings.ReplaceAll(strings.ReplaceAll(format, "{system}", system), "{content}", content)
}

// Render implements Template.
func (c *Chat) Render(s data.Sample, opts Options) ([]Part, error) {
	loss := opts.Loss.withDefaults()
	if s.Text != "" {
		if opts.GenerationPrompt {
			return []Part{{Text: s.Text, Role: "text"}}, nil
		}
		return []Part{{Text: s.Text, Weight: loss.Assistant, Role: "text"}}, nil
	}
	tf, err := c.toolFormat(opts)
	if err != nil {
		return nil, err
	}
	msgs := s.Messages
	system, systemW := c.DefaultSystem, loss.Prompt
	if opts.System != "" {
		system = opts.System
	}
	if len(msgs) > 0 && msgs[0].Role == data.RoleSystem {
		system, systemW = msgs[0].Content, weightOf(msgs[0], loss.Prompt)
		msgs = msgs[1:]
	}
	if len(s.Tools) > 0 {
		tp, err := tf.SystemPrompt(s.Tools)
		if err != nil {
			return nil, err
		}
		if system != "" {
			system += c.ToolJoin
		}
		system += tp
	}
	if opts.GenerationPrompt && len(msgs) > 0 && msgs[len(msgs)-1].Role == data.RoleAssistant {
		return nil, errors.New("render: a generation prompt cannot end with an assistant turn")
	}
	last := -1
	for i, m := range msgs {
		if m.Role == data.RoleAssistant {
			last = i
		}
	}
	var parts []Part
	add := func(p Part) {
		if p.Text != "" || p.Special != NoSpecial {
			parts = append(parts, p)
		}
	}
	embedSystem := system != "" && c.FirstUser != ""
	if system != "" && !embedSystem {
		add(Part{Text: fill(c.System, system, system), Weight: systemW, Role: data.RoleSystem})
	}
	users := 0
	for i, m := range msgs {
		switch m.Role {
		case data.RoleSystem:
			add(Part{Text: fill(c.System, m.Content, m.Content), Weight: weightOf(m, loss.Prompt), Role: m.Role})
		case data.RoleUser:
			if c.BOSEachTurn && users > 0 {
				add(Part{Special: BOS, Weight: loss.Prompt, Role: m.Role})
			}
			format := c.User
			if embedSystem && users == 0 {
				format = c.FirstUser
			}
			add(Part{Text: fill(format, m.Content, system), Weight: weightOf(m, loss.Prompt), Role: m.Role})
			users++
		case data.RoleTool:
			add(Part{Text: fill(c.Tool, tf.FormatResult(m), system), Weight: weightOf(m, loss.Prompt), Role: m.Role})
		case data.RoleAssistant:
			w, tw := loss.Assistant, loss.ToolCall
			if loss.LastRound && i != last {
				w, tw = loss.Prompt, loss.Prompt
			}
			if m.Loss != nil {
				w, tw = *m.Loss, *m.Loss
			}
			if err := c.assistant(add, m, tf, w, tw, loss.Prompt); err != nil {
				return nil, errors.WithMessagef(err, "message %d", i)
			}
		default:
			return nil, errors.Errorf("render: message %d has unknown role %q", i, m.Role)
		}
	}
	if opts.GenerationPrompt {
		add(Part{Text: c.AssistantHeader, Role: "header"})
	}
	if len(parts) == 0 {
		return nil, errors.New("render: empty conversation")
	}
	return parts, nil
}

func (c *Chat) assistant(add func(Part), m data.Message, tf ToolFormat, w, tw, prompt float32) error {
	add(Part{Text: c.AssistantHeader, Weight: prompt, Role: "header"})
	content := m.Content
	var calls string
	if len(m.ToolCalls) > 0 {
		var err error
		if calls, err = tf.FormatCalls(m.ToolCalls); err != nil {
			return err
		}
		if content != "" {
			content += tf.ContentSeparator()
		}
	}
	if content != "" || calls == "" {
		add(Part{Text: c.ContentPrefix + content, Weight: w, Role: data.RoleAssistant})
	} else {
		calls = c.ContentPrefix + calls
	}
	add(Part{Text: calls, Weight: tw, Role: "tool_call"})
	if end := tf.CallsEnd(); calls != "" && end != "" {
		add(Part{Text: end, Weight: tw, Role: "tool_call"}) // ReAct's "Observation:" ends the turn
		return nil
	}
	add(Part{Text: c.AssistantFooter, Weight: w, Role: data.RoleAssistant})
	if c.EOS {
		add(Part{Special: EOS, Weight: w, Role: data.RoleAssistant})
	}
	add(Part{Text: c.AfterFooter, Weight: prompt, Role: data.RoleAssistant})
	return nil
}

func weightOf(m data.Message, def float32) float32 {
	if m.Loss != nil {
		return *m.Loss
	}
	return def
}

// Show renders parts as text with the trained spans marked: «text» for weight 1, «w=2|text»
// for other weights; special tokens as <BOS>/<EOS>. Used by the golden tests and for debugging.
func Show(parts []Part) string {
	var b strings.Builder
	for _, p := range parts {
		text := p.Text
		switch p.Special {
		case BOS:
			text = "<BOS>"
		case EOS:
			text = "<EOS>"
		}
		switch {
		case p.Weight == 0:
			b.WriteString(text)
		case p.Weight == 1:
			fmt.Fprintf(&b, "«%s»", text)
		default:
			fmt.Fprintf(&b, "«w=%g|%s»", p.Weight, text)
		}
	}
	return b.String()
}
