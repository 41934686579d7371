package vlm

import (
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"
)

// Freeze chooses which parts of a vision-language model train, like ms-swift's freeze_vit,
// freeze_aligner and freeze_llm. It applies after the tuner has marked its variables: an
// unfrozen vision tower or projector trains all its weights (it starts from scratch here, so it
// must); a frozen language model trains nothing, not even the tuner's adapters on it.
type Freeze struct {
	ViT     bool `json:"freeze_vit"`
	Aligner bool `json:"freeze_aligner"`
	LLM     bool `json:"freeze_llm"`
}

// String renders the switches as ms-swift flags.
func (f Freeze) String() string {
	return "freeze_vit=" + yes(f.ViT) + " freeze_aligner=" + yes(f.Aligner) + " freeze_llm=" + yes(f.LLM)
}

func yes(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Part names the model part a variable belongs to: "vit", "aligner" or "llm" (the language
// model and the adapters attached to it); "" for anything else (optimizer state).
func Part(v *context.Variable) string {
	scope := v.Scope()
	switch {
	case strings.HasPrefix(scope, "/vision_tower/") || scope == "/vision_tower":
		return "vit"
	case strings.HasPrefix(scope, "/"+ProjectorPrefix):
		return "aligner"
	case strings.HasPrefix(scope, "/model") || strings.HasPrefix(scope, "/lm_head") || strings.HasPrefix(scope, "/tuners/"):
		return "llm"
	}
	return ""
}

// Apply sets the Trainable flag of every vision and aligner variable from f, and clears it on
// every language-model variable when f.LLM. It returns the number of trainable variables; none
// is an error (everything frozen).
func (f Freeze) Apply(ctx *context.Context) (int, error) {
	n := 0
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Name(), "#") {
			continue // tuner state
		}
		switch Part(v) {
		case "vit":
			v.SetTrainable(!f.ViT)
		case "aligner":
			v.SetTrainable(!f.Aligner)
		case "llm":
			if f.LLM {
				v.SetTrainable(false)
			}
		}
		if v.Trainable {
			n++
		}
	}
	if n == 0 {
		return 0, errors.Errorf("vlm: nothing left to train (%s)", f)
	}
	return n, nil
}
