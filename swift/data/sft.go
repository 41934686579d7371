package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pkg/errors"
)

// Example is one tokenized training sequence. Weights[i] is the loss weight of predicting
// IDs[i] from IDs[:i] (0: not trained, like a -100 label; >1: a loss scale); Weights[0] is
// never used. An example of n ids fills n-1 positions of a row.
type Example struct {
	IDs     []int32
	Weights []float32
	// Images are the example's images, in the order of its image placeholder tokens.
	Images []Image
}

// NumTargets counts the trained positions (weight > 0, the first id excluded).
func (e Example) NumTargets() int {
	n := 0
	for i := 1; i < len(e.Weights); i++ {
		if e.Weights[i] > 0 {
			n++
		}
	}
	return n
}

// Truncation says what happens to an example longer than MaxLength tokens.
type Truncation string

const (
	TruncateDrop  Truncation = "drop"  // leave it out (counted in SFTStats.Dropped); the default
	TruncateLeft  Truncation = "left"  // keep its last MaxLength tokens (the answer end)
	TruncateRight Truncation = "right" // keep its first MaxLength tokens
	TruncateError Truncation = "error" // fail, naming the example
)

// ParseTruncation checks a truncation policy name ("" is drop).
func ParseTruncation(s string) (Truncation, error) {
	switch t := Truncation(s); t {
	case "":
		return TruncateDrop, nil
	case TruncateDrop, TruncateLeft, TruncateRight, TruncateError:
		return t, nil
	}
	return "", errors.Errorf("unknown truncation %q (drop, left, right or error)", s)
}

// SFTConfig configures an SFTDataset. Zero fields take the defaults in parentheses.
//
// Shapes: simplego (and XLA) compile one graph per distinct [B, S] input shape, so the dataset
// keeps their number small. B is always BatchSize (a last, partial batch is filled by wrapping
// around the epoch; eval batches with padding rows). Without packing, S is the longest example
// of the batch rounded up to a bucket: a power of two from MinBucket (32) up, or with
// BucketMultiple > 0 a multiple of it, never above MaxLength rounded the same way; examples are
// grouped by bucket (within windows of BatchSize·64 shuffled examples, shuffled order kept inside
// a bucket) so a batch's examples share S without being sorted by exact length. MaxLength 512 gives at most 5 shapes (32, 64, 128, 256, 512) with powers of two, or
// 8 with BucketMultiple 64. With Packing rows are filled with up to MaxLength positions (first
// fit, longest examples first) and S is the bucket of the batch's fullest row: usually the
// largest bucket, so nearly one shape.
//
// Packing pays when examples are much shorter than MaxLength. For a model as small as
// stories260K attention (∝ S²) dominates the step, so long packed rows can cost more than the
// padding they save (see BenchmarkSFT in package swift).
type SFTConfig struct {
	BatchSize      int        // rows per micro-batch (8)
	GradAccum      int        // micro-batches per optimizer step (1): TrainBatch(step, micro) serves batch step·GradAccum+micro
	MaxLength      int        // tokens per example, and positions per packed row (512)
	Packing        bool       // pack several examples per row (segments keep them apart, positions restart)
	Truncation     Truncation // examples longer than MaxLength (drop)
	BucketMultiple int        // round S up to a multiple of this; 0: powers of two
	MinBucket      int        // smallest S with powers of two (32)
	Seed           uint64     // data order
}

func (c SFTConfig) withDefaults() SFTConfig {
	if c.BatchSize == 0 {
		c.BatchSize = 8
	}
	if c.GradAccum == 0 {
		c.GradAccum = 1
	}
	if c.MaxLength == 0 {
		c.MaxLength = 512
	}
	if c.Truncation == "" {
		c.Truncation = TruncateDrop
	}
	if c.MinBucket == 0 {
		c.MinBucket = 32
	}
	return c
}

// Bucket returns the row length S for a sequence of n positions (see SFTConfig).
func (c SFTConfig) Bucket(n int) int {
	c = c.withDefaults()
	round := func(n int) int {
		if c.BucketMultiple > 0 {
			return (n + c.BucketMultiple - 1) / c.BucketMultiple * c.BucketMultiple
		}
		s := c.MinBucket
		for s < n {
			s *= 2
		}
		return s
	}
	return min(round(max(n, 1)), round(c.MaxLength))
}

