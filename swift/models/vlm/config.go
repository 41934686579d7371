package vlm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
)

// ModelType is the config.json model_type of a LLaVA-style checkpoint.
const ModelType = "llava"

// VisionConfig is the vision tower's shape (a SigLIP-style ViT).
type VisionConfig struct {
	HiddenSize       int     `json:"hidden_size"`
	IntermediateSize int     `json:"intermediate_size"`
	NumLayers        int     `json:"num_hidden_layers"`
	NumHeads         int     `json:"num_attention_heads"`
	ImageSize        int     `json:"image_size"`
	PatchSize        int     `json:"patch_size"`
	NumChannels      int     `json:"num_channels"`
	LayerNormEps     float64 `json:"layer_norm_eps"`
}

// GridSize is the number of patches per side.
func (v VisionConfig) GridSize() int { return v.ImageSize / v.PatchSize }

// NumPatches is the number of patches (and image placeholder tokens) per image.
func (v VisionConfig) NumPatches() int { return v.GridSize() * v.GridSize() }

// PatchDim is the width of a flattened patch: C·P·P.
func (v VisionConfig) PatchDim() int { return v.NumChannels * v.PatchSize * v.PatchSize }

// Config is a vision-language model: the vision tower, the projector to the text model and the
// image placeholder token.
type Config struct {
	Vision VisionConfig
	Text   *models.Config
	// ImageTokenID is the placeholder id ("image_token_index"); it must be in the text
	// vocabulary and never appear in ordinary text.
	ImageTokenID int
	// ImageMean and ImageStd normalise pixels per channel: (x/255 − mean)/std
	// (preprocessor_config.json's image_mean/image_std).
	ImageMean, ImageStd []float32
}

// Validate checks the config is a model this package builds, naming the field at fault.
func (c *Config) Validate() error {
	v := c.Vision
	for _, f := range []struct {
		name string
		val  int
	}{{"vision_config.hidden_size", v.HiddenSize}, {"vision_config.intermediate_size", v.IntermediateSize},
		{"vision_config.num_hidden_layers", v.NumLayers}, {"vision_config.num_attention_heads", v.NumHeads},
		{"vision_config.image_size", v.ImageSize}, {"vision_config.patch_size", v.PatchSize},
		{"vision_config.num_channels", v.NumChannels}} {
		if f.val <= 0 {
			return errors.Errorf("vlm config: %s = %d must be positive", f.name, f.val)
		}
	}
	if v.ImageSize%v.PatchSize != 0 {
		return errors.Errorf("vlm config: vision_config.image_size %d is not a multiple of patch_size %d", v.ImageSize, v.PatchSize)
	}
	if v.HiddenSize%v.NumHeads != 0 {
		return errors.Errorf("vlm config: vision_config.hidden_size %d is not a multiple of num_attention_heads %d", v.HiddenSize, v.NumHeads)
	}
	if v.LayerNormEps <= 0 {
		return errors.Errorf("vlm config: vision_config.layer_norm_eps %g must be positive", v.LayerNormEps)
	}
	if c.Text == nil {
		return errors.New("vlm config: text_config is missing")
	}
	if err := c.Text.Validate(); err != nil {
		return errors.WithMessage(err, "vlm config: text_config")
	}
	if c.ImageTokenID < 0 || c.ImageTokenID >= c.Text.VocabSize {
		return errors.Errorf("vlm config: image_token_index %d outside the text vocabulary [0, %d)", c.ImageTokenID, c.Text.VocabSize)
	}
	if len(c.ImageMean) != v.NumChannels || len(c.ImageStd) != v.NumChannels {
		return errors.Errorf("vlm config: image_mean/image_std have %d/%d values, want %d (num_channels)",
			len(c.ImageMean), len(c.ImageStd), v.NumChannels)
	}
	for i, s := range c.ImageStd {
		if !(s > 0) {
			return errors.Errorf("vlm config: image_std[%d] = %g must be positive", i, s)
		}
	}
	return nil
}

// String summarises the config for logs.
func (c *Config) String() string {
	v := c.Vision
	return fmt.Sprintf("llava: vision %d×%d px, patch %d (%d tokens/image), %d layers × %d wide; projector %d→%d; text %s",
		v.ImageSize, v.ImageSize, v.PatchSize, v.NumPatches(), v.NumLayers, v.HiddenSize, v.HiddenSize, c.Text.HiddenSize, c.Text)
}

