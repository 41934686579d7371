package images

import (
	"image"
	"image/draw"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The bitmap font's cell: basicfont.Face7x13 advances 7 pixels per character, 13 pixels tall.
const (
	glyphAdvance = 7
	glyphHeight  = 13
)

// maxRenderRunes caps the characters RenderText draws: more could not be told apart at any
// size it accepts.
const maxRenderRunes = 256

// RenderText draws s in black on white, centred in a size×size gray image, with the 7×13
// bitmap font basicfont.Face7x13. The text's inked box is scaled by the largest whole factor
// that fits (nearest neighbour), so short words and numbers stay legible at 28..32 pixels;
// text wider than the image is shrunk (nearest neighbour) to fit. Characters the font lacks
// (it covers ASCII and Latin-1) are drawn as its replacement glyph. A size outside 1..MaxSize
// gives an empty image; an empty or blank s a white one.
func RenderText(s string, size int) *image.Gray {
	if size < 1 || size > MaxSize {
		return image.NewGray(image.Rectangle{})
	}
	out := image.NewGray(image.Rect(0, 0, size, size))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	runes := []rune(s)
	if len(runes) > maxRenderRunes {
		runes = runes[:maxRenderRunes]
	}
	if len(runes) == 0 {
		return out
	}
	// Draw at the font's own size, then crop to the ink.
	line := image.NewGray(image.Rect(0, 0, len(runes)*glyphAdvance, glyphHeight))
	draw.Draw(line, line.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{
		Dst:  line,
		Src:  image.Black,
		Face: basicfont.Face7x13,
		Dot:  fixed.P(0, basicfont.Face7x13.Ascent),
	}
	d.DrawString(string(runes))
	ink := inkBounds(line)
	if ink.Empty() {
		return out
	}
	tw, th := ink.Dx(), ink.Dy()
	pad := size / 32 // a little white border on larger images
	avail := max(1, size-2*pad)
	k := min(avail/tw, avail/th)
	dw, dh := tw*k, th*k
	if k < 1 { // too wide or tall: shrink, keeping the aspect ratio
		f := min(float64(avail)/float64(tw), float64(avail)/float64(th))
		dw, dh = max(1, int(float64(tw)*f)), max(1, int(float64(th)*f))
	}
	ox, oy := (size-dw)/2, (size-dh)/2
	for y := range dh {
		sy := ink.Min.Y + y*th/dh
		for x := range dw {
			sx := ink.Min.X + x*tw/dw
			out.Pix[(oy+y)*out.Stride+ox+x] = line.Pix[sy*line.Stride+sx]
		}
	}
	return out
}

// inkBounds is the smallest rectangle holding every non-white pixel of g.
func inkBounds(g *image.Gray) image.Rectangle {
	var r image.Rectangle
	b := g.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if g.Pix[g.PixOffset(x, y)] != 0xff {
				r = r.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return r
}
