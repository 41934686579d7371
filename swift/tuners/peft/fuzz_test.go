package peft_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/goswift/goswift/swift/tuners/peft"
)

// FuzzReadConfig feeds adapter_config.json bytes to ReadConfig: it must map them to a valid
// tuner config or return an error naming the file, never panic.
func FuzzReadConfig(f *testing.F) {
	for _, s := range []string{
		`{"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj","v_proj"],"bias":"none"}`,
		`{"peft_type":"LORA","r":4,"target_modules":"all-linear","use_rslora":true}`,
		`{"peft_type":"LORA","r":4,"target_modules":".*\\.(q|v)_proj","use_dora":true}`,
		`{"peft_type":"LORA","r":4,"target_modules":"(unclosed"}`,
		`{"peft_type":"LORA","r":0,"target_modules":["q_proj"]}`,
		`{"peft_type":"LORA","r":4,"target_modules":7}`,
		`{"peft_type":"LORA","r":4,"target_modules":["q_proj"],"layers_to_transform":[0]}`,
		`{"peft_type":"IA3"}`, `{"peft_type":"LORA","r":4,"lora_dropout":-1,"target_modules":["q_proj"]}`,
		`[]`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, peft.ConfigFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, pc, err := peft.ReadConfig(dir)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if cfg == nil || pc == nil {
			t.Fatal("nil config without an error")
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ReadConfig returned a config that does not validate: %v", err)
		}
	})
}
