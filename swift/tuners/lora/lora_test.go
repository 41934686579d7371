package lora_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

func tiny(tied bool) *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: tied}
}

func attach(t *testing.T, cfg *lora.Config, mc *models.Config) (*lora.LoRA, *context.Context, error) {
	t.Helper()
	ctx := context.New()
	if err := models.InitRandom(ctx, mc, 1); err != nil {
		t.Fatal(err)
	}
	tn, err := tuners.BuildAndAttach(cfg, ctx, models.New(mc))
	if err != nil {
		return nil, ctx, err
	}
	return tn.(*lora.LoRA), ctx, nil
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name string
		cfg  lora.Config
		want []string // expected target paths of layer 0 (suffixes), and lm_head
	}{
		{"default all-linear", lora.Config{}, []string{"mlp.down_proj", "mlp.gate_proj", "mlp.up_proj",
			"self_attn.k_proj", "self_attn.o_proj", "self_attn.q_proj", "self_attn.v_proj"}},
		{"names", lora.Config{TargetModules: []string{"q_proj", "v_proj"}}, []string{"self_attn.q_proj", "self_attn.v_proj"}},
		{"lm_head", lora.Config{TargetModules: []string{"lm_head"}}, []string{"lm_head"}},
		{"regex layer 1 mlp", lora.Config{TargetRegex: `model\.layers\.1\.mlp\..*`}, []string{"mlp.down_proj", "mlp.gate_proj", "mlp.up_proj"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _, err := attach(t, &tc.cfg, tiny(false))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range l.Targets() {
				if strings.HasPrefix(p, "model.layers.0.") {
					got = append(got, strings.TrimPrefix(p, "model.layers.0."))
				} else if strings.HasPrefix(p, "model.layers.1.") && tc.cfg.TargetRegex != "" {
					got = append(got, strings.TrimPrefix(p, "model.layers.1."))
				} else if p == "lm_head" {
					got = append(got, p)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("targets %v, want %v (all: %v)", got, tc.want, l.Targets())
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  lora.Config
		want string
	}{
		{"negative rank", lora.Config{Rank: -1}, "rank"},
		{"negative alpha", lora.Config{Alpha: -2}, "lora_alpha"},
		{"dropout 1", lora.Config{Dropout: 1}, "lora_dropout"},
		{"unknown module", lora.Config{TargetModules: []string{"qproj"}}, `unknown module "qproj"`},
		{"bad regex", lora.Config{TargetRegex: "("}, "target_regex"},
		{"regex matches nothing", lora.Config{TargetRegex: "nothing"}, "match no projection"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := attach(t, &tc.cfg, tiny(false))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestScaling(t *testing.T) {
	for _, tc := range []struct {
		cfg  lora.Config
		want float64
	}{
		{lora.Config{}, 32.0 / 8},
		{lora.Config{Rank: 16, Alpha: 8}, 0.5},
		{lora.Config{Rank: 16, Alpha: 8, RSLoRA: true}, 2},
	} {
		if got := tc.cfg.Scaling(); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v: scaling %g, want %g", tc.cfg, got, tc.want)
		}
	}
}

// TestMergeTiedHeadRefused: LoRA on a tied lm_head cannot be merged (it would change the
// embeddings too): a clear error, nothing changed.
func TestMergeTiedHeadRefused(t *testing.T) {
	l, ctx, err := attach(t, &lora.Config{TargetModules: []string{"lm_head"}}, tiny(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Merge(ctx); err == nil || !strings.Contains(err.Error(), "tied") {
		t.Fatalf("merge error %v, want a tied-weight error", err)
	}
	if l.Merged() {
		t.Fatal("reported merged after a refused merge")
	}
}

// ExampleConfig attaches LoRA r8 on the attention projections of a small random Llama.
func ExampleConfig() {
	mc := tiny(false)
	ctx := context.New()
	if err := models.InitRandom(ctx, mc, 1); err != nil {
		panic(err)
	}
	cfg := &lora.Config{Rank: 8, Alpha: 16, TargetModules: []string{"q_proj", "k_proj", "v_proj", "o_proj"}}
	if _, err := tuners.BuildAndAttach(cfg, ctx, models.New(mc)); err != nil {
		panic(err)
	}
	trainable, total := tuners.CountParams(ctx)
	fmt.Printf("scaling %.1f, trainable %d of %d parameters\n", cfg.Scaling(), trainable, total)
	// Output: scaling 2.0, trainable 1792 of 7312 parameters
}
