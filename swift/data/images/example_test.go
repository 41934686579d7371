package images_test

import (
	"fmt"
	"image"
	"strings"

	"github.com/goswift/goswift/swift/data/images"
)

func ExampleFromImage() {
	// A 2×2 checkerboard, black and white.
	g := &image.Gray{Pix: []uint8{0, 255, 255, 0}, Stride: 2, Rect: image.Rect(0, 0, 2, 2)}
	spec := images.Spec{Size: 4, Channels: 3} // Mean and Std default to 0.5: [0, 255] -> [-1, 1]
	im := images.FromImage(g, spec)
	fmt.Println(im.Channels, im.Height, im.Width, im.Check())
	for y := range im.Height { // first channel, bilinearly upsampled
		fmt.Printf("%5.2f\n", im.Pixels[y*im.Width:(y+1)*im.Width])
	}
	fmt.Println(images.ToGray(im, spec).Pix[:4]) // back to bytes
	// Output:
	// 3 4 4 <nil>
	// [-1.00 -0.50  0.50  1.00]
	// [-0.50 -0.25  0.25  0.50]
	// [ 0.50  0.25 -0.25 -0.50]
	// [ 1.00  0.50 -0.50 -1.00]
	// [0 64 191 255]
}

func ExampleRenderText() {
	g := images.RenderText("42", 28)
	for y := 5; y < 23; y += 2 { // every other row of the text's band
		var row strings.Builder
		for x := range 28 {
			if g.GrayAt(x, y).Y < 128 {
				row.WriteByte('#')
			} else {
				row.WriteByte('.')
			}
		}
		fmt.Println(row.String())
	}
	// Output:
	// .........##......########...
	// .......####....##........##.
	// .....##..##....##........##.
	// ...##....##..............##.
	// .##......##............##...
	// .##......##........####.....
	// .############....##.........
	// .........##....##...........
	// .........##....############.
}
