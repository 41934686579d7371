package models

import (
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// LinearSpec identifies one linear projection of the model: the seam where a tuner attaches.
type LinearSpec struct {
	// Path is the Hugging Face name prefix of the projection, e.g.
	// "model.layers.3.self_attn.q_proj"; its variables are "<Path>.weight" ([Out, In]) and
	// "<Path>.bias" ([Out]).
	Path string
	// Name is the last component of Path: q_proj, k_proj, v_proj, o_proj, gate_proj,
	// up_proj, down_proj or lm_head.
	Name string
	// Layer is the decoder block index, or -1 outside the blocks (lm_head).
	Layer int
	// In and Out are the input and output widths.
	In, Out int
	// Bias says whether the base projection has a bias.
	Bias bool
	// TiedTo, when set, names the variable path whose weight the projection reuses
	// (a tied lm_head reads "model.embed_tokens").
	TiedTo string
}

// Scope returns the absolute context scope that holds the projection's variables.
func (s LinearSpec) Scope() string { return PathToScope(s.Path) }

// SubLayerSpec identifies a sub-layer (attention or MLP) of a decoder block, whose output a
// tuner may transform before it is added to the residual stream.
type SubLayerSpec struct {
	Layer int    // block index
	Kind  string // "attn" or "mlp"
	Path  string // e.g. "model.layers.3.self_attn"
	Width int    // width of the sub-layer output (hidden size)
}

// BlockRef names one decoder block: the list of blocks is a seam (LLaMAPro inserts blocks).
type BlockRef struct {
	Path string // variable path prefix, e.g. "model.layers.3"
}

// LinearFn computes one projection: x [..., In] -> [..., Out].
type LinearFn func(ctx *context.Context, spec LinearSpec, x *Node) *Node

// EmbedFn looks up token embeddings: tokens [B, S] int32 -> [B, S, Hidden].
type EmbedFn func(ctx *context.Context, tokens *Node) *Node

// SubLayerFn transforms a sub-layer's output before the residual add. x is the sub-layer's
// (normalised) input and out its output, both [B, S, Hidden].
type SubLayerFn func(ctx *context.Context, spec SubLayerSpec, x, out *Node) *Node

// Hooks are a tuner's attachments at the model's seams. Each non-nil field wraps the next
// implementation in the chain (middleware style), so several tuners compose: the hooks added
// last run outermost.
type Hooks struct {
	Linear   func(next LinearFn) LinearFn
	Embed    func(next EmbedFn) EmbedFn
	SubLayer func(next SubLayerFn) SubLayerFn
	// Blocks rewrites the list of decoder blocks (in order).
	Blocks func(blocks []BlockRef) []BlockRef
}

// PathToScope maps a Hugging Face tensor name prefix to an absolute context scope:
// "model.layers.0.mlp" -> "/model/layers/0/mlp".
func PathToScope(path string) string { return "/" + strings.ReplaceAll(path, ".", "/") }

// ScopeToPath is the inverse of PathToScope.
func ScopeToPath(scope string) string {
	return strings.ReplaceAll(strings.TrimPrefix(scope, "/"), "/", ".")
}

// TensorName maps a context variable (scope + name) to its Hugging Face tensor name.
func TensorName(scope, name string) string {
	p := ScopeToPath(scope)
	if p == "" {
		return name
	}
	return p + "." + name
}

// linearSpecs lists every projection of block i.
func (m *Model) blockLinears(block BlockRef, layer int) map[string]LinearSpec {
	c := m.Config
	h, q, kv, ff := c.HiddenSize, c.QDim(), c.KVDim(), c.IntermediateSize
	attn, mlp := block.Path+".self_attn", block.Path+".mlp"
	mk := func(prefix, name string, in, out int, bias bool) LinearSpec {
		return LinearSpec{Path: prefix + "." + name, Name: name, Layer: layer, In: in, Out: out, Bias: bias}
	}
	return map[string]LinearSpec{
		"q_proj":    mk(attn, "q_proj", h, q, c.AttentionBias),
		"k_proj":    mk(attn, "k_proj", h, kv, c.AttentionBias),
		"v_proj":    mk(attn, "v_proj", h, kv, c.AttentionBias),
		"o_proj":    mk(attn, "o_proj", q, h, false),
		"gate_proj": mk(mlp, "gate_proj", h, ff, false),
		"up_proj":   mk(mlp, "up_proj", h, ff, false),
		"down_proj": mk(mlp, "down_proj", ff, h, false),
	}
}

// LinearSpecs lists every projection of the model in order (blocks, then lm_head): what
// target_modules selects from.
func (m *Model) LinearSpecs() []LinearSpec {
	var specs []LinearSpec
	for i, b := range m.Blocks() {
		ls := m.blockLinears(b, i)
		for _, n := range []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} {
			specs = append(specs, ls[n])
		}
	}
	return append(specs, m.lmHeadSpec())
}

func (m *Model) lmHeadSpec() LinearSpec {
	s := LinearSpec{Path: "lm_head", Name: "lm_head", Layer: -1, In: m.Config.HiddenSize, Out: m.Config.VocabSize}
	if m.Config.TieWordEmbeddings {
		s.TiedTo = "model.embed_tokens"
	}
	return s
}

// Blocks returns the decoder blocks after every Blocks hook.
func (m *Model) Blocks() []BlockRef {
	blocks := make([]BlockRef, m.Config.NumLayers)
	for i := range blocks {
		blocks[i] = BlockRef{Path: fmt.Sprintf("model.layers.%d", i)}
	}
	for _, h := range m.hooks {
		if h.Blocks != nil {
			blocks = h.Blocks(blocks)
		}
	}
	return blocks
}

// AddHooks attaches a tuner's hooks; hooks added later wrap those added earlier.
func (m *Model) AddHooks(h Hooks) { m.hooks = append(m.hooks, h) }

// ClearHooks detaches every tuner.
func (m *Model) ClearHooks() { m.hooks = nil }

func (m *Model) linearChain() LinearFn {
	fn := LinearFn(BaseLinear)
	for _, h := range m.hooks {
		if h.Linear != nil {
			fn = h.Linear(fn)
		}
	}
	return fn
}

func (m *Model) embedChain() EmbedFn {
	fn := EmbedFn(BaseEmbed)
	for _, h := range m.hooks {
		if h.Embed != nil {
			fn = h.Embed(fn)
		}
	}
	return fn
}

func (m *Model) subLayerChain() SubLayerFn {
	fn := SubLayerFn(func(_ *context.Context, _ SubLayerSpec, _, out *Node) *Node { return out })
	for _, h := range m.hooks {
		if h.SubLayer != nil {
			fn = h.SubLayer(fn)
		}
	}
	return fn
}

// IsBaseScope reports whether a context scope holds base-model weights ("/model/...",
// "/lm_head"): what "freeze base" and "save adapter only" filter on.
func IsBaseScope(scope string) bool {
	for _, p := range []string{"/model", "/lm_head"} {
		if scope == p || strings.HasPrefix(scope, p+"/") {
			return true
		}
	}
	return false
}
