package elementwise

import "github.com/goswift/goswift/kernels/internal/parallel"

// iter walks a contiguous row-major output and, for each operand, its element offsets given by
// per-axis strides (0 on broadcast axes). Axes are collapsed first: size-1 axes are dropped and
// neighbours merged where every operand is contiguous (or broadcast) across both, so the inner
// loop is as long as possible.
type iter struct {
	outer   []int   // collapsed dims except the last
	inner   int     // the last collapsed dim
	strides [][]int // per operand: strides of the outer dims
	inStr   []int   // per operand: stride of the inner dim
	rows    int     // product of outer
}

func newIter(dims []int, strides ...[]int) iter {
	var cd []int
	cs := make([][]int, len(strides))
	// Walk from the innermost axis, merging into the last collapsed one when possible.
	for a := len(dims) - 1; a >= 0; a-- {
		d := dims[a]
		if d == 1 {
			continue
		}
		if len(cd) > 0 {
			last := len(cd) - 1
			merge := true
			for k, s := range strides {
				if s[a] != cs[k][last]*cd[last] {
					merge = false
					break
				}
			}
			if merge {
				cd[last] *= d
				continue
			}
		}
		cd = append(cd, d)
		for k, s := range strides {
			cs[k] = append(cs[k], s[a])
		}
	}
	// cd is innermost-first: reverse it.
	it := iter{inner: 1, rows: 1, strides: make([][]int, len(strides)), inStr: make([]int, len(strides))}
	n := len(cd)
	if n > 0 {
		it.inner = cd[0]
		for k := range strides {
			it.inStr[k] = cs[k][0]
		}
	}
	for i := n - 1; i >= 1; i-- {
		it.outer = append(it.outer, cd[i])
		it.rows *= cd[i]
		for k := range strides {
			it.strides[k] = append(it.strides[k], cs[k][i])
		}
	}
	return it
}

// run calls fn(dst, offs, n) for runs of n consecutive output elements starting at dst, with
// offs[k] the offset of operand k's first element (its next ones follow at inStr[k]). Runs are
// processed in parallel; each output element is visited exactly once.
func (it iter) run(fn func(dst int, offs []int, n int)) {
	const target = 1 << 15 // elements per task
	if it.rows == 0 || it.inner == 0 {
		return // a zero-sized output: nothing to write
	}
	nops := len(it.strides)
	if it.rows == 1 || it.inner >= target {
		// Split rows into chunks of the inner dim.
		chunk := min(it.inner, target)
		perRow := (it.inner + chunk - 1) / chunk
		parallel.Range(it.rows*perRow, 1, func(t0, t1 int) {
			offs := make([]int, nops)
			for t := t0; t < t1; t++ {
				r, c := t/perRow, (t%perRow)*chunk
				it.rowOffsets(r, offs)
				for k := range offs {
					offs[k] += c * it.inStr[k]
				}
				fn(r*it.inner+c, offs, min(chunk, it.inner-c))
			}
		})
		return
	}
	grain := max(1, target/it.inner)
	parallel.Range(it.rows, grain, func(r0, r1 int) {
		offs := make([]int, nops)
		idx := make([]int, len(it.outer))
		it.rowIndex(r0, idx, offs)
		cur := make([]int, nops)
		for r := r0; r < r1; r++ {
			copy(cur, offs)
			fn(r*it.inner, cur, it.inner)
			// Advance the odometer.
			for a := len(it.outer) - 1; a >= 0; a-- {
				idx[a]++
				for k := range offs {
					offs[k] += it.strides[k][a]
				}
				if idx[a] < it.outer[a] {
					break
				}
				for k := range offs {
					offs[k] -= it.strides[k][a] * it.outer[a]
				}
				idx[a] = 0
			}
		}
	})
}

// rowIndex sets idx to row r's outer index and offs to its operand offsets.
func (it iter) rowIndex(r int, idx, offs []int) {
	clear(offs)
	for a := len(it.outer) - 1; a >= 0; a-- {
		idx[a] = r % it.outer[a]
		r /= it.outer[a]
		for k := range offs {
			offs[k] += idx[a] * it.strides[k][a]
		}
	}
}

func (it iter) rowOffsets(r int, offs []int) {
	idx := make([]int, len(it.outer))
	it.rowIndex(r, idx, offs)
}

// broadcastStrides returns an operand's strides along the output axes: the operand has the
// output's rank (each dim equal or 1) or is a scalar.
func broadcastStrides(dims, outDims []int) []int {
	st := make([]int, len(outDims))
	if len(dims) == 0 {
		return st
	}
	s := 1
	for a := len(dims) - 1; a >= 0; a-- {
		if dims[a] == outDims[a] && dims[a] != 1 {
			st[a] = s
		}
		s *= dims[a]
	}
	return st
}

func rowMajorStrides(dims []int) []int {
	st := make([]int, len(dims))
	s := 1
	for a := len(dims) - 1; a >= 0; a-- {
		st[a] = s
		s *= dims[a]
	}
	return st
}

