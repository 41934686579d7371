package images

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// idxFile builds an IDX file: magic, big-endian dims, then data.
func idxFile(magic uint32, dims []uint32, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		out = binary.BigEndian.AppendUint32(out, d)
	}
	return append(out, data...)
}

// seq returns n bytes counting up from start (mod 256).
func seq(n, start int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

func TestReadIDXImages(t *testing.T) {
	// 3 images of 2 rows × 3 columns, pixels 0..17 row-major.
	imgs, err := ReadIDXImages(bytes.NewReader(idxFile(idxImagesMagic, []uint32{3, 2, 3}, seq(18, 0))))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 3 {
		t.Fatalf("%d images, want 3", len(imgs))
	}
	for k, img := range imgs {
		if img.Bounds() != image.Rect(0, 0, 3, 2) {
			t.Fatalf("image %d bounds %v, want 3x2", k, img.Bounds())
		}
		for y := range 2 {
			for x := range 3 {
				if got, want := img.GrayAt(x, y).Y, uint8(k*6+y*3+x); got != want {
					t.Fatalf("image %d pixel (%d,%d) = %d, want %d", k, x, y, got, want)
				}
			}
		}
	}
	// Images do not share capacity: appending to one leaves the next intact.
	_ = append(imgs[0].Pix, 99)
	if imgs[1].Pix[0] != 6 {
		t.Fatal("images alias each other's storage past their ends")
	}
	labels, err := ReadIDXLabels(bytes.NewReader(idxFile(idxLabelsMagic, []uint32{4}, []byte{9, 0, 3, 7})))
	if err != nil || !bytes.Equal(labels, []byte{9, 0, 3, 7}) {
		t.Fatalf("labels %v, %v; want [9 0 3 7]", labels, err)
	}
	empty, err := ReadIDXImages(bytes.NewReader(idxFile(idxImagesMagic, []uint32{0, 28, 28}, nil)))
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty file: %d images, %v", len(empty), err)
	}
}

func TestReadIDXCorrupt(t *testing.T) {
	imgs := func(b []byte) error { _, err := ReadIDXImages(bytes.NewReader(b)); return err }
	lbls := func(b []byte) error { _, err := ReadIDXLabels(bytes.NewReader(b)); return err }
	for _, tc := range []struct {
		name string
		read func([]byte) error
		data []byte
		want string
	}{
		{"images empty", imgs, nil, "header truncated: 0 of 16 bytes"},
		{"images short header", imgs, idxFile(idxImagesMagic, []uint32{1}, nil), "header truncated: 8 of 16"},
		{"images bad magic", imgs, idxFile(idxLabelsMagic, []uint32{1, 1, 1}, []byte{0}), "magic number is 0x00000801, want 0x00000803"},
		{"images huge count", imgs, idxFile(idxImagesMagic, []uint32{0xffffffff, 28, 28}, nil), "claims 4294967295 images"},
		{"images zero rows", imgs, idxFile(idxImagesMagic, []uint32{1, 0, 28}, nil), "0x28 pixels"},
		{"images huge side", imgs, idxFile(idxImagesMagic, []uint32{1, 28, 100000}, nil), "28x100000 pixels"},
		{"images truncated", imgs, idxFile(idxImagesMagic, []uint32{5, 2, 2}, seq(13, 0)), "image 3 of 5 truncated"},
		{"images no data", imgs, idxFile(idxImagesMagic, []uint32{5, 2, 2}, nil), "image 0 of 5 truncated"},
		{"images trailing", imgs, idxFile(idxImagesMagic, []uint32{1, 2, 2}, seq(5, 0)), "continues after the 1 items"},
		{"labels bad magic", lbls, idxFile(idxImagesMagic, []uint32{1, 1, 1}, nil), "magic number is 0x00000803, want 0x00000801"},
		{"labels truncated", lbls, idxFile(idxLabelsMagic, []uint32{10}, seq(4, 0)), "label 4 of 10 truncated"},
		{"labels huge count", lbls, idxFile(idxLabelsMagic, []uint32{0x7fffffff}, nil), "claims 2147483647 labels"},
		{"labels trailing", lbls, idxFile(idxLabelsMagic, []uint32{1}, seq(2, 0)), "continues after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.read(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestReadIDXLyingHeader checks that a header claiming far more data than present costs memory
// in proportion to the data, not the claim.
func TestReadIDXLyingHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func() error
	}{
		{"images", func() error {
			// 60M images of 4096×4096 would be ~10^15 bytes; 100 bytes are present.
			_, err := ReadIDXImages(bytes.NewReader(idxFile(idxImagesMagic, []uint32{MaxIDXCount, MaxIDXSide, MaxIDXSide}, seq(100, 0))))
			return err
		}},
		{"labels", func() error {
			_, err := ReadIDXLabels(bytes.NewReader(idxFile(idxLabelsMagic, []uint32{MaxIDXCount}, seq(100, 0))))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := tc.read()
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("error %v, want a truncation error", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Fatalf("allocated %d bytes for 100 bytes of data", alloc)
			}
		})
	}
}

// skipWithoutFashion skips tests that need the installed Fashion-MNIST files.
func skipWithoutFashion(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(FashionMNISTDir, "t10k-labels-idx1-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST not installed in %s (apt-get install dataset-fashion-mnist): %v", FashionMNISTDir, err)
	}
}