// SFTStats describe what NewSFTDataset kept.
type SFTStats struct {
	Train, Eval     int // examples kept
	Dropped         int // longer than MaxLength, left out (TruncateDrop)
	Truncated       int // longer than MaxLength, cut (TruncateLeft/Right)
	NoTargets       int // left out: nothing to train on (after truncation)
	TrainTokens     int // positions of the kept training examples (ids − 1 each)
	TrainTargets    int // weighted positions of the kept training examples
	BatchesPerEpoch int // micro-batches in the first epoch
	Fill            float64
	Shapes          []string // distinct [B, S] shapes of the first epoch and eval, sorted
}

// SFTDataset serves batches of tokenized examples for supervised fine-tuning: shuffled each
// epoch, length-bucketed or packed (see SFTConfig). TrainBatch is a pure function of (step,
// micro) and the seed, so resumed runs see the same data.
type SFTDataset struct {
	cfg         SFTConfig
	train, eval []Example
	stats       SFTStats
	imageDims   [3]int // [C, H, W] of every image (all alike), zero when none

	mu    sync.Mutex
	plans []epochPlan // computed epochs, in order
	evalB []*Batch
}

// row lists the examples packed into one row, in order.
type row []int

// epochPlan is one epoch's batches: for each batch its rows and its S.
type epochPlan struct {
	start   int // global index of its first batch
	batches [][]row
	lens    []int
}

// NewSFTDataset applies the truncation policy and prepares batching. eval may be empty (then
// EvalBatches returns an error).
func NewSFTDataset(train, eval []Example, cfg SFTConfig) (*SFTDataset, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.BatchSize < 1 || cfg.GradAccum < 1:
		return nil, errors.Errorf("sft dataset: batch size %d and grad-accum %d must be positive", cfg.BatchSize, cfg.GradAccum)
	case cfg.MaxLength < 2:
		return nil, errors.Errorf("sft dataset: max length %d must be at least 2", cfg.MaxLength)
	case cfg.BucketMultiple < 0 || cfg.MinBucket < 1:
		return nil, errors.Errorf("sft dataset: bucket multiple %d must be >= 0 and min bucket %d positive", cfg.BucketMultiple, cfg.MinBucket)
	}
	if _, err := ParseTruncation(string(cfg.Truncation)); err != nil {
		return nil, err
	}
	d := &SFTDataset{cfg: cfg}
	var err error
	if d.train, err = d.prepare(train, "training"); err != nil {
		return nil, err
	}
	if d.eval, err = d.prepare(eval, "eval"); err != nil {
		return nil, err
	}
	if len(d.train) == 0 {
		return nil, errors.Errorf("sft dataset: no training examples left (%d given: %d too long, %d without targets)",
			len(train), d.stats.Dropped, d.stats.NoTargets)
	}
	d.stats.Train, d.stats.Eval = len(d.train), len(d.eval)
	for _, e := range d.train {
		d.stats.TrainTokens += len(e.IDs) - 1
		d.stats.TrainTargets += e.NumTargets()
	}
	p := d.plan(0)
	d.stats.BatchesPerEpoch = len(p.batches)
	shapes := map[string]bool{}
	used, total := 0, 0
	for i, b := range p.batches {
		shapes[fmt.Sprintf("[%d, %d]", cfg.BatchSize, p.lens[i])] = true
		total += cfg.BatchSize * p.lens[i]
		for _, r := range b {
			for _, ex := range r {
				used += len(d.train[ex].IDs) - 1
			}
		}
	}
	d.stats.Fill = float64(used) / float64(total)
	if len(d.eval) > 0 {
		batches, _ := d.EvalBatches()
		for _, b := range batches {
			shapes[fmt.Sprintf("[%d, %d]", b.B, b.S)] = true
		}
	}
	for s := range shapes {
		d.stats.Shapes = append(d.stats.Shapes, s)
	}
	sort.Strings(d.stats.Shapes)
	return d, nil
}

