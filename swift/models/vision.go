package models

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// VisionTower is the image side of a vision-language model (LLaVA style): it turns images into
// features in the language model's hidden size, which replace the embeddings of the image
// placeholder tokens in the text. Package swift/models/vlm implements it (ViT + projector).
type VisionTower interface {
	// Encode maps images [B, K, C, H, W] float32 to features [B, K·TokensPerImage, Hidden]:
	// image k of a row gives features k·TokensPerImage ... (k+1)·TokensPerImage-1.
	Encode(ctx *context.Context, images *Node) *Node
	// ImageTokenID is the placeholder token id; TokensPerImage placeholders stand for one image.
	ImageTokenID() int
	TokensPerImage() int
}

// SpliceImages replaces the embeddings of image placeholder tokens by image features, in order:
// the j-th placeholder of row b takes features[b, j]. Placeholders beyond the features get zeros
// (the data pipeline checks the counts match); other tokens keep their embeddings.
//
//	embeds [B, S, H]; tokens [B, S] int32; features [B, F, H] -> [B, S, H]
func SpliceImages(ctx *context.Context, embeds, tokens, features *Node, imageTokenID int) *Node {
	g := embeds.Graph()
	dims := embeds.Shape().Dimensions
	b, s, h := dims[0], dims[1], dims[2]
	f := features.Shape().Dimensions[1]
	isImage := Equal(tokens, Scalar(g, tokens.DType(), imageTokenID)) // [B, S] bool
	// ordinal[b, s]: how many placeholders come before s in row b (an exclusive prefix sum, as
	// a matmul with the strictly-upper-triangular [S, S] matrix: exact in float32 for S < 2²⁴).
	before := ConvertDType(LessThan(Iota(g, shapesOf(dtypes.Int32, s, s), 0),
		Iota(g, shapesOf(dtypes.Int32, s, s), 1)), dtypes.Float32) // [S(t), S(s)]: t < s
	ordinal := ConvertDType(Einsum("bt,ts->bs", ConvertDType(isImage, dtypes.Float32), before), dtypes.Int32) // [B, S]
	featIdx := Iota(g, shapesOf(dtypes.Int32, b, s, f), 2)                                                    // [B, S, F]
	pick := And(Equal(BroadcastToDims(Reshape(ordinal, b, s, 1), b, s, f), featIdx),
		BroadcastToDims(Reshape(isImage, b, s, 1), b, s, f)) // [B, S, F] one-hot
	spliced := EinsumT(ctx, "bsf,bfh->bsh", ConvertDType(pick, features.DType()), features) // [B, S, H]
	spliced = ConvertDType(spliced, embeds.DType())
	return Where(BroadcastToDims(Reshape(isImage, b, s, 1), b, s, h), spliced, embeds)
}
