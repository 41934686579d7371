package freeze_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/freeze"
)

func tiny() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 4,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
}

// trainableParts lists the distinct "<layer or part>" prefixes of the trainable variables.
func trainableParts(ctx *context.Context) []string {
	set := map[string]bool{}
	for _, v := range tuners.TrainableVariables(ctx) {
		name := models.TensorName(v.Scope(), v.Name())
		if rest, ok := strings.CutPrefix(name, "model.layers."); ok {
			idx, _, _ := strings.Cut(rest, ".")
			set["layer"+idx] = true
		} else {
			set[name] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func attach(cfg *freeze.Config) (*context.Context, error) {
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		return nil, err
	}
	_, err := tuners.BuildAndAttach(cfg, ctx, models.New(tiny()))
	return ctx, err
}

func TestTrainableSelection(t *testing.T) {
	tests := []struct {
		name string
		cfg  freeze.Config
		want string
		err  string
	}{
		{"default: last 2 blocks", freeze.Config{}, "[layer2 layer3]", ""},
		{"last 1", freeze.Config{TrainableLayers: 1}, "[layer3]", ""},
		{"head only", freeze.Config{TrainableParts: []string{"lm_head"}}, "[lm_head.weight]", ""},
		{"mlp of every block + norm", freeze.Config{TrainableParts: []string{"mlp", "model.norm"}}, "[layer0 layer1 layer2 layer3 model.norm.weight]", ""},
		{"layer 0 and the last", freeze.Config{TrainableLayers: 1, TrainableParts: []string{"layers.0"}}, "[layer0 layer3]", ""},
		{"too many layers", freeze.Config{TrainableLayers: 5}, "", "trainable_layers=5 but the model has 4"},
		{"unknown part", freeze.Config{TrainableParts: []string{"mlpx"}}, "", `"mlpx" matches no weight`},
		{"bad part", freeze.Config{TrainableParts: []string{"mlp."}}, "", "is not a dotted name"},
		{"negative", freeze.Config{TrainableLayers: -1}, "", "trainable_layers must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, err := attach(&tc.cfg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(trainableParts(ctx)); got != tc.want {
				t.Fatalf("trainable %s, want %s", got, tc.want)
			}
		})
	}
}

// The last decoder block and the final norm train; everything else is frozen.
func ExampleConfig() {
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		panic(err)
	}
	cfg := &freeze.Config{TrainableLayers: 1, TrainableParts: []string{"model.norm"}}
	if _, err := tuners.BuildAndAttach(cfg, ctx, models.New(tiny())); err != nil {
		panic(err)
	}
	trainable, total := tuners.CountParams(ctx)
	fmt.Println(trainable, "of", total, "parameters train:", trainableParts(ctx))
	// Output: 1968 of 9424 parameters train: [layer3 model.norm.weight]
}
