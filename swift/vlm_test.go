package swift_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/peakmem"
	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/data"
	"github.com/goswift/goswift/swift/data/images"
	"github.com/goswift/goswift/swift/data/templates"
	"github.com/goswift/goswift/swift/eval"
	"github.com/goswift/goswift/swift/infer"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/models/vlm"
	"github.com/goswift/goswift/swift/train"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lora"
	"github.com/goswift/goswift/swift/weights"
)

// fashionVQA writes Fashion-MNIST VQA sets (train images from the train split, held-out ones
// from t10k) as PNG + JSONL under dir, skipping when the Debian dataset is not installed.
func fashionVQA(tb testing.TB, dir string, nTrain, nTest int) (trainPath, testPath string) {
	tb.Helper()
	if _, err := os.Stat(images.FashionMNISTDir); err != nil {
		tb.Skipf("Fashion-MNIST not installed (%v): apt-get install dataset-fashion-mnist", err)
	}
	imgs, labels, err := images.ReadFashionMNIST(images.FashionMNISTDir, "train")
	if err != nil {
		tb.Fatal(err)
	}
	if trainPath, err = images.WriteFashionVQA(dir, "train", imgs, labels, 0, nTrain); err != nil {
		tb.Fatal(err)
	}
	if imgs, labels, err = images.ReadFashionMNIST(images.FashionMNISTDir, "t10k"); err != nil {
		tb.Fatal(err)
	}
	if testPath, err = images.WriteFashionVQA(dir, "test", imgs, labels, 0, nTest); err != nil {
		tb.Fatal(err)
	}
	return trainPath, testPath
}

// tinyVision is the vision tower the tests and the notebook train from scratch: 28×28 gray
// images in 7×7 patches (16 tokens an image), 2 layers of width 64.
var tinyVision = vlm.VisionConfig{HiddenSize: 64, IntermediateSize: 128, NumLayers: 2, NumHeads: 4, ImageSize: 28,
	PatchSize: 7, NumChannels: 1}

// imageTokenID is the stories260K byte-fallback token <0x00>, which never occurs in text.
const imageTokenID = 3

