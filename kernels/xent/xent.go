package xent

import (
	"math"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/kernels/elementwise"
	"github.com/goswift/goswift/kernels/internal/parallel"
)

func check(n int, rows, vocab int, targets []int32) error {
	if rows < 0 || vocab <= 0 || n != rows*vocab {
		return errors.Errorf("xent: %d logits for [%d, %d]", n, rows, vocab)
	}
	if len(targets) != rows {
		return errors.Errorf("xent: %d targets for %d rows", len(targets), rows)
	}
	for r, t := range targets {
		if int(t) >= vocab {
			return errors.Errorf("xent: row %d: target %d ≥ vocabulary size %d", r, t, vocab)
		}
	}
	return nil
}

// Forward sets, per row r of logits [rows, vocab], lse[r] = log Σ_j e^logits[r,j] and
// loss[r] = lse[r] − logits[r, targets[r]] (0 when targets[r] < 0).
func Forward(loss, lse, logits []float32, rows, vocab int, targets []int32) error {
	if err := check(len(logits), rows, vocab, targets); err != nil {
		return err
	}
	if len(loss) != rows || len(lse) != rows {
		return errors.Errorf("xent: loss (%d) and lse (%d) need %d elements", len(loss), len(lse), rows)
	}
	parallel.Range(rows, max(1, (1<<16)/vocab), func(r0, r1 int) {
		scratch := make([]float32, vocab)
		for r := r0; r < r1; r++ {
			x := logits[r*vocab : (r+1)*vocab]
			m := elementwise.RowMax(x)
			elementwise.ExpShiftScale(scratch, x, m, 1)
			l := m + float32(math.Log(float64(elementwise.RowSum(scratch))))
			lse[r] = l
			if t := targets[r]; t >= 0 {
				loss[r] = l - x[t]
			} else {
				loss[r] = 0
			}
		}
	})
	return nil
}

// Backward sets dlogits[r, :] = g[r]·(softmax(logits[r]) − onehot(targets[r])) from the lse of
// Forward (0 for rows whose target is < 0). dlogits may be logits.
func Backward(dlogits, logits, lse []float32, rows, vocab int, targets []int32, g []float32) error {
	if err := check(len(logits), rows, vocab, targets); err != nil {
		return err
	}
	if len(dlogits) != len(logits) || len(lse) != rows || len(g) != rows {
		return errors.Errorf("xent: dlogits (%d), lse (%d) or g (%d) has the wrong size for [%d, %d]",
			len(dlogits), len(lse), len(g), rows, vocab)
	}
	parallel.Range(rows, max(1, (1<<16)/vocab), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			d := dlogits[r*vocab : (r+1)*vocab]
			t := targets[r]
			if t < 0 {
				clear(d)
				continue
			}
			elementwise.ExpShiftScale(d, logits[r*vocab:(r+1)*vocab], lse[r], g[r])
			d[t] -= g[r]
		}
	})
	return nil
}

// Reference is the plain definition (float64, one element at a time): the per-row loss and, for
// the given g, the gradient.
func Reference(logits []float32, rows, vocab int, targets []int32, g []float32) (loss, dlogits []float32) {
	loss = make([]float32, rows)
	dlogits = make([]float32, rows*vocab)
	for r := range rows {
		x := logits[r*vocab : (r+1)*vocab]
		if targets[r] < 0 {
			continue
		}
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		s := 0.0
		for _, v := range x {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		loss[r] = float32(lse - float64(x[targets[r]]))
		for j, v := range x {
			p := math.Exp(float64(v) - lse)
			if j == int(targets[r]) {
				p--
			}
			dlogits[r*vocab+j] = float32(float64(g[r]) * p)
		}
	}
	return loss, dlogits
}
