package images

import (
	"bytes"
	"image"
	_ "image/gif"  // registers GIF with image.Decode
	_ "image/jpeg" // registers JPEG with image.Decode
	_ "image/png"  // registers PNG with image.Decode
	"io"
	"math"
	"os"
	"strings"

	"github.com/goswift/goswift/swift/data"
	"github.com/pkg/errors"
)

const (
	// MaxSourceSide is the largest width or height Load and Decode accept, read from the
	// header before any pixel is decoded.
	MaxSourceSide = 16384
	// MaxSize is the largest Spec.Size.
	MaxSize = 4096
)

// DefaultMean and DefaultStd are the per-channel values used when Spec.Mean or Spec.Std is
// nil: they map [0, 255] onto [-1, 1].
const (
	DefaultMean = 0.5
	DefaultStd  = 0.5
)

// Spec says how images are prepared for a vision tower.
type Spec struct {
	Size     int       // square output side (pixels); images are resized to Size×Size (bilinear)
	Channels int       // 1 (gray) or 3 (RGB)
	Mean     []float32 // per channel; value = (x/255 - Mean[c]) / Std[c]; nil means 0.5 each
	Std      []float32 // per channel; nil means 0.5 each
}

// Validate reports what is wrong with the spec, if anything.
func (s Spec) Validate() error {
	if s.Size < 1 || s.Size > MaxSize {
		return errors.Errorf("image spec: Size %d must be in 1..%d", s.Size, MaxSize)
	}
	if s.Channels != 1 && s.Channels != 3 {
		return errors.Errorf("image spec: Channels %d must be 1 (gray) or 3 (RGB)", s.Channels)
	}
	for _, v := range []struct {
		name string
		vals []float32
	}{{"Mean", s.Mean}, {"Std", s.Std}} {
		if v.vals != nil && len(v.vals) != s.Channels {
			return errors.Errorf("image spec: %s has %d values for %d channels", v.name, len(v.vals), s.Channels)
		}
		for c, x := range v.vals {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return errors.Errorf("image spec: %s[%d] = %v is not finite", v.name, c, x)
			}
			if v.name == "Std" && x <= 0 {
				return errors.Errorf("image spec: Std[%d] = %v must be positive", c, x)
			}
		}
	}
	return nil
}

// mean and std return channel c's normalisation, defaulting where the spec has none.
func (s Spec) mean(c int) float32 {
	if c < len(s.Mean) {
		return s.Mean[c]
	}
	return DefaultMean
}

func (s Spec) std(c int) float32 {
	if c < len(s.Std) && s.Std[c] > 0 {
		return s.Std[c]
	}
	return DefaultStd
}

// FromImage resizes and normalises img as spec says. Gray images become 3 channels by
// replication; colour images become 1 channel by luminance (ITU-R 601 weights). Transparent
// pixels read as premultiplied (over black). An invalid spec or an empty image gives the zero
// data.Image, whose Check fails; use Load or Decode to get the reason as an error.
func FromImage(img image.Image, spec Spec) data.Image {
	if img == nil || spec.Validate() != nil || img.Bounds().Empty() {
		return data.Image{}
	}
	return fromSampler(fastSampler(img, spec.Channels), img.Bounds(), spec)
}

// fromImagePlain is FromImage through the generic image.Image interface only (the reference
// the typed samplers are tested against).
func fromImagePlain(img image.Image, spec Spec) data.Image {
	if img == nil || spec.Validate() != nil || img.Bounds().Empty() {
		return data.Image{}
	}
	return fromSampler(plainSampler(img, spec.Channels), img.Bounds(), spec)
}

// fromSampler resizes the source seen through at to spec.Size² and normalises it.
func fromSampler(at sampler, b image.Rectangle, spec Spec) data.Image {
	c, n := spec.Channels, spec.Size
	out := data.Image{Channels: c, Height: n, Width: n, Pixels: make([]float32, c*n*n)}
	resizeBilinear(at, b.Dx(), b.Dy(), c, n, out.Pixels) // [C, n, n], values in [0, 255]
	for ch := range c {
		// (x/255 - mean) / std, folded into one multiply-add.
		scale := 1 / (255 * spec.std(ch))
		offset := -spec.mean(ch) / spec.std(ch)
		plane := out.Pixels[ch*n*n : (ch+1)*n*n]
		for i, x := range plane {
			plane[i] = x*scale + offset
		}
	}
	return out
}

