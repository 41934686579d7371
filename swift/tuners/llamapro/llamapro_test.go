package llamapro_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/llamapro"
)

func tiny(layers int) *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: layers,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
}

func logits(t *testing.T, ctx *context.Context, m *models.Model) []float32 {
	exec, err := context.NewExec(testutil.Backend(t), ctx, func(ctx *context.Context, tok, pos *Node) *Node {
		return m.Logits(ctx, models.Inputs{Tokens: tok, Positions: pos})
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec([][]int32{{1, 7, 3, 9}}, [][]int32{{0, 1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// TestExpansion: placement of the new blocks, the model's block list, exact identity at init,
// only the new blocks train, and the expanded config/tensor map of the merged export.
func TestExpansion(t *testing.T) {
	for _, tc := range []struct {
		layers, blocks int
		after          []int
	}{{5, 2, []int{2, 4}}, {4, 2, []int{1, 3}}, {4, 1, []int{3}}, {3, 3, []int{0, 1, 2}}} {
		t.Run(fmt.Sprintf("L%d+%d", tc.layers, tc.blocks), func(t *testing.T) {
			mc := tiny(tc.layers)
			ctx := context.New()
			if err := models.InitRandom(ctx, mc, 1); err != nil {
				t.Fatal(err)
			}
			m := models.New(mc)
			base := logits(t, ctx, m)
			tn, err := tuners.BuildAndAttach(&llamapro.Config{NumNewBlocks: tc.blocks}, ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			lp := tn.(*llamapro.LLaMAPro)
			if !slices.Equal(lp.After(), tc.after) {
				t.Fatalf("new blocks after %v, want %v", lp.After(), tc.after)
			}
			if n := len(m.Blocks()); n != tc.layers+tc.blocks {
				t.Fatalf("%d blocks", n)
			}
			got := logits(t, ctx, m)
			for i := range base {
				if base[i] != got[i] {
					t.Fatalf("logit %d changed at init: %g -> %g", i, base[i], got[i])
				}
			}
			for _, v := range tuners.TrainableVariables(ctx) {
				if !strings.HasPrefix(v.Scope(), llamapro.Scope+"/layers/") {
					t.Fatalf("%s trains", v.ScopeAndName())
				}
			}
			cfg, vars, err := lp.ExpandedModel(ctx, mc)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NumLayers != tc.layers+tc.blocks || len(vars) != len(cfg.ExpectedTensors()) {
				t.Fatalf("expanded: %d layers, %d tensors", cfg.NumLayers, len(vars))
			}
			newIdx := tc.after[0] + 1 // the first new block's position in the expanded model
			if v := vars[fmt.Sprintf("model.layers.%d.mlp.down_proj.weight", newIdx)]; !strings.HasPrefix(v.Scope(), llamapro.Scope) {
				t.Fatalf("expanded layer %d comes from %s", newIdx, v.Scope())
			}
		})
	}
	if _, err := tuners.BuildAndAttach(&llamapro.Config{NumNewBlocks: 9}, context.New(), models.New(tiny(4))); err == nil {
		t.Fatal("9 new blocks for 4 layers accepted")
	}
}

// Two identity blocks are inserted into a 4-block model; only they train.
func ExampleConfig() {
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(4), 1); err != nil {
		panic(err)
	}
	m := models.New(tiny(4))
	tn, err := tuners.BuildAndAttach(&llamapro.Config{NumNewBlocks: 2}, ctx, m)
	if err != nil {
		panic(err)
	}
	var paths []string
	for _, b := range m.Blocks() {
		paths = append(paths, b.Path)
	}
	fmt.Println(strings.Join(paths, "\n"))
	fmt.Println("after", tn.(*llamapro.LLaMAPro).After())
	// Output:
	// model.layers.0
	// model.layers.1
	// tuners.llamapro.layers.0
	// model.layers.2
	// model.layers.3
	// tuners.llamapro.layers.1
	// after [1 3]
}
