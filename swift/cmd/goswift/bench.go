package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/swift/bench"
	"github.com/goswift/goswift/swift/models"
)

// benchArgs are the flags of `goswift bench`: the technique benchmark suite, or (with
// --predict-only) the memory and FLOPs predictor.
type benchArgs struct {
	Quick, Full bool
	Calibrate   bool
	Out         string
	Techniques  string
	Device      string
	Seed        uint64
	Model, Data string
	NoPeer      bool
	Python      string
	PeerScript  string
	Timeout     time.Duration
	List        bool
	Report      string
	Verbose     bool
	Child       bool

	PredictOnly bool
	Shape       string
	ConfigFile  string
	Technique   string
	Batch, Seq  int
	Rank        int
	DType       string
	GradAccum   int
	Backend     string
	Memory      string
	JSON        bool

	command string
}

func (a *benchArgs) flags(fs *flag.FlagSet) {
	fs.BoolVar(&a.Quick, "quick", false, "the quick matrix (~3 min): LoRA, QLoRA-NF4 and full at 4×128, SmolLM-135M memory, one loss run, the peer rows")
	fs.BoolVar(&a.Full, "full", false, "the default matrix plus batch, sequence and rank sweeps")
	fs.BoolVar(&a.Calibrate, "calibrate", false, "run the calibration matrix and fit the backend's memory model (prints it as Go for swift/bench/memmodel.go)")
	fs.StringVar(&a.Out, "out", "bench-results", "output `dir`: results.jsonl, report.md, report.html, *.svg")
	fs.StringVar(&a.Techniques, "techniques", "", "comma-separated techniques to run (default all: "+strings.Join(bench.TechniqueNames(), ", ")+")")
	fs.StringVar(&a.Device, "device", "auto", "auto, cpu or cuda")
	fs.Uint64Var(&a.Seed, "seed", 1, "seed of every run (weights, data, adapters)")
	fs.StringVar(&a.Model, "model", "", "real checkpoint of the loss runs (default: stories260K.bin in the shared fixtures)")
	fs.StringVar(&a.Data, "data", "", "text `file` of the loss runs (default: tinyshakespeare.txt in the shared fixtures)")
	fs.BoolVar(&a.NoPeer, "no-peer", false, "leave out the PyTorch peer rows")
	fs.StringVar(&a.Python, "python", bench.DebianPython, "Python with torch for the peer rows")
	fs.StringVar(&a.PeerScript, "peer-script", "", "the peer script (default: "+bench.PeerScript+" found from the working directory)")
	fs.DurationVar(&a.Timeout, "timeout", 20*time.Minute, "limit per run")
	fs.BoolVar(&a.List, "list", false, "print the matrix and exit")
	fs.StringVar(&a.Report, "report", "", "re-render the report of `dir` from its results.jsonl and exit")
	fs.BoolVar(&a.Verbose, "v", false, "stream each run's own output")
	fs.BoolVar(&a.Child, "child", false, "internal: run the spec in $"+bench.EnvSpec+" in this process (the suite's child)")

	fs.BoolVar(&a.PredictOnly, "predict-only", false, "predict peak memory and FLOPs of a step and exit: will it fit?")
	fs.StringVar(&a.Shape, "shape", "", "--predict-only: built-in shape ("+strings.Join(models.ShapeNames(), ", ")+")")
	fs.StringVar(&a.ConfigFile, "config", "", "--predict-only: a Hugging Face config.json (or its model `dir`) instead of --shape")
	fs.StringVar(&a.Technique, "technique", "", "--predict-only: one technique (default: every technique)")
	fs.IntVar(&a.Batch, "batch", 1, "--predict-only: batch size")
	fs.IntVar(&a.Seq, "seq", 512, "--predict-only: sequence length")
	fs.IntVar(&a.Rank, "rank", 8, "--predict-only: LoRA rank")
	fs.StringVar(&a.DType, "dtype", "f32", "--predict-only: base weights f32 or bf16")
	fs.IntVar(&a.GradAccum, "grad-accum", 1, "--predict-only: micro-batches per step")
	fs.StringVar(&a.Backend, "backend", "", "--predict-only: memory model of this backend ("+strings.Join(bench.MemoryModelNames(), ", ")+"; default: the default CPU backend)")
	fs.StringVar(&a.Memory, "memory", "", "--predict-only: memory budget, e.g. 16GB or 24GiB (default: the host's available memory)")
	fs.BoolVar(&a.JSON, "json", false, "--predict-only: print JSON")
}