// IsVLMConfig reports whether the config.json in dir declares a LLaVA-style model.
func IsVLMConfig(dir string) bool {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return false
	}
	var head struct {
		ModelType string `json:"model_type"`
	}
	return json.Unmarshal(raw, &head) == nil && head.ModelType == ModelType
}

// hfConfig is config.json of a LLaVA checkpoint (the keys this package reads and writes).
type hfConfig struct {
	Architectures       []string        `json:"architectures,omitempty"`
	ModelType           string          `json:"model_type"`
	ImageTokenIndex     *int            `json:"image_token_index"`
	ProjectorHiddenAct  string          `json:"projector_hidden_act,omitempty"`
	VisionFeatureLayer  *int            `json:"vision_feature_layer,omitempty"`
	VisionFeatureSelect string          `json:"vision_feature_select_strategy,omitempty"`
	VisionConfig        json.RawMessage `json:"vision_config"`
	TextConfig          json.RawMessage `json:"text_config"`
	ImageSeqLength      int             `json:"image_seq_length,omitempty"`
	MultimodalProjBias  *bool           `json:"multimodal_projector_bias,omitempty"`
	TorchDType          string          `json:"torch_dtype,omitempty"`
	GoSwiftImageMean    []float32       `json:"goswift_image_mean,omitempty"`
	GoSwiftImageStd     []float32       `json:"goswift_image_std,omitempty"`
}

type hfVision struct {
	ModelType string `json:"model_type,omitempty"`
	HiddenAct string `json:"hidden_act,omitempty"`
	VisionConfig
}

// ParseConfig decodes a LLaVA config.json. It accepts what this package implements: a
// SigLIP-style tower whose last layer feeds the projector ("full" feature selection, tanh-GELU
// projector with biases) over any Llama-family text model; anything else is an error naming the
// key.
func ParseConfig(raw []byte) (*Config, error) {
	var h hfConfig
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, errors.Wrap(err, "vlm config.json")
	}
	if h.ModelType != ModelType {
		return nil, errors.Errorf("vlm config.json: model_type %q, want %q", h.ModelType, ModelType)
	}
	if h.ImageTokenIndex == nil {
		return nil, errors.New("vlm config.json: image_token_index is missing")
	}
	if h.ProjectorHiddenAct != "gelu_pytorch_tanh" {
		return nil, errors.Errorf("vlm config.json: projector_hidden_act %q not implemented (gelu_pytorch_tanh)", h.ProjectorHiddenAct)
	}
	if h.VisionFeatureLayer != nil && *h.VisionFeatureLayer != -1 {
		return nil, errors.Errorf("vlm config.json: vision_feature_layer %d not implemented (-1: the last layer)", *h.VisionFeatureLayer)
	}
	if h.VisionFeatureSelect != "" && h.VisionFeatureSelect != "full" {
		return nil, errors.Errorf("vlm config.json: vision_feature_select_strategy %q not implemented (\"full\": every patch, no class token)", h.VisionFeatureSelect)
	}
	if h.MultimodalProjBias != nil && !*h.MultimodalProjBias {
		return nil, errors.New("vlm config.json: multimodal_projector_bias false not implemented")
	}
	var v hfVision
	if len(h.VisionConfig) == 0 {
		return nil, errors.New("vlm config.json: vision_config is missing")
	}
	if err := json.Unmarshal(h.VisionConfig, &v); err != nil {
		return nil, errors.Wrap(err, "vlm config.json: vision_config")
	}
	if v.HiddenAct != "" && v.HiddenAct != "gelu_pytorch_tanh" {
		return nil, errors.Errorf("vlm config.json: vision_config.hidden_act %q not implemented (gelu_pytorch_tanh)", v.HiddenAct)
	}
	if v.ModelType != "" && v.ModelType != "siglip_vision_model" {
		return nil, errors.Errorf("vlm config.json: vision_config.model_type %q not implemented (siglip_vision_model)", v.ModelType)
	}
	if len(h.TextConfig) == 0 {
		return nil, errors.New("vlm config.json: text_config is missing")
	}
	text, err := models.ParseConfig(h.TextConfig)
	if err != nil {
		return nil, errors.WithMessage(err, "vlm config.json: text_config")
	}
	return NewConfig(v.VisionConfig, text, *h.ImageTokenIndex, h.GoSwiftImageMean, h.GoSwiftImageStd)
}

