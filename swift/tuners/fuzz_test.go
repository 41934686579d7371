package tuners_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/goswift/goswift/swift/tuners"
)

// FuzzReadAdapterConfig feeds a GoSwift adapter_config.json to ReadAdapterConfig: a registered
// tuner's config over its defaults, or an error naming the file — never a panic.
func FuzzReadAdapterConfig(f *testing.F) {
	for _, s := range []string{
		`{"tuner":"lora","config":{"rank":8,"alpha":16,"target_modules":["q","v"]}}`,
		`{"tuner":"qlora","config":{"rank":4,"quant":"nf4"}}`,
		`{"tuner":"llamapro","config":{"every":2}}`,
		`{"tuner":"lisa","config":{"layers":1,"interval":5}}`,
		`{"tuner":"lora","config":{"rank":-1}}`,
		`{"tuner":"nope","config":{}}`, `{"tuner":"lora","config":7}`, `{"config":{}}`,
		`[]`, ``,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, tuners.AdapterConfigFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		name, cfg, err := tuners.ReadAdapterConfig(dir)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if !slices.Contains(tuners.Names(), name) || cfg == nil {
			t.Fatalf("accepted tuner %q (config %v), registered: %v", name, cfg, tuners.Names())
		}
	})
}