// Run implements verb.
func (a *benchArgs) Run(stdout, stderr io.Writer) error {
	a.command = "goswift bench"
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		a.command = "goswift " + strings.Join(os.Args[1:], " ")
	}
	switch {
	case a.Child:
		return bench.ChildMain(stdout)
	case a.PredictOnly:
		return a.predict(stdout)
	case a.Report != "":
		return rerender(a.Report, stdout)
	}
	name := "default"
	for flagName, on := range map[string]bool{"quick": a.Quick, "full": a.Full, "calibrate": a.Calibrate} {
		if on {
			if name != "default" {
				return errors.Errorf("goswift bench: --%s and --%s exclude each other", name, flagName)
			}
			name = flagName
		}
	}
	model, data := a.Model, a.Data
	if dir := fixtures.Dir(); dir != "" {
		if model == "" {
			model = filepath.Join(dir, "models", "stories260K", "stories260K.bin")
		}
		if data == "" {
			data = filepath.Join(dir, "datasets", "tinyshakespeare.txt")
		}
	}
	for flagName, p := range map[string]string{"--model": model, "--data": data} {
		if p == "" {
			fmt.Fprintf(stderr, "no %s (and no shared fixtures): the loss runs are left out\n", flagName)
			model, data = "", ""
			break
		}
		if _, err := os.Stat(p); err != nil {
			return errors.Wrapf(err, "goswift bench: %s", flagName)
		}
	}
	var techs []string
	if a.Techniques != "" {
		techs = strings.Split(a.Techniques, ",")
	}
	m, err := bench.NewMatrix(bench.MatrixOptions{Name: name, Techniques: techs, Model: model, Data: data,
		Seed: a.Seed, Device: a.Device, NoPeer: a.NoPeer})
	if err != nil {
		return errors.WithMessage(err, "goswift bench")
	}
	if a.List {
		fmt.Fprint(stdout, m)
		return nil
	}
	peer := bench.PeerOptions{Python: a.Python, Script: a.PeerScript}
	if peer.Script == "" {
		wd, _ := os.Getwd()
		peer.Script = bench.FindPeerScript(wd)
	} else if _, err := os.Stat(peer.Script); err != nil {
		return errors.Wrap(err, "goswift bench: --peer-script")
	}
	if len(m.Peers) > 0 {
		if err := bench.CheckPeer(a.Python); err != nil {
			peer.Disabled = err.Error()
			fmt.Fprintf(stderr, "peer rows not measured: %v\n", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return errors.Wrap(err, "goswift bench: finding its own binary to run the children")
	}
	var childOut io.Writer
	if a.Verbose {
		childOut = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(stderr, "goswift bench: %s matrix, %d runs + %d peer runs, results in %s\n", m.Name, len(m.Specs), len(m.Peers), a.Out)
	s, err := bench.Run(ctx, bench.Options{Matrix: m, OutDir: a.Out, Launcher: bench.ExecLauncher([]string{exe, "bench", "--child"}, nil, childOut),
		Peer: peer, RunTimeout: a.Timeout, Progress: stderr, Command: a.command})
	if err != nil {
		return errors.WithMessage(err, "goswift bench")
	}
	for _, c := range s.Checks {
		fmt.Fprintf(stdout, "%-7s %s: %s\n", c.Status, c.Name, c.Detail)
	}
	if a.Calibrate {
		if err := calibrate(s, a.Out, stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "report: %s (and report.md, results.jsonl); %d runs, %d failed, %.1f min\n",
		filepath.Join(a.Out, "report.html"), len(s.Results), len(s.Failed), s.Elapsed.Minutes())
	return nil
}

// rerender writes the report of dir again from its results.jsonl.
func rerender(dir string, stdout io.Writer) error {
	s, err := bench.LoadSuite(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return errors.WithMessage(err, "goswift bench --report")
	}
	if err := bench.WriteReport(dir, s); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(dir, "report.html"))
	return nil
}

// predict prints the predictor's answer for one shape and one or every technique.
func (a *benchArgs) predict(stdout io.Writer) error {
	cfg, label, err := a.modelConfig()
	if err != nil {
		return err
	}
	budget := bench.MemAvailable()
	budgetNote := "available host memory"
	if a.Memory != "" {
		if budget, err = bench.ParseBytes(a.Memory); err != nil {
			return errors.WithMessage(err, "goswift bench: --memory")
		}
		budgetNote = "--memory"
	}
	techs := bench.Techniques()
	if a.Technique != "" {
		t, err := bench.LookupTechnique(a.Technique)
		if err != nil {
			return errors.WithMessage(err, "goswift bench: --technique")
		}
		techs = []bench.Technique{t}
	}
	type row struct {
		Technique string            `json:"technique"`
		Predicted *bench.Prediction `json:"predicted"`
		Fits      bool              `json:"fits"`
	}
	var rows []row
	for _, t := range techs {
		p, err := bench.Predict(bench.PredictInput{Config: cfg, Technique: t, Batch: a.Batch, Seq: a.Seq, Rank: a.Rank,
			DType: a.DType, GradAccum: a.GradAccum, Backend: a.Backend})
		if err != nil {
			return errors.WithMessagef(err, "goswift bench --predict-only (technique %s)", t.Name)
		}
		rows = append(rows, row{t.Name, p, budget <= 0 || p.TotalBytes <= budget})
	}
	if a.JSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(map[string]any{"model": label, "batch": a.Batch, "seq": a.Seq, "rank": a.Rank, "dtype": a.DType,
			"budget_bytes": budget, "budget": budgetNote, "techniques": rows})
	}
	fmt.Fprintf(stdout, "%s, batch %d × seq %d, rank %d, %s base, budget %s (%s), memory model %s\n", label, a.Batch, a.Seq,
		a.Rank, a.DType, bench.FormatBytes(budget), budgetNote, rows[0].Predicted.Model)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "technique\ttrainable\tweights\tgradients\toptimizer\tactivations\ttotal\tTFLOPs/step\tfits\t")
	for _, r := range rows {
		p := r.Predicted
		fits := "yes"
		if !r.Fits {
			fits = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%s\t\n", r.Technique, bench.FormatCount(p.ParamsTrainable),
			bench.FormatBytes(p.WeightsBytes), bench.FormatBytes(p.GradientBytes), bench.FormatBytes(p.OptimizerBytes),
			bench.FormatBytes(p.ActivationBytes), bench.FormatBytes(p.TotalBytes), p.FLOPsPerStep/1e12, fits)
	}
	return tw.Flush()
}

