package adapter_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/adapter"
)

func tiny() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg     adapter.Config
		nVars   int // adapter variables
		wantErr string
	}{
		{adapter.Config{}, 2 * 2 * 4, ""},
		{adapter.Config{Positions: []string{"mlp"}, Dim: 4, Act: "relu"}, 2 * 4, ""},
		{adapter.Config{Act: "tanh"}, 0, `adapter_act "tanh"`},
		{adapter.Config{Positions: []string{"ffn"}}, 0, `"ffn" is not attn or mlp`},
		{adapter.Config{Dim: -1}, 0, "adapter_length"},
	} {
		ctx := context.New()
		if err := models.InitRandom(ctx, tiny(), 1); err != nil {
			t.Fatal(err)
		}
		_, err := tuners.BuildAndAttach(&tc.cfg, ctx, models.New(tiny()))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := len(tuners.TrainableVariables(ctx)); n != tc.nVars {
			t.Errorf("%+v: %d trainable variables, want %d", tc.cfg, n, tc.nVars)
		}
	}
}

// A 4-wide bottleneck after each MLP: 2 blocks × (16·4 + 4 + 4·16 + 16) parameters.
func ExampleConfig() {
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		panic(err)
	}
	cfg := &adapter.Config{Dim: 4, Positions: []string{"mlp"}}
	if _, err := tuners.BuildAndAttach(cfg, ctx, models.New(tiny())); err != nil {
		panic(err)
	}
	trainable, _ := tuners.CountParams(ctx)
	fmt.Println(trainable)
	// Output: 296
}
