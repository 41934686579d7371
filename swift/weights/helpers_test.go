package weights

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// randomData returns n pseudo-random values in [-scale, scale).
func randomData(rng *rand.Rand, n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = (rng.Float32()*2 - 1) * scale
	}
	return out
}

// mustContain fails unless err is non-nil and its message contains every substring.
func mustContain(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error containing %q, got nil", subs)
	}
	if os.Getenv("WEIGHTS_SHOW_ERRORS") != "" {
		t.Logf("error: %v", err)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err.Error(), s)
		}
	}
}

// noTempFiles fails if dir holds leftovers of an atomic write.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("leftover temporary file %s in %s", e.Name(), dir)
		}
	}
}

// readAllSource reads every tensor of a source into a map.
func readAllSource(t testing.TB, src Source) map[string][]float32 {
	t.Helper()
	out := make(map[string][]float32)
	for _, name := range src.Names() {
		data, err := src.ReadFloat32(name)
		if err != nil {
			t.Fatalf("reading %q: %v", name, err)
		}
		out[name] = data
	}
	return out
}
