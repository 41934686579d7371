package vlm

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
)

// trainableParts reports, per part, whether all its variables are trainable (true), none is
// (false); a part whose variables disagree is an error.
func trainableParts(t *testing.T, ctx *context.Context) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	seen := map[string]bool{}
	for v := range ctx.IterVariables() {
		p := Part(v)
		if p == "" {
			t.Fatalf("variable %s belongs to no part", v.ScopeAndName())
		}
		if seen[p] && out[p] != v.Trainable {
			t.Fatalf("part %s: variable %s has trainable=%v, others %v", p, v.ScopeAndName(), v.Trainable, out[p])
		}
		seen[p], out[p] = true, v.Trainable
	}
	for _, p := range []string{"vit", "aligner", "llm"} {
		if !seen[p] {
			t.Fatalf("no %s variables", p)
		}
	}
	return out
}

// TestFreezeApply: every combination of the three switches sets exactly the parts' Trainable
// flags (an unfrozen language model keeps what the tuner chose: here, with no tuner, all its
// weights train), and Apply returns the count of trainable variables. Freezing all three parts
// is an error naming the three flags, never a run that silently trains nothing.
func TestFreezeApply(t *testing.T) {
	for mask := range 8 {
		f := Freeze{ViT: mask&1 != 0, Aligner: mask&2 != 0, LLM: mask&4 != 0}
		t.Run(f.String(), func(t *testing.T) {
			ctx := randomVLM(t, tinyConfig(), 1)
			n, err := f.Apply(ctx)
			if f.ViT && f.Aligner && f.LLM {
				want := "nothing left to train (freeze_vit=true freeze_aligner=true freeze_llm=true)"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("all frozen: error %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := trainableParts(t, ctx)
			want := map[string]bool{"vit": !f.ViT, "aligner": !f.Aligner, "llm": !f.LLM}
			for p, w := range want {
				if got[p] != w {
					t.Errorf("%s: trainable=%v, want %v", p, got[p], w)
				}
			}
			count := 0
			for v := range ctx.IterVariables() {
				if v.Trainable {
					count++
				}
			}
			if n != count || n == 0 {
				t.Errorf("Apply returned %d trainable variables, the context has %d", n, count)
			}
		})
	}
}

// TestFreezeUnfreezes: Apply sets the vision and aligner flags both ways, so applying a
// different Freeze later undoes an earlier one.
func TestFreezeUnfreezes(t *testing.T) {
	ctx := randomVLM(t, tinyConfig(), 1)
	if _, err := (Freeze{ViT: true, Aligner: true}).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := (Freeze{}).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	got := trainableParts(t, ctx)
	if !got["vit"] || !got["aligner"] || !got["llm"] {
		t.Fatalf("after Freeze{}: trainable parts %v, want all", got)
	}
}
