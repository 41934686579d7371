package weights_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/goswift/goswift/swift/weights"
)

func ExampleOpenSafetensors() {
	dir, err := os.MkdirTemp("", "weights-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	err = weights.WriteSafetensors(path, []weights.Tensor{
		{Name: "model.norm.weight", Shape: []int{4}, Data: []float32{1, 1, 0.5, 2}},
		{Name: "lm_head.weight", Shape: []int{2, 4}, DType: weights.BF16, Data: []float32{0.1, 0.2, 0.3, 0.4, 1, 2, 3, 4}},
	}, map[string]string{"format": "pt"})
	if err != nil {
		log.Fatal(err)
	}

	st, err := weights.OpenSafetensors(path)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	fmt.Println("metadata:", st.Metadata())
	for _, name := range st.Names() {
		info, _ := st.Info(name)
		data, err := st.ReadFloat32(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s %v %v\n", name, info.DType, info.Shape, data)
	}
	// Output:
	// metadata: map[format:pt]
	// lm_head.weight BF16 [2 4] [0.100097656 0.20019531 0.30078125 0.40039062 1 2 3 4]
	// model.norm.weight F32 [4] [1 1 0.5 2]
}

func ExampleWriteSafetensors() {
	dir, err := os.MkdirTemp("", "weights-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "adapter.safetensors")
	tensors := []weights.Tensor{
		{Name: "b", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		{Name: "a", Shape: []int{3}, DType: weights.F16, Data: []float32{0.5, -1, 65504}},
	}
	if err := weights.WriteSafetensors(path, tensors, nil); err != nil {
		log.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	// 8-byte header length, JSON header padded with spaces to a multiple of 8, then the data of
	// "a" (3 x 2 bytes) and "b" (4 x 4 bytes), in name order.
	header := string(raw[8 : len(raw)-22])
	fmt.Printf("%d bytes, header %d bytes:\n%s\n", len(raw), len(header), strings.TrimRight(header, " "))
	// Output:
	// 142 bytes, header 112 bytes:
	// {"a":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[6,22]}}
}

func ExampleWriteSharded() {
	dir, err := os.MkdirTemp("", "weights-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var tensors []weights.Tensor
	for i := range 3 {
		tensors = append(tensors, weights.Tensor{Name: fmt.Sprintf("layer.%d", i), Shape: []int{256}, Data: make([]float32, 256)})
	}
	// At most 2 KiB of tensor data per shard: three 1 KiB tensors give two shards.
	if err := weights.WriteSharded(dir, tensors, 2048, nil); err != nil {
		log.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	src, err := weights.OpenDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	fmt.Println(src.Names())
	// Output:
	// model-00001-of-00002.safetensors
	// model-00002-of-00002.safetensors
	// model.safetensors.index.json
	// [layer.0 layer.1 layer.2]
}
