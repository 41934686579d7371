package data

import (
	"encoding/json"
	"strings"

	"github.com/pkg/errors"
)

// Image is one preprocessed image as the vision tower reads it: Pixels holds
// [Channels, Height, Width] float32 values, already resized and normalised
// (swift/data/images loads PNG/JPEG files into it).
type Image struct {
	Channels, Height, Width int
	Pixels                  []float32
}

// Check verifies that the pixel count matches the dimensions.
func (im Image) Check() error {
	if im.Channels <= 0 || im.Height <= 0 || im.Width <= 0 {
		return errors.Errorf("image dimensions %dx%dx%d must be positive", im.Channels, im.Height, im.Width)
	}
	if n := im.Channels * im.Height * im.Width; len(im.Pixels) != n {
		return errors.Errorf("image %dx%dx%d holds %d values, want %d", im.Channels, im.Height, im.Width, len(im.Pixels), n)
	}
	return nil
}

// ImageTag marks where an image goes in a message's text (ms-swift's convention); a chat
// template replaces each by the image's placeholder tokens.
const ImageTag = "<image>"

// ImageTags counts the image tags in the sample's messages.
func (s Sample) ImageTags() int {
	n := 0
	for _, m := range s.Messages {
		n += strings.Count(m.Content, ImageTag)
	}
	return n
}

// WithImageTags returns the sample with one ImageTag per image at the start of its first user
// turn when its messages carry none (ms-swift does the same for untagged records).
func (s Sample) WithImageTags() Sample {
	if len(s.Images) == 0 || s.ImageTags() > 0 {
		return s
	}
	msgs := append([]Message(nil), s.Messages...)
	for i, m := range msgs {
		if m.Role == RoleUser {
			msgs[i].Content = strings.Repeat(ImageTag, len(s.Images)) + m.Content
			break
		}
	}
	s.Messages = msgs
	return s
}

// parseImages reads a record's "images": a list of paths, or of {"path": ...} objects.
func parseImages(rec map[string]json.RawMessage, s *Sample) error {
	raw, ok := rec["images"]
	if !ok || string(raw) == "null" {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return errors.New("images must be a list of paths")
	}
	for i, it := range items {
		var path string
		if err := json.Unmarshal(it, &path); err != nil {
			var obj struct {
				Path string `json:"path"`
			}
			if err := json.Unmarshal(it, &obj); err != nil || obj.Path == "" {
				return errors.Errorf("images[%d] must be a path or {\"path\": ...}", i)
			}
			path = obj.Path
		}
		if path == "" {
			return errors.Errorf("images[%d] is empty", i)
		}
		s.Images = append(s.Images, path)
	}
	return nil
}

// imageBatch stacks the images of packed rows (in row order) into an ImageBatch, nil when none
// has images (NewSFTDataset checked they share one shape).
func imageBatch(rows []row, exs []Example) (*ImageBatch, error) {
	per := make([][]Image, len(rows))
	for r, rw := range rows {
		for _, ex := range rw {
			per[r] = append(per[r], exs[ex].Images...)
		}
	}
	ib, err := StackImages(per)
	return ib, errors.WithMessage(err, "sft dataset")
}

// StackImages stacks per-row image lists into one [B, K, C, H, W] batch, K the longest list
// (shorter rows padded with zero images); nil when no row has an image. All images must share
// one shape.
func StackImages(rows [][]Image) (*ImageBatch, error) {
	k := 0
	var first *Image
	for _, ims := range rows {
		k = max(k, len(ims))
		if first == nil && len(ims) > 0 {
			first = &ims[0]
		}
	}
	if k == 0 {
		return nil, nil
	}
	ib := &ImageBatch{K: k, C: first.Channels, H: first.Height, W: first.Width}
	size := ib.C * ib.H * ib.W
	ib.Pixels = make([]float32, len(rows)*k*size)
	for r, ims := range rows {
		for n, im := range ims {
			if im.Channels != ib.C || im.Height != ib.H || im.Width != ib.W || len(im.Pixels) != size {
				return nil, errors.Errorf("row %d image %d is %dx%dx%d (%d values), the first is %dx%dx%d",
					r, n, im.Channels, im.Height, im.Width, len(im.Pixels), ib.C, ib.H, ib.W)
			}
			copy(ib.Pixels[(r*k+n)*size:], im.Pixels)
		}
	}
	return ib, nil
}

// Check verifies the batch holds rows×K images of positive dimensions.
func (ib *ImageBatch) Check(rows int) error {
	if ib.K <= 0 || ib.C <= 0 || ib.H <= 0 || ib.W <= 0 || len(ib.Pixels) != rows*ib.K*ib.C*ib.H*ib.W {
		return errors.Errorf("images [%d, %d, %d, %d, %d] hold %d values", rows, ib.K, ib.C, ib.H, ib.W, len(ib.Pixels))
	}
	return nil
}
