package images

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"
)

// Questions the dataset builders ask.
const (
	VQAQuestion = "What is in this picture?"
	OCRQuestion = "What does the text say?"
)

// imageTag marks the image's place in the user turn (data.ImageTag, ms-swift's convention).
const imageTag = "<image>"

// WriteFashionVQA writes imgs[from:from+n] as PNG files dir/img-<name>/NNNNN.png (NNNNN: the
// image's index in imgs, so name is usually the split) and one ms-swift messages record per
// image to dir/<name>.jsonl, asking VQAQuestion and answering with the label's class name
// (FashionMNISTClasses). It returns the JSONL path. The JSONL file is written to a temporary
// file and renamed into place, so a reader never sees half of it.
func WriteFashionVQA(dir, name string, imgs []*image.Gray, labels []int, from, n int) (string, error) {
	if len(imgs) != len(labels) {
		return "", errors.Errorf("fashion vqa: %d images but %d labels", len(imgs), len(labels))
	}
	if from < 0 || n < 1 || from > len(imgs)-n {
		return "", errors.Errorf("fashion vqa: images %d..%d (n=%d) are not within the %d given",
			from, from+n-1, n, len(imgs))
	}
	for i := from; i < from+n; i++ {
		if labels[i] < 0 || labels[i] >= len(FashionMNISTClasses) {
			return "", errors.Errorf("fashion vqa: label %d is %d, want 0..%d", i, labels[i], len(FashionMNISTClasses)-1)
		}
		if imgs[i] == nil || imgs[i].Bounds().Empty() {
			return "", errors.Errorf("fashion vqa: image %d is empty", i)
		}
	}
	return writeDataset(dir, name, n, func(i int) (item, error) {
		k := from + i
		return item{img: imgs[k], index: k, question: VQAQuestion, answer: FashionMNISTClasses[labels[k]]}, nil
	})
}

// WriteOCR writes n images of random short words and numbers rendered by RenderText at
// size×size, in the layout WriteFashionVQA uses (dir/img-<name>/NNNNN.png, dir/<name>.jsonl),
// asking OCRQuestion and answering with the text. The texts depend only on seed (a PCG stream)
// and are short enough to stay legible at size: at most size/7 characters.
func WriteOCR(dir, name string, n, size int, seed uint64) (string, error) {
	if n < 1 {
		return "", errors.Errorf("ocr: n = %d must be positive", n)
	}
	if size < 7 || size > MaxSize {
		return "", errors.Errorf("ocr: size %d must be in 7..%d to hold a legible character", size, MaxSize)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6f6372)) // "ocr"
	maxLen := size / glyphAdvance
	return writeDataset(dir, name, n, func(i int) (item, error) {
		s := randomText(rng, maxLen)
		return item{img: RenderText(s, size), index: i, question: OCRQuestion, answer: s}, nil
	})
}

// ocrWords are the words WriteOCR draws (besides numbers).
var ocrWords = []string{
	"a", "go", "up", "on", "ok", "no", "yes", "cat", "dog", "sun", "red", "box", "car", "sky",
	"tree", "fish", "blue", "cake", "moon", "star", "ship", "bird", "door", "lamp", "STOP",
	"EXIT", "OPEN", "SALE", "bread", "apple", "green", "house", "water", "light", "music",
	"garden", "yellow", "window", "planet", "orange",
}

// randomText returns a word of at most maxLen letters or a number of at most maxLen digits.
func randomText(rng *rand.Rand, maxLen int) string {
	maxLen = max(1, min(maxLen, 9))
	if rng.IntN(2) == 0 {
		// Rejection sampling keeps the draw uniform over the words that fit.
		for {
			if w := ocrWords[rng.IntN(len(ocrWords))]; len(w) <= maxLen {
				return w
			}
		}
	}
	digits := 1 + rng.IntN(maxLen)
	if digits == 1 {
		return fmt.Sprint(rng.IntN(10))
	}
	lo := 1 // smallest number with that many digits
	for range digits - 1 {
		lo *= 10
	}
	return fmt.Sprint(lo + rng.IntN(9*lo))
}

// item is one record of a dataset being written.
type item struct {
	img              *image.Gray
	index            int // names the PNG file
	question, answer string
}

// record is a line of the JSONL file (ms-swift's messages format with images).
type record struct {
	Messages []message `json:"messages"`
	Images   []string  `json:"images"`
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// checkName accepts dataset names usable as a file name (and directory suffix).
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") {
		return errors.Errorf("dataset name %q must be a plain file name", name)
	}
	return nil
}

// writeDataset writes n items' PNG files under dir/img-<name>/ and their records to
// dir/<name>.jsonl (through a temporary file renamed into place); it returns the JSONL path.
func writeDataset(dir, name string, n int, get func(i int) (item, error)) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	imgDir := "img-" + name
	if err := os.MkdirAll(filepath.Join(dir, imgDir), 0o755); err != nil {
		return "", errors.Wrap(err, "writing dataset")
	}
	out := filepath.Join(dir, name+".jsonl")
	tmp, err := os.CreateTemp(dir, "."+name+".jsonl.tmp*")
	if err != nil {
		return "", errors.Wrap(err, "writing dataset")
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep "<image>" literal
	for i := range n {
		it, err := get(i)
		if err != nil {
			return "", err
		}
		rel := path.Join(imgDir, fmt.Sprintf("%05d.png", it.index)) // relative to the JSONL, with '/'
		if err := writePNG(filepath.Join(dir, filepath.FromSlash(rel)), it.img); err != nil {
			return "", errors.WithMessagef(err, "writing dataset %s, image %d", out, it.index)
		}
		rec := record{
			Messages: []message{
				{Role: "user", Content: imageTag + it.question},
				{Role: "assistant", Content: it.answer},
			},
			Images: []string{rel},
		}
		if err := enc.Encode(rec); err != nil {
			return "", errors.Wrapf(err, "writing %s", tmp.Name())
		}
	}
	if err := w.Flush(); err != nil {
		return "", errors.Wrapf(err, "writing %s", tmp.Name())
	}
	if err := tmp.Chmod(0o644); err != nil {
		return "", errors.Wrapf(err, "writing %s", tmp.Name())
	}
	if err := tmp.Close(); err != nil {
		return "", errors.Wrapf(err, "writing %s", tmp.Name())
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", errors.Wrap(err, "writing dataset")
	}
	ok = true
	return out, nil
}

// writePNG encodes img to path through a temporary file in the same directory.
func writePNG(path string, img image.Image) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return errors.Wrap(err, "writing PNG")
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	err = enc.Encode(f, img)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return errors.Wrapf(err, "writing %s", path)
	}
	return nil
}
