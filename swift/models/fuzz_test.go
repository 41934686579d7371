package models

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

// FuzzParseConfig feeds config.json bytes to ParseConfig: it must return a config or an error,
// never panic, and a config it accepts must validate and survive a JSON() round trip unchanged.
func FuzzParseConfig(f *testing.F) {
	if dir := fixtures.Dir(); dir != "" {
		for _, m := range []string{"tiny_llama", "tiny_qwen2"} {
			if b, err := os.ReadFile(filepath.Join(dir, "golden", "hf", m, "config.json")); err == nil {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		`{"model_type":"llama","vocab_size":32,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1}`,
		`{"model_type":"mistral","vocab_size":32,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"sliding_window":4096}`,
		`{"model_type":"qwen2","vocab_size":32,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"tie_word_embeddings":true}`,
		`{"model_type":"llama","rope_scaling":{"type":"linear","factor":2}}`,
		`{"model_type":"llama","hidden_size":-1,"num_attention_heads":0}`,
		`{"model_type":"llama","hidden_act":"gelu"}`,
		`{"model_type":7}`, `[]`, `null`, ``, `{"model_type":"llama","head_dim":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config that does not validate: %v", err)
		}
		out, err := cfg.JSON()
		if err != nil {
			t.Fatalf("JSON of an accepted config: %v", err)
		}
		again, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", out, err)
		}
		if cfg.HiddenSize != again.HiddenSize || cfg.NumLayers != again.NumLayers ||
			cfg.NumHeads != again.NumHeads || cfg.NumKVHeads != again.NumKVHeads || cfg.HeadDim != again.HeadDim ||
			cfg.VocabSize != again.VocabSize || cfg.IntermediateSize != again.IntermediateSize ||
			cfg.TieWordEmbeddings != again.TieWordEmbeddings {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, again)
		}
	})
}
