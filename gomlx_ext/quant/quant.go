package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/pkg/errors"
)

// Block sizes of the packed layout (see the package documentation).
const (
	BlockSize   = 64  // elements per absmax block
	DQBlockSize = 256 // absmaxes per double-quantisation block
)

// Mode is a quantisation format.
type Mode string

// The quantisation formats.
const (
	NF4  Mode = "nf4"
	Int8 Mode = "int8"
)

// Validate reports an unknown mode.
func (m Mode) Validate() error {
	switch m {
	case NF4, Int8:
		return nil
	}
	return errors.Errorf("quant: unknown mode %q (known: %s, %s)", string(m), NF4, Int8)
}

// NF4Levels are bitsandbytes' 16 NormalFloat-4 values (the quantiles of a standard normal
// rescaled to [-1, 1], with an exact 0 at index 7).
var NF4Levels = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// nf4Mid[k] is the midpoint between NF4Levels[k] and NF4Levels[k+1].
var nf4Mid = func() [15]float32 {
	var m [15]float32
	for k := range m {
		m[k] = (NF4Levels[k] + NF4Levels[k+1]) / 2
	}
	return m
}()

// DQLevels is the linear code book of double quantisation: DQLevels[c] = (c−128)/127.
var DQLevels = func() [256]float32 {
	var t [256]float32
	for c := range t {
		t[c] = float32(float64(c-128) / 127)
	}
	return t
}()

// NF4MaxHalfGap is half the widest gap between adjacent NF4 levels: an element's NF4 error is
// at most NF4MaxHalfGap × its block's absmax.
var NF4MaxHalfGap = func() float64 {
	g := 0.0
	for k := 0; k < 15; k++ {
		g = math.Max(g, float64(NF4Levels[k+1]-NF4Levels[k]))
	}
	return g / 2
}()

// Packed is a quantised tensor in the pinned layout.
type Packed struct {
	Mode Mode
	Dims []int // original dimensions (row-major)
	// Codes: NF4 ceil(N/2) bytes, first element in the high nibble; Int8 N bytes (int8 values).
	Codes []byte
	// Absmax is the float32 scale per block of 64 (nil when double-quantised).
	Absmax []float32
	// Double quantisation of the scales (nil/0 unless DoubleQuant).
	AbsmaxCodes []uint8   // one per block of 64
	AbsmaxScale []float32 // one per DQBlockSize blocks
	AbsmaxMean  float32
}

// DoubleQuant reports whether the block scales are themselves quantised.
func (p *Packed) DoubleQuant() bool { return p.AbsmaxCodes != nil }

// NumElements is N, the product of Dims.
func (p *Packed) NumElements() int { return numElements(p.Dims) }

// NumBlocks is the number of blocks of 64 elements (the last may be short).
func NumBlocks(n int) int { return (n + BlockSize - 1) / BlockSize }

// NumDQBlocks is the number of double-quantisation blocks for nBlocks scales.
func NumDQBlocks(nBlocks int) int { return (nBlocks + DQBlockSize - 1) / DQBlockSize }

// CodeBytes is the size of the codes of n elements in mode m.
func CodeBytes(m Mode, n int) int {
	if m == NF4 {
		return (n + 1) / 2
	}
	return n
}

// Bytes is the storage of the packed tensor: codes and every scale (the mean included).
func (p *Packed) Bytes() int {
	n := len(p.Codes) + 4*len(p.Absmax) + len(p.AbsmaxCodes) + 4*len(p.AbsmaxScale)
	if p.DoubleQuant() {
		n += 4
	}
	return n
}

func numElements(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// Quantize packs data (row-major, dims) in mode m, optionally double-quantising the scales.
func Quantize(data []float32, dims []int, m Mode, doubleQuant bool) (*Packed, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	n := numElements(dims)
	if n != len(data) || n == 0 {
		return nil, errors.Errorf("quant: dims %v hold %d elements, data has %d", dims, n, len(data))
	}
	for i, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, errors.Errorf("quant: element %d is %g: cannot quantise non-finite values", i, v)
		}
	}
	p := &Packed{Mode: m, Dims: append([]int(nil), dims...), Codes: make([]byte, CodeBytes(m, n))}
	nb := NumBlocks(n)
	absmax := make([]float32, nb)
	// Blocks are independent and write disjoint bytes (a block of 64 is 32 NF4 bytes): split
	// them over the CPUs.
	workers := min(runtime.GOMAXPROCS(0), max(1, n/(1<<16)))
	per := (nb + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, nb)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := lo; b < hi; b++ {
				absmax[b] = quantizeBlock(p, data, b, n)
			}
		}()
	}
	wg.Wait()
	if doubleQuant {
		p.AbsmaxCodes, p.AbsmaxScale, p.AbsmaxMean = quantizeScales(absmax)
	} else {
		p.Absmax = absmax
	}
	return p, nil
}

