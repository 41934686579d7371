package models

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// RoPEStyle says how rotary position embeddings pair up the dimensions of a head.
type RoPEStyle int

const (
	// RoPEHalf rotates dimension i with dimension i+headDim/2: the Hugging Face transformers
	// convention ("rotate_half").
	RoPEHalf RoPEStyle = iota
	// RoPEInterleaved rotates dimension 2j with 2j+1: the Meta/llama2.c convention.
	RoPEInterleaved
)

// String implements fmt.Stringer.
func (s RoPEStyle) String() string {
	if s == RoPEInterleaved {
		return "interleaved"
	}
	return "half"
}

// Config describes a Llama-family decoder. Field names follow Hugging Face's config.json.
type Config struct {
	ModelType         string    `json:"model_type"`
	VocabSize         int       `json:"vocab_size"`
	HiddenSize        int       `json:"hidden_size"`
	IntermediateSize  int       `json:"intermediate_size"`
	NumLayers         int       `json:"num_hidden_layers"`
	NumHeads          int       `json:"num_attention_heads"`
	NumKVHeads        int       `json:"num_key_value_heads"`
	HeadDim           int       `json:"head_dim"`
	RMSNormEps        float64   `json:"rms_norm_eps"`
	RopeTheta         float64   `json:"rope_theta"`
	TieWordEmbeddings bool      `json:"tie_word_embeddings"`
	MaxPositions      int       `json:"max_position_embeddings"`
	BOSTokenID        int       `json:"bos_token_id"`
	EOSTokenID        int       `json:"eos_token_id"`
	AttentionBias     bool      `json:"attention_bias"` // bias on q/k/v projections (qwen2 always)
	RoPE              RoPEStyle `json:"-"`
}

// KVDim is the width of the key (and value) projection: NumKVHeads × HeadDim.
func (c *Config) KVDim() int { return c.NumKVHeads * c.HeadDim }

// QDim is the width of the query projection: NumHeads × HeadDim.
func (c *Config) QDim() int { return c.NumHeads * c.HeadDim }

// Validate checks the numbers are a model this package can build.
func (c *Config) Validate() error {
	positive := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize},
		{"intermediate_size", c.IntermediateSize}, {"num_hidden_layers", c.NumLayers},
		{"num_attention_heads", c.NumHeads}, {"num_key_value_heads", c.NumKVHeads},
		{"head_dim", c.HeadDim},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return errors.Errorf("config: %s must be positive, got %d", p.name, p.v)
		}
		if p.v > 1<<24 {
			return errors.Errorf("config: %s=%d is implausibly large", p.name, p.v)
		}
	}
	if c.NumHeads%c.NumKVHeads != 0 {
		return errors.Errorf("config: num_attention_heads=%d is not a multiple of num_key_value_heads=%d",
			c.NumHeads, c.NumKVHeads)
	}
	if c.HeadDim%2 != 0 {
		return errors.Errorf("config: head_dim=%d must be even for rotary embeddings", c.HeadDim)
	}
	if c.RMSNormEps <= 0 {
		return errors.Errorf("config: rms_norm_eps must be positive, got %g", c.RMSNormEps)
	}
	if c.RopeTheta <= 0 {
		return errors.Errorf("config: rope_theta must be positive, got %g", c.RopeTheta)
	}
	return nil
}

// String gives a one-line summary.
func (c *Config) String() string {
	return fmt.Sprintf("%s: vocab=%d hidden=%d intermediate=%d layers=%d heads=%d kv_heads=%d head_dim=%d rope=%s(θ=%g) tied=%v",
		c.ModelType, c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKVHeads,
		c.HeadDim, c.RoPE, c.RopeTheta, c.TieWordEmbeddings)
}

