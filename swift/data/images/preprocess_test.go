package images

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		want string // substring of the error; "" for valid
	}{
		{"gray", Spec{Size: 28, Channels: 1}, ""},
		{"rgb with stats", Spec{Size: 224, Channels: 3, Mean: []float32{0.48, 0.46, 0.41}, Std: []float32{0.27, 0.26, 0.28}}, ""},
		{"zero size", Spec{Channels: 3}, "Size 0"},
		{"huge size", Spec{Size: MaxSize + 1, Channels: 3}, "Size"},
		{"two channels", Spec{Size: 8, Channels: 2}, "Channels 2"},
		{"mean length", Spec{Size: 8, Channels: 3, Mean: []float32{0.5}}, "Mean has 1 values for 3 channels"},
		{"std length", Spec{Size: 8, Channels: 1, Std: []float32{0.5, 0.5}}, "Std has 2 values"},
		{"zero std", Spec{Size: 8, Channels: 1, Std: []float32{0}}, "Std[0] = 0 must be positive"},
		{"nan mean", Spec{Size: 8, Channels: 1, Mean: []float32{float32(math.NaN())}}, "not finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// norm is the default normalisation of a [0, 255] value.
func norm(x float64) float32 { return float32((x/255 - 0.5) / 0.5) }

func TestFromImage(t *testing.T) {
	gray2x2 := &image.Gray{Pix: []uint8{0, 255, 255, 0}, Stride: 2, Rect: image.Rect(0, 0, 2, 2)}
	red := image.NewRGBA(image.Rect(0, 0, 1, 1))
	red.Set(0, 0, color.RGBA{255, 0, 0, 255})
	halfAlpha := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	halfAlpha.Set(0, 0, color.NRGBA{200, 100, 50, 0}) // fully transparent: premultiplied to black
	for _, tc := range []struct {
		name string
		img  image.Image
		spec Spec
		want map[[3]int]float32 // [c, y, x] -> value
	}{
		{"gray identity", gray2x2, Spec{Size: 2, Channels: 1},
			map[[3]int]float32{{0, 0, 0}: -1, {0, 0, 1}: 1, {0, 1, 0}: 1, {0, 1, 1}: -1}},
		{"gray replicated to rgb", gray2x2, Spec{Size: 2, Channels: 3},
			map[[3]int]float32{{1, 0, 1}: 1, {2, 1, 1}: -1}},
		{"bilinear upsample", gray2x2, Spec{Size: 4, Channels: 1},
			map[[3]int]float32{{0, 0, 0}: -1, {0, 0, 1}: norm(63.75), {0, 0, 2}: norm(191.25), {0, 0, 3}: 1,
				{0, 1, 0}: norm(63.75), {0, 1, 1}: norm(0.75*63.75 + 0.25*191.25)}},
		{"bilinear downsample", &image.Gray{Pix: []uint8{0, 100, 200, 50, 0, 100, 200, 50}, Stride: 4, Rect: image.Rect(0, 0, 4, 2)},
			Spec{Size: 2, Channels: 1}, map[[3]int]float32{{0, 0, 0}: norm(50), {0, 1, 1}: norm(125)}},
		{"red luma", red, Spec{Size: 1, Channels: 1}, map[[3]int]float32{{0, 0, 0}: norm(0.299 * 255)}},
		{"red rgb", red, Spec{Size: 1, Channels: 3}, map[[3]int]float32{{0, 0, 0}: 1, {1, 0, 0}: -1, {2, 0, 0}: -1}},
		{"transparent is black", halfAlpha, Spec{Size: 1, Channels: 3}, map[[3]int]float32{{0, 0, 0}: -1}},
		{"custom stats", gray2x2, Spec{Size: 2, Channels: 1, Mean: []float32{0.25}, Std: []float32{2}},
			map[[3]int]float32{{0, 0, 0}: -0.125, {0, 0, 1}: 0.375}},
		{"offset bounds", gray2x2.SubImage(image.Rect(1, 1, 2, 2)), Spec{Size: 1, Channels: 1},
			map[[3]int]float32{{0, 0, 0}: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := FromImage(tc.img, tc.spec)
			if err := im.Check(); err != nil {
				t.Fatal(err)
			}
			if im.Channels != tc.spec.Channels || im.Height != tc.spec.Size || im.Width != tc.spec.Size {
				t.Fatalf("dims %dx%dx%d, want %dx%[5]dx%[5]d", im.Channels, im.Height, im.Width, tc.spec.Channels, tc.spec.Size)
			}
			for at, want := range tc.want {
				got := im.Pixels[(at[0]*im.Height+at[1])*im.Width+at[2]]
				if math.Abs(float64(got-want)) > 1e-5 {
					t.Errorf("pixel [c=%d,y=%d,x=%d] = %v, want %v", at[0], at[1], at[2], got, want)
				}
			}
		})
	}
}

func TestFromImageBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		img  image.Image
		spec Spec
	}{
		{"nil image", nil, Spec{Size: 4, Channels: 3}},
		{"empty image", image.NewGray(image.Rect(0, 0, 0, 5)), Spec{Size: 4, Channels: 3}},
		{"bad spec", image.NewGray(image.Rect(0, 0, 2, 2)), Spec{Size: 4, Channels: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := FromImage(tc.img, tc.spec).Check(); err == nil {
				t.Fatal("want a zero image whose Check fails")
			}
		})
	}
	// Paletted with an empty palette or out-of-range index reads as black, without panicking.
	p := image.NewPaletted(image.Rect(0, 0, 2, 2), nil)
	if im := FromImage(p, Spec{Size: 2, Channels: 3}); im.Pixels[0] != -1 {
		t.Fatalf("empty palette: pixel %v, want -1 (black)", im.Pixels[0])
	}
}