// quantizeBlock writes block b's codes into p.Codes and returns its absmax.
func quantizeBlock(p *Packed, data []float32, b, n int) float32 {
	block := data[b*BlockSize : min((b+1)*BlockSize, n)]
	var a float32
	for _, v := range block {
		a = max(a, float32(math.Abs(float64(v))))
	}
	for j, v := range block {
		i := b*BlockSize + j
		if p.Mode == NF4 {
			c := byte(7)
			if a > 0 {
				c = nearestNF4(v / a)
			}
			if i%2 == 0 {
				p.Codes[i/2] |= c << 4
			} else {
				p.Codes[i/2] |= c
			}
			continue
		}
		var q int8
		if a > 0 {
			q = int8(max(-127, min(127, math.Round(127*float64(v)/float64(a)))))
		}
		p.Codes[i] = byte(q)
	}
	return a
}

// nearestNF4 returns the index of the NF4 level nearest to v in [-1, 1] (lower index on ties).
func nearestNF4(v float32) byte {
	lo, hi := 0, 15 // binary search over the midpoints: the code is the number of midpoints < v
	for lo < hi {
		mid := (lo + hi) / 2
		if nf4Mid[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return byte(lo)
}

// quantizeScales double-quantises the block scales.
func quantizeScales(absmax []float32) (codes []uint8, scales []float32, mean float32) {
	sum := 0.0
	for _, a := range absmax {
		sum += float64(a)
	}
	mean = float32(sum / float64(len(absmax)))
	codes = make([]uint8, len(absmax))
	scales = make([]float32, NumDQBlocks(len(absmax)))
	for k := range scales {
		block := absmax[k*DQBlockSize : min((k+1)*DQBlockSize, len(absmax))]
		var s float32
		for _, a := range block {
			s = max(s, float32(math.Abs(float64(a-mean))))
		}
		scales[k] = s
		for j, a := range block {
			c := 128.0
			if s > 0 {
				c = 128 + max(-127, min(127, math.Round(127*float64(a-mean)/float64(s))))
			}
			codes[k*DQBlockSize+j] = uint8(c)
		}
	}
	return codes, scales, mean
}

// BlockAbsmax returns the decoded float32 scale of every block (exactly what Dequantize uses).
func (p *Packed) BlockAbsmax() []float32 {
	if !p.DoubleQuant() {
		return p.Absmax
	}
	out := make([]float32, len(p.AbsmaxCodes))
	for b, c := range p.AbsmaxCodes {
		// Explicit float32 conversions: one rounding per operation, as in the graph (no FMA).
		out[b] = float32(DQLevels[c]*p.AbsmaxScale[b/DQBlockSize]) + p.AbsmaxMean
	}
	return out
}

// Dequantize decodes the packed tensor to float32 (row-major, Dims).
func (p *Packed) Dequantize() []float32 {
	n := p.NumElements()
	out := make([]float32, n)
	absmax := p.BlockAbsmax()
	for i := range out {
		a := absmax[i/BlockSize]
		if p.Mode == NF4 {
			c := p.Codes[i/2]
			if i%2 == 0 {
				c >>= 4
			} else {
				c &= 15
			}
			out[i] = NF4Levels[c] * a
			continue
		}
		out[i] = float32(int8(p.Codes[i])) * float32(a/127)
	}
	return out
}

// String summarises the packed tensor.
func (p *Packed) String() string {
	dq := ""
	if p.DoubleQuant() {
		dq = "+dq"
	}
	return fmt.Sprintf("%s%s%v (%d bytes, %.4f bytes/param)", p.Mode, dq, p.Dims, p.Bytes(),
		float64(p.Bytes())/float64(p.NumElements()))
}
