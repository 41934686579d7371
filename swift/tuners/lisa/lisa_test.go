package lisa_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lisa"
)

func tiny() *models.Config {
	return &models.Config{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumLayers: 6,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000}
}

func attach(t *testing.T, cfg *lisa.Config) (*lisa.LISA, *context.Context) {
	t.Helper()
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		t.Fatal(err)
	}
	tn, err := tuners.BuildAndAttach(cfg, ctx, models.New(tiny()))
	if err != nil {
		t.Fatal(err)
	}
	return tn.(*lisa.LISA), ctx
}

// TestActiveLayers: N distinct blocks per interval, the same within an interval and for the
// same seed, redrawn across intervals; the multipliers follow (non-block weights always 1).
func TestActiveLayers(t *testing.T) {
	l, ctx := attach(t, &lisa.Config{ActivatedLayers: 2, StepInterval: 3, Seed: 4})
	l2, _ := attach(t, &lisa.Config{ActivatedLayers: 2, StepInterval: 3, Seed: 4})
	changed := false
	for step := range 30 {
		a := l.ActiveLayers(step)
		if len(a) != 2 || a[0] == a[1] || !slices.IsSorted(a) || a[1] >= 6 {
			t.Fatalf("step %d: active %v", step, a)
		}
		if !slices.Equal(a, l2.ActiveLayers(step)) {
			t.Fatalf("step %d: the same seed drew %v and %v", step, a, l2.ActiveLayers(step))
		}
		if step%3 != 0 && !slices.Equal(a, l.ActiveLayers(step-1)) {
			t.Fatalf("step %d: redrawn inside an interval", step)
		}
		if step%3 == 0 && step > 0 && !slices.Equal(a, l.ActiveLayers(step-1)) {
			changed = true
		}
	}
	if !changed {
		t.Fatal("never redrawn across 10 intervals")
	}
	active := l.ActiveLayers(0)
	for v := range ctx.IterVariables() {
		want := 1.0
		var i int
		if _, err := fmt.Sscanf(v.Scope(), "/model/layers/%d/", &i); err == nil && !slices.Contains(active, i) {
			want = 0
		}
		if got := l.LRMultiplier(0, v); got != want {
			t.Fatalf("%s: multiplier %g, want %g (active %v)", v.ScopeAndName(), got, want, active)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := tuners.BuildAndAttach(&lisa.Config{ActivatedLayers: 7}, ctx, models.New(tiny())); err == nil {
		t.Fatal("7 active layers of 6 accepted")
	}
	if err := (&lisa.Config{StepInterval: -1}).Validate(); err == nil {
		t.Fatal("negative interval accepted")
	}
}

// Two of six blocks learn at a time, redrawn every 20 steps.
func ExampleLISA_ActiveLayers() {
	ctx := context.New()
	if err := models.InitRandom(ctx, tiny(), 1); err != nil {
		panic(err)
	}
	tn, err := tuners.BuildAndAttach(&lisa.Config{Seed: 1}, ctx, models.New(tiny()))
	if err != nil {
		panic(err)
	}
	l := tn.(*lisa.LISA)
	fmt.Println(len(l.ActiveLayers(0)), slices.Equal(l.ActiveLayers(0), l.ActiveLayers(19)))
	// Output: 2 true
}