// testImages returns one image of every type the samplers handle (and one they do not), filled
// with random pixels, with bounds that do not start at the origin.
func testImages(w, h int, seed uint64) map[string]image.Image {
	rng := rand.New(rand.NewPCG(seed, 1))
	r := image.Rect(3, 5, 3+w, 5+h)
	fill := func(pix []uint8) {
		for i := range pix {
			pix[i] = uint8(rng.IntN(256))
		}
	}
	gray, rgba, nrgba := image.NewGray(r), image.NewRGBA(r), image.NewNRGBA(r)
	fill(gray.Pix)
	fill(nrgba.Pix)
	for i := 0; i < len(rgba.Pix); i += 4 { // valid premultiplied: colour <= alpha
		a := uint8(rng.IntN(256))
		rgba.Pix[i+3] = a
		for k := range 3 {
			rgba.Pix[i+k] = uint8(rng.IntN(int(a) + 1))
		}
	}
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	fill(ycc.Y)
	fill(ycc.Cb)
	fill(ycc.Cr)
	pal := image.NewPaletted(r, palette.Plan9)
	fill(pal.Pix)
	g16 := image.NewGray16(r)
	fill(g16.Pix)
	return map[string]image.Image{"gray": gray, "rgba": rgba, "nrgba": nrgba, "ycbcr420": ycc, "paletted": pal, "gray16": g16}
}

// TestSamplersAgree checks the typed fast path against the image.Image reference, exactly.
func TestSamplersAgree(t *testing.T) {
	for _, dims := range [][2]int{{28, 28}, {17, 9}, {1, 1}, {64, 40}} {
		for name, img := range testImages(dims[0], dims[1], uint64(dims[0]*100+dims[1])) {
			for _, spec := range []Spec{{Size: 28, Channels: 3}, {Size: 5, Channels: 1}, {Size: 33, Channels: 1}} {
				fast, plain := FromImage(img, spec), fromImagePlain(img, spec)
				for i := range plain.Pixels {
					if fast.Pixels[i] != plain.Pixels[i] {
						t.Fatalf("%s %v spec %+v: value %d fast %v, plain %v", name, dims, spec, i, fast.Pixels[i], plain.Pixels[i])
					}
				}
			}
		}
	}
}