// newFashionVLM loads stories260K, adds a fresh vision tower and attaches LoRA to the LM.
func newFashionVLM(tb testing.TB) *swift.Model {
	tb.Helper()
	m, err := swift.Load(fixtures.Path(tb, "models/stories260K/stories260K.bin"), swift.LoadOptions{Device: "cpu"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.AddVision(tinyVision, imageTokenID, nil, nil, 1); err != nil {
		tb.Fatal(err)
	}
	return m
}

func readSamples(tb testing.TB, path string) []data.Sample {
	tb.Helper()
	s, _, err := data.ReadFile(path, data.ReadOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// fashionRun is one training run of the multimodal recipe and its evaluation.
type fashionRun struct {
	res      train.Result
	stepTime time.Duration
	report   eval.VQAReport
	before   float64 // accuracy of the untrained model on the first 100 held-out images
}

// trainFashionVLM trains the VLM (LoRA r16 on every projection of stories260K and its head; the
// vision tower and projector from scratch) on 4,000 Fashion-MNIST questions of the train split,
// 32 a step, and scores exact match on 1,000 t10k images.
func trainFashionVLM(tb testing.TB, steps int) fashionRun {
	dir := tb.TempDir()
	trainPath, testPath := fashionVQA(tb, dir, 4000, 1000)
	m := newFashionVLM(tb)
	if _, err := m.Attach(&lora.Config{Rank: 16, TargetModules: []string{"all-linear", "lm_head"}, Seed: 1}); err != nil {
		tb.Fatal(err)
	}
	if _, err := (vlm.Freeze{}).Apply(m.Ctx); err != nil {
		tb.Fatal(err)
	}
	trainS, testS := readSamples(tb, trainPath), readSamples(tb, testPath)
	exs, err := m.EncodeSamples(templates.CompactTools, m.Tokenizer, trainS, templates.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	held, err := m.EncodeSamples(templates.CompactTools, m.Tokenizer, testS[:64], templates.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ds, err := data.NewSFTDataset(exs, held, data.SFTConfig{BatchSize: 32, MaxLength: 64, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	chat := &eval.Chat{Gen: m.Generator(), Tokenizer: m.Tokenizer, Template: templates.CompactTools,
		Options: templates.Options{Image: m.ImageTokens()}, Images: m.LoadImages, BatchSize: 100, MaxNewTokens: 10}
	var run fashionRun
	rep, _, err := chat.VQA(testS[:100])
	if err != nil {
		tb.Fatal(err)
	}
	run.before = rep.Accuracy
	tr, err := m.Trainer(ds, train.Config{Steps: steps, LR: 5e-3, WarmupSteps: 20, EvalEvery: steps, NoProgress: true, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if run.res, err = tr.Run(); err != nil {
		tb.Fatal(err)
	}
	run.stepTime = time.Since(start) / time.Duration(run.res.Steps)
	if run.report, _, err = chat.VQA(testS); err != nil {
		tb.Fatal(err)
	}
	return run
}

// vlmSteps is the training length of the Fashion-MNIST test (GOSWIFT_VLM_STEPS overrides it).
func vlmSteps(tb testing.TB) int {
	if s := os.Getenv("GOSWIFT_VLM_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			tb.Fatalf("GOSWIFT_VLM_STEPS=%q is not a positive number", s)
		}
		return n
	}
	return 250
}

// TestVLMLearnsFashionMNIST: trained from scratch (vision side) and with LoRA (language side),
// the VLM answers "What is in this picture?" correctly for at least 50% of 1,000 held-out
// Fashion-MNIST images (chance: 10%) after 250 steps.
func TestVLMLearnsFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about two minutes")
	}
	run := trainFashionVLM(t, vlmSteps(t))
	t.Logf("%d steps, %v a step: held-out loss %.3f -> %.3f; exact match %.0f%% untrained (100 images)\n%s",
		run.res.Steps, run.stepTime.Round(time.Millisecond), run.res.FirstEvalLoss, run.res.FinalEvalLoss, 100*run.before, run.report)
	if run.report.N != 1000 || run.report.Accuracy < 0.5 {
		t.Fatalf("accuracy %.1f%% on %d held-out images, want >= 50%%", 100*run.report.Accuracy, run.report.N)
	}
}

// BenchmarkVLMFashionMNIST reports the multimodal recipe's step time, held-out loss, VQA
// accuracy and the process's peak RSS (VmHWM; run it alone: -bench VLM) under make bench.
func BenchmarkVLMFashionMNIST(b *testing.B) {
	for range b.N {
		run := trainFashionVLM(b, vlmSteps(b))
		if hwm, err := peakmem.ReadStatus("VmHWM"); err == nil {
			b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
		}
		b.ReportMetric(run.stepTime.Seconds(), "s/step")
		b.ReportMetric(run.res.FinalEvalLoss, "eval-loss")
		b.ReportMetric(100*run.report.Accuracy, "vqa-%")
	}
}

// snapshot copies every float32 variable's value by scope+name.
func snapshot(ctx *context.Context) map[string][]float32 {
	out := map[string][]float32{}
	for v := range ctx.IterVariables() {
		if val, err := v.Value(); err == nil {
			if d, err := tensors.CopyFlatData[float32](val); err == nil {
				out[v.ScopeAndName()] = d
			}
		}
	}
	return out
}

// TestVLMFreezeSwitches trains two steps under each combination of freeze_vit, freeze_aligner
// and freeze_llm that leaves something to train and asserts exactly the unfrozen parts move
// (LoRA carries the LLM's training). Freezing all three is an error naming the flags.
func TestVLMFreezeSwitches(t *testing.T) {
	dir := t.TempDir()
	trainPath, _ := fashionVQA(t, dir, 64, 1)
	samples := readSamples(t, trainPath)
	tests := []vlm.Freeze{
		{},
		{ViT: true},
		{Aligner: true},
		{LLM: true},
		{ViT: true, Aligner: true},
		{ViT: true, LLM: true},
		{Aligner: true, LLM: true},
		{ViT: true, Aligner: true, LLM: true},
	}
	for _, f := range tests {
		t.Run(f.String(), func(t *testing.T) {
			m := newFashionVLM(t)
			if _, err := m.Attach(&lora.Config{Rank: 4, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			_, err := f.Apply(m.Ctx)
			if f.ViT && f.Aligner && f.LLM {
				if err == nil || !strings.Contains(err.Error(), "nothing left to train ("+f.String()+")") {
					t.Fatalf("all parts frozen: error %v, want one naming %s", err, f)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			exs, err := m.EncodeSamples(templates.CompactTools, m.Tokenizer, samples, templates.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ds, err := data.NewSFTDataset(exs, exs[:8], data.SFTConfig{BatchSize: 8, MaxLength: 64, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(m.Ctx)
			tr, err := m.Trainer(ds, train.Config{Steps: 2, LR: 1e-2, NoProgress: true, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Run(); err != nil {
				t.Fatal(err)
			}
			after := snapshot(m.Ctx)
			moved := map[string]bool{}
			for v := range m.Ctx.IterVariables() {
				part := vlm.Part(v)
				a, b := before[v.ScopeAndName()], after[v.ScopeAndName()]
				if part == "" || a == nil || b == nil {
					continue
				}
				for i := range a {
					if a[i] != b[i] {
						moved[part] = true
						if part == "llm" && !strings.HasPrefix(v.Scope(), "/tuners/") {
							t.Errorf("base LLM weight %s moved: LoRA must keep the base frozen", v.ScopeAndName())
						}
						break
					}
				}
			}
			want := map[string]bool{"vit": !f.ViT, "aligner": !f.Aligner, "llm": !f.LLM}
			for part, w := range want {
				if moved[part] != w {
					t.Errorf("%s: moved=%v, want %v", part, moved[part], w)
				}
			}
		})
	}
}

// firstLogits generates one token for each sample's prompt and returns the logits that chose it.
func firstLogits(tb testing.TB, m *swift.Model, samples []data.Sample) [][]float32 {
	tb.Helper()
	var prompts [][]int
	for _, s := range samples {
		ids, err := templates.EncodePrompt(templates.CompactTools, m.Tokenizer, s, templates.Options{Image: m.ImageTokens()})
		if err != nil {
			tb.Fatal(err)
		}
		prompts = append(prompts, ids)
	}
	ib, err := m.ImageBatch(samples)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := m.Generator().Generate(prompts, infer.Options{MaxNewTokens: 1, RecordLogits: true, Images: ib})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([][]float32, len(res))
	for i, r := range res {
		out[i] = r.Logits[0]
	}
	return out
}

func maxDiff(a, b [][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			d = max(d, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	return d
}

// TestAddVisionKeepsTheTextModel: adding a vision tower to stories260K converts its RoPE layout
// to Hugging Face's; text-only generation is unchanged (logits within 1e-4).
func TestAddVisionKeepsTheTextModel(t *testing.T) {
	m, err := swift.Load(fixtures.Path(t, "models/stories260K/stories260K.bin"), swift.LoadOptions{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	text := []data.Sample{{Messages: []data.Message{{Role: data.RoleUser, Content: "Once upon a time there was a cat."}}}}
	before := firstLogits(t, m, text)
	if err := m.AddVision(tinyVision, imageTokenID, nil, nil, 1); err != nil {
		t.Fatal(err)
	}
	if m.Config.RoPE != models.RoPEHalf {
		t.Fatalf("RoPE layout %v after AddVision, want the HF rotate-half layout", m.Config.RoPE)
	}
	if d := maxDiff(before, firstLogits(t, m, text)); d > 1e-4 {
		t.Fatalf("text logits changed by %g after AddVision", d)
	}
	if err := m.AddVision(tinyVision, imageTokenID, nil, nil, 1); err == nil {
		t.Fatal("a second AddVision was accepted")
	}
}

// TestVLMSaveLoadWithAdapter: a VLM trained a few steps (LoRA on the blocks and the tied head,
// vision tower and projector from scratch), saved as a LLaVA checkpoint plus the adapter and
// loaded back, answers with the same logits (1e-5).
func TestVLMSaveLoadWithAdapter(t *testing.T) {
	dir := t.TempDir()
	trainPath, testPath := fashionVQA(t, dir, 64, 4)
	m := newFashionVLM(t)
	tn, err := m.Attach(&lora.Config{Rank: 4, TargetModules: []string{"all-linear", "lm_head"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (vlm.Freeze{}).Apply(m.Ctx); err != nil {
		t.Fatal(err)
	}
	exs, err := m.EncodeSamples(templates.CompactTools, m.Tokenizer, readSamples(t, trainPath), templates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.NewSFTDataset(exs, exs[:8], data.SFTConfig{BatchSize: 8, MaxLength: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := m.Trainer(ds, train.Config{Steps: 3, LR: 1e-2, NoProgress: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	test := readSamples(t, testPath)
	want := firstLogits(t, m, test)
	saved, adapter := filepath.Join(dir, "model"), filepath.Join(dir, "adapter")
	if err := m.SaveHF(saved, weights.F32); err != nil {
		t.Fatal(err)
	}
	if err := tuners.SaveAdapter(adapter, m.Ctx, tn, "stories260K"); err != nil {
		t.Fatal(err)
	}
	back, err := swift.Load(saved, swift.LoadOptions{Device: "cpu", Tokenizer: m.TokenizerPath})
	if err != nil {
		t.Fatal(err)
	}
	if back.VLM == nil || back.Format != "hf-llava" {
		t.Fatalf("loaded as %q without the vision config", back.Format)
	}
	if _, err := back.LoadAdapter(adapter); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(want, firstLogits(t, back, test)); d > 1e-5 {
		t.Fatalf("reloaded model + adapter: logits differ by %g", d)
	}
}
