package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/gomlx_ext/quant"
	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/dora"
	"github.com/goswift/goswift/swift/tuners/freeze"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/tuners/neftune"
	"github.com/goswift/goswift/swift/tuners/qlora"
)

func parseTuner(t *testing.T, args ...string) (tuners.Config, error) {
	t.Helper()
	var ta tunerArgs
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ta.flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return ta.config(7)
}

// TestTunerFlags: each tuner takes its own flags (an error lists the ones it takes), NEFTune
// works with any tuner, and --tuner-config files merge under the flags.
func TestTunerFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tuner.json")
	if err := os.WriteFile(file, []byte(`{"tuner": "dora", "config": {"r": 4, "lora_alpha": 8}, "modifiers": {"neftune": {"alpha": 3}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		check func(tuners.Config) bool
		err   string
	}{
		{"default lora", nil, func(c tuners.Config) bool { _, ok := c.(*lora.Config); return ok }, ""},
		{"qlora", []string{"--tuner", "qlora", "--rank", "4", "--quant-type", "int8", "--double-quant=false", "--lorap-lr-ratio", "16"},
			func(c tuners.Config) bool {
				q := c.(*qlora.Config)
				return q.Rank == 4 && q.QuantType == quant.Int8 && !q.Quantization().DoubleQuant && q.LoRAPlusRatio == 16 && q.Seed == 7
			}, ""},
		{"freeze", []string{"--tuner", "freeze", "--trainable-layers", "1", "--trainable-parts", "lm_head,model.norm"},
			func(c tuners.Config) bool {
				f := c.(*freeze.Config)
				return f.TrainableLayers == 1 && len(f.TrainableParts) == 2
			}, ""},
		{"neftune on full", []string{"--tuner", "full", "--neftune-alpha", "5"}, func(c tuners.Config) bool {
			tn, err := c.Build()
			if err != nil {
				return false
			}
			m, ok := tn.(*tuners.Modified)
			return ok && tn.Name() == "full" && m.Modifiers[0].(*neftune.NEFTune).Alpha == 5
		}, ""},
		{"config file", []string{"--tuner-config", file, "--rank", "2"}, func(c tuners.Config) bool {
			tn, err := c.Build()
			if err != nil {
				return false
			}
			d := tuners.Unwrap(tn).Config().(*dora.Config)
			return tn.Name() == "dora" && d.Rank == 2 && d.Alpha == 8
		}, ""},
		{"flag the tuner does not take", []string{"--tuner", "freeze", "--rank", "4"}, nil,
			`tuner "freeze" does not take --rank (its flags: --trainable-layers, --trainable-parts, --neftune-alpha)`},
		{"lora flag on lisa", []string{"--tuner", "lisa", "--quant-type", "nf4"}, nil, "--lisa-layers, --lisa-interval"},
		{"unknown tuner", []string{"--tuner", "nope"}, nil, `unknown tuner "nope" (registered: adapter, dora, freeze, full, lisa, llamapro, lora, qlora)`},
		{"contradiction", []string{"--tuner", "lora", "--tuner-config", file}, nil, `contradicts`},
		{"bad quant type", []string{"--tuner", "qlora", "--quant-type", "nf5"}, nil, `unknown mode "nf5"`},
		{"bad neftune", []string{"--neftune-alpha", "-1"}, nil, "neftune: alpha"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseTuner(t, tc.args...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v is not what the flags asked for", c)
			}
		})
	}
}

// TestPTWithTuners: `goswift pt` trains with other tuners and modifiers from their flags, and
// infer --adapter loads the result.
func TestPTWithTuners(t *testing.T) {
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	text := fixtures.Path(t, "datasets/tinyshakespeare.txt")
	for _, tc := range [][]string{
		{"--tuner", "qlora", "--rank", "4", "--lorap-lr-ratio", "4", "--neftune-alpha", "5"},
		{"--tuner", "llamapro", "--new-blocks", "1"},
		{"--tuner", "lisa", "--lisa-layers", "1", "--lisa-interval", "1"},
	} {
		t.Run(tc[1], func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"pt", "--device", "cpu", "--model", model, "--data", text, "--output", dir, "--steps", "2",
				"--batch-size", "2", "--seq-len", "16", "--eval-every", "0", "--eval-batches", "1", "--save-every", "0", "--no-progress"}, tc...)
			var out, errOut bytes.Buffer
			if err := run(args, &out, &errOut); err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			if !strings.Contains(out.String(), "tuner "+tc[1]+":") {
				t.Fatalf("output:\n%s", out.String())
			}
			out.Reset()
			if err := run([]string{"infer", "--device", "cpu", "--model", model, "--adapter", filepath.Join(dir, "adapter"),
				"--prompt", "ROMEO:", "--max-new", "4"}, &out, &errOut); err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
		})
	}
}
