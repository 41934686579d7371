package nb

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/train"
)

// TrainOptions tune Train. The zero value is fine.
type TrainOptions struct {
	// Title of the live plot (default "training").
	Title string
	// Every is the least time between two redraws of the live plot (default 500ms); held-out
	// evaluations and the end of training are always drawn.
	Every time.Duration
	// Smoothing is the factor of the exponential moving average drawn over the noisy
	// per-step training loss (default 0.9; negative: no smoothed line).
	Smoothing float64
}

func (o TrainOptions) withDefaults() TrainOptions {
	if o.Title == "" {
		o.Title = "training"
	}
	if o.Every <= 0 {
		o.Every = 500 * time.Millisecond
	}
	if o.Smoothing == 0 {
		o.Smoothing = 0.9
	}
	return o
}

// Train runs tr.Run with a live view: in a notebook, a plot of the training and held-out
// loss against the step, with a progress bar, redrawn in place as the trainer logs; elsewhere,
// the trainer's own text progress bar and one line per held-out evaluation on Out. At the end
// it prints the held-out loss before and after (Summarize). The trainer does the training;
// Train only listens to its log (train.Trainer.OnLog).
func Train(tr *train.Trainer, opts TrainOptions) (res train.Result, err error) {
	if tr == nil {
		return res, errors.New("nb.Train: nil trainer")
	}
	opts = opts.withDefaults()
	steps := tr.Config().Steps
	startStep := tr.StepsDone()
	var records []train.LogRecord
	live := NewLive()
	notebook := inNotebook()
	start, lastDraw := time.Now(), time.Time{}

	draw := func(note string) {
		if !notebook {
			return
		}
		chart := LossChart(opts.Title, opts.Smoothing, Run{Log: records})
		chart.XMin, chart.XMax = 0, float64(max(steps, 1))
		chart.XLabel, chart.YLabel = "step", "loss"
		done := startStep
		if n := len(records); n > 0 {
			done = records[n-1].Step
		}
		chart.Progress = math.Max(float64(done)/float64(max(steps, 1)), 1e-3)
		if note == "" {
			note = liveNote(records, done, steps, startStep, time.Since(start))
		}
		chart.Note = note
		live.Update(chart)
		lastDraw = time.Now()
	}

	prevOnLog, prevProgress := tr.OnLog, tr.Progress
	defer func() { tr.OnLog, tr.Progress = prevOnLog, prevProgress }()
	if notebook {
		tr.Progress = nil // the plot carries the progress bar
	}
	tr.OnLog = func(r train.LogRecord) {
		if prevOnLog != nil {
			prevOnLog(r)
		}
		records = append(records, r)
		isEval := r.EvalLoss != 0 && r.Loss == 0
		if !notebook && isEval && r.Step != startStep && r.Step != steps {
			if prevProgress != nil {
				fmt.Fprintln(prevProgress) // leave the text progress bar's line
			}
			fmt.Fprintf(out(), "step %d/%d: held-out loss %.4f\n", r.Step, steps, r.EvalLoss)
		}
		if isEval || time.Since(lastDraw) >= opts.Every {
			draw("")
		}
	}
	draw(fmt.Sprintf("step %d/%d · evaluating the held-out loss…", startStep, steps))

	func() {
		defer func() {
			if r := recover(); r != nil {
				err = errors.Errorf("training failed: %v", r)
			}
		}()
		res, err = tr.Run()
	}()
	defer live.Flush()
	if err != nil {
		draw("stopped: " + err.Error())
		return res, err
	}
	draw(fmt.Sprintf("done: %d steps in %s · held-out loss %.4f → %.4f (%s)", res.Steps-startStep,
		formatDuration(res.Elapsed), res.FirstEvalLoss, res.FinalEvalLoss, percentChange(res.FirstEvalLoss, res.FinalEvalLoss)))
	fmt.Fprintln(out(), Summarize(res, startStep))
	return res, nil
}

// liveNote is the status line of the live plot.
func liveNote(records []train.LogRecord, done, steps, startStep int, elapsed time.Duration) string {
	s := fmt.Sprintf("step %d/%d", done, steps)
	var last, eval *train.LogRecord
	tokens := 0
	for i := range records {
		r := &records[i]
		if r.Loss != 0 {
			last = r
			tokens += r.Tokens
		}
		if r.EvalLoss != 0 {
			eval = r
		}
	}
	if last != nil {
		s += fmt.Sprintf(" · loss %.4f", last.Loss)
	}
	if eval != nil {
		s += fmt.Sprintf(" · held-out %.4f (step %d)", eval.EvalLoss, eval.Step)
	}
	if secs := elapsed.Seconds(); tokens > 0 && secs > 0 {
		s += " · " + formatThousands(float64(tokens)/secs) + " tokens/s"
	}
	if d := done - startStep; d > 0 && done < steps {
		left := time.Duration(float64(elapsed) * float64(steps-done) / float64(d))
		s += fmt.Sprintf(" · %s, ~%s left", formatDuration(elapsed), formatDuration(left))
	}
	return s
}

