package vlm

import "encoding/json"

// preprocessorJSON is the image processor config transformers reads beside a LLaVA model.
func preprocessorJSON(cfg *Config) []byte {
	v := cfg.Vision
	out, _ := json.MarshalIndent(map[string]any{
		"image_processor_type": "SiglipImageProcessor",
		"do_resize":            true,
		"size":                 map[string]int{"height": v.ImageSize, "width": v.ImageSize},
		"resample":             2, // bilinear
		"do_rescale":           true,
		"rescale_factor":       1.0 / 255,
		"do_normalize":         true,
		"image_mean":           cfg.ImageMean,
		"image_std":            cfg.ImageStd,
	}, "", "  ")
	return out
}
