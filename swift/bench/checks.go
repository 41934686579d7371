package bench

import (
	"fmt"
	"math"
	"strings"

	"github.com/goswift/goswift/swift/models"
)

// Check is one of the report's checks: orderings that must hold on any machine, and the
// predictor's accuracy.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "pass", "fail" or "skipped"
	Detail string `json:"detail"`
}

// PredictorTolerance is the largest relative error of the predicted training heap accepted by
// the predictor check.
const PredictorTolerance = 0.15

// RunChecks evaluates the checks over a suite's results.
func RunChecks(results []Result) []Check {
	return []Check{
		checkAccountedOrder(results),
		checkRSSOrder(results),
		checkLoRAFraction(results),
		checkPredictor(results),
	}
}

func ok(r Result) bool { return r.Status == "ok" && r.Engine == "goswift" }

// find returns the first ok GoSwift result matching kind, technique and shape.
func find(results []Result, kind, technique, shape string) (Result, bool) {
	for _, r := range results {
		if ok(r) && r.Kind == kind && r.Technique == technique && r.Shape == shape {
			return r, true
		}
	}
	return Result{}, false
}

// checkAccountedOrder: weights + gradients + optimizer state, QLoRA-NF4 < LoRA < full on every
// built-in shape — counted from the runs' variables where a run exists, else predicted.
func checkAccountedOrder(results []Result) Check {
	c := Check{Name: "accounted bytes (weights + gradients + optimizer): qlora-nf4 < lora < full on every shape"}
	var parts []string
	pass := true
	for _, shape := range models.ShapeNames() {
		var vals [3]int64
		var srcs [3]string
		for i, tech := range []string{"qlora-nf4", "lora", "full"} {
			if r, found := findAny(results, tech, shape); found && r.Accounted != nil {
				vals[i], srcs[i] = r.Accounted.Total, "measured"
				continue
			}
			p, err := predictShape(shape, tech, 1, 64, 8)
			if err != nil {
				c.Status, c.Detail = "skipped", err.Error()
				return c
			}
			vals[i], srcs[i] = p.AccountedBytes, "predicted"
		}
		good := vals[0] < vals[1] && vals[1] < vals[2]
		pass = pass && good
		parts = append(parts, fmt.Sprintf("%s: %s (%s) < %s (%s) < %s (%s)%s", shape, formatBytes(vals[0]), srcs[0],
			formatBytes(vals[1]), srcs[1], formatBytes(vals[2]), srcs[2], mark(good)))
	}
	c.Status, c.Detail = passFail(pass), strings.Join(parts, "; ")
	return c
}

func findAny(results []Result, technique, shape string) (Result, bool) {
	for _, kind := range []string{KindMemory, KindSpeed} {
		if r, found := find(results, kind, technique, shape); found {
			return r, true
		}
	}
	return Result{}, false
}

func predictShape(shape, technique string, batch, seq, rank int) (*Prediction, error) {
	cfg, err := models.Shape(shape)
	if err != nil {
		return nil, err
	}
	t, err := LookupTechnique(technique)
	if err != nil {
		return nil, err
	}
	return Predict(PredictInput{Config: cfg, Technique: t, Batch: batch, Seq: seq, Rank: rank})
}

// checkRSSOrder: peak RSS of the SmolLM-135M memory runs, each in its own process.
func checkRSSOrder(results []Result) Check {
	c := Check{Name: "peak RSS at smollm-135m 1×64 (fresh processes): qlora-nf4 < lora < full"}
	var vals []int64
	for _, tech := range []string{"qlora-nf4", "lora", "full"} {
		r, found := find(results, KindMemory, tech, "smollm-135m")
		if !found || r.PeakRSSBytes == nil {
			c.Status, c.Detail = "skipped", "no "+tech+" memory run on smollm-135m"
			return c
		}
		vals = append(vals, *r.PeakRSSBytes)
	}
	good := vals[0] < vals[1] && vals[1] < vals[2]
	c.Status = passFail(good)
	c.Detail = fmt.Sprintf("%s < %s < %s", formatBytes(vals[0]), formatBytes(vals[1]), formatBytes(vals[2]))
	return c
}

// checkLoRAFraction: LoRA's trainable parameters are under 1% of full fine-tuning's.
func checkLoRAFraction(results []Result) Check {
	c := Check{Name: "lora trainable parameters < 1% of full's on stories15m"}
	l, okL := findAny(results, "lora", "stories15m")
	fu, okF := findAny(results, "full", "stories15m")
	if !okL || !okF || fu.ParamsTrainable == 0 {
		c.Status, c.Detail = "skipped", "needs lora and full runs on stories15m"
		return c
	}
	frac := float64(l.ParamsTrainable) / float64(fu.ParamsTrainable)
	c.Status = passFail(frac < 0.01)
	c.Detail = fmt.Sprintf("%d / %d = %.3f%%", l.ParamsTrainable, fu.ParamsTrainable, 100*frac)
	return c
}

// checkPredictor: the predicted training heap is within PredictorTolerance of the measured one
// for every run that measured it; the detail names the worst case.
func checkPredictor(results []Result) Check {
	c := Check{Name: fmt.Sprintf("predicted training heap within %.0f%% of the measured peak live heap, every run", 100*PredictorTolerance)}
	worst, worstID, n := 0.0, "", 0
	var fails []string
	for _, r := range results {
		if !ok(r) || r.PredictionError == nil {
			continue
		}
		n++
		e := *r.PredictionError
		if math.Abs(e) > math.Abs(worst) || worstID == "" {
			worst, worstID = e, r.ID
		}
		if math.Abs(e) > PredictorTolerance {
			fails = append(fails, fmt.Sprintf("%s %+.1f%%", r.ID, 100*e))
		}
	}
	if n == 0 {
		c.Status, c.Detail = "skipped", "no run measured its heap"
		return c
	}
	c.Status = passFail(len(fails) == 0)
	c.Detail = fmt.Sprintf("%d runs; worst %s: %+.1f%%", n, worstID, 100*worst)
	if len(fails) > 0 {
		c.Detail += "; outside: " + strings.Join(fails, ", ")
	}
	return c
}

func passFail(b bool) string {
	if b {
		return "pass"
	}
	return "fail"
}

func mark(good bool) string {
	if good {
		return ""
	}
	return " ✗"
}
