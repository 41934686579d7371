package main

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/peft"
	"github.com/goswift/goswift/xla"
)

type exportArgs struct {
	shape, out, device string
}

func (a *exportArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.shape, "shape", "smollm-135m", "architecture shape")
	fs.StringVar(&a.out, "out", "", "output directory: base/ (HF layout), adapter/ (PEFT), logits.json")
	fs.StringVar(&a.device, "device", "cuda", "cuda, auto or cpu")
}

// run writes a random base in HF layout, a LoRA adapter with non-zero B in PEFT's layout, and
// GoSwift's float32 logits for a fixed input, for peft_compare.py.
func (a *exportArgs) run() (map[string]any, error) {
	if a.out == "" {
		return nil, errors.New("export: --out is required")
	}
	cfg, err := models.Shape(a.shape)
	if err != nil {
		return nil, err
	}
	backend, choice, err := xla.New(xla.Options{Want: a.device, PJRTOptions: map[string]any{"preallocate": false}})
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	if err := models.InitRandom(ctx, cfg, 3); err != nil {
		return nil, err
	}
	m := models.New(cfg)
	tn, err := tuners.BuildAndAttach(&lora.Config{Rank: 8, Alpha: 16, Seed: 3,
		TargetModules: []string{"q_proj", "k_proj", "v_proj", "o_proj"}}, ctx, m)
	if err != nil {
		return nil, err
	}
	// A trained adapter stand-in: B drawn at random so the adapter changes the logits.
	rng := rand.New(rand.NewPCG(3, 4))
	for v := range ctx.IterVariables() {
		if v.Name() == "lora_B" {
			d := make([]float32, v.Shape().Size())
			for i := range d {
				d[i] = float32(rng.NormFloat64() * 0.02)
			}
			v.MustSetValue(tensors.FromFlatDataAndDimensions(d, v.Shape().Dimensions...))
		}
	}
	if err := models.SaveHF(filepath.Join(a.out, "base"), ctx, cfg, "F32"); err != nil {
		return nil, err
	}
	if err := peft.Save(filepath.Join(a.out, "adapter"), ctx, tn, m, "goswift-random-"+a.shape); err != nil {
		return nil, err
	}
	ids := make([]int32, 16)
	pos := make([]int32, len(ids))
	for i := range ids {
		ids[i], pos[i] = int32((i*977+11)%cfg.VocabSize), int32(i)
	}
	exec, err := context.NewExec(backend, ctx, func(ctx *context.Context, tok, p *Node) *Node {
		return m.Logits(ctx, models.Inputs{Tokens: tok, Positions: p})
	})
	if err != nil {
		return nil, err
	}
	outs, err := exec.Exec([][]int32{ids}, [][]int32{pos})
	if err != nil {
		return nil, errors.Wrap(err, "export: GoSwift logits")
	}
	flat := tensors.MustCopyFlatData[float32](outs[0])
	v := cfg.VocabSize
	logits := make([][]float32, len(ids))
	for i := range logits {
		logits[i] = flat[i*v : (i+1)*v]
	}
	js, err := json.Marshal(map[string]any{"input_ids": ids, "logits": logits})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(a.out, 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(a.out, "logits.json"), js); err != nil {
		return nil, err
	}
	return map[string]any{"stage": "export", "ok": true, "dir": a.out, "backend": xla.Describe(backend, choice)}, nil
}
