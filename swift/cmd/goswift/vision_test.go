package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift/data/images"
)

func TestParseVisionSpec(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr string
		check   func(t *testing.T, img, patch, ch, token int)
	}{
		{"", "", func(t *testing.T, img, patch, ch, token int) {
			if img != 28 || patch != 7 || ch != 3 || token != 3 {
				t.Fatalf("defaults %d %d %d %d", img, patch, ch, token)
			}
		}},
		{"image=32,patch=8,channels=1,token=5", "", func(t *testing.T, img, patch, ch, token int) {
			if img != 32 || patch != 8 || ch != 1 || token != 5 {
				t.Fatalf("parsed %d %d %d %d", img, patch, ch, token)
			}
		}},
		{"image=28,size=3", "not key=value", nil},
		{"patch=x", "positive integer", nil},
		{"layers=0", "positive integer", nil},
	}
	for _, tc := range tests {
		v, token, err := ParseVisionSpec(tc.spec)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		tc.check(t, v.ImageSize, v.PatchSize, v.NumChannels, token)
	}
}

// TestVisionSFTAndInfer runs the multimodal path of the CLI on real Fashion-MNIST images:
// sft gives stories260K a vision tower (--add-vision), trains a few steps with the freeze
// switches, saves the LLaVA checkpoint; infer --image answers from it; a text model refuses
// --image with a clear error.
func TestVisionSFTAndInfer(t *testing.T) {
	if _, err := os.Stat(images.FashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST not installed (%v): apt-get install dataset-fashion-mnist", err)
	}
	model := fixtures.Path(t, "models/stories260K/stories260K.bin")
	dir := t.TempDir()
	imgs, labels, err := images.ReadFashionMNIST(images.FashionMNISTDir, "t10k")
	if err != nil {
		t.Fatal(err)
	}
	trainPath, err := images.WriteFashionVQA(dir, "train", imgs, labels, 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	heldPath, err := images.WriteFashionVQA(dir, "held", imgs, labels, 64, 16)
	if err != nil {
		t.Fatal(err)
	}
	out := runVerb(t, "sft", "--device", "cpu", "--model", model, "--dataset", trainPath, "--val-dataset", heldPath,
		"--template", "compact", "--add-vision", "image=28,patch=7,channels=1,token=3", "--freeze-aligner",
		"--max-length", "64", "--batch-size", "8", "--steps", "4", "--lr", "3e-3", "--no-progress", "--output", filepath.Join(dir, "run"))
	for _, want := range []string{"freeze_vit=false freeze_aligner=true freeze_llm=false", "vision-language model saved in"} {
		if !strings.Contains(out, want) {
			t.Fatalf("sft output lacks %q:\n%s", want, out)
		}
	}
	if m := regexp.MustCompile(`held-out loss: ([0-9.]+) before, ([0-9.]+) after`).FindStringSubmatch(out); m == nil {
		t.Fatalf("no held-out loss line:\n%s", out)
	}
	saved := filepath.Join(dir, "run", "model")
	for _, f := range []string{"config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.bin"} {
		if _, err := os.Stat(filepath.Join(saved, f)); err != nil {
			t.Fatal(err)
		}
	}
	out = runVerb(t, "eval", "--device", "cpu", "--model", saved, "--adapter", filepath.Join(dir, "run", "adapter"), "--task", "vqa", "--dataset", heldPath, "--template", "compact",
		"--max-new", "8", "--output", filepath.Join(dir, "vqa.json"))
	if !strings.Contains(out, "VQA exact match: ") || !strings.Contains(out, "/16 = ") {
		t.Fatalf("eval --task vqa printed:\n%s", out)
	}
	out = runVerb(t, "eval", "--device", "cpu", "--model", saved, "--task", "ppl", "--dataset", heldPath, "--template", "compact")
	if !strings.Contains(out, "perplexity ") {
		t.Fatalf("eval --task ppl on images printed:\n%s", out)
	}
	img := filepath.Join(dir, "img-held", "00064.png")
	out = runVerb(t, "infer", "--device", "cpu", "--model", saved, "--adapter", filepath.Join(dir, "run", "adapter"), "--image", img, "--prompt", images.VQAQuestion, "--max-new", "8")
	if strings.TrimSpace(out) == "" {
		t.Fatal("infer --image printed nothing")
	}
	t.Logf("answer after 4 steps: %q", strings.TrimSpace(out))
	var o, e strings.Builder
	err = run([]string{"infer", "--device", "cpu", "--model", model, "--image", img, "--prompt", "hi"}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), "not a vision-language model") {
		t.Fatalf("text model with --image: error %v, want 'not a vision-language model'", err)
	}
	err = run([]string{"infer", "--device", "cpu", "--model", saved, "--image", filepath.Join(dir, "missing.png"), "--prompt", "hi"}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Fatalf("missing image: error %v, want the path named", err)
	}
}
