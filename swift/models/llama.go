package models

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/gomlx_ext/remat"
)

// Model is a Llama-family decoder (llama, mistral, qwen2, smollm): token embedding, a stack of
// pre-norm blocks (RMSNorm → grouped-query attention with RoPE → residual; RMSNorm → SwiGLU
// MLP → residual), a final RMSNorm and the language-model head.
//
// Its variables live in a context.Context under the Hugging Face tensor names turned into
// scopes ("model.layers.0.mlp.up_proj.weight" is variable "weight" in scope
// "/model/layers/0/mlp/up_proj"), so loading and saving checkpoints is a renaming.
//
// Model only builds graphs; it holds no tensors. Tuners attach through AddHooks.
type Model struct {
	Config *Config
	// GradientCheckpointing recomputes each block's activations in the backward pass of
	// training graphs instead of keeping them (gomlx_ext/remat): less memory, ~30% more time.
	GradientCheckpointing bool
	// Vision, when set, makes the model a vision-language model: Inputs.Images are encoded and
	// spliced in place of the image placeholder tokens (SpliceImages).
	Vision VisionTower
	hooks  []Hooks
}

// New returns a model for cfg.
func New(cfg *Config) *Model { return &Model{Config: cfg} }

// Inputs of one forward pass without a cache.
type Inputs struct {
	Tokens    *Node // [B, S] int32
	Positions *Node // [B, S] int32: RoPE positions (restart at 0 for each packed sample)
	// Segments [B, S] int32 says which tokens may attend to each other: a query sees a key only
	// if the key is not after it and both carry the same non-zero segment id. 0 marks padding.
	// nil means one segment of all tokens.
	Segments *Node
	// Images [B, K, C, H, W] float32 are the rows' images, spliced in place of the image
	// placeholder tokens (needs Model.Vision); nil for text only.
	Images *Node
}

// Logits runs the full model: [B, S] tokens -> [B, S, Vocab] float32 logits.
func (m *Model) Logits(ctx *context.Context, in Inputs) *Node {
	return m.Head(ctx, m.Hidden(ctx, in))
}

// Hidden runs everything up to and including the final norm: -> [B, S, Hidden].
func (m *Model) Hidden(ctx *context.Context, in Inputs) *Node {
	segments := in.Segments
	if segments == nil {
		segments = OnesLike(in.Tokens)
	}
	mask := causalSegmentMask(segments) // [B, S, S]
	st := &recomputeState{m: mask}
	return m.run(ctx, in.Tokens, in.Positions, in.Images, st)
}

// Head applies the language-model head: hidden [B, S, Hidden] -> logits [B, S, Vocab] float32.
func (m *Model) Head(ctx *context.Context, hidden *Node) *Node {
	logits := m.linearChain()(ctx, m.lmHeadSpec(), hidden)
	return ConvertDType(logits, dtypes.Float32)
}

// kvState says where a layer's keys and values come from, and which keys each query sees.
type kvState interface {
	// update receives the layer's new keys/values [B, S, KV, D] and returns the keys/values to
	// attend over [B, T, KV, D].
	update(layer int, k, v *Node) (keys, values *Node)
	// mask is [B, S, T] bool: true where query s may attend to key t.
	mask() *Node
}

type recomputeState struct{ m *Node }

func (r *recomputeState) update(_ int, k, v *Node) (*Node, *Node) { return k, v }
func (r *recomputeState) mask() *Node                             { return r.m }

// ParamGradientCheckpointing is the graph parameter set while building a training graph with
// gradient checkpointing: hooks that draw random numbers (dropout) must refuse it, since the
// recomputation would draw different ones.
const ParamGradientCheckpointing = "goswift_gradient_checkpointing"

// run is the decoder itself, shared by the recompute and the KV-cache paths.
func (m *Model) run(ctx *context.Context, tokens, positions, images *Node, st kvState) *Node {
	cfg := m.Config
	g := tokens.Graph()
	x := m.embedChain()(ctx, tokens) // [B, S, Hidden]
	if images != nil {
		if m.Vision == nil {
			panic("models: images given to a model without a vision tower")
		}
		features := m.Vision.Encode(ctx, images) // [B, K·TokensPerImage, Hidden]
		x = SpliceImages(ctx, x, tokens, features, m.Vision.ImageTokenID())
	}
	cos, sin := ropeTables(positions, cfg.HeadDim, cfg.RopeTheta) // [B, S, D/2] each
	rs, recompute := st.(*recomputeState)
	checkpoint := m.GradientCheckpointing && recompute && ctx.IsTraining(g)
	if checkpoint {
		ctx.SetGraphParam(g, ParamGradientCheckpointing, true)
	}
	for i, block := range m.Blocks() {
		if !checkpoint {
			x = m.block(ctx, i, block, x, cos, sin, st)
			continue
		}
		// Keep only the block's inputs alive; recompute its activations in the backward pass.
		x = remat.Checkpoint(func(in []*Node) []*Node {
			return []*Node{m.block(ctx.Checked(false), i, block, in[0], in[1], in[2], &recomputeState{m: in[3]})}
		}, x, cos, sin, rs.m)[0]
	}
	return RMSNorm(ctx, "model.norm", x, cfg.RMSNormEps)
}

