// Package images prepares images for vision-language fine-tuning and builds small image
// datasets from local files.
//
// Preprocessing turns any decoded image (PNG, JPEG or GIF; gray, RGB, YCbCr or paletted) into
// a data.Image: Pixels laid out [Channels, Height, Width], resized to Spec.Size×Spec.Size with
// a plain bilinear filter (half-pixel centres, no antialiasing) and normalised per channel as
// (x/255 - Mean[c]) / Std[c]. ToGray undoes the normalisation for display.
//
//	spec := images.Spec{Size: 28, Channels: 3} // Mean, Std default to 0.5
//	im, err := images.Load("img/00012.png", spec)
//
// Fashion-MNIST is read from the IDX files that Debian's dataset-fashion-mnist package installs
// under FashionMNISTDir (gzip-compressed or not). ReadIDXImages and ReadIDXLabels read any IDX
// stream and allocate only as the data arrives, so a lying header cannot exhaust memory.
//
// WriteFashionVQA and WriteOCR write datasets in ms-swift's multimodal messages format, one
// JSON object per line, with PNG files beside the JSONL file:
//
//	{"messages":[{"role":"user","content":"<image>What is in this picture?"},
//	  {"role":"assistant","content":"sneaker"}],"images":["img-train/00012.png"]}
//
// Image paths are relative to the JSONL file's directory, which is how swift/data resolves
// them. Nothing here downloads anything.
package images
