package vlm

import "testing"

// FuzzParseConfig: any bytes give a config that validates or an error, never a panic.
func FuzzParseConfig(f *testing.F) {
	good, _ := tinyConfig().JSON()
	f.Add(good)
	f.Add([]byte(`{"model_type": "llava"}`))
	f.Add([]byte(`{"model_type": "llava", "image_token_index": 3, "projector_hidden_act": "gelu_pytorch_tanh", "vision_config": {}, "text_config": {}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := ParseConfig(raw)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig returned a config that does not validate: %v", err)
		}
		_ = cfg.ExpectedTensors()
	})
}
