package bench

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syntheticSuite has one row of each kind, a peer row and a failure.
func syntheticSuite() *Suite {
	speed := *sampleResult()
	full := *sampleResult()
	full.ID, full.Technique, full.Tuner, full.ParamsTrainable = "speed/full/stories15m/b4s128", "full", "full", 15191712
	full.TrainTokensPerS = f(50)
	mem := *sampleResult()
	mem.ID, mem.Kind, mem.Shape, mem.Batch, mem.Seq = "memory/lora/smollm-135m/b1s64r8", KindMemory, "smollm-135m", 1, 64
	loss := *sampleResult()
	loss.ID, loss.Kind, loss.Shape = "loss/lora/stories260k/b8s64r8", KindLoss, ShapeStories260K
	loss.EvalLossStart, loss.EvalLoss, loss.TrainLoss, loss.EvalAccuracy = f(4.5), f(3.1), f(3.0), f(0.31)
	loss.LossCurve = []float64{4.5, 4.1, 3.6, 3.2, 3.0}
	peer := *sampleResult()
	peer.ID, peer.Engine, peer.TrainTokensPerS, peer.PeakRSSBytes = "peer/lora/stories15m/b4s128r8", "pytorch", f(170), i64(9e8)
	failed := *failedResult(Spec{Kind: KindSpeed, Technique: "dora", Shape: "stories15m", Batch: 4, Seq: 128, Seed: 1}, os.ErrDeadlineExceeded)
	s := &Suite{ID: "test", Matrix: "default", Started: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), Elapsed: 90 * time.Second,
		Command: "goswift bench", Machine: DescribeMachine(), Versions: CurrentVersions(),
		Results: []Result{speed, full, failed, mem, loss, peer}, Failed: []string{failed.ID}}
	s.Checks = RunChecks(s.Results)
	return s
}

// TestWriteReport: the Markdown has the tables and links the charts it writes; the HTML is
// self-contained (inline SVG, no scripts, no external resources) and shows the GoSwift/PyTorch
// ratio rather than the peer's absolute time.
func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	s := syntheticSuite()
	if err := WriteReport(dir, s); err != nil {
		t.Fatal(err)
	}
	md := readFile(t, filepath.Join(dir, "report.md"))
	html := readFile(t, filepath.Join(dir, "report.html"))
	for _, want := range []string{"## Checks", "| technique |", "Speed and memory: stories15m", "Memory: smollm-135m",
		"Loss and accuracy: stories260k", "GoSwift / PyTorch", "Predictor: predicted vs measured", "FAILED speed/dora",
		"0.50×" /* 85 / 170 tokens/s */, "- Seed: 1 (every run)"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, m := range regexp.MustCompile(`\]\(([^)]+\.svg)\)`).FindAllStringSubmatch(md, -1) {
		svg := readFile(t, filepath.Join(dir, m[1]))
		if !strings.HasPrefix(svg, "<svg") || !strings.Contains(html, svg) {
			t.Errorf("chart %s missing or not inlined in the HTML", m[1])
		}
	}
	for _, chart := range []string{"memory_stories15m_b4s128", "speed_stories15m_b4s128", "loss_stories260k", "predicted_vs_measured"} {
		if _, err := os.Stat(filepath.Join(dir, chart+".svg")); err != nil {
			t.Errorf("chart %s not written: %v", chart, err)
		}
	}
	for _, bad := range []string{"<script", "src=", "href=", "@import"} {
		if strings.Contains(html, bad) {
			t.Errorf("report.html is not self-contained: contains %q", bad)
		}
	}
}

// TestSeedLine: the report header names the one seed, or every distinct seed in order.
func TestSeedLine(t *testing.T) {
	withSeeds := func(seeds ...uint64) []Result {
		rs := make([]Result, len(seeds))
		for i, s := range seeds {
			rs[i].Seed = s
		}
		return rs
	}
	for _, tc := range []struct {
		results []Result
		want    string
	}{
		{nil, "Seed: n/a (no runs)"},
		{withSeeds(1, 1, 1), "Seed: 1 (every run)"},
		{withSeeds(7, 2, 7), "Seeds: 2, 7"},
	} {
		if got := seedLine(tc.results); got != tc.want {
			t.Errorf("seedLine(%d results) = %q, want %q", len(tc.results), got, tc.want)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestChecks: each check passes, fails or is skipped on hand-made results.
func TestChecks(t *testing.T) {
	mk := func(kind, tech, shape string, rss int64, trainable int64, predErr float64) Result {
		r := *sampleResult()
		r.Kind, r.Technique, r.Shape, r.ParamsTrainable = kind, tech, shape, trainable
		r.PeakRSSBytes, r.PredictionError = i64(rss), f(predErr)
		r.Accounted = &Accounted{Total: rss}
		r.ID = kind + "/" + tech + "/" + shape
		return r
	}
	good := []Result{
		mk(KindMemory, "qlora-nf4", "smollm-135m", 1e8, 10, 0.05), mk(KindMemory, "lora", "smollm-135m", 2e8, 10, -0.1),
		mk(KindMemory, "full", "smollm-135m", 3e8, 1000, 0.02),
		mk(KindSpeed, "lora", "stories15m", 2e8, 5, 0.0), mk(KindSpeed, "full", "stories15m", 3e8, 1000, 0.0),
		mk(KindSpeed, "qlora-nf4", "stories15m", 1e8, 5, 0.0),
	}
	status := func(rs []Result) map[string]string {
		out := map[string]string{}
		for _, c := range RunChecks(rs) {
			out[c.Name] = c.Status
		}
		return out
	}
	for name, st := range status(good) {
		if st != "pass" {
			t.Errorf("good results: %s: %s", name, st)
		}
	}
	bad := append([]Result(nil), good...)
	bad[1].PeakRSSBytes = i64(5e8)          // lora above full
	bad[3].ParamsTrainable = 100            // lora 10% of full
	bad[4].PredictionError = f(-0.25)       // off by 25%
	bad[2].Accounted = &Accounted{Total: 1} // full below lora
	for name, st := range status(bad) {
		if st != "fail" {
			t.Errorf("bad results: %s: %s, want fail", name, st)
		}
	}
	for name, st := range status(nil) {
		if st != "skipped" && !strings.HasPrefix(name, "accounted") {
			t.Errorf("no results: %s: %s, want skipped", name, st)
		}
	}
}
