package swift_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/templates"
)

// writePNG writes a small gray PNG.
func writePNG(tb testing.TB, path string) {
	tb.Helper()
	im := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range im.Pix {
		im.Pix[i] = uint8(i * 4)
	}
	im.Set(0, 0, color.Gray{Y: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, im); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// TestVLMImageErrorsNameTheDatasetLine: a dataset whose line 2 names a missing PNG and line 3
// a corrupt one (a PNG cut short) fails to encode for the VLM with errors naming the line
// (NAME.jsonl:2, NAME.jsonl:3) and the image path; line 1 alone encodes with its image. No
// graph is compiled.
func TestVLMImageErrorsNameTheDatasetLine(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "ok.png"))
	var good bytes.Buffer
	im := image.NewGray(image.Rect(0, 0, 8, 8))
	if err := png.Encode(&good, im); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "corrupt.png"), good.Bytes()[:good.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	record := func(img string) string {
		return `{"messages": [{"role": "user", "content": "<image>What is in this picture?"}, ` +
			`{"role": "assistant", "content": "a shirt"}], "images": ["` + img + `"]}` + "\n"
	}
	path := filepath.Join(dir, "vqa.jsonl")
	if err := os.WriteFile(path, []byte(record("ok.png")+record("missing.png")+record("corrupt.png")), 0o644); err != nil {
		t.Fatal(err)
	}
	samples, _, err := data.ReadFile(path, data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 3 {
		t.Fatalf("read %d samples, want 3", len(samples))
	}
	m := newFashionVLM(t)
	encode := func(s ...data.Sample) error {
		_, err := m.EncodeSamples(templates.CompactTools, m.Tokenizer, s, templates.Options{})
		return err
	}
	if err := encode(samples[0]); err != nil {
		t.Fatalf("the good line: %v", err)
	}
	tests := []struct {
		name    string
		samples []data.Sample
		want    []string
	}{
		{"missing", samples, []string{"vqa.jsonl:2", filepath.Join(dir, "missing.png"), "image 0"}},
		{"corrupt", []data.Sample{samples[0], samples[2]}, []string{"vqa.jsonl:3", filepath.Join(dir, "corrupt.png"), "image 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := encode(tc.samples...)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			// Generation loads images through the same path and names the line too.
			if _, err := m.ImageBatch(tc.samples); err == nil || !strings.Contains(err.Error(), tc.want[0]) {
				t.Errorf("ImageBatch: error %v, want it to name %s", err, tc.want[0])
			}
		})
	}
}