// NewConfig returns the validated config of a vision tower v over the text model, with the
// defaults of a config.json that leaves them out: 3 channels, LayerNorm eps 1e-6, and mean and
// std 0.5 for every channel when mean or std is nil.
func NewConfig(v VisionConfig, text *models.Config, imageTokenID int, mean, std []float32) (*Config, error) {
	if v.NumChannels == 0 {
		v.NumChannels = 3
	}
	if v.LayerNormEps == 0 {
		v.LayerNormEps = 1e-6
	}
	half := func() []float32 {
		out := make([]float32, max(v.NumChannels, 0))
		for i := range out {
			out[i] = 0.5
		}
		return out
	}
	if mean == nil {
		mean = half()
	}
	if std == nil {
		std = half()
	}
	c := &Config{Vision: v, Text: text, ImageTokenID: imageTokenID, ImageMean: mean, ImageStd: std}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// JSON renders the config as a Hugging Face LLaVA config.json.
func (c *Config) JSON() ([]byte, error) {
	text := *c.Text
	text.RoPE = models.RoPEHalf // exported weights use the HF layout (see models.ExportTensors)
	textJSON, err := text.JSON()
	if err != nil {
		return nil, err
	}
	visionJSON, err := json.Marshal(hfVision{ModelType: "siglip_vision_model", HiddenAct: "gelu_pytorch_tanh", VisionConfig: c.Vision})
	if err != nil {
		return nil, err
	}
	id, layer := c.ImageTokenID, -1
	bias := true
	return json.MarshalIndent(hfConfig{Architectures: []string{"LlavaForConditionalGeneration"}, ModelType: ModelType,
		ImageTokenIndex: &id, ProjectorHiddenAct: "gelu_pytorch_tanh", VisionFeatureLayer: &layer, VisionFeatureSelect: "full",
		VisionConfig: visionJSON, TextConfig: textJSON, ImageSeqLength: c.Vision.NumPatches(), MultimodalProjBias: &bias,
		TorchDType: "float32", GoSwiftImageMean: c.ImageMean, GoSwiftImageStd: c.ImageStd}, "", "  ")
}

// Tensor name prefixes of the vision parts.
const (
	VisionPrefix    = "vision_tower.vision_model"
	ProjectorPrefix = "multi_modal_projector"
)

// ExpectedTensors lists the vision tower's and projector's tensors with their dimensions (the
// language model's are c.Text.ExpectedTensors(), stored under "language_model.").
func (c *Config) ExpectedTensors() map[string][]int {
	v := c.Vision
	hv, ff, ht := v.HiddenSize, v.IntermediateSize, c.Text.HiddenSize
	e := VisionPrefix + ".embeddings."
	out := map[string][]int{
		e + "patch_embedding.weight":            {hv, v.NumChannels, v.PatchSize, v.PatchSize},
		e + "patch_embedding.bias":              {hv},
		e + "position_embedding.weight":         {v.NumPatches(), hv},
		VisionPrefix + ".post_layernorm.weight": {hv},
		VisionPrefix + ".post_layernorm.bias":   {hv},
		ProjectorPrefix + ".linear_1.weight":    {ht, hv},
		ProjectorPrefix + ".linear_1.bias":      {ht},
		ProjectorPrefix + ".linear_2.weight":    {ht, ht},
		ProjectorPrefix + ".linear_2.bias":      {ht},
	}
	for i := range v.NumLayers {
		p := fmt.Sprintf("%s.encoder.layers.%d.", VisionPrefix, i)
		for _, n := range []string{"layer_norm1", "layer_norm2"} {
			out[p+n+".weight"], out[p+n+".bias"] = []int{hv}, []int{hv}
		}
		for _, n := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
			out[p+"self_attn."+n+".weight"], out[p+"self_attn."+n+".bias"] = []int{hv, hv}, []int{hv}
		}
		out[p+"mlp.fc1.weight"], out[p+"mlp.fc1.bias"] = []int{ff, hv}, []int{ff}
		out[p+"mlp.fc2.weight"], out[p+"mlp.fc2.bias"] = []int{hv, ff}, []int{hv}
	}
	return out
}
