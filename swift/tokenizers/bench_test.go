package tokenizers

import (
	"os"
	"strconv"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

// benchSizes are the text sizes (bytes of tinyshakespeare) of the sub-benchmarks; 0 = all.
var benchSizes = []int{1 << 10, 64 << 10, 0}

func shakespeare(b *testing.B) string {
	raw, err := os.ReadFile(fixtures.Path(b, "datasets/tinyshakespeare.txt"))
	if err != nil {
		b.Fatal(err)
	}
	return string(raw)
}

func sizeName(n int) string {
	if n == 0 {
		return "all"
	}
	return strconv.Itoa(n>>10) + "KiB"
}

// benchEncode reports encode throughput (MB/s) on prefixes of tinyshakespeare. The HF word
// cache is warm after the first iteration, as it is in a training data pipeline.
func benchEncode(b *testing.B, tok Tokenizer) {
	text := shakespeare(b)
	for _, n := range benchSizes {
		s := text
		if n > 0 && n < len(s) {
			s = s[:n]
		}
		b.Run(sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			var ids []int
			for b.Loop() {
				ids = tok.Encode(s)
			}
			b.ReportMetric(float64(len(s))/float64(len(ids)), "bytes/token")
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	b.Run("llama2c", func(b *testing.B) { benchEncode(b, loadStories(b)) })
	b.Run("gpt2", func(b *testing.B) { benchEncode(b, loadGPT2(b)) })
	b.Run("tinyLlamaSP", func(b *testing.B) { benchEncode(b, loadTinyLlamaSP(b)) })
}

func BenchmarkDecode(b *testing.B) {
	text := shakespeare(b)
	for _, c := range []struct {
		name string
		load func(testing.TB) Tokenizer
	}{
		{"llama2c", func(tb testing.TB) Tokenizer { return loadStories(tb) }},
		{"gpt2", func(tb testing.TB) Tokenizer { return loadGPT2(tb) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			tok := c.load(b)
			ids := tok.Encode(text)
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				_ = tok.Decode(ids)
			}
		})
	}
}
