package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/models/vlm"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/weights"
)

// visionArgs are sft's vision-language flags: a vision tower for a text model, and ms-swift's
// freeze switches.
type visionArgs struct {
	AddVision     string `json:"add_vision,omitempty"`
	FreezeViT     bool   `json:"freeze_vit,omitempty"`
	FreezeAligner bool   `json:"freeze_aligner,omitempty"`
	FreezeLLM     bool   `json:"freeze_llm,omitempty"`
}

func (v *visionArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&v.AddVision, "add-vision", "", "give a text model a fresh vision tower (trained from scratch): "+
		"`k=v,...` of image (side px), patch, channels, hidden, layers, heads, mlp, token (placeholder id); e.g. image=28,patch=7,channels=1,token=3")
	fs.BoolVar(&v.FreezeViT, "freeze-vit", false, "vision-language model: keep the vision tower frozen (ms-swift freeze_vit; default false here: no pretrained tower exists offline)")
	fs.BoolVar(&v.FreezeAligner, "freeze-aligner", false, "vision-language model: keep the projector frozen (ms-swift freeze_aligner)")
	fs.BoolVar(&v.FreezeLLM, "freeze-llm", false, "vision-language model: train nothing of the language model, not even the tuner's adapters (ms-swift freeze_llm)")
}

// ParseVisionSpec reads --add-vision: comma-separated key=value pairs over defaults (28 px
// images in 7 px patches, 3 channels, width 64, 2 layers of 4 heads, MLP 128, token 3).
func ParseVisionSpec(spec string) (vlm.VisionConfig, int, error) {
	v := vlm.VisionConfig{ImageSize: 28, PatchSize: 7, NumChannels: 3, HiddenSize: 64, NumLayers: 2, NumHeads: 4, IntermediateSize: 128}
	token := 3
	fields := map[string]*int{"image": &v.ImageSize, "patch": &v.PatchSize, "channels": &v.NumChannels, "hidden": &v.HiddenSize,
		"layers": &v.NumLayers, "heads": &v.NumHeads, "mlp": &v.IntermediateSize, "token": &token}
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		dst, known := fields[k]
		if !ok || !known {
			return v, 0, errors.Errorf("--add-vision: %q is not key=value with key one of image, patch, channels, hidden, layers, heads, mlp, token", kv)
		}
		n, err := strconv.Atoi(val)
		if err != nil || n <= 0 {
			return v, 0, errors.Errorf("--add-vision: %s=%q must be a positive integer", k, val)
		}
		*dst = n
	}
	return v, token, nil
}

// prepare adds the vision tower when asked (before the tuner attaches).
func (v *visionArgs) prepare(m *swift.Model, seed uint64) error {
	if v.AddVision == "" {
		if m.VLM == nil && (v.FreezeViT || v.FreezeAligner || v.FreezeLLM) {
			return errors.New("--freeze-vit/--freeze-aligner/--freeze-llm need a vision-language model (a LLaVA checkpoint or --add-vision)")
		}
		return nil
	}
	cfg, token, err := ParseVisionSpec(v.AddVision)
	if err != nil {
		return err
	}
	return errors.WithMessage(m.AddVision(cfg, token, nil, nil, seed), "--add-vision")
}

// freeze applies the switches once the tuner has attached.
func (v *visionArgs) freeze(stdout io.Writer, m *swift.Model) error {
	if m.VLM == nil {
		return nil
	}
	f := vlm.Freeze{ViT: v.FreezeViT, Aligner: v.FreezeAligner, LLM: v.FreezeLLM}
	if _, err := f.Apply(m.Ctx); err != nil {
		return err
	}
	trainable, total := tuners.CountParams(m.Ctx)
	fmt.Fprintf(stdout, "vision-language model (%s): %s; %d trainable of %d parameters\n", m.VLM, f, trainable, total)
	return nil
}

// saveModel writes the trained vision-language model as a LLaVA checkpoint in OUTPUT/model, with
// the tokenizer beside it: the vision tower and projector trained here are not part of the
// language model's adapter (OUTPUT/adapter), which stays separate (LoRA on a tied head cannot be
// merged into a tied checkpoint).
func saveModel(stdout io.Writer, m *swift.Model, output string) error {
	dir := filepath.Join(output, "model")
	if err := m.SaveHF(dir, weights.F32); err != nil {
		return err
	}
	if m.TokenizerPath != "" {
		name := "tokenizer.bin"
		if strings.HasSuffix(m.TokenizerPath, ".json") {
			name = "tokenizer.json"
		}
		raw, err := os.ReadFile(m.TokenizerPath)
		if err != nil {
			return errors.Wrap(err, "copying the tokenizer")
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			return errors.Wrap(err, "copying the tokenizer")
		}
	}
	fmt.Fprintf(stdout, "vision-language model saved in %s (goswift infer --model %s --adapter %s --image FILE --prompt ...)\n",
		dir, dir, filepath.Join(output, "adapter"))
	return nil
}
