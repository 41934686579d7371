package data_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testmodel"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/models"
)

// nll runs the model on a batch and returns, per (row, segment), the weighted negative
// log-likelihood sum of its positions.
func nll(t *testing.T, ctx *context.Context, m *models.Model, b *data.Batch) map[[2]int]float64 {
	t.Helper()
	backend := testutil.Backend(t)
	exec, err := context.NewExec(backend, ctx, func(ctx *context.Context, tokens, positions, segments *Node) *Node {
		return m.Logits(ctx, models.Inputs{Tokens: tokens, Positions: positions, Segments: segments})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(b.Tokens, b.B, b.S),
		tensors.FromFlatDataAndDimensions(b.Positions, b.B, b.S), tensors.FromFlatDataAndDimensions(b.Segments, b.B, b.S))
	if err != nil {
		t.Fatal(err)
	}
	logits := tensors.MustCopyFlatData[float32](out[0])
	v := m.Config.VocabSize
	res := map[[2]int]float64{}
	for k := range b.B * b.S {
		if b.Segments[k] == 0 {
			continue
		}
		row := logits[k*v : (k+1)*v]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = math.Max(mx, float64(x))
		}
		z := 0.0
		for _, x := range row {
			z += math.Exp(float64(x) - mx)
		}
		lp := float64(row[b.Targets[k]]) - mx - math.Log(z)
		res[[2]int{k / b.S, int(b.Segments[k])}] += -lp * float64(b.Weights[k])
	}
	return res
}

// TestPackingEqualsOneByOne: a packed batch (several samples per row, block-diagonal causal
// attention, restarted positions) gives every sample the loss it gets alone.
func TestPackingEqualsOneByOne(t *testing.T) {
	ckCfg, ctx := testmodel.Stories260K(t, models.LoadOptions{})
	m := models.New(ckCfg)
	rng := rand.New(rand.NewPCG(1, 2))
	var exs []data.Example
	for i := range 9 {
		n := 6 + rng.IntN(40)
		e := data.Example{IDs: []int32{1}, Weights: []float32{0}}
		for j := 1; j < n; j++ {
			e.IDs = append(e.IDs, int32(3+rng.IntN(500)))
			w := float32(0)
			if j > n/3 {
				w = float32(1 + i%2) // some samples with a loss scale of 2
			}
			e.Weights = append(e.Weights, w)
		}
		exs = append(exs, e)
	}
	ds, err := data.NewSFTDataset(exs[:1], exs, data.SFTConfig{BatchSize: 2, MaxLength: 128, Packing: true})
	if err != nil {
		t.Fatal(err)
	}
	batches, err := ds.EvalBatches()
	if err != nil {
		t.Fatal(err)
	}
	scored := 0
	for _, b := range batches {
		for key, loss := range nll(t, ctx, m, b) {
			checkAlone(t, ctx, m, exs, b, key, loss)
			scored++
		}
	}
	if scored != len(exs) {
		t.Fatalf("the packed batches hold %d samples, want %d", scored, len(exs))
	}
	maxSeg := int32(0)
	for _, b := range batches {
		for _, s := range b.Segments {
			maxSeg = max(maxSeg, s)
		}
	}
	if maxSeg < 3 {
		t.Fatalf("rows hold at most %d samples: nothing was really packed", maxSeg)
	}
}

// checkAlone finds the example packed at key (row, segment) and scores it alone.
func checkAlone(t *testing.T, ctx *context.Context, m *models.Model, exs []data.Example, b *data.Batch, key [2]int, loss float64) {
	t.Helper()
	r, seg := key[0], key[1]
	var ids []int32
	for j := range b.S {
		if k := r*b.S + j; b.Segments[k] == int32(seg) {
			ids = append(ids, b.Tokens[k])
		}
	}
	var alone *data.Example
	for i := range exs {
		if len(exs[i].IDs)-1 == len(ids) && fmt.Sprint(exs[i].IDs[:len(ids)]) == fmt.Sprint(ids) {
			alone = &exs[i]
		}
	}
	if alone == nil {
		t.Fatalf("row %d segment %d matches no example", r, seg)
	}
	{
		one, err := data.NewSFTDataset(exs[:1], []data.Example{*alone}, data.SFTConfig{BatchSize: 1, MaxLength: 128})
		if err != nil {
			t.Fatal(err)
		}
		single, _ := one.EvalBatches()
		want := nll(t, ctx, m, single[0])[[2]int{0, 1}]
		if math.Abs(loss-want) > 1e-4*math.Max(1, math.Abs(want)) {
			t.Fatalf("row %d segment %d: packed loss %.6f, alone %.6f", r, seg, loss, want)
		}
	}
}