// gradient is a w×h RGB image whose channels vary smoothly (JPEG keeps it well).
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(255 * x / max(1, w-1)), uint8(255 * y / max(1, h-1)), 128, 255})
		}
	}
	return img
}

func encodeFile(t testing.TB, path string, img image.Image, format string) {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	g := testImages(20, 12, 7)["gray"].(*image.Gray)
	for _, tc := range []struct {
		name, format string
		img          image.Image
		spec         Spec
		tol          float32 // in normalised units (2/255 per gray level)
	}{
		{"png rgb", "png", gradient(30, 30), Spec{Size: 30, Channels: 3}, 1e-6},
		{"png gray", "png", g, Spec{Size: 20, Channels: 1}, 1e-6},
		{"png gray to rgb, resized", "png", g, Spec{Size: 10, Channels: 3}, 1e-6},
		{"png nrgba", "png", testImages(9, 9, 3)["nrgba"], Spec{Size: 9, Channels: 3}, 1e-6},
		{"jpeg rgb", "jpeg", gradient(32, 32), Spec{Size: 32, Channels: 3}, 16 * 2.0 / 255}, // 4:2:0 chroma
		{"jpeg rgb resized", "jpeg", gradient(64, 48), Spec{Size: 28, Channels: 3}, 16 * 2.0 / 255},
		{"gif paletted", "gif", testImages(16, 16, 5)["paletted"], Spec{Size: 16, Channels: 3}, 1e-6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".img") // no extension hint
			encodeFile(t, path, tc.img, tc.format)
			got, err := Load(path, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			want := FromImage(tc.img, tc.spec)
			if got.Channels != want.Channels || got.Height != want.Height || got.Width != want.Width {
				t.Fatalf("dims %dx%dx%d, want %dx%dx%d", got.Channels, got.Height, got.Width, want.Channels, want.Height, want.Width)
			}
			var worst float32
			for i := range want.Pixels {
				worst = max(worst, float32(math.Abs(float64(got.Pixels[i]-want.Pixels[i]))))
			}
			if worst > tc.tol {
				t.Fatalf("largest difference %v, want <= %v", worst, tc.tol)
			}
			// Decode from a reader that cannot seek and hands out one byte at a time.
			raw, _ := os.ReadFile(path)
			dec, err := Decode(iotest.OneByteReader(bytes.NewReader(raw)), tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			for i := range dec.Pixels {
				if dec.Pixels[i] != got.Pixels[i] {
					t.Fatalf("Decode differs from Load at %d: %v vs %v", i, dec.Pixels[i], got.Pixels[i])
				}
			}
		})
	}
}

// pngHeaderOnly is a PNG signature and IHDR chunk claiming w×h gray pixels, and no data.
func pngHeaderOnly(w, h uint32) []byte {
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth; colour type 0 (gray), no interlace
	chunk := append([]byte("IHDR"), ihdr[:]...)
	out := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	out = append(out, chunk...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	var pngBuf, jpgBuf bytes.Buffer
	png.Encode(&pngBuf, gradient(40, 40))
	jpeg.Encode(&jpgBuf, gradient(40, 40), nil)
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file at all
		spec    Spec
		want    string
	}{
		{"missing.png", nil, Spec{Size: 8, Channels: 3}, "no such file"},
		{"empty.png", []byte{}, Spec{Size: 8, Channels: 3}, "not a PNG, JPEG or GIF"},
		{"notes.png", []byte("these are not pixels\n"), Spec{Size: 8, Channels: 3}, "not a PNG, JPEG or GIF"},
		{"truncated.png", pngBuf.Bytes()[:pngBuf.Len()/2], Spec{Size: 8, Channels: 3}, "truncated png image"},
		{"header-only.png", pngBuf.Bytes()[:40], Spec{Size: 8, Channels: 3}, "png image"},
		{"truncated.jpg", jpgBuf.Bytes()[:jpgBuf.Len()/2], Spec{Size: 8, Channels: 3}, "truncated jpeg image"},
		{"huge.png", pngHeaderOnly(20000, 10), Spec{Size: 8, Channels: 3}, "20000x10: larger than 16384"},
		{"zero.png", pngHeaderOnly(0, 0), Spec{Size: 8, Channels: 3}, "png"},
		{"badspec.png", pngBuf.Bytes(), Spec{Size: 8, Channels: 2}, "Channels 2"},
		{"a-directory", nil, Spec{Size: 8, Channels: 3}, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if tc.name == "a-directory" {
				os.Mkdir(path, 0o755)
			} else if tc.content != nil {
				if err := os.WriteFile(path, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(path, tc.spec)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q should name %s and say %q", err, path, tc.want)
			}
		})
	}
}

