package bench

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/tuners"
)

// Technique is one row of the technique table: a registered tuner (plus modifiers) with the
// settings the suite runs it with.
type Technique struct {
	// Name is the technique's name in the matrix and the report: "lora", "qlora-nf4", ...
	Name string `json:"name"`
	// Tuner is the registered tuner it builds.
	Tuner string `json:"tuner"`
	// Config is the tuner's JSON config over its defaults. When UsesRank, "r" and "lora_alpha"
	// (2·rank) are set from the run's rank.
	Config map[string]any `json:"config,omitempty"`
	// UsesRank says the matrix's rank axis applies (the LoRA family).
	UsesRank bool `json:"uses_rank,omitempty"`
	// Modifiers are registered modifiers attached after the tuner, with their JSON configs.
	Modifiers map[string]map[string]any `json:"modifiers,omitempty"`
	// LR is the learning rate of the loss runs on real weights (a fixed budget of steps).
	LR float64 `json:"lr"`
	// Peer says a PyTorch peer row exists ("full" and "lora").
	Peer bool `json:"peer,omitempty"`
	// Note is a one-line remark shown in the report.
	Note string `json:"note,omitempty"`
}

// qkvo are the projections the LoRA family adapts in the suite (as the SWIFT paper's tables):
// r8 on q,k,v,o keeps LoRA's trainable parameters under 1% of the stories15M shape's.
var qkvo = []any{"q_proj", "k_proj", "v_proj", "o_proj"}

// techniqueTable holds every technique's settings, in report order. A registered tuner missing
// here still runs, with its default config (see Techniques); a registered modifier missing here
// runs on top of LoRA.
var techniqueTable = []Technique{
	{Name: "full", Tuner: "full", LR: 5e-4, Peer: true, Note: "every base weight trains"},
	{Name: "freeze", Tuner: "freeze", LR: 1e-3, Note: "the last 2 decoder blocks train"},
	{Name: "lisa", Tuner: "lisa", Config: map[string]any{"lisa_activated_layers": 2, "lisa_step_interval": 5}, LR: 1e-3,
		Note: "2 random blocks active per 5 steps; gradients and moments only for them and the embeddings/head; a recompile per new set"},
	{Name: "lora", Tuner: "lora", UsesRank: true, Config: map[string]any{"target_modules": qkvo}, LR: 3e-3, Peer: true},
	{Name: "rslora", Tuner: "lora", UsesRank: true, Config: map[string]any{"target_modules": qkvo, "use_rslora": true}, LR: 3e-3,
		Note: "scaling alpha/√r"},
	{Name: "lora+", Tuner: "lora", UsesRank: true, Config: map[string]any{"target_modules": qkvo, "loraplus_lr_ratio": 16}, LR: 1e-3,
		Note: "B learns 16× faster than A"},
	{Name: "dora", Tuner: "dora", UsesRank: true, Config: map[string]any{"target_modules": qkvo}, LR: 3e-3},
	{Name: "qlora-nf4", Tuner: "qlora", UsesRank: true, Config: map[string]any{"target_modules": qkvo, "quant_type": "nf4"}, LR: 3e-3,
		Note: "block projections NF4 with double quantisation"},
	{Name: "qlora-int8", Tuner: "qlora", UsesRank: true, Config: map[string]any{"target_modules": qkvo, "quant_type": "int8"}, LR: 3e-3,
		Note: "block projections int8 absmax, double-quantised scales"},
	{Name: "llamapro", Tuner: "llamapro", Config: map[string]any{"num_new_blocks": 2}, LR: 1e-3, Note: "2 identity blocks inserted and trained"},
	{Name: "adapter", Tuner: "adapter", LR: 1e-3, Note: "32-wide GELU bottleneck after attention and MLP"},
	{Name: "neftune", Tuner: "lora", UsesRank: true, Config: map[string]any{"target_modules": qkvo},
		Modifiers: map[string]map[string]any{"neftune": {"alpha": 5}}, LR: 3e-3, Note: "LoRA with NEFTune embedding noise α=5"},
}

// Techniques lists the techniques the suite can run: the table's rows whose tuner (and
// modifiers) are registered, then one default row per registered tuner the table does not
// mention, then LoRA plus each registered modifier the table does not mention. New tuners
// therefore show up in the matrix without editing the suite.
func Techniques() []Technique {
	registered := tuners.Names()
	mods := tuners.ModifierNames()
	var out []Technique
	seenTuner, seenMod := map[string]bool{}, map[string]bool{}
	for _, t := range techniqueTable {
		ok := slices.Contains(registered, t.Tuner)
		for m := range t.Modifiers {
			ok = ok && slices.Contains(mods, m)
			seenMod[m] = true
		}
		seenTuner[t.Tuner] = true
		if ok {
			out = append(out, t)
		}
	}
	for _, name := range registered {
		if !seenTuner[name] {
			out = append(out, Technique{Name: name, Tuner: name, LR: 1e-3, Note: "default config (not in the technique table)"})
		}
	}
	if slices.Contains(registered, "lora") {
		for _, m := range mods {
			if !seenMod[m] {
				out = append(out, Technique{Name: "lora+" + m, Tuner: "lora", UsesRank: true,
					Config: map[string]any{"target_modules": qkvo}, Modifiers: map[string]map[string]any{m: {}}, LR: 3e-3,
					Note: "LoRA with modifier " + m + " (default config)"})
			}
		}
	}
	return out
}

// TechniqueNames lists Techniques' names in order.
func TechniqueNames() []string {
	ts := Techniques()
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// LookupTechnique returns the named technique.
func LookupTechnique(name string) (Technique, error) {
	for _, t := range Techniques() {
		if t.Name == name {
			return t, nil
		}
	}
	return Technique{}, errors.Errorf("unknown technique %q (known: %s)", name, strings.Join(TechniqueNames(), ", "))
}

// ConfigJSON returns the tuner's JSON config for a run at rank (0: the tuner's default).
func (t Technique) ConfigJSON(rank int) json.RawMessage {
	cfg := map[string]any{}
	for k, v := range t.Config {
		cfg[k] = v
	}
	if t.UsesRank && rank > 0 {
		cfg["r"] = rank
		cfg["lora_alpha"] = 2 * rank
	}
	raw, _ := json.Marshal(cfg)
	return raw
}

// TunerConfig parses and validates the technique's tuner config (with its modifiers) at rank,
// seeded when the tuner draws random numbers.
func (t Technique) TunerConfig(rank int, seed uint64) (tuners.Config, error) {
	cfg, err := tuners.ParseConfig(t.Tuner, t.ConfigJSON(rank))
	if err != nil {
		return nil, errors.WithMessagef(err, "technique %q", t.Name)
	}
	if s, ok := cfg.(tuners.Seeded); ok {
		s.SetSeed(seed)
	}
	names := make([]string, 0, len(t.Modifiers))
	for m := range t.Modifiers {
		names = append(names, m)
	}
	sort.Strings(names)
	var mods []tuners.ModifierConfig
	for _, m := range names {
		raw, _ := json.Marshal(t.Modifiers[m])
		mc, err := tuners.ParseModifierConfig(m, raw)
		if err != nil {
			return nil, errors.WithMessagef(err, "technique %q", t.Name)
		}
		mods = append(mods, mc)
	}
	return tuners.WithModifiers(cfg, mods...), nil
}
