package swift_test

import (
	"slices"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/export"
	"github.com/goswift/goswift/swift/infer"
	"github.com/goswift/goswift/swift/tuners/qlora"
)

// TestLoadQuantizedExport: a quantised export (NF4, double quantisation) loads through
// swift.Load and generates exactly what the same base quantised while loading generates.
func TestLoadQuantizedExport(t *testing.T) {
	path := fixtures.Path(t, "models/stories260K/stories260K.bin")
	backend := testutil.Backend(t)
	base, err := swift.Load(path, swift.LoadOptions{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	q := (&qlora.Config{}).Quantization()
	if err := export.SaveQuantized(dir, base.Ctx, base.Arch, nil, q, export.Options{Tokenizer: base.Tokenizer}); err != nil {
		t.Fatal(err)
	}
	reloaded, err := swift.Load(dir, swift.LoadOptions{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	if reloaded.Format != "hf-quantized" {
		t.Fatalf("format %q", reloaded.Format)
	}
	inMemory, err := swift.Load(path, swift.LoadOptions{Backend: backend, For: &qlora.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	qlora.UseQuantizedBase(inMemory.Arch)
	gen := func(m *swift.Model) []int {
		res, err := m.Generate([]string{"Once upon a time, there was a little"}, infer.Options{MaxNewTokens: 24})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Tokens
	}
	a, b := gen(reloaded), gen(inMemory)
	if !slices.Equal(a, b) {
		t.Fatalf("quantised export generates %v, quantise-on-load %v", a, b)
	}
}
