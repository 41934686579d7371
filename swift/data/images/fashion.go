package images

import (
	"bufio"
	"compress/gzip"
	"image"
	"io"
	"os"
	"path/filepath"

	"github.com/pkg/errors"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs Fashion-MNIST
// (train and t10k splits, gzip-compressed IDX files).
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses names Fashion-MNIST's labels 0..9.
var FashionMNISTClasses = [10]string{
	"t-shirt", "trouser", "pullover", "dress", "coat",
	"sandal", "shirt", "sneaker", "bag", "ankle boot",
}

// ReadFashionMNIST reads one split ("train": 60000 images, or "t10k": 10000) of Fashion-MNIST
// from dir: <split>-images-idx3-ubyte and <split>-labels-idx1-ubyte, each gzip-compressed
// (".gz", as Debian installs them) or not. Labels must be 0..9 and as many as the images.
// Errors name the file at fault.
func ReadFashionMNIST(dir, split string) (imgs []*image.Gray, labels []int, err error) {
	if split != "train" && split != "t10k" {
		return nil, nil, errors.Errorf("fashion-mnist: split %q must be \"train\" or \"t10k\"", split)
	}
	var raw []uint8
	var imgPath, lblPath string
	err = readIDXFile(dir, split+"-images-idx3-ubyte", &imgPath, func(r io.Reader) (err error) {
		imgs, err = ReadIDXImages(r)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	err = readIDXFile(dir, split+"-labels-idx1-ubyte", &lblPath, func(r io.Reader) (err error) {
		raw, err = ReadIDXLabels(r)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(raw) != len(imgs) {
		return nil, nil, errors.Errorf("fashion-mnist: %s holds %d labels but %s holds %d images",
			lblPath, len(raw), imgPath, len(imgs))
	}
	labels = make([]int, len(raw))
	for i, l := range raw {
		if int(l) >= len(FashionMNISTClasses) {
			return nil, nil, errors.Errorf("fashion-mnist: %s: label %d is %d, want 0..%d",
				lblPath, i, l, len(FashionMNISTClasses)-1)
		}
		labels[i] = int(l)
	}
	return imgs, labels, nil
}

// readIDXFile opens dir/base.gz, or else dir/base, sets *path to the one it opened, and hands
// read the decompressed stream. A file is gunzipped when it starts with gzip's magic bytes,
// whatever its name.
func readIDXFile(dir, base string, path *string, read func(io.Reader) error) error {
	gz := filepath.Join(dir, base+".gz")
	plain := filepath.Join(dir, base)
	*path = gz
	f, err := os.Open(gz)
	if errors.Is(err, os.ErrNotExist) {
		*path = plain
		f, err = os.Open(plain)
		if errors.Is(err, os.ErrNotExist) {
			return errors.Errorf("fashion-mnist: neither %s nor %s exists (Debian's dataset-fashion-mnist package installs them in %s)",
				gz, plain, FashionMNISTDir)
		}
	}
	if err != nil {
		return errors.Wrap(err, "fashion-mnist")
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return errors.Wrapf(err, "fashion-mnist: %s", *path)
		}
		defer zr.Close()
		r = zr
	}
	if err := read(r); err != nil {
		return errors.WithMessagef(err, "fashion-mnist: %s", *path)
	}
	return nil
}
