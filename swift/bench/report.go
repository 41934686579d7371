package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// A report is a list of blocks rendered twice: Markdown (charts as linked .svg files) and
// self-contained HTML (charts inline).
type block struct {
	heading string
	level   int
	para    string
	items   []string
	header  []string
	rows    [][]string
	chart   *chart
}

type chart struct{ name, title, svg string }

type reportDoc struct {
	title  string
	blocks []block
}

func (d *reportDoc) h(level int, s string) {
	d.blocks = append(d.blocks, block{heading: s, level: level})
}
func (d *reportDoc) p(format string, args ...any) {
	d.blocks = append(d.blocks, block{para: fmt.Sprintf(format, args...)})
}
func (d *reportDoc) list(items ...string) { d.blocks = append(d.blocks, block{items: items}) }
func (d *reportDoc) table(header []string, rows [][]string) {
	if len(rows) > 0 {
		d.blocks = append(d.blocks, block{header: header, rows: rows})
	}
}
func (d *reportDoc) chart(name, title, svg string) {
	d.blocks = append(d.blocks, block{chart: &chart{name: name, title: title, svg: svg}})
}

func (d *reportDoc) markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "# %s\n\n", d.title)
	for _, b := range d.blocks {
		switch {
		case b.heading != "":
			fmt.Fprintf(&w, "%s %s\n\n", strings.Repeat("#", b.level), b.heading)
		case b.para != "":
			fmt.Fprintf(&w, "%s\n\n", b.para)
		case b.items != nil:
			for _, it := range b.items {
				fmt.Fprintf(&w, "- %s\n", it)
			}
			w.WriteString("\n")
		case b.header != nil:
			fmt.Fprintf(&w, "| %s |\n|", strings.Join(b.header, " | "))
			for range b.header {
				w.WriteString("---|")
			}
			w.WriteString("\n")
			for _, r := range b.rows {
				fmt.Fprintf(&w, "| %s |\n", strings.Join(mdCells(r), " | "))
			}
			w.WriteString("\n")
		case b.chart != nil:
			fmt.Fprintf(&w, "![%s](%s.svg)\n\n", b.chart.title, b.chart.name)
		}
	}
	return w.String()
}

func mdCells(r []string) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return out
}

// inlineHTML escapes s and turns `code` spans into <code>.
func inlineHTML(s string) string {
	parts := strings.Split(s, "`")
	for i := range parts {
		parts[i] = esc(parts[i])
		if i%2 == 1 {
			parts[i] = "<code>" + parts[i] + "</code>"
		}
	}
	return strings.Join(parts, "")
}

