package tokenizers_test

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/goswift/goswift/swift/tokenizers"
)

// Loading a Hugging Face tokenizer.json (here the small Llama-2-style one in testdata): Encode
// adds no special tokens, EncodeWithSpecial applies the post_processor ("<s> $A"), and Decode
// skips special tokens and drops the "▁" dummy prefix.
func ExampleLoadHF() {
	tok, err := tokenizers.LoadHF("testdata/tiny_llama_sp/tokenizer.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("Hello world")
	fmt.Println(ids, tok.Token(ids[0]), tok.Token(ids[1]))
	withBOS := tok.EncodeWithSpecial("Hello world")
	fmt.Println(withBOS, tok.AddsBOS(), tok.BOS(), tok.EOS())
	fmt.Printf("%q\n", tok.Decode(append(withBOS, tok.EOS())))
	// Characters outside the vocabulary fall back to their UTF-8 bytes.
	fmt.Println(tok.Encode("Hi 😀"))
	fmt.Printf("%q\n", tok.Decode(tok.Encode("Hi 😀")))
	// Output:
	// [287 289] ▁Hello ▁world
	// [1 287 289] true 1 2
	// "Hello world"
	// [259 274 270 259 243 162 155 131]
	// "Hi 😀"
}

// A llama2.c tokenizer.bin built in memory: int32 max_token_length, then per token float32
// score, int32 length and the bytes. Ids 0..2 are <unk>, BOS, EOS; 3..258 the byte tokens.
func ExampleParseLlama2C() {
	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n"}
	for b := 0; b < 256; b++ {
		pieces = append(pieces, fmt.Sprintf("<0x%02X>", b))
	}
	pieces = append(pieces, " ", "h", "i", "hi", " hi") // 259..263
	scores := map[string]float32{"hi": -1, " hi": -2}
	data := binary.LittleEndian.AppendUint32(nil, 3)
	for _, p := range pieces {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(scores[p]))
		data = binary.LittleEndian.AppendUint32(data, uint32(len(p)))
		data = append(data, p...)
	}
	tok, err := tokenizers.ParseLlama2C(data, "in-memory.bin")
	if err != nil {
		fmt.Println(err)
		return
	}
	// " hi hi!": the dummy prefix " ", then h i " " h i and "!" by byte fallback (0x21+3);
	// "hi" (score -1) merges before " hi" (-2), and then " " + "hi" makes " hi".
	ids := tok.EncodeWithSpecial("hi hi!")
	fmt.Println(ids)
	fmt.Printf("%q\n", tok.Decode(ids))
	// Output:
	// [1 263 263 36]
	// "hi hi!"
}

// Loading llama2.c's stories260K tokenizer from the project's shared data (run from the
// package directory with ../../../shared/data present). Not run as a test: it needs the
// fixture. It prints:
//
//	[1 403 407 261 378 432 383 286 261 376]
//	"Once upon a time, there was a little"
func ExampleLoadLlama2C() {
	tok, err := tokenizers.LoadLlama2C("../../../shared/data/models/stories260K/tok512.bin")
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.EncodeWithSpecial("Once upon a time, there was a little")
	fmt.Println(ids)
	fmt.Printf("%q\n", tok.Decode(ids))
}

// Load picks the format from the path: a directory (tokenizer.json or tokenizer.bin inside),
// a *.json file, or a llama2.c tokenizer.bin.
func ExampleLoad() {
	tok, err := tokenizers.Load("testdata/tiny_llama_sp")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%T %d\n", tok, tok.VocabSize())
	fmt.Println(tokenizers.EncodeWithSpecial(tok, "and then"))
	// Output:
	// *tokenizers.HF 298
	// [1 293 283 269]
}