// modelConfig reads --config or --shape.
func (a *benchArgs) modelConfig() (*models.Config, string, error) {
	switch {
	case a.ConfigFile != "" && a.Shape != "":
		return nil, "", errors.New("goswift bench: give --shape or --config, not both")
	case a.ConfigFile != "":
		p := a.ConfigFile
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, "config.json")
		}
		cfg, err := models.ReadConfig(p)
		if err != nil {
			return nil, "", errors.WithMessage(err, "goswift bench: --config")
		}
		return cfg, p, nil
	case a.Shape != "":
		cfg, err := models.Shape(a.Shape)
		if err != nil {
			return nil, "", errors.WithMessage(err, "goswift bench: --shape")
		}
		return cfg, a.Shape + " shape", nil
	}
	return nil, "", errors.New("goswift bench --predict-only: give --shape or --config")
}

// calibrate fits the backend's memory model to a calibration suite's runs, prints it as Go
// source and its residuals, and writes calibration.json beside the results.
func calibrate(s *bench.Suite, dir string, stdout io.Writer) error {
	backend := ""
	for _, r := range s.Results {
		if r.Engine == "goswift" && r.BackendConfig != "" {
			backend, _, _ = strings.Cut(r.BackendConfig, ":")
			break
		}
	}
	base, _ := bench.MemoryModelFor(backend)
	source := fmt.Sprintf("%s, %d runs of the calibrate matrix on %s (suite %s)", backend, len(s.Results),
		s.Started.Format("2006-01-02"), s.ID)
	m, residuals, err := bench.Calibrate(s.Results, base, source)
	if err != nil {
		return errors.WithMessage(err, "goswift bench --calibrate")
	}
	fmt.Fprintf(stdout, "\nmemory model for %q (paste into memoryModels in swift/bench/memmodel.go):\n\t%s\n\n", backend, m.GoSource(backend))
	worst := 0.0
	for _, r := range residuals {
		fmt.Fprintf(stdout, "  %-45s measured %9s predicted %9s %+6.1f%%\n", r.ID, bench.FormatBytes(r.Measured),
			bench.FormatBytes(r.Predicted), 100*r.Error())
		worst = max(worst, abs(r.Error()))
	}
	fmt.Fprintf(stdout, "worst fit: %.1f%%\n", 100*worst)
	raw, err := json.MarshalIndent(map[string]any{"backend": backend, "model": m, "residuals": residuals}, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, "calibration.json")
	return errors.Wrapf(os.WriteFile(p, append(raw, '\n'), 0o644), "writing %s", p)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
