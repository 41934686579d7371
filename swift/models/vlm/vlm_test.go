package vlm

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/weights"
)

// tinyConfig is a small VLM: 8×8 RGB images in 4×4 patches (4 tokens per image) over a
// 2-layer Llama.
func tinyConfig() *Config {
	text := &models.Config{ModelType: "llama", VocabSize: 40, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositions: 64,
		BOSTokenID: 1, EOSTokenID: 2, RoPE: models.RoPEHalf}
	return &Config{Vision: VisionConfig{HiddenSize: 12, IntermediateSize: 20, NumLayers: 2, NumHeads: 3, ImageSize: 8,
		PatchSize: 4, NumChannels: 3, LayerNormEps: 1e-6}, Text: text, ImageTokenID: 3,
		ImageMean: []float32{0.5, 0.4, 0.3}, ImageStd: []float32{0.2, 0.25, 0.3}}
}

// randomVLM creates random weights with non-trivial norms and biases.
func randomVLM(t *testing.T, cfg *Config, seed uint64) *context.Context {
	t.Helper()
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg.Text, seed); err != nil {
		t.Fatal(err)
	}
	if err := InitVision(ctx, cfg, seed); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	for name := range cfg.ExpectedTensors() {
		scope, vn := models.SplitTensorName(name)
		v := ctx.GetVariableByScopeAndName(scope, vn)
		data := tensors.MustCopyFlatData[float32](v.MustValue())
		for i := range data {
			data[i] = float32(rng.NormFloat64() * 0.3)
			if strings.Contains(name, "norm") && vn == "weight" {
				data[i] += 1
			}
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...))
	}
	return ctx
}

func TestConfigRoundTrip(t *testing.T) {
	cfg := tinyConfig()
	raw, err := cfg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if back.Vision != cfg.Vision || back.ImageTokenID != cfg.ImageTokenID || back.Text.HiddenSize != 16 ||
		back.Text.NumKVHeads != 2 || back.ImageStd[2] != 0.3 {
		t.Fatalf("round trip changed the config: %+v", back)
	}
	if got := cfg.Vision.NumPatches(); got != 4 {
		t.Fatalf("NumPatches = %d, want 4", got)
	}
}

func TestParseConfigErrors(t *testing.T) {
	good, _ := tinyConfig().JSON()
	tests := []struct{ name, from, to, want string }{
		{"wrong model type", `"model_type": "llava"`, `"model_type": "blip"`, "model_type"},
		{"no image token", `"image_token_index": 3`, `"image_token_indexx": 3`, "image_token_index is missing"},
		{"token outside vocab", `"image_token_index": 3`, `"image_token_index": 400`, "outside the text vocabulary"},
		{"patch not dividing", `"patch_size": 4`, `"patch_size": 3`, "not a multiple of patch_size"},
		{"exact gelu", `"projector_hidden_act": "gelu_pytorch_tanh"`, `"projector_hidden_act": "gelu"`, "projector_hidden_act"},
		{"penultimate layer", `"vision_feature_layer": -1`, `"vision_feature_layer": -2`, "vision_feature_layer"},
		{"clip tower", `"model_type": "siglip_vision_model"`, `"model_type": "clip_vision_model"`, "vision_config.model_type"},
		{"bad text", `"num_attention_heads": 4`, `"num_attention_heads": 0`, "text_config"},
		{"not json", `{`, `[`, "config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := strings.Replace(string(good), tc.from, tc.to, 1)
			if raw == string(good) {
				t.Fatalf("test did not change the config (%q not found)", tc.from)
			}
			_, err := ParseConfig([]byte(raw))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestPatchify checks the patch order and flattening against a loop: patch (gy, gx) holds
// pixels (c, gy·P+py, gx·P+px) at index c·P·P + py·P + px, like a conv weight [Hv, C, P, P].
func TestPatchify(t *testing.T) {
	const m, c, hw, p = 2, 3, 8, 4
	img := make([]float32, m*c*hw*hw)
	for i := range img {
		img[i] = float32(i)
	}
	exec := context.MustNewExec(testutil.Backend(t), context.New(), func(ctx *context.Context, x *Node) *Node {
		return Patchify(x, p)
	})
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(img, m, c, hw, hw))
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](out[0])
	g := hw / p
	for im := range m {
		for gy := range g {
			for gx := range g {
				for ch := range c {
					for py := range p {
						for px := range p {
							want := img[((im*c+ch)*hw+gy*p+py)*hw+gx*p+px]
							k := ((im*g*g+gy*g+gx)*c*p*p + ch*p*p + py*p + px)
							if got[k] != want {
								t.Fatalf("image %d patch (%d,%d) c%d (%d,%d): got %v want %v", im, gy, gx, ch, py, px, got[k], want)
							}
						}
					}
				}
			}
		}
	}
}

// vlmLogits runs the VLM on tokens with images [B, K, C, H, W].
func vlmLogits(t *testing.T, ctx *context.Context, m *models.Model, tokens [][]int32, imgs *tensors.Tensor) []float32 {
	t.Helper()
	exec := context.MustNewExec(testutil.Backend(t), ctx, func(ctx *context.Context, tok, pos, im *Node) *Node {
		return m.Logits(ctx, models.Inputs{Tokens: tok, Positions: pos, Images: im})
	})
	pos := make([][]int32, len(tokens))
	for r := range tokens {
		pos[r] = make([]int32, len(tokens[r]))
		for i := range pos[r] {
			pos[r][i] = int32(i)
		}
	}
	out, err := exec.Exec(tokens, pos, imgs)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

func randomImages(b, k int, cfg *Config, seed uint64) *tensors.Tensor {
	v := cfg.Vision
	rng := rand.New(rand.NewPCG(seed, 3))
	data := make([]float32, b*k*v.NumChannels*v.ImageSize*v.ImageSize)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, b, k, v.NumChannels, v.ImageSize, v.ImageSize)
}

// TestSaveLoadRoundTrip writes a random VLM in HF LLaVA layout, reads it back and checks the
// logits with images are identical; the images change the logits (the splice is live).
func TestSaveLoadRoundTrip(t *testing.T) {
	cfg := tinyConfig()
	ctx := randomVLM(t, cfg, 5)
	dir := t.TempDir()
	if err := Save(dir, ctx, cfg, weights.F32); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors", "preprocessor_config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	src, err := weights.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Join(src.Names(), " ")
	src.Close()
	for _, want := range []string{"language_model.model.layers.1.mlp.down_proj.weight", "language_model.lm_head.weight",
		"vision_tower.vision_model.encoder.layers.1.self_attn.out_proj.bias", "multi_modal_projector.linear_2.weight"} {
		if !strings.Contains(names, want) {
			t.Fatalf("checkpoint lacks %s; has %s", want, names)
		}
	}
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	ctx2 := context.New()
	if err := LoadVariables(ctx2, ck, models.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	tokens := [][]int32{{1, 3, 3, 3, 3, 9, 10}, {1, 5, 3, 3, 3, 3, 11}}
	imgs := randomImages(2, 1, cfg, 9)
	a := vlmLogits(t, ctx, New(cfg), tokens, imgs)
	b := vlmLogits(t, ctx2, New(ck.Config), tokens, imgs)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			t.Fatalf("logit %d: %v before save, %v after load", i, a[i], b[i])
		}
	}
	other := vlmLogits(t, ctx, New(cfg), tokens, randomImages(2, 1, cfg, 10))
	diff := 0.0
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i]-other[i])))
	}
	if diff < 1e-3 {
		t.Fatalf("other images changed the logits by only %g: the image features do not reach the model", diff)
	}
}

