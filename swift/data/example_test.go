package data_test

import (
	"fmt"

	"github.com/goswift/goswift/swift/data"
)

// Records of different shapes become the same kind of Sample.
func ExampleParseRecord() {
	for _, rec := range []string{
		`{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]}`,
		`{"instruction": "Add", "input": "2 and 3", "output": "5"}`,
		`{"question": "What is 6 times 7?", "answer": "6*7=42\n#### 42"}`,
	} {
		s, format, err := data.ParseRecord([]byte(rec), data.FormatAuto)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: %q answer=%q\n", format, s.String(), s.Answer)
	}
	// Output:
	// sharegpt: "user: Hi | assistant: Hello!" answer=""
	// alpaca: "user: Add\n2 and 3 | assistant: 5" answer=""
	// query-response: "user: What is 6 times 7? | assistant: 6*7=42\n#### 42" answer="42"
}

// Packing puts several examples in one row; each keeps its own segment and positions.
func ExampleNewSFTDataset() {
	ex := func(ids ...int32) data.Example {
		return data.Example{IDs: ids, Weights: []float32{0, 1, 1, 1, 1}[:len(ids)]}
	}
	train := []data.Example{ex(1, 10, 11, 12), ex(1, 20, 21), ex(1, 30, 31, 32, 33)}
	ds, _ := data.NewSFTDataset(train, train, data.SFTConfig{BatchSize: 1, MaxLength: 16, MinBucket: 16, Packing: true})
	b, _ := ds.EvalBatches()
	fmt.Println("tokens   ", b[0].Tokens)
	fmt.Println("segments ", b[0].Segments)
	fmt.Println("positions", b[0].Positions)
	// Output:
	// tokens    [1 30 31 32 1 10 11 1 20 0 0 0 0 0 0 0]
	// segments  [1 1 1 1 2 2 2 3 3 0 0 0 0 0 0 0]
	// positions [0 1 2 3 0 1 2 0 1 0 0 0 0 0 0 0]
}