// block is one pre-norm decoder block: x [B, S, Hidden] -> [B, S, Hidden].
func (m *Model) block(ctx *context.Context, i int, block BlockRef, x, cos, sin *Node, st kvState) *Node {
	cfg := m.Config
	lin := m.blockLinears(block, i)
	linear, subLayer := m.linearChain(), m.subLayerChain()
	// Attention sub-layer.
	h := RMSNorm(ctx, block.Path+".input_layernorm", x, cfg.RMSNormEps) // [B, S, Hidden]
	attn := m.attention(ctx, i, lin, linear, h, cos, sin, st)           // [B, S, Hidden]
	attn = subLayer(ctx, SubLayerSpec{Layer: i, Kind: "attn", Path: block.Path + ".self_attn", Width: cfg.HiddenSize}, h, attn)
	x = Add(x, attn)
	// MLP sub-layer (SwiGLU).
	h = RMSNorm(ctx, block.Path+".post_attention_layernorm", x, cfg.RMSNormEps)
	gate := linear(ctx, lin["gate_proj"], h) // [B, S, Intermediate]
	up := linear(ctx, lin["up_proj"], h)     // [B, S, Intermediate]
	mlp := linear(ctx, lin["down_proj"], Mul(Mul(gate, Sigmoid(gate)), up))
	mlp = subLayer(ctx, SubLayerSpec{Layer: i, Kind: "mlp", Path: block.Path + ".mlp", Width: cfg.HiddenSize}, h, mlp)
	return Add(x, mlp)
}

// attention is grouped-query causal self-attention with rotary embeddings.
func (m *Model) attention(ctx *context.Context, layer int, lin map[string]LinearSpec, linear LinearFn,
	h, cos, sin *Node, st kvState) *Node {
	cfg := m.Config
	dims := h.Shape().Dimensions
	b, s := dims[0], dims[1]
	nh, nkv, d := cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim
	q := Reshape(linear(ctx, lin["q_proj"], h), b, s, nh, d)  // [B, S, H, D]
	k := Reshape(linear(ctx, lin["k_proj"], h), b, s, nkv, d) // [B, S, KV, D]
	v := Reshape(linear(ctx, lin["v_proj"], h), b, s, nkv, d) // [B, S, KV, D]
	q = ApplyRoPE(q, cos, sin, cfg.RoPE)
	k = ApplyRoPE(k, cos, sin, cfg.RoPE)
	keys, values := st.update(layer, k, v) // [B, T, KV, D]
	out := GroupedAttention(ctx, q, keys, values, st.mask())
	return linear(ctx, lin["o_proj"], Reshape(out, b, s, nh*d))
}

// GroupedAttention computes softmax(q·kᵀ/√D + mask)·v with nh/nkv query heads sharing each
// key/value head.
//
//	q [B, S, H, D]; keys, values [B, T, KV, D]; mask [B, S, T] bool -> [B, S, H, D].
func GroupedAttention(ctx *context.Context, q, keys, values, mask *Node) *Node {
	qd := q.Shape().Dimensions
	b, s, nh, d := qd[0], qd[1], qd[2], qd[3]
	nkv := keys.Shape().Dimensions[2]
	t := keys.Shape().Dimensions[1]
	groups := nh / nkv
	qg := Reshape(q, b, s, nkv, groups, d)                // [B, S, KV, G, D]
	scores := EinsumT(ctx, "bskgd,btkd->bkgst", qg, keys) // [B, KV, G, S, T]
	scores = MulScalar(ConvertDType(scores, dtypes.Float32), 1/math.Sqrt(float64(d)))
	bias := Where(mask, Scalar(q.Graph(), dtypes.Float32, 0), Scalar(q.Graph(), dtypes.Float32, maskedScore)) // [B, S, T]
	scores = Add(scores, Reshape(bias, b, 1, 1, s, t))
	probs := ConvertDType(Softmax(scores, -1), q.DType())   // [B, KV, G, S, T]
	out := EinsumT(ctx, "bkgst,btkd->bskgd", probs, values) // [B, S, KV, G, D]
	return Reshape(out, b, s, nh, d)
}

// maskedScore is added to the scores of masked keys: exp() of it is 0 in float32, and a fully
// masked row (a padding query) stays finite.
const maskedScore = -1e9

// causalSegmentMask: segments [B, S] int32 -> [B, S(query), S(key)] bool, true where the key is
// not after the query and both share the same non-zero segment.
func causalSegmentMask(segments *Node) *Node {
	g := segments.Graph()
	dims := segments.Shape().Dimensions
	b, s := dims[0], dims[1]
	qIdx := Iota(g, shapesOf(dtypes.Int32, s, s), 0)
	kIdx := Iota(g, shapesOf(dtypes.Int32, s, s), 1)
	causal := BroadcastToDims(Reshape(GreaterOrEqual(qIdx, kIdx), 1, s, s), b, s, s)
	segQ := BroadcastToDims(Reshape(segments, b, s, 1), b, s, s)
	segK := BroadcastToDims(Reshape(segments, b, 1, s), b, s, s)
	same := And(Equal(segQ, segK), NotEqual(segK, ZerosLike(segK)))
	return And(causal, same)
}