// Load decodes the PNG, JPEG or GIF file at path (recognised by content, not by name) and
// prepares it as spec says. Errors name the path.
func Load(path string, spec Spec) (data.Image, error) {
	if err := spec.Validate(); err != nil {
		return data.Image{}, errors.WithMessagef(err, "loading image %s", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return data.Image{}, errors.Wrap(err, "loading image")
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return data.Image{}, errors.Errorf("loading image %s: is a directory", path)
	}
	im, err := decode(f, spec)
	if err != nil {
		return data.Image{}, errors.WithMessagef(err, "loading image %s", path)
	}
	return im, nil
}

// Decode reads one PNG, JPEG or GIF image from r and prepares it as spec says.
func Decode(r io.Reader, spec Spec) (data.Image, error) {
	if err := spec.Validate(); err != nil {
		return data.Image{}, err
	}
	return decode(r, spec)
}

// decode checks the header's dimensions before decoding any pixel: the bytes DecodeConfig
// consumes are kept and replayed to image.Decode, so r need not be seekable.
func decode(r io.Reader, spec Spec) (data.Image, error) {
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(r, &head))
	if err != nil {
		return data.Image{}, decodeError(err, sniff(head.Bytes()))
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return data.Image{}, errors.Errorf("%s image is %dx%d: no pixels", format, cfg.Width, cfg.Height)
	}
	if cfg.Width > MaxSourceSide || cfg.Height > MaxSourceSide {
		return data.Image{}, errors.Errorf("%s image is %dx%d: larger than %d pixels per side",
			format, cfg.Width, cfg.Height, MaxSourceSide)
	}
	img, _, err := image.Decode(io.MultiReader(&head, r))
	if err != nil {
		return data.Image{}, decodeError(err, format)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return data.Image{}, errors.Errorf("%s image decodes to %dx%d but its header says %dx%d",
			format, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return FromImage(img, spec), nil
}

// decodeError says what a decoder's error means for the user.
func decodeError(err error, format string) error {
	what := "image"
	if format != "" {
		what = format + " image"
	}
	switch {
	case errors.Is(err, image.ErrFormat):
		return errors.New("not a PNG, JPEG or GIF image (unknown format)")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		strings.Contains(err.Error(), "not enough pixel data"): // image/png's word for a short IDAT
		return errors.Errorf("truncated %s (the data ends early)", what)
	}
	return errors.Wrapf(err, "corrupt %s", what)
}

// sniff names the registered format whose magic bytes start head ("" if none does), for
// errors raised before a decoder has said what it is reading.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(head, []byte("\xff\xd8")):
		return "jpeg"
	case bytes.HasPrefix(head, []byte("GIF8")):
		return "gif"
	}
	return ""
}

// ToGray undoes spec's normalisation for display: each pixel is the mean of the image's
// channels, scaled back to [0, 255] and clamped. It returns nil when im fails Check.
func ToGray(im data.Image, spec Spec) *image.Gray {
	if im.Check() != nil {
		return nil
	}
	out := image.NewGray(image.Rect(0, 0, im.Width, im.Height))
	hw := im.Height * im.Width
	for i := range hw {
		var sum float32
		for c := range im.Channels {
			sum += (im.Pixels[c*hw+i]*spec.std(c) + spec.mean(c)) * 255
		}
		out.Pix[(i/im.Width)*out.Stride+i%im.Width] = clampByte(sum / float32(im.Channels))
	}
	return out
}

// clampByte rounds x to the nearest byte value, clamping to [0, 255] (NaN gives 0).
func clampByte(x float32) uint8 {
	switch {
	case !(x > 0):
		return 0
	case x >= 255:
		return 255
	}
	return uint8(x + 0.5)
}

// luma converts 16-bit premultiplied RGB to an 8-bit-range gray value (ITU-R 601 weights);
// exact for gray input.
func luma(r, g, b uint32) float32 {
	if r == g && g == b {
		return float32(r) / 257
	}
	return float32((0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 257)
}

// putRGB stores 16-bit premultiplied RGB (as color.Color.RGBA returns it) as channels in
// [0, 255]: one channel (luma) or three.
func putRGB(r, g, b uint32, out []float32) {
	if len(out) == 1 {
		out[0] = luma(r, g, b)
		return
	}
	out[0], out[1], out[2] = float32(r)/257, float32(g)/257, float32(b)/257
}
