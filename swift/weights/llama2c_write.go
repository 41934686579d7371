package weights

import (
	"encoding/binary"
	"io"
	"math"
	"slices"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/pkg/errors"
)

// WriteLlama2C writes a llama2.c legacy checkpoint at path (atomically) from a Source with Hugging
// Face Llama names, as exposed by [Llama2C]: model.embed_tokens.weight, the per-layer norms and
// projections, model.norm.weight and, when cfg.SharedClassifier is false, lm_head.weight (ignored
// when the classifier is shared). Every tensor must have exactly the shape cfg implies. The
// freq_cis tables are computed with theta 10000, as llama2.c's export does. Tensors are written as
// given: q_proj/k_proj rows must already be in llama2.c's interleaved rotary order (see
// [PermuteRotaryHalfToInterleaved] for a Hugging Face checkpoint).
func WriteLlama2C(path string, cfg Llama2CConfig, src Source) error {
	fail := func(err error) error { return errors.WithMessagef(err, "writing llama2.c %q", path) }
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}
	arrays, _, err := llama2cLayout(cfg)
	if err != nil {
		return fail(err)
	}
	// Check every tensor before creating anything.
	for _, a := range arrays {
		if a.hf == "" {
			continue
		}
		for layer := range a.layers {
			name := a.tensorName(layer)
			info, ok := src.Info(name)
			switch {
			case !ok:
				return fail(errors.Errorf("tensor %q (%s): missing from the source", name, a.name))
			case !slices.Equal(info.Shape, a.shape):
				return fail(errors.Errorf("tensor %q (%s): shape %v, want %v", name, a.name, info.Shape, a.shape))
			case !info.DType.IsFloat():
				return fail(errors.Errorf("tensor %q (%s): dtype %s is not a float type", name, a.name, info.DType))
			}
		}
	}
	real, imag := Llama2CFreqCis(cfg.HeadSize(), cfg.SeqLen, 10000)
	return atomicfile.Write(path, func(w io.Writer) error {
		vocab := int32(cfg.VocabSize)
		if !cfg.SharedClassifier {
			vocab = -vocab
		}
		header := []int32{int32(cfg.Dim), int32(cfg.HiddenDim), int32(cfg.NLayers), int32(cfg.NHeads),
			int32(cfg.NKVHeads), vocab, int32(cfg.SeqLen)}
		if err := binary.Write(w, binary.LittleEndian, header); err != nil {
			return err
		}
		buf := make([]byte, 1<<16)
		for _, a := range arrays {
			switch a.name {
			case "freq_cis_real":
				if err := encodeTensor(w, F32, real, buf); err != nil {
					return err
				}
				continue
			case "freq_cis_imag":
				if err := encodeTensor(w, F32, imag, buf); err != nil {
					return err
				}
				continue
			}
			for layer := range a.layers {
				name := a.tensorName(layer)
				data, err := src.ReadFloat32(name)
				if err != nil {
					return err
				}
				if err := encodeTensor(w, F32, data, buf); err != nil {
					return errors.Wrapf(err, "tensor %q", name)
				}
			}
		}
		return nil
	})
}

// Llama2CFreqCis computes llama2.c's rotary tables, each [seqLen, headSize/2] row-major:
// real[p, j] = cos(p * f_j), imag[p, j] = sin(p * f_j) with f_j = 1 / theta^(2j/headSize). The
// frequencies and angles are rounded to float32 at the same steps as the PyTorch export, so the
// values match the tables of stories260K.bin to float32 rounding.
func Llama2CFreqCis(headSize, seqLen int, theta float64) (real, imag []float32) {
	half := headSize / 2
	real = make([]float32, seqLen*half)
	imag = make([]float32, seqLen*half)
	freqs := make([]float32, half)
	for j := range freqs {
		exponent := float32(2*j) / float32(headSize)
		freqs[j] = 1 / float32(math.Pow(theta, float64(exponent)))
	}
	for p := range seqLen {
		for j, f := range freqs {
			angle := float64(float32(p) * f)
			real[p*half+j] = float32(math.Cos(angle))
			imag[p*half+j] = float32(math.Sin(angle))
		}
	}
	return real, imag
}
