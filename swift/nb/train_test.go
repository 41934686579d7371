package nb

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
)

// loraModel loads stories260K with a LoRA adapter and a tiny tinyshakespeare dataset.
func loraModel(t *testing.T) (*swift.Model, *data.TextDataset) {
	t.Helper()
	path := fixtures.Path(t, "models/stories260K/stories260K.bin")
	text := fixtures.Path(t, "datasets/tinyshakespeare.txt")
	m, err := swift.Load(path, swift.LoadOptions{Backend: testutil.Backend(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(&lora.Config{Rank: 4, Alpha: 8}); err != nil {
		t.Fatal(err)
	}
	ds, err := data.LoadTextFile(text, m.Tokenizer, data.TextConfig{SeqLen: 16, BatchSize: 2, EvalBatches: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m, ds
}

func TestSummary(t *testing.T) {
	m, ds := loraModel(t)
	tab := Summary(m)
	var names []string
	for _, r := range tab.Rows {
		names = append(names, r[0])
	}
	if got, want := strings.Join(names, ","), "embeddings,attention,mlp,norms,tuner: lora,total"; got != want {
		t.Errorf("parts %s, want %s", got, want)
	}
	trainable, total := tuners.CountParams(m.Ctx)
	last := tab.Rows[len(tab.Rows)-1]
	if last[2] != FormatCount(total) || last[3] != FormatCount(trainable) {
		t.Errorf("total row %v, want %d parameters, %d trainable", last, total, trainable)
	}
	if !strings.Contains(tab.Title, "stories260K.bin — llama") || !strings.Contains(tab.Notes, "tuners: lora") {
		t.Errorf("title %q notes %q", tab.Title, tab.Notes)
	}
	// Once a trainer exists its optimizer state shows, in memory only.
	if _, err := m.Trainer(ds, train.Config{Steps: 1}); err != nil {
		t.Fatal(err)
	}
	tab = Summary(m)
	opt := tab.Rows[len(tab.Rows)-2]
	if opt[0] != "optimizer state" || opt[2] != "" || tab.Rows[len(tab.Rows)-1][2] != FormatCount(total) {
		t.Errorf("with a trainer: %v / %v", opt, tab.Rows[len(tab.Rows)-1])
	}
	if Summary(nil).Title != "no model" {
		t.Error("Summary(nil)")
	}
}

// TestTrain runs three steps through Train, as text and as a (fake) notebook.
func TestTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("trains stories260K for a few steps")
	}
	for _, notebook := range []bool{false, true} {
		name := map[bool]string{false: "text", true: "notebook"}[notebook]
		t.Run(name, func(t *testing.T) {
			got, out := fakeNotebook(t, notebook)
			m, ds := loraModel(t)
			dir := t.TempDir()
			tr, err := m.Trainer(ds, train.Config{Steps: 3, LR: 1e-3, EvalEvery: 2, OutputDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			var progress bytes.Buffer
			tr.Progress = &progress
			seen := 0
			tr.OnLog = func(train.LogRecord) { seen++ }
			res, err := Train(tr, TrainOptions{Title: "test run", Every: 1})
			if err != nil {
				t.Fatal(err)
			}
			if seen != 3+3 || tr.OnLog == nil || tr.Progress != &progress {
				t.Errorf("previous OnLog saw %d records (want 6); OnLog/Progress restored: %v", seen, tr.Progress == &progress)
			}
			text := out.String()
			if !strings.Contains(text, Summarize(res, 0)) || !strings.HasPrefix(Summarize(res, 0), "held-out loss: ") {
				t.Errorf("output lacks the summary line:\n%s", text)
			}
			msgs := got()
			if !notebook {
				if len(msgs) != 0 || !strings.Contains(text, "step 2/3: held-out loss") || progress.Len() == 0 {
					t.Errorf("text mode: %d bundles, output %q, progress %d bytes", len(msgs), text, progress.Len())
				}
				return
			}
			if progress.Len() != 0 {
				t.Errorf("notebook mode wrote the text progress bar: %q", progress.String())
			}
			if len(msgs) < 3 {
				t.Fatalf("%d plot updates", len(msgs))
			}
			for _, msg := range msgs {
				if msg.id != msgs[0].id {
					t.Fatal("plot updates went to different outputs")
				}
			}
			final := msgs[len(msgs)-1].bundle
			stats := svgStats(t, final[MIMESVG])
			if stats["polyline"] < 2 || stats["circle"] != 3 || !strings.Contains(final[MIMESVG], "done: 3 steps") ||
				!strings.Contains(final[MIMESVG], "100%") {
				t.Errorf("final plot: %v\n%s", stats, final[MIMESVG])
			}
			log, err := ReadLog(filepath.Join(dir, "train_log.jsonl"))
			if err != nil || len(log) != 6 {
				t.Fatalf("ReadLog: %d records, %v", len(log), err)
			}
		})
	}
}

func TestReadLogErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadLog(filepath.Join(dir, "absent.jsonl")); err == nil {
		t.Error("missing log: no error")
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"step\":1,\"loss\":2}\n\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLog(bad); err == nil || !strings.Contains(err.Error(), "bad.jsonl:3") {
		t.Errorf("bad log: %v", err)
	}
	if _, err := Train(nil, TrainOptions{}); err == nil {
		t.Error("Train(nil): no error")
	}
}

func TestStats(t *testing.T) {
	log := []train.LogRecord{{Step: 0, EvalLoss: 4}, {Step: 1, Loss: 4.2, Tokens: 100, ElapsedMS: 500},
		{Step: 2, Loss: 3.9, Tokens: 100, ElapsedMS: 1000}, {Step: 2, EvalLoss: 3.7}}
	got := Stats(log)
	if want := (RunStats{Steps: 2, FirstEvalLoss: 4, EvalLoss: 3.7, Tokens: 200, TokensPerSecond: 200}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if (Stats(nil) != RunStats{}) {
		t.Error("Stats(nil) not zero")
	}
}

func TestLossChart(t *testing.T) {
	log := []train.LogRecord{{Step: 0, EvalLoss: 4}, {Step: 1, Loss: 4.2}, {Step: 2, Loss: 3.9}, {Step: 2, EvalLoss: 3.7}}
	one := LossChart("one", 0.9, Run{Log: log})
	if len(one.Series) != 3 || !one.Series[0].Faint || one.Series[2].Name != "held-out loss" {
		t.Errorf("one run: %+v", one.Series)
	}
	two := LossChart("two", 0.9, Run{Name: "LoRA", Log: log}, Run{Name: "QLoRA", Log: log})
	if len(two.Series) != 4 || two.Series[0].Name != "LoRA: training loss (smoothed)" || two.Series[3].Name != "QLoRA: held-out loss" {
		var names []string
		for _, s := range two.Series {
			names = append(names, s.Name)
		}
		t.Errorf("two runs: %q", names)
	}
	raw := LossChart("raw", -1, Run{Log: log})
	if len(raw.Series) != 2 || raw.Series[0].Faint {
		t.Errorf("no smoothing: %+v", raw.Series)
	}
}