// NumParams counts the parameters of the base model.
func (c *Config) NumParams() int64 {
	h, v, i := int64(c.HiddenSize), int64(c.VocabSize), int64(c.IntermediateSize)
	q, kv := int64(c.QDim()), int64(c.KVDim())
	perLayer := h*q + 2*h*kv + q*h + 3*h*i + 2*h
	if c.AttentionBias {
		perLayer += q + 2*kv
	}
	n := v*h + int64(c.NumLayers)*perLayer + h
	if !c.TieWordEmbeddings {
		n += v * h
	}
	return n
}

// ReadConfig reads a Hugging Face config.json, dispatching on model_type to the registered
// architecture, which rejects keys that would make a different model than the one built here.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrapf(err, "reading model config")
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, errors.WithMessagef(err, "%s", path)
	}
	return cfg, nil
}

// ParseConfig parses the bytes of a Hugging Face config.json.
func ParseConfig(data []byte) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, errors.Wrap(err, "config.json is not a JSON object")
	}
	var modelType string
	if mt, ok := raw["model_type"]; ok {
		if err := json.Unmarshal(mt, &modelType); err != nil {
			return nil, errors.Wrap(err, "config.json: model_type must be a string")
		}
	} else {
		return nil, errors.New("config.json: no model_type")
	}
	arch, ok := Lookup(modelType)
	if !ok {
		hint := ""
		if modelType == "llava" {
			hint = "; a llava config is a vision-language model: load it with swift.Load (swift/models/vlm)"
		}
		return nil, errors.Errorf("config.json: model_type %q is not supported (supported text models: %s)%s",
			modelType, strings.Join(Names(), ", "), hint)
	}
	return arch.ParseConfig(raw)
}

// configKeys is what a config.json may hold for the Llama family. Keys in ignoredKeys do not
// change the model's math; keys in checkedKeys must hold the value that the model implements.
var ignoredKeys = map[string]bool{
	"architectures": true, "torch_dtype": true, "transformers_version": true, "use_cache": true,
	"initializer_range": true, "pad_token_id": true, "_name_or_path": true, "pretraining_tp": true,
	"attention_dropout": true, "max_window_layers": true, "dtype": true, "model_type": true,
	"bos_token_id": true, "eos_token_id": true, "max_position_embeddings": true,
	"tie_word_embeddings": true, "vocab_size": true, "hidden_size": true, "intermediate_size": true,
	"num_hidden_layers": true, "num_attention_heads": true, "num_key_value_heads": true,
	"head_dim": true, "rms_norm_eps": true, "rope_theta": true, "attention_bias": true,
	"hidden_act": true, "mlp_bias": true, "rope_scaling": true, "sliding_window": true,
	"use_sliding_window": true, "is_llama_config": true,
	"output_attentions": true, "output_hidden_states": true, "return_dict": true,
	"id2label": true, "label2id": true, "bad_words_ids": true, "tokenizer_class": true,
	"layer_types": true,
}

