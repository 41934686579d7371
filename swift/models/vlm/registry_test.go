package vlm

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goswift/goswift/swift/models"
)

// TestDispatchOutsideTheTextRegistry pins the dispatch the package doc describes: a LLaVA
// config.json is recognised by IsVLMConfig and parsed whole by ParseConfig, while the text
// registry (models.Names, models.ReadConfig) lists the text architectures only and refuses it by
// name instead of reading half a model.
func TestDispatchOutsideTheTextRegistry(t *testing.T) {
	raw, err := tinyConfig().JSON()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if !IsVLMConfig(dir) {
		t.Fatal("IsVLMConfig does not recognise a LLaVA config.json")
	}
	if IsVLMConfig(t.TempDir()) {
		t.Fatal("IsVLMConfig is true for a directory without config.json")
	}
	if _, err := ParseConfig(raw); err != nil {
		t.Fatal(err)
	}
	if names := models.Names(); slices.Contains(names, ModelType) || !slices.Contains(names, "llama") {
		t.Fatalf("models.Names() = %v: want the text architectures, without %q", names, ModelType)
	}
	_, err = models.ReadConfig(path)
	if err == nil || !strings.Contains(err.Error(), `model_type "llava"`) || !strings.Contains(err.Error(), path) {
		t.Fatalf("models.ReadConfig(llava config): error %v, want one naming the model_type and the file", err)
	}
}