func TestToGray(t *testing.T) {
	g := testImages(12, 12, 11)["gray"].(*image.Gray)
	for _, spec := range []Spec{
		{Size: 12, Channels: 1},
		{Size: 12, Channels: 3},
		{Size: 12, Channels: 3, Mean: []float32{0.48, 0.46, 0.41}, Std: []float32{0.27, 0.26, 0.28}},
	} {
		back := ToGray(FromImage(g, spec), spec)
		for y := range 12 {
			for x := range 12 {
				if got, want := back.GrayAt(x, y).Y, g.GrayAt(g.Rect.Min.X+x, g.Rect.Min.Y+y).Y; got != want {
					t.Fatalf("spec %+v: pixel (%d,%d) = %d, want %d", spec, x, y, got, want)
				}
			}
		}
	}
	if ToGray(FromImage(nil, Spec{}), Spec{}) != nil {
		t.Fatal("ToGray of an invalid image should be nil")
	}
	// Out-of-range values clamp.
	im := FromImage(g, Spec{Size: 2, Channels: 1})
	im.Pixels = []float32{-5, 5, float32(math.NaN()), 0}
	if got := ToGray(im, Spec{Size: 2, Channels: 1}).Pix; !bytes.Equal(got, []byte{0, 255, 0, 128}) {
		t.Fatalf("clamped pixels %v, want [0 255 0 128]", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, format := range []string{"png", "jpeg", "gif"} {
		var buf bytes.Buffer
		img := gradient(6, 5)
		switch format {
		case "png":
			png.Encode(&buf, img)
		case "jpeg":
			jpeg.Encode(&buf, img, nil)
		case "gif":
			gif.Encode(&buf, img, nil)
		}
		f.Add(buf.Bytes())
	}
	f.Add(pngHeaderOnly(3, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := Decode(bytes.NewReader(b), Spec{Size: 4, Channels: 3})
		if err == nil {
			if err := im.Check(); err != nil {
				t.Fatalf("Decode returned a bad image: %v", err)
			}
		}
	})
}

func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	for _, bc := range []struct {
		name string
		img  image.Image
		spec Spec
	}{
		{"gray28to28x3", testImages(28, 28, 1)["gray"], Spec{Size: 28, Channels: 3}},
		{"rgb28to28x3", gradient(28, 28), Spec{Size: 28, Channels: 3}},
		{"rgb256to224x3", gradient(256, 256), Spec{Size: 224, Channels: 3}},
	} {
		path := filepath.Join(dir, bc.name+".png")
		encodeFile(b, path, bc.img, "png")
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Load(path, bc.spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFromImage compares the typed samplers with the image.Image reference.
func BenchmarkFromImage(b *testing.B) {
	imgs := testImages(224, 224, 2)
	spec := Spec{Size: 224, Channels: 3}
	for _, kind := range []string{"gray", "rgba", "ycbcr420"} {
		for _, path := range []struct {
			name string
			fn   func(image.Image, Spec) any
		}{
			{"plain", func(i image.Image, s Spec) any { return fromImagePlain(i, s) }},
			{"fast", func(i image.Image, s Spec) any { return FromImage(i, s) }},
		} {
			b.Run(kind+"/"+path.name, func(b *testing.B) {
				for b.Loop() {
					path.fn(imgs[kind], spec)
				}
			})
		}
	}
}
