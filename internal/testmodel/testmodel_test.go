package testmodel_test

import (
	"testing"

	"github.com/goswift/goswift/internal/testmodel"
	"github.com/goswift/goswift/swift/models"
)

func TestStories260K(t *testing.T) {
	cfg, ctx := testmodel.Stories260K(t, models.LoadOptions{})
	if cfg.VocabSize != 512 || cfg.NumLayers != 5 {
		t.Fatalf("stories260K config %s, want vocab 512 and 5 layers", cfg)
	}
	n := 0
	for range ctx.IterVariables() {
		n++
	}
	if n == 0 {
		t.Fatal("no variables loaded")
	}
}