// parseLlamaLike decodes the shared keys and applies the Llama family's checks. The arch
// arguments say what differs: qwen2 always has q/k/v biases.
func parseLlamaLike(raw map[string]json.RawMessage, qkvBias bool) (*Config, error) {
	var unknown []string
	for k := range raw {
		if !ignoredKeys[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		return nil, errors.Errorf("config.json: keys not implemented by this model: %s (refusing to build a silently different model)",
			strings.Join(unknown, ", "))
	}
	full, err := json.Marshal(raw)
	if err != nil {
		return nil, errors.Wrap(err, "config.json")
	}
	cfg := &Config{RMSNormEps: 1e-6, RopeTheta: 10000, BOSTokenID: -1, EOSTokenID: -1}
	if err := json.Unmarshal(full, cfg); err != nil {
		return nil, errors.Wrap(err, "config.json: bad value")
	}
	if err := checkNullOrValue(raw, "rope_scaling", "null"); err != nil {
		return nil, err
	}
	if err := checkNullOrValue(raw, "hidden_act", `"silu"`); err != nil {
		return nil, err
	}
	if err := checkNullOrValue(raw, "mlp_bias", "false"); err != nil {
		return nil, err
	}
	if err := checkNullOrValue(raw, "use_sliding_window", "false"); err != nil {
		return nil, err
	}
	if _, has := raw["use_sliding_window"]; !has {
		// Mistral: a window only changes the math for sequences longer than it.
		if err := checkSlidingWindow(raw, cfg.MaxPositions); err != nil {
			return nil, err
		}
	}
	if qkvBias {
		cfg.AttentionBias = true
	}
	if cfg.NumKVHeads == 0 {
		cfg.NumKVHeads = cfg.NumHeads
	}
	if cfg.HeadDim == 0 && cfg.NumHeads > 0 {
		cfg.HeadDim = cfg.HiddenSize / cfg.NumHeads
	}
	// bos/eos may be lists in some configs: keep the first.
	for key, dst := range map[string]*int{"bos_token_id": &cfg.BOSTokenID, "eos_token_id": &cfg.EOSTokenID} {
		if v, ok := raw[key]; ok {
			*dst = firstInt(v, -1)
		}
	}
	cfg.RoPE = RoPEHalf
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkNullOrValue accepts a missing key, JSON null, or exactly the one value implemented.
func checkNullOrValue(raw map[string]json.RawMessage, key, implemented string) error {
	v, ok := raw[key]
	if !ok {
		return nil
	}
	s := strings.TrimSpace(string(v))
	if s == "null" || s == implemented {
		return nil
	}
	return errors.Errorf("config.json: %s=%s is not implemented (only %s); refusing to build a silently different model",
		key, s, implemented)
}

func checkSlidingWindow(raw map[string]json.RawMessage, maxPositions int) error {
	v, ok := raw["sliding_window"]
	if !ok || strings.TrimSpace(string(v)) == "null" {
		return nil
	}
	var w int
	if err := json.Unmarshal(v, &w); err != nil {
		return errors.Errorf("config.json: sliding_window=%s is not an integer", v)
	}
	if maxPositions > 0 && w >= maxPositions {
		return nil
	}
	return errors.Errorf("config.json: sliding_window=%d (< max_position_embeddings=%d) is not implemented; "+
		"refusing to build a silently different model", w, maxPositions)
}

func firstInt(v json.RawMessage, def int) int {
	var i int
	if json.Unmarshal(v, &i) == nil {
		return i
	}
	var list []int
	if json.Unmarshal(v, &list) == nil && len(list) > 0 {
		return list[0]
	}
	return def
}

// JSON renders the config as a Hugging Face config.json. The exported weights must use the
// half-rotation RoPE layout (see ExportTensors), so no RoPE style key is written.
func (c *Config) JSON() ([]byte, error) {
	out := map[string]any{
		"model_type":              c.ModelType,
		"vocab_size":              c.VocabSize,
		"hidden_size":             c.HiddenSize,
		"intermediate_size":       c.IntermediateSize,
		"num_hidden_layers":       c.NumLayers,
		"num_attention_heads":     c.NumHeads,
		"num_key_value_heads":     c.NumKVHeads,
		"head_dim":                c.HeadDim,
		"rms_norm_eps":            c.RMSNormEps,
		"rope_theta":              c.RopeTheta,
		"tie_word_embeddings":     c.TieWordEmbeddings,
		"max_position_embeddings": c.MaxPositions,
		"hidden_act":              "silu",
		"torch_dtype":             "float32",
		"architectures":           []string{architectureClass(c.ModelType)},
	}
	if c.BOSTokenID >= 0 {
		out["bos_token_id"] = c.BOSTokenID
	}
	if c.EOSTokenID >= 0 {
		out["eos_token_id"] = c.EOSTokenID
	}
	if c.ModelType != "qwen2" {
		out["attention_bias"] = c.AttentionBias
	}
	return json.MarshalIndent(out, "", "  ")
}

func architectureClass(modelType string) string {
	switch modelType {
	case "qwen2":
		return "Qwen2ForCausalLM"
	case "mistral":
		return "MistralForCausalLM"
	default:
		return "LlamaForCausalLM"
	}
}
