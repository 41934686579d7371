package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImagesField: "images" parses as paths or {"path"} objects, resolves against the dataset
// file's directory, and the tag count must match.
func TestImagesField(t *testing.T) {
	tests := []struct {
		name, rec, wantErr string
		images             []string
	}{
		{"paths", `{"messages":[{"role":"user","content":"<image>hi"},{"role":"assistant","content":"x"}],"images":["a.png"]}`, "", []string{"a.png"}},
		{"objects", `{"messages":[{"role":"user","content":"<image><image>hi"},{"role":"assistant","content":"x"}],"images":[{"path":"/abs/a.png"},"b.png"]}`, "", []string{"/abs/a.png", "b.png"}},
		{"untagged", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}],"images":["a.png"]}`, "", []string{"a.png"}},
		{"tag mismatch", `{"messages":[{"role":"user","content":"<image><image>hi"},{"role":"assistant","content":"x"}],"images":["a.png"]}`, "2 <image> tags", nil},
		{"not a list", `{"messages":[{"role":"user","content":"hi"}],"images":"a.png"}`, "images must be a list", nil},
		{"empty path", `{"messages":[{"role":"user","content":"hi"}],"images":[""]}`, "images[0] is empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := ParseRecord([]byte(tc.rec), FormatAuto)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(s.Images, "|") != strings.Join(tc.images, "|") {
				t.Fatalf("images %v, want %v", s.Images, tc.images)
			}
			if tagged := s.WithImageTags(); tagged.ImageTags() != len(s.Images) {
				t.Fatalf("WithImageTags gave %d tags for %d images", tagged.ImageTags(), len(s.Images))
			}
		})
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "d.jsonl")
	if err := os.WriteFile(path, []byte(tests[0].rec+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	samples, _, err := ReadFile(path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "a.png"); samples[0].Images[0] != want {
		t.Fatalf("relative image path resolved to %q, want %q", samples[0].Images[0], want)
	}
}

func TestStackImages(t *testing.T) {
	im := func(v float32) Image { return Image{Channels: 1, Height: 1, Width: 2, Pixels: []float32{v, v}} }
	ib, err := StackImages([][]Image{{im(1)}, {im(2), im(3)}, nil})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 1, 0, 0, 2, 2, 3, 3, 0, 0, 0, 0}
	if ib.K != 2 || len(ib.Pixels) != len(want) {
		t.Fatalf("K %d, %d values", ib.K, len(ib.Pixels))
	}
	for i := range want {
		if ib.Pixels[i] != want[i] {
			t.Fatalf("pixels %v, want %v", ib.Pixels, want)
		}
	}
	if ib, err := StackImages([][]Image{nil, nil}); ib != nil || err != nil {
		t.Fatalf("no images: %v %v", ib, err)
	}
	if _, err := StackImages([][]Image{{im(1)}, {{Channels: 1, Height: 2, Width: 2, Pixels: make([]float32, 4)}}}); err == nil {
		t.Fatal("mixed shapes accepted")
	}
}