func TestReadFashionMNISTInstalled(t *testing.T) {
	skipWithoutFashion(t)
	for _, tc := range []struct {
		split    string
		n        int
		perClass int
	}{
		{"train", 60000, 6000},
		{"t10k", 10000, 1000},
	} {
		t.Run(tc.split, func(t *testing.T) {
			imgs, labels, err := ReadFashionMNIST(FashionMNISTDir, tc.split)
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != tc.n || len(labels) != tc.n {
				t.Fatalf("%d images, %d labels; want %d", len(imgs), len(labels), tc.n)
			}
			var hist [10]int
			for i, l := range labels {
				if l < 0 || l > 9 {
					t.Fatalf("label %d = %d out of range", i, l)
				}
				hist[l]++
			}
			for c, n := range hist {
				if n != tc.perClass {
					t.Errorf("class %d (%s): %d examples, want %d", c, FashionMNISTClasses[c], n, tc.perClass)
				}
			}
			var sum int
			for _, p := range imgs[0].Pix {
				sum += int(p)
			}
			if imgs[0].Bounds() != image.Rect(0, 0, 28, 28) || sum == 0 {
				t.Fatalf("first image %v with pixel sum %d, want a non-blank 28x28 image", imgs[0].Bounds(), sum)
			}
		})
	}
}

// writeSplit writes a small IDX split into dir, gzip-compressed or not.
func writeSplit(t *testing.T, dir, split string, images, labels []byte, gz bool) {
	t.Helper()
	for name, content := range map[string][]byte{
		split + "-images-idx3-ubyte": images,
		split + "-labels-idx1-ubyte": labels,
	} {
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(content)
			zw.Close()
			name, content = name+".gz", buf.Bytes()
		}
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadFashionMNISTFiles(t *testing.T) {
	goodImages := idxFile(idxImagesMagic, []uint32{3, 28, 28}, seq(3*28*28, 1))
	goodLabels := idxFile(idxLabelsMagic, []uint32{3}, []byte{0, 9, 4})
	for _, tc := range []struct {
		name           string
		split          string
		images, labels []byte // nil: write nothing
		gz             bool
		want           string // "" for success; else a substring, with "$DIR" standing for the directory
	}{
		{"plain files", "t10k", goodImages, goodLabels, false, ""},
		{"gzip files", "train", goodImages, goodLabels, true, ""},
		{"bad split", "test", goodImages, goodLabels, true, `split "test"`},
		{"missing", "t10k", nil, nil, false, "neither $DIR/t10k-images-idx3-ubyte.gz nor $DIR/t10k-images-idx3-ubyte exists"},
		{"label out of range", "t10k", goodImages, idxFile(idxLabelsMagic, []uint32{3}, []byte{0, 10, 4}), true,
			"$DIR/t10k-labels-idx1-ubyte.gz: label 1 is 10, want 0..9"},
		{"count mismatch", "t10k", goodImages, idxFile(idxLabelsMagic, []uint32{2}, []byte{0, 1}), false,
			"$DIR/t10k-labels-idx1-ubyte holds 2 labels but $DIR/t10k-images-idx3-ubyte holds 3 images"},
		{"truncated images", "t10k", goodImages[:len(goodImages)-1], goodLabels, true,
			"$DIR/t10k-images-idx3-ubyte.gz: IDX images: image 2 of 3 truncated"},
		{"bad magic", "t10k", goodLabels, goodLabels, false, "$DIR/t10k-images-idx3-ubyte: IDX magic number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.images != nil {
				writeSplit(t, dir, tc.split, tc.images, tc.labels, tc.gz)
			}
			imgs, labels, err := ReadFashionMNIST(dir, tc.split)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(imgs) != 3 || labels[1] != 9 || imgs[2].Pix[0] != byte((1+2*28*28)%256) {
					t.Fatalf("read %d images, labels %v", len(imgs), labels)
				}
				return
			}
			want := strings.ReplaceAll(tc.want, "$DIR", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one containing %q", err, want)
			}
		})
	}
	// A corrupt gzip stream names the file.
	dir := t.TempDir()
	writeSplit(t, dir, "t10k", goodImages, goodLabels, true)
	path := filepath.Join(dir, "t10k-labels-idx1-ubyte.gz")
	raw, _ := os.ReadFile(path)
	raw[len(raw)-5] ^= 0xff // break the CRC trailer
	os.WriteFile(path, raw, 0o644)
	if _, _, err := ReadFashionMNIST(dir, "t10k"); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt gzip: error %v, want one naming %s", err, path)
	}
}

func FuzzReadIDXImages(f *testing.F) {
	f.Add(idxFile(idxImagesMagic, []uint32{2, 2, 3}, seq(12, 0)))
	f.Add(idxFile(idxImagesMagic, []uint32{1, 28, 28}, seq(784, 0)))
	f.Add(idxFile(idxImagesMagic, []uint32{3, 1, 1}, seq(2, 0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		imgs, err := ReadIDXImages(bytes.NewReader(b))
		if err != nil {
			return
		}
		total := 16
		for i, img := range imgs {
			if len(img.Pix) != img.Rect.Dx()*img.Rect.Dy() || img.Stride != img.Rect.Dx() {
				t.Fatalf("image %d: %d pixels for %v", i, len(img.Pix), img.Rect)
			}
			total += len(img.Pix)
		}
		if total != len(b) {
			t.Fatalf("read %d bytes of images from %d", total, len(b))
		}
	})
}

func FuzzReadIDXLabels(f *testing.F) {
	f.Add(idxFile(idxLabelsMagic, []uint32{3}, []byte{1, 2, 3}))
	f.Add(idxFile(idxLabelsMagic, []uint32{0}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		labels, err := ReadIDXLabels(bytes.NewReader(b))
		if err == nil && 8+len(labels) != len(b) {
			t.Fatalf("read %d labels from %d bytes", len(labels), len(b))
		}
	})
}

func BenchmarkReadFashionMNIST(b *testing.B) {
	skipWithoutFashion(b)
	for _, split := range []string{"t10k"} {
		b.Run(split, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := ReadFashionMNIST(FashionMNISTDir, split); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
