package images

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/swift/data"
)

// readRecords parses a JSONL file written by the builders, checking each line's shape and that
// its image exists and loads.
func readRecords(t *testing.T, path string, question string) []record {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"content":"<image>`+question+`"`)) {
		t.Fatalf("%s does not hold the literal <image> tag and question:\n%.300s", path, raw)
	}
	var recs []record
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var rec record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("%s line %d: %v", path, len(recs)+1, err)
		}
		if len(rec.Messages) != 2 || rec.Messages[0].Role != "user" || rec.Messages[1].Role != "assistant" ||
			rec.Messages[0].Content != "<image>"+question || len(rec.Images) != 1 {
			t.Fatalf("%s line %d: unexpected record %+v", path, len(recs)+1, rec)
		}
		if filepath.IsAbs(rec.Images[0]) || strings.Contains(rec.Images[0], `\`) {
			t.Fatalf("image path %q should be relative with '/'", rec.Images[0])
		}
		if _, err := Load(filepath.Join(filepath.Dir(path), rec.Images[0]), Spec{Size: 28, Channels: 1}); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// noTempFiles fails if a builder left temporary files in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if strings.Contains(filepath.Base(path), ".tmp") {
			t.Errorf("temporary file left behind: %s", path)
		}
		return nil
	})
}

func TestWriteFashionVQA(t *testing.T) {
	var imgs []*image.Gray
	for i := range 5 {
		imgs = append(imgs, testImages(28, 28, uint64(i))["gray"].(*image.Gray))
	}
	labels := []int{7, 0, 9, 3, 8}
	dir := t.TempDir()
	path, err := WriteFashionVQA(dir, "train", imgs, labels, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "train.jsonl") {
		t.Fatalf("path %s, want %s", path, filepath.Join(dir, "train.jsonl"))
	}
	recs := readRecords(t, path, VQAQuestion)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for i, rec := range recs {
		k := 1 + i
		if want := FashionMNISTClasses[labels[k]]; rec.Messages[1].Content != want {
			t.Errorf("record %d answers %q, want %q", i, rec.Messages[1].Content, want)
		}
		if want := "img-train/0000" + string(rune('0'+k)) + ".png"; rec.Images[0] != want {
			t.Errorf("record %d image %q, want %q", i, rec.Images[0], want)
		}
		// The PNG holds the image exactly.
		spec := Spec{Size: 28, Channels: 1}
		im, err := Load(filepath.Join(dir, rec.Images[0]), spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := ToGray(im, spec); !bytes.Equal(got.Pix, imgs[k].Pix) {
			t.Errorf("record %d: image pixels differ from the source", i)
		}
	}
	noTempFiles(t, dir)
	// swift/data reads the file and resolves the image paths beside it.
	samples, _, err := data.ReadFile(path, data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 3 || samples[0].ImageTags() != 1 || samples[0].Images[0] != filepath.Join(dir, "img-train", "00001.png") {
		t.Fatalf("data.ReadFile gave %d samples, first %+v", len(samples), samples[0])
	}
}

func TestWriteFashionVQAInstalled(t *testing.T) {
	skipWithoutFashion(t)
	imgs, labels, err := ReadFashionMNIST(FashionMNISTDir, "t10k")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := WriteFashionVQA(dir, "t10k", imgs, labels, 9990, 10)
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, path, VQAQuestion)
	if len(recs) != 10 || recs[9].Images[0] != "img-t10k/09999.png" || recs[9].Messages[1].Content != FashionMNISTClasses[labels[9999]] {
		t.Fatalf("%d records, last %+v", len(recs), recs[len(recs)-1])
	}
}

func TestWriteFashionVQAErrors(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	two := []*image.Gray{img, img}
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		name, dir, dsName string
		imgs              []*image.Gray
		labels            []int
		from, n           int
		want              string
	}{
		{"length mismatch", dir, "x", two, []int{1}, 0, 1, "2 images but 1 labels"},
		{"negative from", dir, "x", two, []int{1, 2}, -1, 1, "not within the 2 given"},
		{"zero n", dir, "x", two, []int{1, 2}, 0, 0, "n=0"},
		{"past the end", dir, "x", two, []int{1, 2}, 1, 2, "images 1..2"},
		{"huge n", dir, "x", two, []int{1, 2}, 1, int(^uint(0) >> 1), "not within"},
		{"bad label", dir, "x", two, []int{1, 10}, 0, 2, "label 1 is 10"},
		{"nil image", dir, "x", []*image.Gray{img, nil}, []int{1, 2}, 0, 2, "image 1 is empty"},
		{"bad name", dir, "../x", two, []int{1, 2}, 0, 2, "plain file name"},
		{"empty name", dir, "", two, []int{1, 2}, 0, 2, "plain file name"},
		{"dir is a file", file, "x", two, []int{1, 2}, 0, 2, "a-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteFashionVQA(tc.dir, tc.dsName, tc.imgs, tc.labels, tc.from, tc.n)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	noTempFiles(t, dir)
}

// inkCount counts dark pixels.
func inkCount(g *image.Gray) int {
	n := 0
	for _, p := range g.Pix {
		if p < 128 {
			n++
		}
	}
	return n
}

func TestRenderText(t *testing.T) {
	seen := map[string]string{}
	for _, tc := range []struct {
		text string
		size int
	}{
		{"7", 28}, {"42", 28}, {"1000", 28}, {"cat", 28}, {"STOP", 32}, {"sun", 64},
		{"hello world", 28}, // wider than the image: shrunk to fit
		{"a", 8},
	} {
		g := RenderText(tc.text, tc.size)
		if g.Bounds() != image.Rect(0, 0, tc.size, tc.size) {
			t.Fatalf("%q: bounds %v, want %dx%[3]d", tc.text, g.Bounds(), tc.size)
		}
		ink := inkCount(g)
		if ink == 0 || ink > tc.size*tc.size/2 {
			t.Errorf("%q at %d: %d dark pixels, want some text on a mostly white image", tc.text, tc.size, ink)
		}
		// Centred: the ink's box sits within a pixel or so of the middle.
		box := inkBounds(g)
		if dx, dy := box.Min.X-(tc.size-box.Max.X), box.Min.Y-(tc.size-box.Max.Y); dx < -1 || dx > 1 || dy < -1 || dy > 1 {
			t.Errorf("%q at %d: ink box %v is off centre", tc.text, tc.size, box)
		}
		key := string(g.Pix)
		if other, ok := seen[key]; ok && tc.size == 28 {
			t.Errorf("%q and %q render identically", tc.text, other)
		}
		seen[key] = tc.text
	}
	// Single digits scale up to fill most of a 28-pixel image.
	if box := inkBounds(RenderText("7", 28)); box.Dy() < 20 {
		t.Errorf(`"7" at 28 px is only %d px tall`, box.Dy())
	}
	for _, tc := range []struct {
		text string
		size int
		want image.Rectangle
	}{
		{"", 28, image.Rect(0, 0, 28, 28)},
		{"   ", 28, image.Rect(0, 0, 28, 28)},
		{"x", 0, image.Rectangle{}},
		{"x", -3, image.Rectangle{}},
		{"x", MaxSize + 1, image.Rectangle{}},
	} {
		g := RenderText(tc.text, tc.size)
		if g.Bounds() != tc.want || inkCount(g) != 0 {
			t.Errorf("RenderText(%q, %d): bounds %v with %d dark pixels, want blank %v", tc.text, tc.size, g.Bounds(), inkCount(g), tc.want)
		}
	}
	if g := RenderText("\u4e16", 28); inkCount(g) == 0 { // not in the font
		t.Error("a rune the font lacks should draw the replacement glyph")
	}
	if g := RenderText(strings.Repeat("long text ", 10000), 32); inkCount(g) == 0 {
		t.Error("a very long text should still leave some ink")
	}
}

func TestWriteOCR(t *testing.T) {
	write := func(seed uint64) (string, []record) {
		dir := t.TempDir()
		path, err := WriteOCR(dir, "ocr", 40, 28, seed)
		if err != nil {
			t.Fatal(err)
		}
		return path, readRecords(t, path, OCRQuestion)
	}
	pathA, a := write(1)
	pathB, b := write(1)
	_, c := write(2)
	if len(a) != 40 {
		t.Fatalf("%d records, want 40", len(a))
	}
	rawA, _ := os.ReadFile(pathA)
	rawB, _ := os.ReadFile(pathB)
	if !bytes.Equal(rawA, rawB) {
		t.Fatal("same seed, different datasets")
	}
	pngA, _ := os.ReadFile(filepath.Join(filepath.Dir(pathA), a[7].Images[0]))
	pngB, _ := os.ReadFile(filepath.Join(filepath.Dir(pathB), b[7].Images[0]))
	if !bytes.Equal(pngA, pngB) {
		t.Fatal("same seed, different PNG files")
	}
	same, words, numbers := 0, 0, 0
	for i := range a {
		ans := a[i].Messages[1].Content
		if ans == c[i].Messages[1].Content {
			same++
		}
		if len(ans) < 1 || len(ans) > 4 {
			t.Errorf("answer %q: want 1..4 characters at 28 px", ans)
		}
		if ans[0] >= '0' && ans[0] <= '9' {
			numbers++
		} else {
			words++
		}
	}
	if same == len(a) {
		t.Error("seeds 1 and 2 gave the same texts")
	}
	if words == 0 || numbers == 0 {
		t.Errorf("%d words and %d numbers, want both", words, numbers)
	}
	for _, tc := range []struct {
		n, size int
		want    string
	}{{0, 28, "n = 0"}, {5, 3, "size 3"}} {
		if _, err := WriteOCR(t.TempDir(), "ocr", tc.n, tc.size, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WriteOCR(n=%d, size=%d): error %v, want %q", tc.n, tc.size, err, tc.want)
		}
	}
}
