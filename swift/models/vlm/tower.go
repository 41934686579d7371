package vlm

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
)

// Tower is the vision tower plus projector: it implements models.VisionTower.
type Tower struct{ Config *Config }

var _ models.VisionTower = (*Tower)(nil)

// New returns the vision-language model for cfg: the text model with the tower attached.
func New(cfg *Config) *models.Model {
	m := models.New(cfg.Text)
	m.Vision = &Tower{Config: cfg}
	return m
}

// ImageTokenID implements models.VisionTower.
func (t *Tower) ImageTokenID() int { return t.Config.ImageTokenID }

// TokensPerImage implements models.VisionTower: one token per patch.
func (t *Tower) TokensPerImage() int { return t.Config.Vision.NumPatches() }

// Encode implements models.VisionTower:
//
//	images [B, K, C, H, W] float32 -> features [B, K·N, HiddenText], N patches per image.
func (t *Tower) Encode(ctx *context.Context, images *Node) *Node {
	v := t.Config.Vision
	dims := images.Shape().Dimensions
	if len(dims) != 5 || dims[2] != v.NumChannels || dims[3] != v.ImageSize || dims[4] != v.ImageSize {
		panic(fmt.Errorf("vlm: images have shape %v, the vision tower wants [B, K, %d, %d, %d]",
			dims, v.NumChannels, v.ImageSize, v.ImageSize))
	}
	b, k := dims[0], dims[1]
	x := t.embed(ctx, Reshape(images, b*k, v.NumChannels, v.ImageSize, v.ImageSize)) // [B·K, N, Hv]
	for i := range v.NumLayers {
		x = t.block(ctx, fmt.Sprintf("%s.encoder.layers.%d", VisionPrefix, i), x)
	}
	x = LayerNorm(ctx, VisionPrefix+".post_layernorm", x, v.LayerNormEps) // [B·K, N, Hv]
	x = t.project(ctx, x)                                                 // [B·K, N, Ht]
	return Reshape(x, b, k*v.NumPatches(), t.Config.Text.HiddenSize)
}

// Patchify cuts images into flattened patches in row-major patch order, each patch flattened
// as (channel, row, column) like a conv weight [Hv, C, P, P]:
//
//	images [M, C, H, W] -> [M, N, C·P·P].
func Patchify(images *Node, patch int) *Node {
	d := images.Shape().Dimensions
	m, c, h, w := d[0], d[1], d[2], d[3]
	gh, gw := h/patch, w/patch
	x := Reshape(images, m, c, gh, patch, gw, patch) // [M, C, gh, P, gw, P]
	x = TransposeAllDims(x, 0, 2, 4, 1, 3, 5)        // [M, gh, gw, C, P, P]
	return Reshape(x, m, gh*gw, c*patch*patch)
}

// embed: images [M, C, H, W] -> patch embeddings plus positions [M, N, Hv].
func (t *Tower) embed(ctx *context.Context, images *Node) *Node {
	v := t.Config.Vision
	g := images.Graph()
	e := VisionPrefix + ".embeddings"
	patches := Patchify(images, v.PatchSize)                                                                           // [M, N, C·P·P]
	w := models.BaseVar(ctx, g, e+".patch_embedding", "weight", v.HiddenSize, v.NumChannels, v.PatchSize, v.PatchSize) // [Hv, C, P, P]
	x := models.MatMulT(ctx, patches, Reshape(w, v.HiddenSize, v.PatchDim()))                                          // [M, N, Hv]
	x = Add(x, ExpandLeftToRank(models.BaseVar(ctx, g, e+".patch_embedding", "bias", v.HiddenSize), 3))
	pos := models.BaseVar(ctx, g, e+".position_embedding", "weight", v.NumPatches(), v.HiddenSize) // [N, Hv]
	return Add(x, ExpandLeftToRank(pos, 3))
}

// linear is a vision projection with bias: x [..., In] -> [..., Out].
func linear(ctx *context.Context, path string, x *Node, in, out int) *Node {
	return models.BaseLinear(ctx, models.LinearSpec{Path: path, Name: path, Layer: -1, In: in, Out: out, Bias: true}, x)
}

// block is one pre-norm encoder layer: x [M, N, Hv] -> [M, N, Hv].
func (t *Tower) block(ctx *context.Context, path string, x *Node) *Node {
	v := t.Config.Vision
	d := x.Shape().Dimensions
	m, n, hv := d[0], d[1], d[2]
	heads := v.NumHeads
	hd := hv / heads
	h := LayerNorm(ctx, path+".layer_norm1", x, v.LayerNormEps)
	q := Reshape(linear(ctx, path+".self_attn.q_proj", h, hv, hv), m, n, heads, hd) // [M, N, heads, hd]
	k := Reshape(linear(ctx, path+".self_attn.k_proj", h, hv, hv), m, n, heads, hd)
	val := Reshape(linear(ctx, path+".self_attn.v_proj", h, hv, hv), m, n, heads, hd)
	all := Ones(x.Graph(), shapes.Make(dtypes.Bool, m, n, n)) // every patch sees every patch
	attn := models.GroupedAttention(ctx, q, k, val, all)      // [M, N, heads, hd]
	x = Add(x, linear(ctx, path+".self_attn.out_proj", Reshape(attn, m, n, hv), hv, hv))
	h = LayerNorm(ctx, path+".layer_norm2", x, v.LayerNormEps)
	h = GELU(linear(ctx, path+".mlp.fc1", h, hv, v.IntermediateSize)) // [M, N, I]
	return Add(x, linear(ctx, path+".mlp.fc2", h, v.IntermediateSize, hv))
}

// project is the aligner: x [M, N, Hv] -> [M, N, Ht] (linear → GELU → linear).
func (t *Tower) project(ctx *context.Context, x *Node) *Node {
	hv, ht := t.Config.Vision.HiddenSize, t.Config.Text.HiddenSize
	x = GELU(linear(ctx, ProjectorPrefix+".linear_1", x, hv, ht))
	return linear(ctx, ProjectorPrefix+".linear_2", x, ht, ht)
}

// LayerNorm normalises the last axis to zero mean and unit variance, then scales and shifts by
// "<path>.weight" and "<path>.bias" [Width]; computed in float32.
func LayerNorm(ctx *context.Context, path string, x *Node, eps float64) *Node {
	dtype := x.DType()
	width := x.Shape().Dimensions[x.Rank()-1]
	g := x.Graph()
	w := ConvertDType(models.BaseVar(ctx, g, path, "weight", width), dtypes.Float32) // [Width]
	b := ConvertDType(models.BaseVar(ctx, g, path, "bias", width), dtypes.Float32)   // [Width]
	xf := ConvertDType(x, dtypes.Float32)
	centred := Sub(xf, ReduceAndKeep(xf, ReduceMean, -1))      // [..., Width]
	variance := ReduceAndKeep(Square(centred), ReduceMean, -1) // [..., 1]
	normed := Div(centred, Sqrt(AddScalar(variance, eps)))     // [..., Width]
	out := Add(Mul(normed, ExpandLeftToRank(w, x.Rank())), ExpandLeftToRank(b, x.Rank()))
	return ConvertDType(out, dtype)
}

// GELU is the tanh approximation (gelu_pytorch_tanh): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func GELU(x *Node) *Node {
	inner := MulScalar(Add(x, MulScalar(Mul(x, Square(x)), 0.044715)), math.Sqrt(2/math.Pi))
	return Mul(MulScalar(x, 0.5), AddScalar(Tanh(inner), 1))
}
