package images

import (
	"encoding/binary"
	"image"
	"io"
	"slices"

	"github.com/pkg/errors"
)

// IDX magic numbers: two zero bytes, the element type (0x08: unsigned byte) and the number of
// dimensions.
const (
	idxImagesMagic = 0x00000803 // ubyte, 3 dimensions: count, rows, columns
	idxLabelsMagic = 0x00000801 // ubyte, 1 dimension: count
)

// Limits on IDX headers. The readers allocate only as data arrives, so these bound work on a
// corrupt header rather than memory.
const (
	MaxIDXCount = 1 << 26 // items in one file
	MaxIDXSide  = 4096    // rows or columns of one image
)

// readChunk is how many bytes the IDX readers ask for at a time.
const readChunk = 1 << 20

// readUpTo reads exactly n bytes in steps of at most readChunk, so that a header claiming more
// than the stream holds costs no more memory than what the stream does hold (about twice, at
// worst). On a short read it returns the bytes read and io.ErrUnexpectedEOF (or the reader's
// error).
func readUpTo(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for len(buf) < n {
		k := min(n-len(buf), readChunk)
		buf = slices.Grow(buf, k)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// readIDXHeader reads and checks the magic number, then reads dims big-endian uint32 sizes.
func readIDXHeader(r io.Reader, magic uint32, dims int) ([]int, error) {
	var hdr [16]byte
	want := 4 + 4*dims
	n, err := io.ReadFull(r, hdr[:4])
	if err == nil {
		if got := binary.BigEndian.Uint32(hdr[:4]); got != magic {
			return nil, errors.Errorf("IDX magic number is %#08x, want %#08x (a %d-dimensional unsigned-byte file)",
				got, magic, dims)
		}
		var m int
		m, err = io.ReadFull(r, hdr[4:want])
		n += m
	}
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errors.Errorf("IDX header truncated: %d of %d bytes", n, want)
		}
		return nil, errors.Wrap(err, "reading IDX header")
	}
	sizes := make([]int, dims)
	for i := range sizes {
		sizes[i] = int(binary.BigEndian.Uint32(hdr[4+4*i:]))
	}
	return sizes, nil
}

// checkTrailing fails when r holds more bytes after the items the header announced: the
// header's count is then wrong, or two files were concatenated.
func checkTrailing(r io.Reader, count int, what string) error {
	var b [1]byte
	n, err := io.ReadFull(r, b[:])
	if n > 0 {
		return errors.Errorf("IDX %s: data continues after the %d items the header announces", what, count)
	}
	if err != nil && err != io.EOF {
		return errors.Wrapf(err, "IDX %s: reading after the last item", what)
	}
	return nil
}

// ReadIDXImages reads an IDX file of unsigned-byte images (magic 0x00000803: count, rows and
// columns as big-endian uint32, then count·rows·cols pixels, row-major), as MNIST and
// Fashion-MNIST ship them. The images share one backing array per chunk read. Errors name the
// first image the data fails to hold.
func ReadIDXImages(r io.Reader) ([]*image.Gray, error) {
	hdr, err := readIDXHeader(r, idxImagesMagic, 3)
	if err != nil {
		return nil, err
	}
	count, rows, cols := hdr[0], hdr[1], hdr[2]
	if count > MaxIDXCount {
		return nil, errors.Errorf("IDX images: header claims %d images, more than the limit %d", count, MaxIDXCount)
	}
	if rows < 1 || cols < 1 || rows > MaxIDXSide || cols > MaxIDXSide {
		return nil, errors.Errorf("IDX images: header claims %dx%d pixels per image, want 1..%d per side",
			rows, cols, MaxIDXSide)
	}
	per := rows * cols
	batch := max(1, readChunk/per) // images per read
	imgs := make([]*image.Gray, 0, min(count, batch))
	for len(imgs) < count {
		k := min(batch, count-len(imgs))
		buf, err := readUpTo(r, k*per)
		if err != nil {
			first := len(imgs) + len(buf)/per
			if err == io.ErrUnexpectedEOF {
				return nil, errors.Errorf("IDX images: image %d of %d truncated (the data ends early)", first, count)
			}
			return nil, errors.Wrapf(err, "IDX images: reading image %d of %d", first, count)
		}
		for i := range k {
			imgs = append(imgs, &image.Gray{
				Pix:    buf[i*per : (i+1)*per : (i+1)*per],
				Stride: cols,
				Rect:   image.Rect(0, 0, cols, rows),
			})
		}
	}
	if err := checkTrailing(r, count, "images"); err != nil {
		return nil, err
	}
	return imgs, nil
}

// ReadIDXLabels reads an IDX file of unsigned-byte labels (magic 0x00000801: a big-endian
// uint32 count, then count bytes).
func ReadIDXLabels(r io.Reader) ([]uint8, error) {
	hdr, err := readIDXHeader(r, idxLabelsMagic, 1)
	if err != nil {
		return nil, err
	}
	count := hdr[0]
	if count > MaxIDXCount {
		return nil, errors.Errorf("IDX labels: header claims %d labels, more than the limit %d", count, MaxIDXCount)
	}
	labels, err := readUpTo(r, count)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, errors.Errorf("IDX labels: label %d of %d truncated (the data ends early)", len(labels), count)
		}
		return nil, errors.Wrapf(err, "IDX labels: reading label %d of %d", len(labels), count)
	}
	if err := checkTrailing(r, count, "labels"); err != nil {
		return nil, err
	}
	return labels, nil
}
