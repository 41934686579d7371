package bench

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
)

// TestCommittedReport guards the reports committed under benchmarks/results/: every line of
// each results.jsonl validates against the schema, and reloading the suite (which re-runs the
// checks with the current code) gives no failed run, every check "pass", and every measured
// GoSwift run's predictor error within PredictorTolerance. It reads files only: no training.
func TestCommittedReport(t *testing.T) {
	root, found := fixtures.RepoRoot()
	if !found {
		t.Skip("repository root (go.mod) not found from the working directory")
	}
	paths, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(ResultsDir), "*", "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no committed report: %s*/results.jsonl matches nothing under %s", ResultsDir, root)
	}
	for _, path := range paths {
		rel, _ := filepath.Rel(root, path)
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			lines := validateResultsFile(t, path, rel)
			s, err := LoadSuite(path)
			if err != nil {
				t.Fatalf("LoadSuite(%s): %v", rel, err)
			}
			if len(s.Results) != lines {
				t.Errorf("%s: LoadSuite read %d results from %d lines", rel, len(s.Results), lines)
			}
			for _, id := range s.Failed {
				t.Errorf("%s: run %s failed", rel, id)
			}
			if s.Command == "" {
				t.Errorf("%s: no command recorded (suite.json beside it missing or without \"command\")", rel)
			}
			for _, c := range s.Checks {
				if c.Status != "pass" {
					t.Errorf("%s: check %s: %s: %s", rel, c.Status, c.Name, c.Detail)
				}
			}
			measured := 0
			for _, r := range s.Results {
				if !ok(r) || r.Predicted == nil {
					continue
				}
				measured++
				if r.PredictionError == nil || math.IsNaN(*r.PredictionError) || math.Abs(*r.PredictionError) > PredictorTolerance {
					t.Errorf("%s: %s: predicted training heap off by %s (tolerance %.0f%%)", rel, r.ID,
						fmtPct(r.PredictionError), 100*PredictorTolerance)
				}
			}
			if measured == 0 {
				t.Errorf("%s: no GoSwift run with a prediction", rel)
			}
			t.Logf("%s: %d lines, %d predicted runs, suite %s (%s)", rel, lines, measured, s.ID, s.Versions.GoSwift)
		})
	}
}

// validateResultsFile runs ValidateResult on every non-empty line of path and returns how many
// there were.
func validateResultsFile(t *testing.T, path, rel string) int {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n, lines := 0, 0
	for sc.Scan() {
		n++
		if len(sc.Bytes()) == 0 {
			continue
		}
		lines++
		for _, e := range ValidateResult(sc.Bytes()) {
			t.Errorf("%s line %d: %v", rel, n, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", rel, err)
	}
	if lines == 0 {
		t.Errorf("%s is empty", rel)
	}
	return lines
}