func (d *SFTDataset) prepare(in []Example, what string) ([]Example, error) {
	c := d.cfg
	out := make([]Example, 0, len(in))
	for i, e := range in {
		if len(e.IDs) != len(e.Weights) {
			return nil, errors.Errorf("sft dataset: %s example %d has %d ids but %d weights", what, i, len(e.IDs), len(e.Weights))
		}
		for k, im := range e.Images {
			if err := im.Check(); err != nil {
				return nil, errors.WithMessagef(err, "sft dataset: %s example %d, image %d", what, i, k)
			}
			if d.imageDims == [3]int{} {
				d.imageDims = [3]int{im.Channels, im.Height, im.Width}
			} else if d.imageDims != [3]int{im.Channels, im.Height, im.Width} {
				return nil, errors.Errorf("sft dataset: %s example %d, image %d is %dx%dx%d but earlier ones are %v (resize them alike)",
					what, i, k, im.Channels, im.Height, im.Width, d.imageDims)
			}
		}
		if n := len(e.IDs); n > c.MaxLength {
			truncation := c.Truncation
			if len(e.Images) > 0 && truncation != TruncateError {
				truncation = TruncateDrop // cutting would orphan image placeholders
			}
			switch truncation {
			case TruncateDrop:
				d.stats.Dropped++
				continue
			case TruncateError:
				return nil, errors.Errorf("sft dataset: %s example %d has %d tokens, more than --max-length %d "+
					"(--truncation drop|left|right)", what, i, n, c.MaxLength)
			case TruncateLeft:
				e = Example{IDs: e.IDs[n-c.MaxLength:], Weights: e.Weights[n-c.MaxLength:]}
			case TruncateRight:
				e = Example{IDs: e.IDs[:c.MaxLength], Weights: e.Weights[:c.MaxLength]}
			}
			d.stats.Truncated++
		}
		if len(e.IDs) < 2 || e.NumTargets() == 0 {
			d.stats.NoTargets++
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// Stats reports what was kept and the batch shapes.
func (d *SFTDataset) Stats() SFTStats { return d.stats }

// Config returns the configuration with defaults filled.
func (d *SFTDataset) Config() SFTConfig { return d.cfg }

// NumTrain and NumEval count the kept examples.
func (d *SFTDataset) NumTrain() int { return len(d.train) }
func (d *SFTDataset) NumEval() int  { return len(d.eval) }

// StepsPerEpoch is the optimizer steps (of GradAccum micro-batches) of the first epoch, rounded up.
func (d *SFTDataset) StepsPerEpoch() int {
	return (d.stats.BatchesPerEpoch + d.cfg.GradAccum - 1) / d.cfg.GradAccum
}

const lengthWindow = 64 // batches' worth of examples grouped by length together

// plan computes epoch e's batches: a pure function of (seed, e).
func (d *SFTDataset) plan(e int) epochPlan {
	c := d.cfg
	rng := rand.New(rand.NewPCG(c.Seed, 0x5f7<<32|uint64(e)))
	perm := rng.Perm(len(d.train))
	positions := func(i int) int { return len(d.train[i].IDs) - 1 }
	var rows []row
	window := c.BatchSize * lengthWindow
	for start := 0; start < len(perm); start += window {
		chunk := slices.Clone(perm[start:min(start+window, len(perm))])
		if !c.Packing {
			// Largest bucket first, shuffled order kept within a bucket: each batch is one shape,
			// but examples are not sorted by exact length, which would make batches homogeneous
			// whenever the length tells the answer apart (class names of different lengths).
			sort.SliceStable(chunk, func(a, b int) bool { return c.Bucket(positions(chunk[a])) > c.Bucket(positions(chunk[b])) })

			for _, ex := range chunk {
				rows = append(rows, row{ex})
			}
			continue
		}
		// Packing: longest first (first-fit-decreasing).
		sort.SliceStable(chunk, func(a, b int) bool { return positions(chunk[a]) > positions(chunk[b]) })
		var free []int
		first := len(rows)
		for _, ex := range chunk {
			n := positions(ex)
			placed := false
			for k, f := range free {
				if f >= n {
					rows[first+k] = append(rows[first+k], ex)
					free[k] -= n
					placed = true
					break
				}
			}
			if !placed {
				rows = append(rows, row{ex})
				free = append(free, c.MaxLength-n)
			}
		}
	}
	// Batches of consecutive rows (alike lengths without packing), in shuffled order; the last
	// one is completed by wrapping around to the first rows.
	nb := (len(rows) + c.BatchSize - 1) / c.BatchSize
	for i := 0; len(rows) < nb*c.BatchSize; i++ {
		rows = append(rows, rows[i])
	}
	p := epochPlan{batches: make([][]row, nb), lens: make([]int, nb)}
	for i, bi := range rng.Perm(nb) {
		p.batches[i] = rows[bi*c.BatchSize : (bi+1)*c.BatchSize]
		p.lens[i] = d.rowLength(p.batches[i], d.train)
	}
	return p
}

// rowLength is the bucketed length of the batch's longest row.
func (d *SFTDataset) rowLength(rows []row, exs []Example) int {
	longest := 0
	for _, r := range rows {
		n := 0
		for _, ex := range r {
			n += len(exs[ex].IDs) - 1
		}
		longest = max(longest, n)
	}
	return d.cfg.Bucket(longest)
}

// TrainBatch implements Dataset: micro-batch step·GradAccum+micro of the endless sequence of
// epochs.
func (d *SFTDataset) TrainBatch(step, micro int) (*Batch, error) {
	if step < 0 || micro < 0 || micro >= d.cfg.GradAccum {
		return nil, errors.Errorf("sft dataset: batch (step %d, micro %d) out of range (grad-accum %d)", step, micro, d.cfg.GradAccum)
	}
	k := step*d.cfg.GradAccum + micro
	d.mu.Lock()
	var p *epochPlan
	for e := 0; ; e++ {
		if e == len(d.plans) {
			np := d.plan(e)
			if e > 0 {
				prev := d.plans[e-1]
				np.start = prev.start + len(prev.batches)
			}
			d.plans = append(d.plans, np)
		}
		if q := &d.plans[e]; k < q.start+len(q.batches) {
			p = q
			break
		}
	}
	d.mu.Unlock()
	i := k - p.start
	return fill(p.batches[i], p.lens[i], d.train)
}

// fill builds a batch from rows of examples: each example gets its own segment id (1, 2, ...
// within the row) and positions restarting at 0; the rest of the row is padding (segment 0,
// weight 0).
func fill(rows []row, s int, exs []Example) (*Batch, error) {
	b := NewBatch(len(rows), s)
	for r, rw := range rows {
		off := r * s
		for seg, ex := range rw {
			e := exs[ex]
			for j := 0; j+1 < len(e.IDs); j++ {
				k := off + j
				b.Tokens[k], b.Targets[k], b.Weights[k] = e.IDs[j], e.IDs[j+1], e.Weights[j+1]
				b.Positions[k], b.Segments[k] = int32(j), int32(seg+1)
			}
			off += len(e.IDs) - 1
		}
	}
	var err error
	b.Images, err = imageBatch(rows, exs)
	return b, err
}

// EvalBatches implements Dataset: the held-out examples in a fixed order (by length, longest
// first, packed like training), in batches of BatchSize rows (the last padded with empty rows).
func (d *SFTDataset) EvalBatches() ([]*Batch, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.evalB != nil {
		return d.evalB, nil
	}
	if len(d.eval) == 0 {
		return nil, errors.New("sft dataset: no held-out examples (give an eval dataset or a val fraction)")
	}
	c := d.cfg
	order := make([]int, len(d.eval))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(d.eval[order[a]].IDs) > len(d.eval[order[b]].IDs) })
	var rows []row
	var free []int
	for _, ex := range order {
		n := len(d.eval[ex].IDs) - 1
		placed := false
		for k, f := range free {
			if c.Packing && f >= n {
				rows[k] = append(rows[k], ex)
				free[k] -= n
				placed = true
				break
			}
		}
		if !placed {
			rows = append(rows, row{ex})
			free = append(free, c.MaxLength-n)
		}
	}
	for start := 0; start < len(rows); start += c.BatchSize {
		rs := rows[start:min(start+c.BatchSize, len(rows))]
		s := d.rowLength(rs, d.eval)
		for len(rs) < c.BatchSize {
			rs = append(rs, row{}) // an empty padding row
		}
		b, err := fill(rs, s, d.eval)
		if err != nil {
			d.evalB = nil
			return nil, err
		}
		d.evalB = append(d.evalB, b)
	}
	return d.evalB, nil
}

// String summarises the dataset for logs.
func (s SFTStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d training / %d held-out examples, %d positions (%d trained) per epoch, %d batches per epoch, %.0f%% fill, shapes %s",
		s.Train, s.Eval, s.TrainTokens, s.TrainTargets, s.BatchesPerEpoch, 100*s.Fill, strings.Join(s.Shapes, " "))
	if s.Dropped+s.Truncated+s.NoTargets > 0 {
		fmt.Fprintf(&b, "; %d too long dropped, %d truncated, %d without targets", s.Dropped, s.Truncated, s.NoTargets)
	}
	return b.String()
}

// SplitHeldOut shuffles a copy of items with seed and splits off a held-out tail: fraction of
// the items, at least one when fraction > 0 and more than one item, at most maxHeld when
// maxHeld > 0.
func SplitHeldOut[T any](items []T, fraction float64, maxHeld int, seed uint64) (train, held []T) {
	shuffled := slices.Clone(items)
	rng := rand.New(rand.NewPCG(seed, 0x4e1d))
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	n := int(float64(len(items)) * fraction)
	if fraction > 0 && n == 0 && len(items) > 1 {
		n = 1
	}
	if maxHeld > 0 {
		n = min(n, maxHeld)
	}
	n = min(n, len(items))
	return shuffled[:len(items)-n], shuffled[len(items)-n:]
}
