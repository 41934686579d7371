package models

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
)

func tinyConfig(rope RoPEStyle, tied, bias bool, heads, kvHeads int) *Config {
	return &Config{ModelType: "llama", VocabSize: 37, HiddenSize: 24, IntermediateSize: 40, NumLayers: 2,
		NumHeads: heads, NumKVHeads: kvHeads, HeadDim: 24 / heads, RMSNormEps: 1e-5, RopeTheta: 10000,
		TieWordEmbeddings: tied, AttentionBias: bias, RoPE: rope, BOSTokenID: 1, EOSTokenID: 2}
}

// randomModel creates random weights, with random (non-zero) biases and norms so every term
// is exercised.
func randomModel(t *testing.T, cfg *Config, seed uint64) *context.Context {
	t.Helper()
	ctx := context.New()
	if err := InitRandom(ctx, cfg, seed); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for name := range cfg.ExpectedTensors() {
		scope, vn := SplitTensorName(name)
		v := ctx.GetVariableByScopeAndName(scope, vn)
		data := tensors.MustCopyFlatData[float32](v.MustValue())
		for i := range data {
			switch {
			case vn == "bias":
				data[i] = float32(rng.NormFloat64() * 0.3)
			case len(v.Shape().Dimensions) == 1:
				data[i] = float32(1 + rng.NormFloat64()*0.2)
			default:
				data[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...))
	}
	return ctx
}

func graphLogits(t *testing.T, ctx *context.Context, m *Model, tokens, positions, segments [][]int32) []float32 {
	t.Helper()
	backend := testutil.Backend(t)
	exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, pos, seg *Node) *Node {
		return m.Logits(ctx, Inputs{Tokens: tok, Positions: pos, Segments: seg})
	})
	out, err := exec.Exec(tokens, positions, segments)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// TestGraphMatchesReference checks the graph against a float64 loop-by-loop forward pass.
// Tolerance 1e-4 (abs): float32 accumulation on logits of magnitude ~10.
func TestGraphMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		cfg  *Config
	}{
		{"interleaved-tied-gqa", tinyConfig(RoPEInterleaved, true, false, 4, 2)},
		{"half-untied-bias-gqa", tinyConfig(RoPEHalf, false, true, 6, 2)},
		{"half-mha", tinyConfig(RoPEHalf, false, false, 3, 3)},
		{"interleaved-mqa-bias", tinyConfig(RoPEInterleaved, false, true, 4, 1)},
	}
	tokens := []int{1, 5, 9, 33, 2, 17, 0, 36, 12}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := randomModel(t, tc.cfg, 42)
			m := New(tc.cfg)
			want := newRefModel(ctx, tc.cfg).logits(tokens)
			tok, pos, seg := make([]int32, len(tokens)), make([]int32, len(tokens)), make([]int32, len(tokens))
			for i, id := range tokens {
				tok[i], pos[i], seg[i] = int32(id), int32(i), 1
			}
			got := graphLogits(t, ctx, m, [][]int32{tok}, [][]int32{pos}, [][]int32{seg})
			v := tc.cfg.VocabSize
			maxDiff := 0.0
			for s := range tokens {
				for i := range v {
					maxDiff = math.Max(maxDiff, math.Abs(float64(got[s*v+i])-want[s][i]))
				}
			}
			if maxDiff > 1e-4 {
				t.Fatalf("max |graph - reference| = %g > 1e-4", maxDiff)
			}
			t.Logf("max |graph - reference| = %.2g", maxDiff)
		})
	}
}

// TestSegmentsIsolatePackedSamples: two samples packed in one row (segments 1 and 2, positions
// restarted) give the same logits as each alone; padding (segment 0) changes nothing.
func TestSegmentsIsolatePackedSamples(t *testing.T) {
	cfg := tinyConfig(RoPEHalf, false, true, 4, 2)
	ctx := randomModel(t, cfg, 3)
	m := New(cfg)
	a := []int32{1, 4, 8, 15}
	b := []int32{1, 30, 22}
	alone := func(s []int32) []float32 {
		pos, seg := make([]int32, len(s)), make([]int32, len(s))
		for i := range s {
			pos[i], seg[i] = int32(i), 1
		}
		return graphLogits(t, ctx, m, [][]int32{s}, [][]int32{pos}, [][]int32{seg})
	}
	wantA, wantB := alone(a), alone(b)
	packed := append(append(append([]int32{}, a...), b...), 0, 0) // + 2 padding tokens
	pos := []int32{0, 1, 2, 3, 0, 1, 2, 0, 0}
	seg := []int32{1, 1, 1, 1, 2, 2, 2, 0, 0}
	got := graphLogits(t, ctx, m, [][]int32{packed}, [][]int32{pos}, [][]int32{seg})
	v := cfg.VocabSize
	check := func(want []float32, offset int) {
		for i := range want {
			if d := math.Abs(float64(got[offset*v+i] - want[i])); d > 1e-5 {
				t.Fatalf("packed logits differ from alone at offset %d index %d by %g", offset, i, d)
			}
		}
	}
	check(wantA, 0)
	check(wantB, len(a))
}

// TestInterleavedToHalfExport: a model with interleaved RoPE exported with permuted q/k rows
// computes the same logits as a half-rotation model.
func TestInterleavedToHalfExport(t *testing.T) {
	cfg := tinyConfig(RoPEInterleaved, false, true, 4, 2)
	ctx := randomModel(t, cfg, 11)
	ts, err := ExportTensors(ctx, cfg, "F32")
	if err != nil {
		t.Fatal(err)
	}
	half := *cfg
	half.RoPE = RoPEHalf
	ctx2 := context.New()
	for _, tt := range ts {
		if err := StoreTensor(ctx2, tt.Name, tt.Shape, tt.Data, LoadOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tok := [][]int32{{1, 5, 9, 20, 3}}
	pos := [][]int32{{0, 1, 2, 3, 4}}
	seg := [][]int32{{1, 1, 1, 1, 1}}
	a := graphLogits(t, ctx, New(cfg), tok, pos, seg)
	b := graphLogits(t, ctx2, New(&half), tok, pos, seg)
	for i := range a {
		if d := math.Abs(float64(a[i] - b[i])); d > 1e-5 {
			t.Fatalf("logit %d: interleaved %g vs exported half %g", i, a[i], b[i])
		}
	}
}

// TestShapes: the built-in shapes validate and have their published parameter counts.
func TestShapes(t *testing.T) {
	want := map[string]float64{"stories15m": 15.2e6, "smollm-135m": 134.5e6, "qwen2.5-0.5b": 494.0e6}
	for _, name := range ShapeNames() {
		c, err := Shape(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := float64(c.NumParams())
		if w := want[name]; math.Abs(n-w)/w > 0.01 {
			t.Errorf("%s: %.1fM parameters, published ~%.1fM", name, n/1e6, w/1e6)
		}
	}
	if _, err := Shape("gpt-5"); err == nil {
		t.Fatal("unknown shape accepted")
	}
}