func size(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// Short rows. When the collapsed inner dim is short (RoPE's pairs, say: rows of 2), a call per
// row costs more than the row. blocks then groups the innermost collapsed dims into blocks of
// up to blockMax elements, with, per operand, the offset of each block element relative to the
// block's first: callers gather the operands of a whole block (or slice them directly when the
// table is contiguous) and run one long row.
const (
	shortRow = 32
	blockMax = 1024
)

// blockIter walks output blocks: each block is a contiguous run of n output elements whose
// operand k elements sit at base[k] + table[k][j].
type blockIter struct {
	n      int
	tables [][]int
	contig []bool  // table[k][j] == j
	outer  []int   // dims of the block index
	ost    [][]int // per operand: strides of the block index dims
	blocks int
}

// short tells whether it should be walked by blocks.
func (it iter) short() bool { return it.inner < shortRow && it.rows > 1 }

// blocked builds the block walk of it.
func (it iter) blocked() blockIter {
	// Dims innermost first: inner, then outer from the last.
	dims := []int{it.inner}
	strides := make([][]int, len(it.inStr))
	for k := range strides {
		strides[k] = []int{it.inStr[k]}
	}
	for a := len(it.outer) - 1; a >= 0; a-- {
		dims = append(dims, it.outer[a])
		for k := range strides {
			strides[k] = append(strides[k], it.strides[k][a])
		}
	}
	// Block = innermost dims while the product stays ≤ blockMax; the first dim that does not
	// fit is split (d = f·(d/f)) to fill the block with its largest fitting divisor f.
	nb, n := 0, 1
	for nb < len(dims) && n*dims[nb] <= blockMax {
		n *= dims[nb]
		nb++
	}
	if nb < len(dims) {
		d := dims[nb]
		f := blockMax / n
		for f > 1 && d%f != 0 {
			f--
		}
		if f > 1 {
			dims = append(dims[:nb:nb], append([]int{f, d / f}, dims[nb+1:]...)...)
			for k := range strides {
				st := strides[k][nb]
				strides[k] = append(strides[k][:nb:nb], append([]int{st, st * f}, strides[k][nb+1:]...)...)
			}
			n *= f
			nb++
		}
	}
	if nb == 0 { // inner alone is larger (cannot happen for short rows)
		nb, n = 1, dims[0]
	}
	bi := blockIter{n: n, blocks: 1}
	for k := range strides {
		table := make([]int, n)
		contig := true
		for j := range n {
			off, r := 0, j
			for a := 0; a < nb; a++ {
				off += (r % dims[a]) * strides[k][a]
				r /= dims[a]
			}
			table[j] = off
			contig = contig && off == j
		}
		bi.tables = append(bi.tables, table)
		bi.contig = append(bi.contig, contig)
	}
	// The remaining dims (outermost first) index the blocks.
	for a := len(dims) - 1; a >= nb; a-- {
		bi.outer = append(bi.outer, dims[a])
		bi.blocks *= dims[a]
	}
	bi.ost = make([][]int, len(strides))
	for k := range strides {
		for a := len(dims) - 1; a >= nb; a-- {
			bi.ost[k] = append(bi.ost[k], strides[k][a])
		}
	}
	return bi
}

// run calls fn(dst, bases) for every block (in parallel), dst being the block's first output
// element.
func (bi blockIter) run(fn func(dst int, bases []int)) {
	if bi.blocks == 0 || bi.n == 0 {
		return // a zero-sized output: nothing to write
	}
	grain := max(1, (1<<15)/bi.n)
	parallel.Range(bi.blocks, grain, func(b0, b1 int) {
		bases := make([]int, len(bi.tables))
		idx := make([]int, len(bi.outer))
		r := b0
		for a := len(bi.outer) - 1; a >= 0; a-- {
			idx[a] = r % bi.outer[a]
			r /= bi.outer[a]
			for k := range bases {
				bases[k] += idx[a] * bi.ost[k][a]
			}
		}
		for b := b0; b < b1; b++ {
			fn(b*bi.n, bases)
			for a := len(bi.outer) - 1; a >= 0; a-- {
				idx[a]++
				for k := range bases {
					bases[k] += bi.ost[k][a]
				}
				if idx[a] < bi.outer[a] {
					break
				}
				for k := range bases {
					bases[k] -= bi.ost[k][a] * bi.outer[a]
				}
				idx[a] = 0
			}
		}
	})
}

// take returns operand k's block at base: a slice of data when its table is contiguous, else
// the elements gathered into scratch.
func take[T any](bi *blockIter, k int, data []T, base int, scratch []T) []T {
	if bi.contig[k] {
		return data[base : base+bi.n]
	}
	for j, off := range bi.tables[k] {
		scratch[j] = data[base+off]
	}
	return scratch[:bi.n]
}
