package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pkg/errors"
)

// Options configure a suite run.
type Options struct {
	// Matrix is what runs.
	Matrix *Matrix
	// OutDir receives results.jsonl, report.md, report.html and the charts (*.svg).
	OutDir string
	// Launcher runs each spec in a fresh process (required).
	Launcher Launcher
	// Peer runs the PyTorch peer rows; a zero Peer (no Python) leaves them "not measured".
	Peer PeerOptions
	// RunTimeout bounds each run (0: 20 minutes).
	RunTimeout time.Duration
	// Progress receives one line per run (nil: silent).
	Progress io.Writer
	// Command is the command line that produced the report (shown in it).
	Command string
}

// Suite is a finished suite: its results (in run order) and the report's checks.
type Suite struct {
	ID       string
	Matrix   string
	Started  time.Time
	Elapsed  time.Duration
	Command  string
	Machine  *Machine
	Versions Versions
	Results  []Result
	Checks   []Check
	// Failed lists the runs that failed (their results have Status "error").
	Failed []string
}

// Run executes the matrix, one fresh process per run, appending each result line to
// OutDir/results.jsonl as it arrives, then writes the report. A failed run is recorded with its
// error and the suite continues; Run returns an error only when nothing could be written.
func Run(ctx context.Context, o Options) (*Suite, error) {
	if o.Matrix == nil || o.Launcher == nil {
		return nil, errors.New("bench: Options.Matrix and Options.Launcher are required")
	}
	if o.OutDir == "" {
		return nil, errors.New("bench: no output directory (--out)")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, errors.Wrapf(err, "creating --out %s", o.OutDir)
	}
	jsonl := filepath.Join(o.OutDir, "results.jsonl")
	fh, err := os.Create(jsonl)
	if err != nil {
		return nil, errors.Wrapf(err, "creating %s", jsonl)
	}
	defer fh.Close()
	s := &Suite{Matrix: o.Matrix.Name, Started: time.Now(), Command: o.Command, Machine: DescribeMachine(),
		Versions: CurrentVersions()}
	s.ID = s.Started.UTC().Format("20060102T150405Z") + "-" + o.Matrix.Name
	timeout := o.RunTimeout
	if timeout == 0 {
		timeout = 20 * time.Minute
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	total := len(o.Matrix.Specs) + len(o.Matrix.Peers)
	record := func(r *Result) error {
		r.Suite, r.Machine = s.ID, s.Machine
		r.Versions.Go, r.Versions.GoSwift = s.Versions.Go, s.Versions.GoSwift
		if r.Versions.GoMLX == "" || r.Versions.GoMLX == "unknown" {
			r.Versions.GoMLX = s.Versions.GoMLX
		}
		if r.Time == "" {
			r.Time = time.Now().UTC().Format(time.RFC3339)
		}
		s.Results = append(s.Results, *r)
		if r.Status == "error" {
			s.Failed = append(s.Failed, r.ID)
		}
		line, err := json.Marshal(r)
		if err != nil {
			return errors.Wrapf(err, "encoding the result of %s", r.ID)
		}
		if _, err := fh.Write(append(line, '\n')); err != nil {
			return errors.Wrapf(err, "writing %s", jsonl)
		}
		fmt.Fprintf(progress, "[%d/%d] %s\n", len(s.Results), total, summaryLine(r))
		return nil
	}
	for _, spec := range o.Matrix.Specs {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		r, err := o.Launcher(rctx, spec)
		cancel()
		if r == nil {
			r = failedResult(spec, err)
		}
		if err := record(r); err != nil {
			return s, err
		}
	}
	for _, p := range o.Matrix.Peers {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		r := o.Peer.Run(rctx, p)
		cancel()
		if err := record(r); err != nil {
			return s, err
		}
	}
	s.Elapsed = time.Since(s.Started)
	s.Checks = RunChecks(s.Results)
	if err := s.writeMeta(o.OutDir); err != nil {
		return s, err
	}
	if err := WriteReport(o.OutDir, s); err != nil {
		return s, err
	}
	return s, nil
}

// failedResult records a run whose child printed nothing.
func failedResult(spec Spec, err error) *Result {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	return &Result{Schema: SchemaVersion, ID: spec.ID(), Engine: "goswift", Status: "error", Error: msg,
		Kind: spec.Kind, Technique: spec.Technique, Shape: spec.Shape, Batch: spec.Batch, Seq: spec.Seq,
		Rank: spec.Rank, DType: spec.DType, Seed: spec.Seed, TunerConfig: json.RawMessage("{}"),
		DeviceMemory: "not measured: the run failed"}
}

// summaryLine is the one-line progress note of a result.
func summaryLine(r *Result) string {
	if r.Status != "ok" {
		return fmt.Sprintf("%s FAILED: %s", r.ID, firstLine(r.Error))
	}
	s := fmt.Sprintf("%s (%.0fs)", r.ID, r.WallSeconds)
	if r.TrainTokensPerS != nil {
		s += fmt.Sprintf(" train %.1f tok/s", *r.TrainTokensPerS)
	}
	if r.InferTokensPerS != nil {
		s += fmt.Sprintf(", infer %.1f tok/s", *r.InferTokensPerS)
	}
	if r.PeakRSSBytes != nil {
		s += ", peak RSS " + formatBytes(*r.PeakRSSBytes)
	}
	if r.TrainingHeapBytes != nil && r.Predicted != nil {
		s += fmt.Sprintf(", heap %s (predicted %s)", formatBytes(*r.TrainingHeapBytes), formatBytes(r.Predicted.TotalBytes))
	}
	if r.EvalLoss != nil && r.EvalLossStart != nil {
		s += fmt.Sprintf(", eval loss %.3f → %.3f", *r.EvalLossStart, *r.EvalLoss)
	}
	return s
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// suiteMeta is suite.json: what results.jsonl does not say.
type suiteMeta struct {
	ID      string    `json:"id"`
	Matrix  string    `json:"matrix"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Command string    `json:"command"`
	Checks  []Check   `json:"checks"`
}

func (s *Suite) writeMeta(dir string) error {
	raw, err := json.MarshalIndent(suiteMeta{ID: s.ID, Matrix: s.Matrix, Started: s.Started, Seconds: s.Elapsed.Seconds(),
		Command: s.Command, Checks: s.Checks}, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, "suite.json")
	return errors.Wrapf(os.WriteFile(p, append(raw, '\n'), 0o644), "writing %s", p)
}

// LoadSuite reads a finished suite back from its results.jsonl (and the suite.json beside it),
// re-running the checks: for re-rendering a report.
func LoadSuite(resultsPath string) (*Suite, error) {
	results, err := ReadResults(resultsPath)
	if err != nil {
		return nil, err
	}
	if len(results) == 0 {
		return nil, errors.Errorf("%s holds no results", resultsPath)
	}
	s := &Suite{Results: results, ID: results[0].Suite, Machine: results[0].Machine, Versions: results[0].Versions}
	var meta suiteMeta
	if raw, err := os.ReadFile(filepath.Join(filepath.Dir(resultsPath), "suite.json")); err == nil && json.Unmarshal(raw, &meta) == nil {
		s.Matrix, s.Started, s.Command = meta.Matrix, meta.Started, meta.Command
		s.Elapsed = time.Duration(meta.Seconds * float64(time.Second))
	} else if t, err := time.Parse(time.RFC3339, results[0].Time); err == nil {
		s.Started = t
	}
	for _, r := range results {
		if r.Status == "error" {
			s.Failed = append(s.Failed, r.ID)
		}
	}
	s.Checks = RunChecks(results)
	return s, nil
}
