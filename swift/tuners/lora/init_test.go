package lora_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// uniformStats returns the largest |x|, the mean and the sample standard deviation.
func uniformStats(x []float32) (maxAbs, mean, std float64) {
	for _, v := range x {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return maxAbs, mean, math.Sqrt(std / float64(len(x)-1))
}

// TestInitKaimingUniform: every attached A [r, in] is Kaiming-uniform with bound 1/√in (fan-in:
// hidden size for q/k/v/gate/up, intermediate size for down), |A| ≤ bound, sample std ≈
// bound/√3 (uniform on [−bound, bound]) within 10%, mean ≈ 0; different projections draw
// different A; every B is all zeros. The model is wide enough (rank 32, in ≥ 128: ≥ 4096
// samples per A) for the std to be a sound statistic (its standard error is ~0.7%).
func TestInitKaimingUniform(t *testing.T) {
	mc := &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 128, IntermediateSize: 256, NumLayers: 1,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 32, RMSNormEps: 1e-5, RopeTheta: 10000}
	const rank = 32
	l, ctx, err := attach(t, &lora.Config{Rank: rank, Seed: 11}, mc)
	if err != nil {
		t.Fatal(err)
	}
	wantIn := map[string]int{"q_proj": 128, "k_proj": 128, "v_proj": 128, "o_proj": 128,
		"gate_proj": 128, "up_proj": 128, "down_proj": 256}
	var seen [][]float32
	checked := 0
	for v := range ctx.IterVariables() {
		if v.Name() != "lora_A" && v.Name() != "lora_B" {
			continue
		}
		dims := v.Shape().Dimensions
		data := tensors.MustCopyFlatData[float32](v.MustValue())
		name := v.ScopeAndName()
		if v.Name() == "lora_B" {
			if len(dims) != 2 || dims[1] != rank {
				t.Fatalf("%s: shape %v, want [out, %d]", name, dims, rank)
			}
			for i, b := range data {
				if b != 0 {
					t.Fatalf("%s[%d] = %g: B must start at zero", name, i, b)
				}
			}
			continue
		}
		if len(dims) != 2 || dims[0] != rank {
			t.Fatalf("%s: shape %v, want [%d, in]", name, dims, rank)
		}
		in := dims[1]
		for proj, want := range wantIn {
			if slices.Contains(strings.Split(v.Scope(), "/"), proj) && in != want {
				t.Fatalf("%s: fan-in %d, want %d", name, in, want)
			}
		}
		bound := 1 / math.Sqrt(float64(in))
		maxAbs, mean, std := uniformStats(data)
		if maxAbs > bound {
			t.Fatalf("%s: max |A| %g > bound 1/√%d = %g", name, maxAbs, in, bound)
		}
		if want := bound / math.Sqrt(3); math.Abs(std-want) > 0.1*want {
			t.Fatalf("%s: std %g, want bound/√3 = %g within 10%%", name, std, want)
		}
		if math.Abs(mean) > 0.05*bound {
			t.Fatalf("%s: mean %g, want ≈ 0 (bound %g)", name, mean, bound)
		}
		for _, prev := range seen {
			if len(prev) == len(data) && slices.Equal(prev, data) {
				t.Fatalf("%s: the same A as another projection (per-projection seeding broken)", name)
			}
		}
		seen = append(seen, data)
		checked++
	}
	if checked != len(l.Targets()) || checked == 0 {
		t.Fatalf("checked %d lora_A variables, the adapter has %d targets", checked, len(l.Targets()))
	}

	// InitA on a big matrix: the statistics within 2% (standard error ~0.3%), and seeded.
	a := lora.InitA(3, "model.layers.0.mlp.down_proj", 64, 1024)
	maxAbs, _, std := uniformStats(a)
	bound := 1 / math.Sqrt(1024)
	if maxAbs > bound || math.Abs(std-bound/math.Sqrt(3)) > 0.02*bound/math.Sqrt(3) {
		t.Fatalf("InitA 64×1024: max |A| %g (bound %g), std %g (want %g)", maxAbs, bound, std, bound/math.Sqrt(3))
	}
	if !slices.Equal(a, lora.InitA(3, "model.layers.0.mlp.down_proj", 64, 1024)) {
		t.Fatal("InitA is not a pure function of (seed, path, shape)")
	}
	if slices.Equal(a, lora.InitA(4, "model.layers.0.mlp.down_proj", 64, 1024)) {
		t.Fatal("InitA ignores the seed")
	}
}
