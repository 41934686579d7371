package images

import (
	"image"
	"image/color"
)

// sampler writes the channels of source pixel (x, y), counted from the image bounds' top-left
// corner, into out (1 or 3 values, each in [0, 255]).
type sampler func(x, y int, out []float32)

// plainSampler reads pixels through the image.Image interface: the reference, for any image.
func plainSampler(img image.Image, channels int) sampler {
	b := img.Bounds()
	return func(x, y int, out []float32) {
		c := img.At(b.Min.X+x, b.Min.Y+y)
		if c == nil { // e.g. a Paletted image with an empty palette
			clear(out)
			return
		}
		r, g, bl, _ := c.RGBA()
		putRGB(r, g, bl, out)
	}
}

// fastSampler reads the common decoded image types straight from their Pix slices, without
// boxing each pixel in a color.Color; other types use plainSampler. Each case computes exactly
// what plainSampler computes (TestSamplersAgree).
func fastSampler(img image.Image, channels int) sampler {
	b := img.Bounds()
	x0, y0 := b.Min.X, b.Min.Y
	switch m := img.(type) {
	case *image.Gray:
		return func(x, y int, out []float32) {
			v := float32(m.Pix[m.PixOffset(x0+x, y0+y)])
			for i := range out {
				out[i] = v
			}
		}
	case *image.RGBA:
		return func(x, y int, out []float32) {
			i := m.PixOffset(x0+x, y0+y)
			s := m.Pix[i : i+4 : i+4]
			r, g, bl, _ := color.RGBA{s[0], s[1], s[2], s[3]}.RGBA()
			putRGB(r, g, bl, out)
		}
	case *image.NRGBA:
		return func(x, y int, out []float32) {
			i := m.PixOffset(x0+x, y0+y)
			s := m.Pix[i : i+4 : i+4]
			r, g, bl, _ := color.NRGBA{s[0], s[1], s[2], s[3]}.RGBA()
			putRGB(r, g, bl, out)
		}
	case *image.YCbCr:
		return func(x, y int, out []float32) {
			yi, ci := m.YOffset(x0+x, y0+y), m.COffset(x0+x, y0+y)
			r, g, bl, _ := color.YCbCr{m.Y[yi], m.Cb[ci], m.Cr[ci]}.RGBA()
			putRGB(r, g, bl, out)
		}
	case *image.Paletted:
		return func(x, y int, out []float32) {
			k := int(m.Pix[m.PixOffset(x0+x, y0+y)])
			if k >= len(m.Palette) || m.Palette[k] == nil { // malformed: read as black
				clear(out)
				return
			}
			r, g, bl, _ := m.Palette[k].RGBA()
			putRGB(r, g, bl, out)
		}
	}
	return plainSampler(img, channels)
}

// tap is one output coordinate's pair of source neighbours and the weight of the second.
type tap struct {
	i0, i1 int
	f      float32
}

// bilinearTaps maps n output pixels onto src source pixels with half-pixel centres
// (src = (dst+0.5)·src/n - 0.5, clamped at the edges), as PyTorch's bilinear interpolation with
// align_corners=False does. Equal sizes give the identity.
func bilinearTaps(src, n int) []tap {
	taps := make([]tap, n)
	for o := range taps {
		s := (float64(o)+0.5)*float64(src)/float64(n) - 0.5
		s = max(s, 0)
		i0 := min(int(s), src-1)
		i1 := min(i0+1, src-1)
		f := float32(s - float64(i0))
		if i1 == i0 {
			f = 0
		}
		taps[o] = tap{i0, i1, f}
	}
	return taps
}

// resizeBilinear resamples a w×h source with c channels to n×n into dst, laid out [c, n, n].
func resizeBilinear(at sampler, w, h, c, n int, dst []float32) {
	xs, ys := bilinearTaps(w, n), bilinearTaps(h, n)
	var p [4][3]float32 // the four neighbours' channels
	for oy, ty := range ys {
		for ox, tx := range xs {
			at(tx.i0, ty.i0, p[0][:c])
			at(tx.i1, ty.i0, p[1][:c])
			at(tx.i0, ty.i1, p[2][:c])
			at(tx.i1, ty.i1, p[3][:c])
			for ch := range c {
				top := p[0][ch] + (p[1][ch]-p[0][ch])*tx.f
				bottom := p[2][ch] + (p[3][ch]-p[2][ch])*tx.f
				dst[(ch*n+oy)*n+ox] = top + (bottom-top)*ty.f
			}
		}
	}
}
