package vlm_test

import (
	"fmt"

	"github.com/goswift/goswift/swift/models/vlm"
)

// A 28×28 gray image in 7×7 patches is 16 image tokens of 49 pixels each.
func ExampleVisionConfig() {
	v := vlm.VisionConfig{ImageSize: 28, PatchSize: 7, NumChannels: 1}
	fmt.Println(v.NumPatches(), "tokens per image,", v.PatchDim(), "values per patch")
	// Output: 16 tokens per image, 49 values per patch
}