func (d *reportDoc) html() string {
	var w strings.Builder
	fmt.Fprintf(&w, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
code{background:#f4f4f4;padding:1px 3px}.pass{color:#228833}.fail{color:#cc3311;font-weight:bold}
svg{display:block;margin:0.5em 0 1.5em}
</style></head><body>
<h1>%s</h1>
`, esc(d.title), esc(d.title))
	for _, b := range d.blocks {
		switch {
		case b.heading != "":
			fmt.Fprintf(&w, "<h%d>%s</h%d>\n", b.level, inlineHTML(b.heading), b.level)
		case b.para != "":
			fmt.Fprintf(&w, "<p>%s</p>\n", inlineHTML(b.para))
		case b.items != nil:
			w.WriteString("<ul>\n")
			for _, it := range b.items {
				fmt.Fprintf(&w, "<li>%s</li>\n", inlineHTML(it))
			}
			w.WriteString("</ul>\n")
		case b.header != nil:
			w.WriteString("<table><tr>")
			for _, h := range b.header {
				fmt.Fprintf(&w, "<th>%s</th>", inlineHTML(h))
			}
			w.WriteString("</tr>\n")
			for _, r := range b.rows {
				w.WriteString("<tr>")
				for _, c := range r {
					class := ""
					switch c {
					case "pass":
						class = ` class="pass"`
					case "fail":
						class = ` class="fail"`
					}
					fmt.Fprintf(&w, "<td%s>%s</td>", class, inlineHTML(c))
				}
				w.WriteString("</tr>\n")
			}
			w.WriteString("</table>\n")
		case b.chart != nil:
			w.WriteString(b.chart.svg + "\n")
		}
	}
	w.WriteString("</body></html>\n")
	return w.String()
}

// WriteReport writes report.md, report.html and the charts (*.svg) of a suite into dir.
func WriteReport(dir string, s *Suite) error {
	d := buildReport(s)
	files := map[string]string{"report.md": d.markdown(), "report.html": d.html()}
	for _, b := range d.blocks {
		if b.chart != nil {
			files[b.chart.name+".svg"] = b.chart.svg
		}
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return errors.Wrapf(err, "writing %s", p)
		}
	}
	return nil
}

// Formatting helpers: "n/a" for missing values.
func fmtF(v *float64, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}

func fmtB(v *int64) string {
	if v == nil {
		return "n/a"
	}
	return formatBytes(*v)
}

func fmtPct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100**v)
}

func ratio(a, b *float64) string {
	if a == nil || b == nil || *b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", *a / *b)
}

func ratioB(a, b *int64) string {
	if a == nil || b == nil || *b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", float64(*a)/float64(*b))
}

func fmtCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// groupKey identifies the rows shown together: GoSwift runs of one kind, shape and step shape.
type groupKey struct {
	kind, shape string
	batch, seq  int
}

func groups(results []Result) ([]groupKey, map[groupKey][]Result) {
	var keys []groupKey
	by := map[groupKey][]Result{}
	for _, r := range results {
		if r.Engine != "goswift" {
			continue
		}
		k := groupKey{r.Kind, r.Shape, r.Batch, r.Seq}
		if _, seen := by[k]; !seen {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
	}
	return keys, by
}

// peerFor returns the ok PyTorch row with the same shape, batch, seq and technique.
func peerFor(results []Result, shape string, batch, seq int, technique string) *Result {
	for i := range results {
		r := &results[i]
		if r.Engine == "pytorch" && r.Status == "ok" && r.Shape == shape && r.Batch == batch && r.Seq == seq &&
			r.Technique == technique {
			return r
		}
	}
	return nil
}

func buildReport(s *Suite) *reportDoc {
	d := &reportDoc{title: fmt.Sprintf("GoSwift technique benchmark: %s matrix, %s", s.Matrix, s.Started.Format("2006-01-02"))}
	m := s.Machine
	if m == nil {
		m = &Machine{}
	}
	backend := "n/a"
	for _, r := range s.Results {
		if r.Engine == "goswift" && r.Backend != "" {
			backend = r.Backend
			break
		}
	}
	peerInfo := "not measured"
	for _, r := range s.Results {
		if r.Engine == "pytorch" && r.Status == "ok" {
			peerInfo = r.Backend
			break
		}
	}
	if s.Command != "" {
		d.p("Produced by `%s`.", s.Command)
	}
	d.list(
		fmt.Sprintf("Machine: %s, %d cores, %s memory, %s/%s; 1-minute load average %.1f at the start (the machine is shared: timings are noisy, ratios measured side by side are what to read)",
			m.CPU, m.Cores, formatBytes(m.MemoryBytes), m.OS, m.Arch, m.LoadAverage),
		"GoSwift backend: "+backend,
		"PyTorch peer: "+peerInfo,
		fmt.Sprintf("Versions: %s, GoMLX %s, GoSwift commit `%s`", s.Versions.Go, s.Versions.GoMLX, s.Versions.GoSwift),
		seedLine(s.Results),
		fmt.Sprintf("Suite `%s`: %d runs (%d failed) in %.1f min", s.ID, len(s.Results), len(s.Failed), s.Elapsed.Minutes()),
	)
	d.h(2, "Checks")
	var rows [][]string
	for _, c := range s.Checks {
		rows = append(rows, []string{c.Name, c.Status, c.Detail})
	}
	d.table([]string{"check", "result", "detail"}, rows)

	keys, by := groups(s.Results)
	for _, k := range keys {
		switch k.kind {
		case KindSpeed:
			speedSection(d, s, k, by[k])
		case KindMemory:
			memorySection(d, k, by[k])
		case KindLoss:
			lossSection(d, k, by[k])
		}
	}
	peerSection(d, s)
	predictorSection(d, s)
	notesSection(d, s)
	return d
}

// seedLine names the seed of the runs (weights, data, adapters and the peer): "Seed: 1 (every
// run)", or every distinct seed when they differ.
func seedLine(results []Result) string {
	var seeds []uint64
	for _, r := range results {
		if !slices.Contains(seeds, r.Seed) {
			seeds = append(seeds, r.Seed)
		}
	}
	switch len(seeds) {
	case 0:
		return "Seed: n/a (no runs)"
	case 1:
		return fmt.Sprintf("Seed: %d (every run)", seeds[0])
	}
	slices.Sort(seeds)
	parts := make([]string, len(seeds))
	for i, v := range seeds {
		parts[i] = strconv.FormatUint(v, 10)
	}
	return "Seeds: " + strings.Join(parts, ", ")
}

func speedSection(d *reportDoc, s *Suite, k groupKey, rs []Result) {
	d.h(2, fmt.Sprintf("Speed and memory: %s shape, batch %d × seq %d (random weights)", k.shape, k.batch, k.seq))
	peerLoRA := peerFor(s.Results, k.shape, k.batch, k.seq, "lora")
	var lora *Result
	for i := range rs {
		if rs[i].Technique == "lora" && rs[i].Rank == 8 && rs[i].Status == "ok" {
			lora = &rs[i]
		}
	}
	d.p("Train tokens/s is the median of the timed steps after warm-up; `× LoRA` and `× PyTorch LoRA` divide it by GoSwift LoRA's and by the PyTorch peer's LoRA run of the same shape (same run, same machine). Memory: peak RSS of the run's own process; training heap = peak live Go heap during a step minus the heap before the model (what the predictor predicts).")
	var rows [][]string
	var memBars, speedBars []Bar
	for _, r := range rs {
		name := r.Technique
		if r.Rank > 0 && r.Rank != 8 {
			name += fmt.Sprintf(" r%d", r.Rank)
		}
		if r.Status != "ok" {
			rows = append(rows, []string{name, "failed: " + firstLine(r.Error), "", "", "", "", "", "", "", "", ""})
			continue
		}
		var peerTPS, loraTPS *float64
		if peerLoRA != nil {
			peerTPS = peerLoRA.TrainTokensPerS
		}
		if lora != nil {
			loraTPS = lora.TrainTokensPerS
		}
		pred := "n/a"
		if r.Predicted != nil {
			pred = formatBytes(r.Predicted.TotalBytes)
		}
		rows = append(rows, []string{name, fmtCount(r.ParamsTrainable), fmtF(r.TrainablePct, "%.3f%%"),
			fmtF(r.TrainTokensPerS, "%.1f"), ratio(r.TrainTokensPerS, loraTPS), ratio(r.TrainTokensPerS, peerTPS),
			fmtF(r.InferTokensPerS, "%.1f"), fmtB(r.PeakRSSBytes), fmtB(r.TrainingHeapBytes), pred, fmtPct(r.PredictionError)})
		if r.TrainingHeapBytes != nil {
			memBars = append(memBars, Bar{Label: name, Value: float64(*r.TrainingHeapBytes), Note: "(RSS " + fmtB(r.PeakRSSBytes) + ")"})
		}
		if r.TrainTokensPerS != nil {
			note := ""
			if peerTPS != nil {
				note = "(" + ratio(r.TrainTokensPerS, peerTPS) + " PyTorch LoRA)"
			}
			speedBars = append(speedBars, Bar{Label: name, Value: *r.TrainTokensPerS, Note: note, Color: palette[2]})
		}
	}
	d.table([]string{"technique", "trainable", "% of total", "train tokens/s", "× LoRA", "× PyTorch LoRA",
		"infer tokens/s", "peak RSS", "training heap", "predicted", "error"}, rows)
	name := fmt.Sprintf("%s_b%ds%d", k.shape, k.batch, k.seq)
	if len(memBars) > 0 {
		d.chart("memory_"+name, fmt.Sprintf("Training heap by technique (%s, %d × %d)", k.shape, k.batch, k.seq),
			BarChartSVG(fmt.Sprintf("Training heap by technique (%s, %d × %d)", k.shape, k.batch, k.seq), "bytes", memBars,
				func(v float64) string { return formatBytes(int64(v)) }))
	}
	if len(speedBars) > 0 {
		d.chart("speed_"+name, fmt.Sprintf("Train tokens/s by technique (%s, %d × %d)", k.shape, k.batch, k.seq),
			BarChartSVG(fmt.Sprintf("Train tokens/s by technique (%s, %d × %d)", k.shape, k.batch, k.seq), "tokens/s", speedBars,
				func(v float64) string { return fmt.Sprintf("%.1f", v) }))
	}
}

func memorySection(d *reportDoc, k groupKey, rs []Result) {
	d.h(2, fmt.Sprintf("Memory: %s shape, batch %d × seq %d (random weights, one process each)", k.shape, k.batch, k.seq))
	var rows [][]string
	for _, r := range rs {
		if r.Status != "ok" {
			rows = append(rows, []string{r.Technique, "failed: " + firstLine(r.Error), "", "", "", "", "", ""})
			continue
		}
		acc, pred := "n/a", "n/a"
		if r.Accounted != nil {
			acc = fmt.Sprintf("%s (%s + %s + %s)", formatBytes(r.Accounted.Total), formatBytes(r.Accounted.Weights),
				formatBytes(r.Accounted.Gradients), formatBytes(r.Accounted.Optimizer))
		}
		if r.Predicted != nil {
			pred = formatBytes(r.Predicted.TotalBytes)
		}
		rows = append(rows, []string{r.Technique, fmtCount(r.ParamsTrainable), fmtB(r.PeakRSSBytes),
			fmtB(r.TrainingHeapBytes), pred, fmtPct(r.PredictionError), acc})
	}
	d.table([]string{"technique", "trainable", "peak RSS", "training heap", "predicted", "error",
		"accounted (weights + gradients + optimizer)"}, rows)
}

func lossSection(d *reportDoc, k groupKey, rs []Result) {
	steps := 0
	for _, r := range rs {
		steps = max(steps, len(r.LossCurve))
	}
	d.h(2, fmt.Sprintf("Loss and accuracy: %s on tinyshakespeare (real weights, %d steps of %d × %d)", k.shape, steps, k.batch, k.seq))
	d.p("Held-out loss before and after the same budget of steps (warm-up then cosine decay, each technique at its learning rate from the technique table); accuracy is held-out next-token top-1 accuracy after training.")
	var rows [][]string
	var series []Series
	for _, r := range rs {
		if r.Status != "ok" {
			rows = append(rows, []string{r.Technique, "failed: " + firstLine(r.Error), "", "", ""})
			continue
		}
		lr := "n/a"
		if t, err := LookupTechnique(r.Technique); err == nil {
			lr = fmt.Sprintf("%g", t.LR)
		}
		rows = append(rows, []string{r.Technique, lr, fmtF(r.EvalLossStart, "%.3f") + " → " + fmtF(r.EvalLoss, "%.3f"),
			fmtF(r.TrainLoss, "%.3f"), fmtF(r.EvalAccuracy, "%.3f")})
		series = append(series, Series{Name: r.Technique, Y: ema(r.LossCurve, 0.8)})
	}
	d.table([]string{"technique", "lr", "held-out loss", "last train loss", "held-out token accuracy"}, rows)
	if len(series) > 0 {
		title := fmt.Sprintf("Training loss (EMA 0.8), %s", k.shape)
		d.chart("loss_"+k.shape, title, LineChartSVG(title, "step", "loss", series))
	}
}

// ema smooths a curve (bias-corrected exponential moving average).
func ema(ys []float64, beta float64) []float64 {
	out := make([]float64, len(ys))
	avg := 0.0
	for i, y := range ys {
		avg = beta*avg + (1-beta)*y
		out[i] = avg / (1 - math.Pow(beta, float64(i+1)))
	}
	return out
}

func peerSection(d *reportDoc, s *Suite) {
	var rows [][]string
	var notes []string
	for _, p := range s.Results {
		if p.Engine != "pytorch" {
			continue
		}
		if p.Status != "ok" {
			notes = append(notes, fmt.Sprintf("%s: %s", p.ID, firstLine(p.Error)))
			continue
		}
		g, found := find(s.Results, KindSpeed, p.Technique, p.Shape)
		if !found || g.Batch != p.Batch || g.Seq != p.Seq {
			notes = append(notes, p.ID+": no GoSwift run of the same configuration")
			continue
		}
		var gw, pw *int64
		if g.PeakRSSBytes != nil && g.BaselineRSSBytes != nil {
			gw = i64(*g.PeakRSSBytes - *g.BaselineRSSBytes)
		}
		if p.PeakRSSBytes != nil && p.BaselineRSSBytes != nil {
			pw = i64(*p.PeakRSSBytes - *p.BaselineRSSBytes)
		}
		rows = append(rows, []string{p.Technique, fmt.Sprintf("%s %d × %d", p.Shape, p.Batch, p.Seq),
			ratio(g.TrainTokensPerS, p.TrainTokensPerS), ratioB(g.PeakRSSBytes, p.PeakRSSBytes), ratioB(gw, pw),
			fmt.Sprintf("%d / %d", g.ParamsTrainable, p.ParamsTrainable)})
	}
	if len(rows) == 0 && len(notes) == 0 {
		return
	}
	d.h(2, "GoSwift / PyTorch (same shape, technique, batch and sequence; same machine, same run)")
	d.p("Ratios only: > 1 means GoSwift is faster (tokens/s) or uses more memory (RSS). Workload RSS is peak RSS minus the process's RSS before the model (after `import torch` for the peer).")
	d.table([]string{"technique", "shape", "train tokens/s ratio", "peak RSS ratio", "workload RSS ratio", "trainable params (GoSwift / PyTorch)"}, rows)
	if len(notes) > 0 {
		d.list(notes...)
	}
}

func predictorSection(d *reportDoc, s *Suite) {
	var rows [][]string
	var pts []Point
	for _, r := range s.Results {
		if !ok(r) || r.Predicted == nil || r.TrainingHeapBytes == nil {
			continue
		}
		p := r.Predicted
		label := fmt.Sprintf("%s %s %d×%d", r.Technique, r.Shape, r.Batch, r.Seq)
		rows = append(rows, []string{label, formatBytes(p.WeightsBytes), formatBytes(p.GradientBytes),
			formatBytes(p.OptimizerBytes), formatBytes(p.ActivationBytes), formatBytes(p.TotalBytes),
			formatBytes(*r.TrainingHeapBytes), fmtPct(r.PredictionError), fmt.Sprintf("%.3g", p.FLOPsPerStep),
			fmtF(scaled(r.AchievedFLOPs, 1e-9), "%.2f")})
		pts = append(pts, Point{Label: label, X: float64(*r.TrainingHeapBytes), Y: float64(p.TotalBytes)})
	}
	if len(rows) == 0 {
		return
	}
	model := "n/a"
	for _, r := range s.Results {
		if r.Predicted != nil {
			model = r.Predicted.Model
			break
		}
	}
	d.h(2, "Predictor: predicted vs measured")
	d.p("Predicted = weights + gradients + optimizer state + activations, from the config alone (`goswift bench --predict-only`; memory model `%s`: %s); measured = training heap. Achieved GFLOP/s = predicted step FLOPs / median step seconds.",
		model, modelSource(model))
	d.table([]string{"run", "weights", "gradients", "optimizer", "activations", "predicted", "measured", "error",
		"FLOPs/step", "achieved GFLOP/s"}, rows)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].X < pts[j].X })
	d.chart("predicted_vs_measured", "Predicted vs measured training heap", ScatterSVG("Predicted vs measured training heap", pts, PredictorTolerance))
}

func scaled(v *float64, k float64) *float64 {
	if v == nil {
		return nil
	}
	return f(*v * k)
}

func notesSection(d *reportDoc, s *Suite) {
	d.h(2, "How it was measured")
	items := []string{
		"Every run is a fresh process (`goswift bench` re-executes itself); peak RSS is that process's VmHWM after training (inference comes after it).",
		"Training heap: garbage collections run back to back during a measured step (after two collections that empty the executor's buffer pools) and the largest live heap they mark is kept, minus the heap before the model existed; memory runs report the largest of four measured steps (`heap_peaks` and `heap_samples` in results.jsonl). The CPU backends' tensors are Go memory freed after their last use, so this is the step's working set; it moves from step to step by up to ~20% with how many ops the parallel executor has in flight.",
		"Speed: after a warm-up step (which compiles), the median of the timed steps; the measured step comes after them, untimed; inference is greedy generation at batch 1 with the KV cache, after one compiling generation.",
		"The PyTorch peer runs after the GoSwift runs, on the same machine and cores (torch threads = cores); the machine is shared, so each ratio carries the load of its two moments (the load average at the start is above).",
		"Random weights (seeded normal σ 0.02) for the architecture shapes: speed and memory only; loss and accuracy come from real weights (stories260K).",
	}
	for _, r := range s.Results {
		if r.Status == "error" {
			items = append(items, fmt.Sprintf("FAILED %s: %s", r.ID, firstLine(r.Error)))
		}
	}
	d.list(items...)
	var rows [][]string
	for _, t := range Techniques() {
		rows = append(rows, []string{t.Name, t.Tuner, string(tunerConfigJSON(t, 8)), fmt.Sprintf("%g", t.LR), t.Note})
	}
	d.h(3, "Technique table")
	d.table([]string{"technique", "tuner", "config (rank 8)", "lr (loss runs)", "note"}, rows)
}

// modelSource says where a memory model's counts come from.
func modelSource(name string) string {
	if m, ok := memoryModels[name]; ok {
		return "calibrated on " + m.Source
	}
	return "no calibrated model for this backend"
}