func percentChange(before, after float64) string {
	if before == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*(after-before)/before)
}

// Summarize is the one-line outcome of a training run: the held-out loss before and after,
// the steps, tokens and throughput. startStep is the step the run started from (0 unless it
// resumed).
func Summarize(res train.Result, startStep int) string {
	secs := res.Elapsed.Seconds()
	tps := 0.0
	if secs > 0 {
		tps = float64(res.Tokens) / secs
	}
	return fmt.Sprintf("held-out loss: %.4f → %.4f (%+.4f, %s) after %d steps; %s tokens in %s (%s tokens/s)",
		res.FirstEvalLoss, res.FinalEvalLoss, res.FinalEvalLoss-res.FirstEvalLoss,
		percentChange(res.FirstEvalLoss, res.FinalEvalLoss), res.Steps-startStep, formatThousands(float64(res.Tokens)),
		formatDuration(res.Elapsed), formatThousands(tps))
}

// RunStats summarise a training log.
type RunStats struct {
	Steps                   int     // last step logged
	FirstEvalLoss, EvalLoss float64 // first and last held-out loss (0: none logged)
	Tokens                  int     // target tokens trained on
	TokensPerSecond         float64 // Tokens over the elapsed time of the last logged step
}

// Stats summarises a training log (as ReadLog returns or train.Trainer.Log keeps).
func Stats(log []train.LogRecord) RunStats {
	var s RunStats
	var elapsedMS int64
	for _, r := range log {
		s.Steps = max(s.Steps, r.Step)
		if r.EvalLoss != 0 {
			if s.FirstEvalLoss == 0 {
				s.FirstEvalLoss = r.EvalLoss
			}
			s.EvalLoss = r.EvalLoss
		}
		if r.Loss != 0 {
			s.Tokens += r.Tokens
			elapsedMS = max(elapsedMS, r.ElapsedMS)
		}
	}
	if elapsedMS > 0 {
		s.TokensPerSecond = float64(s.Tokens) / (float64(elapsedMS) / 1000)
	}
	return s
}

// Run is one training run's log, named for a legend.
type Run struct {
	Name string
	Log  []train.LogRecord
}

// LossChart plots training runs: the per-step training loss (faint, when one run is shown),
// its moving average (smoothing in [0, 1); negative: none) and the held-out loss with markers.
func LossChart(title string, smoothing float64, runs ...Run) *LineChart {
	c := &LineChart{Title: title, XLabel: "step", YLabel: "loss"}
	for i, run := range runs {
		var sx, sy, ex, ey []float64
		for _, r := range run.Log {
			if r.Loss != 0 {
				sx, sy = append(sx, float64(r.Step)), append(sy, r.Loss)
			}
			if r.EvalLoss != 0 {
				ex, ey = append(ex, float64(r.Step)), append(ey, r.EvalLoss)
			}
		}
		prefix := ""
		if run.Name != "" {
			prefix = run.Name + ": "
		}
		trainColor, evalColor := Palette[(2*i)%len(Palette)], Palette[(2*i+1)%len(Palette)]
		if len(runs) > 1 {
			trainColor = Palette[i%len(Palette)]
			evalColor = trainColor
		}
		smoothed := smoothing >= 0 && smoothing < 1 && len(sy) > 1
		if len(runs) == 1 || !smoothed {
			c.Series = append(c.Series, Series{Name: prefix + "training loss", X: sx, Y: sy, Color: trainColor, Faint: smoothed})
		}
		if smoothed {
			name := prefix + "training loss (smoothed)"
			c.Series = append(c.Series, Series{Name: name, X: sx, Y: EMA(sy, smoothing), Color: trainColor})
		}
		c.Series = append(c.Series, Series{Name: prefix + "held-out loss", X: ex, Y: ey, Color: evalColor,
			Markers: true, Dashed: len(runs) > 1})
	}
	return c
}

// EMA is the bias-corrected exponential moving average of ys with factor beta (as
// TensorBoard's smoothing).
func EMA(ys []float64, beta float64) []float64 {
	out := make([]float64, len(ys))
	s, w := 0.0, 0.0
	for i, y := range ys {
		if !finite(y) {
			out[i] = y
			continue
		}
		s = beta*s + (1-beta)*y
		w = beta*w + (1 - beta)
		out[i] = s / w
	}
	return out
}

// ReadLog reads a training log (train_log.jsonl, as written by train.Trainer and goswift pt).
func ReadLog(path string) ([]train.LogRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "reading the training log")
	}
	defer f.Close()
	var out []train.LogRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r train.LogRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, errors.Wrapf(err, "%s:%d", path, line)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, errors.Wrapf(err, "reading %s", path)
	}
	return out, nil
}
