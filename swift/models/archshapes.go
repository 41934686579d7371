package models

import (
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// shapes are real architectures' configs, for speed and memory runs with seeded random weights
// (InitRandom): the numbers come from the models' published config.json files.
var archShapes = map[string]Config{
	// llama2.c's stories15M.
	"stories15m": {ModelType: "llama", VocabSize: 32000, HiddenSize: 288, IntermediateSize: 768, NumLayers: 6,
		NumHeads: 6, NumKVHeads: 6, HeadDim: 48, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true,
		MaxPositions: 256, BOSTokenID: 1, EOSTokenID: 2, RoPE: RoPEInterleaved},
	// HuggingFaceTB/SmolLM-135M.
	"smollm-135m": {ModelType: "llama", VocabSize: 49152, HiddenSize: 576, IntermediateSize: 1536, NumLayers: 30,
		NumHeads: 9, NumKVHeads: 3, HeadDim: 64, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true,
		MaxPositions: 2048, BOSTokenID: 0, EOSTokenID: 0},
	// Qwen/Qwen2.5-0.5B.
	"qwen2.5-0.5b": {ModelType: "qwen2", VocabSize: 151936, HiddenSize: 896, IntermediateSize: 4864, NumLayers: 24,
		NumHeads: 14, NumKVHeads: 2, HeadDim: 64, RMSNormEps: 1e-6, RopeTheta: 1000000, TieWordEmbeddings: true,
		AttentionBias: true, MaxPositions: 32768, BOSTokenID: -1, EOSTokenID: 151643},
}

// ShapeNames lists the built-in architecture shapes, sorted.
func ShapeNames() []string {
	out := make([]string, 0, len(archShapes))
	for n := range archShapes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Shape returns a copy of a built-in architecture's config by name (case-insensitive).
func Shape(name string) (*Config, error) {
	c, ok := archShapes[strings.ToLower(name)]
	if !ok {
		return nil, errors.Errorf("unknown model shape %q (known: %s)", name, strings.Join(ShapeNames(), ", "))
	}
	return &c, nil
}
