package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/tuners"
)

// tunerArgs are the tuner flags shared by the training verbs. They become the tuner's JSON
// config (PEFT-style keys); a flag the chosen tuner does not take is an error.
type tunerArgs struct {
	Tuner         string  `json:"tuner"`
	Rank          int     `json:"rank,omitempty"`
	Alpha         float64 `json:"alpha,omitempty"`
	Dropout       float64 `json:"dropout,omitempty"`
	RSLoRA        bool    `json:"rslora,omitempty"`
	TargetModules string  `json:"target_modules,omitempty"`
	TargetRegex   string  `json:"target_regex,omitempty"`
}

func (t *tunerArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.Tuner, "tuner", "lora", "tuner: "+strings.Join(tuners.Names(), ", "))
	fs.IntVar(&t.Rank, "rank", 0, "LoRA rank r (default 8)")
	fs.Float64Var(&t.Alpha, "alpha", 0, "LoRA alpha (default 32)")
	fs.Float64Var(&t.Dropout, "dropout", 0, "LoRA dropout")
	fs.BoolVar(&t.RSLoRA, "rslora", false, "rank-stabilised scaling alpha/√r")
	fs.StringVar(&t.TargetModules, "target-modules", "", "comma-separated projections (q_proj,...,lm_head) or all-linear (default)")
	fs.StringVar(&t.TargetRegex, "target-regex", "", "regex selecting projections by full path, e.g. 'model\\.layers\\.[0-3]\\..*'")
}

// config builds and validates the tuner's config.
func (t *tunerArgs) config(seed uint64) (tuners.Config, error) {
	keys := map[string]any{}
	flagOf := map[string]string{}
	set := func(key, flagName string, v any, given bool) {
		if given {
			keys[key], flagOf[key] = v, flagName
		}
	}
	set("r", "--rank", t.Rank, t.Rank != 0)
	set("lora_alpha", "--alpha", t.Alpha, t.Alpha != 0)
	set("lora_dropout", "--dropout", t.Dropout, t.Dropout != 0)
	set("use_rslora", "--rslora", t.RSLoRA, t.RSLoRA)
	if t.TargetModules != "" {
		set("target_modules", "--target-modules", strings.Split(t.TargetModules, ","), true)
	}
	set("target_regex", "--target-regex", t.TargetRegex, t.TargetRegex != "")
	raw, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	cfg, err := tuners.ParseConfig(t.Tuner, raw)
	if err != nil {
		for key, flagName := range flagOf {
			if strings.Contains(err.Error(), fmt.Sprintf("unknown field %q", key)) {
				return nil, errors.Errorf("tuner %q does not take %s", t.Tuner, flagName)
			}
		}
		return nil, errors.WithMessage(err, "tuner flags")
	}
	if s, ok := cfg.(tuners.Seeded); ok {
		s.SetSeed(seed)
	}
	return cfg, nil
}