// TestOpenErrors: a missing vision tensor, an extra one and a wrong shape name the tensor.
func TestOpenErrors(t *testing.T) {
	cfg := tinyConfig()
	ctx := randomVLM(t, cfg, 1)
	dir := t.TempDir()
	if err := Save(dir, ctx, cfg, weights.F32); err != nil {
		t.Fatal(err)
	}
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ck.Close()
	other := *cfg
	other.Vision.NumLayers = 3
	raw, _ := other.JSON()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ck, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	err = LoadVariables(context.New(), ck, models.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "encoder.layers.2") {
		t.Fatalf("error %v, want the missing layer-2 tensor named", err)
	}
}

// TestGradientMatchesPlain checks the VLM's training gradients (gomlx_ext/dotgrad through the
// splice, attention and patch embedding) against GoMLX's own gradient, for a vision weight, a
// projector weight and a language-model weight. Tolerance 1e-4 relative to the largest entry.
func TestGradientMatchesPlain(t *testing.T) {
	cfg := tinyConfig()
	ctx := randomVLM(t, cfg, 2)
	m := New(cfg)
	tokens := [][]int32{{1, 3, 3, 3, 3, 9, 10, 11}, {1, 5, 3, 3, 3, 3, 12, 13}}
	imgs := randomImages(2, 1, cfg, 4)
	pos := [][]int32{{0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7}}
	names := []string{VisionPrefix + ".embeddings.patch_embedding.weight", VisionPrefix + ".encoder.layers.0.self_attn.q_proj.weight",
		ProjectorPrefix + ".linear_1.weight", "model.layers.0.self_attn.q_proj.weight"}
	grads := func(plain bool) [][]float32 {
		ctx.SetParam(models.ParamPlainMatMulGradient, plain)
		exec := context.MustNewExec(testutil.Backend(t), ctx, func(ctx *context.Context, tok, p, im *Node) []*Node {
			ctx.SetTraining(tok.Graph(), true)
			logits := m.Logits(ctx, models.Inputs{Tokens: tok, Positions: p, Images: im}) // [B, S, V]
			loss := ReduceAllSum(Mul(logits, logits))
			var ws []*Node
			for _, n := range names {
				scope, vn := models.SplitTensorName(n)
				ws = append(ws, ctx.GetVariableByScopeAndName(scope, vn).ValueGraph(tok.Graph()))
			}
			return Gradient(loss, ws...)
		})
		out, err := exec.Exec(tokens, pos, imgs)
		if err != nil {
			t.Fatal(err)
		}
		res := make([][]float32, len(out))
		for i, o := range out {
			res[i] = tensors.MustCopyFlatData[float32](o)
		}
		return res
	}
	fast, plain := grads(false), grads(true)
	for k, n := range names {
		scale := 0.0
		for _, x := range plain[k] {
			scale = max(scale, math.Abs(float64(x)))
		}
		if scale == 0 {
			t.Fatalf("%s: zero gradient", n)
		}
		for i := range plain[k] {
			if d := math.Abs(float64(fast[k][i] - plain[k][i])); d > 1e-4*scale {
				t.Fatalf("%s[%d]: dotgrad %v, GoMLX %v (scale %v)", n, i, fast[k][i], plain[k][i], scale)
			}
		}
	}
}
