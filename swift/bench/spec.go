package bench

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
)

// Kinds of run.
const (
	// KindSpeed times training steps (median after warm-up) and inference, and measures memory,
	// on a real architecture's shape with seeded random weights.
	KindSpeed = "speed"
	// KindMemory measures the peak memory of one training step (random weights).
	KindMemory = "memory"
	// KindLoss trains real weights (stories260K on tinyshakespeare) for a fixed budget and
	// reports train/eval loss and held-out next-token accuracy.
	KindLoss = "loss"
)

// ShapeStories260K is the real-weights model of the loss runs (a fixture, not a built-in shape).
const ShapeStories260K = "stories260k"

// Spec is one run of the matrix: what a child process executes.
type Spec struct {
	Kind      string `json:"kind"`
	Technique string `json:"technique"`
	Shape     string `json:"shape"` // a models.Shape name, or ShapeStories260K
	// Config, if set, is the architecture used instead of the named shape (Shape is then only
	// its label): custom shapes for calibration and tests.
	Config *models.Config `json:"config,omitempty"`
	Batch  int            `json:"batch"`
	Seq    int            `json:"seq"`
	Rank   int            `json:"rank"`
	DType  string         `json:"dtype"` // base weights: "f32" or "bf16"
	// Steps: timed steps (speed), measured steps (memory), training steps (loss).
	Steps  int    `json:"steps"`
	Warmup int    `json:"warmup"` // untimed steps first (the first compiles the graph)
	Seed   uint64 `json:"seed"`
	// InferTokens, if > 0, times generating that many tokens (batch 1, greedy, KV cache).
	InferTokens int `json:"infer_tokens,omitempty"`
	// Data is the text file of loss runs (tinyshakespeare); Model the real checkpoint.
	Data  string `json:"data,omitempty"`
	Model string `json:"model,omitempty"`
	// Backend is the GoMLX backend request ("auto", "cpu", "cuda").
	Device string `json:"device,omitempty"`
}

// ID names the run uniquely within a suite: "speed/lora/stories15m/b4s128r8".
func (s Spec) ID() string {
	id := fmt.Sprintf("%s/%s/%s/b%ds%d", s.Kind, s.Technique, s.Shape, s.Batch, s.Seq)
	if s.Rank > 0 {
		id += fmt.Sprintf("r%d", s.Rank)
	}
	if s.DType != "" && s.DType != "f32" {
		id += "/" + s.DType
	}
	return id
}

// Validate checks the spec, naming the field at fault.
func (s Spec) Validate() error {
	switch {
	case !slices.Contains([]string{KindSpeed, KindMemory, KindLoss}, s.Kind):
		return errors.Errorf("spec: kind %q is not speed, memory or loss", s.Kind)
	case s.Batch < 1 || s.Seq < 2:
		return errors.Errorf("spec %s: batch %d and seq %d must be >= 1 and >= 2", s.ID(), s.Batch, s.Seq)
	case s.Steps < 1:
		return errors.Errorf("spec %s: steps must be >= 1, got %d", s.ID(), s.Steps)
	case s.Warmup < 0 || s.Rank < 0 || s.InferTokens < 0:
		return errors.Errorf("spec %s: warmup, rank and infer_tokens must be >= 0", s.ID())
	case s.DType != "" && s.DType != "f32" && s.DType != "bf16":
		return errors.Errorf("spec %s: dtype %q is not f32 or bf16", s.ID(), s.DType)
	}
	if _, err := LookupTechnique(s.Technique); err != nil {
		return errors.WithMessagef(err, "spec %s", s.ID())
	}
	if s.Kind == KindLoss {
		if s.Model == "" || s.Data == "" {
			return errors.Errorf("spec %s: a loss run needs model and data files", s.ID())
		}
		return nil
	}
	if s.Config != nil {
		return errors.WithMessagef(s.Config.Validate(), "spec %s", s.ID())
	}
	if _, err := models.Shape(s.Shape); err != nil {
		return errors.WithMessagef(err, "spec %s", s.ID())
	}
	return nil
}

// ModelConfig returns the architecture of a random-weights run: Config, or the named shape.
func (s Spec) ModelConfig() (*models.Config, error) {
	if s.Config != nil {
		c := *s.Config
		return &c, nil
	}
	return models.Shape(s.Shape)
}

// Matrix is a list of runs plus the peer runs.
type Matrix struct {
	Name  string `json:"name"`
	Specs []Spec `json:"specs"`
	// Peers are PyTorch peer runs (the same shape and technique).
	Peers []PeerSpec `json:"peers,omitempty"`
}

// PeerSpec is one PyTorch run of the peer script.
type PeerSpec struct {
	Technique string `json:"technique"` // "full" or "lora"
	Shape     string `json:"shape"`
	Batch     int    `json:"batch"`
	Seq       int    `json:"seq"`
	Rank      int    `json:"rank"`
	Steps     int    `json:"steps"`
	Warmup    int    `json:"warmup"`
	Seed      uint64 `json:"seed"`
}

// ID names the peer run.
func (p PeerSpec) ID() string {
	id := fmt.Sprintf("peer/%s/%s/b%ds%d", p.Technique, p.Shape, p.Batch, p.Seq)
	if p.Rank > 0 {
		id += fmt.Sprintf("r%d", p.Rank)
	}
	return id
}

// MatrixOptions choose and filter a matrix.
type MatrixOptions struct {
	// Name is "default", "quick" or "full".
	Name string
	// Techniques, if set, keeps only these techniques.
	Techniques []string
	// Model and Data are the real checkpoint (stories260K.bin) and text (tinyshakespeare.txt) of
	// the loss runs; without them the loss runs are left out.
	Model, Data string
	// Seed of every run (1 when 0).
	Seed uint64
	// Device is passed to every run ("auto" when empty).
	Device string
	// NoPeer leaves the PyTorch peer runs out.
	NoPeer bool
}

// NewMatrix builds the named matrix:
//
//   - default (the CPU report, ≤ 30 min on 2 cores): every technique on the stories15M shape at
//     batch 4 × seq 128, rank 8 (speed and memory, inference tokens/s); every technique on
//     stories260K for loss (60 steps of 8 × 64); LoRA, QLoRA-NF4 and full on the SmolLM-135M
//     shape at 1 × 64 (memory); PyTorch peer rows for full and LoRA at stories15M 4 × 128.
//   - quick (≤ 3 min, the tests): LoRA, QLoRA-NF4 and full on the stories15M shape at 4 × 128;
//     the SmolLM-135M memory runs; LoRA on stories260K for 10 steps; the peer rows.
//   - full: default plus sweeps of batch {1, 8}, seq {64, 256} and rank {4, 16, 64} on the
//     stories15M shape for LoRA and full (rank for the LoRA family only).
//   - calibrate: the memory runs Calibrate fits a backend's memory model to (see
//     addCalibration).
func NewMatrix(o MatrixOptions) (*Matrix, error) {
	seed := o.Seed
	if seed == 0 {
		seed = 1
	}
	techs := Techniques()
	if len(o.Techniques) > 0 {
		var kept []Technique
		for _, name := range o.Techniques {
			t, err := LookupTechnique(name)
			if err != nil {
				return nil, errors.WithMessage(err, "--techniques")
			}
			kept = append(kept, t)
		}
		techs = kept
	}
	has := func(name string) bool {
		return slices.ContainsFunc(techs, func(t Technique) bool { return t.Name == name })
	}
	rankOf := func(t Technique, r int) int {
		if t.UsesRank {
			return r
		}
		return 0
	}
	m := &Matrix{Name: o.Name}
	add := func(kind string, t Technique, shape string, b, s, rank, steps, warmup, infer int) {
		sp := Spec{Kind: kind, Technique: t.Name, Shape: shape, Batch: b, Seq: s, Rank: rankOf(t, rank), DType: "f32",
			Steps: steps, Warmup: warmup, Seed: seed, InferTokens: infer, Device: o.Device}
		if kind == KindLoss {
			sp.Model, sp.Data = o.Model, o.Data
		}
		m.Specs = append(m.Specs, sp)
	}
	memoryTechs := []string{"qlora-nf4", "lora", "full"}
	addMemory := func() {
		for _, name := range memoryTechs {
			if has(name) {
				t, _ := LookupTechnique(name)
				add(KindMemory, t, "smollm-135m", 1, 64, 8, 4, 1, 0)
			}
		}
	}
	addPeers := func(b, s, steps, warmup int) {
		if o.NoPeer {
			return
		}
		for _, name := range []string{"full", "lora"} {
			if t, err := LookupTechnique(name); err == nil && t.Peer && has(name) {
				m.Peers = append(m.Peers, PeerSpec{Technique: name, Shape: "stories15m", Batch: b, Seq: s,
					Rank: rankOf(t, 8), Steps: steps, Warmup: warmup, Seed: seed})
			}
		}
	}
	withLoss := o.Model != "" && o.Data != ""
	switch o.Name {
	case "quick":
		for _, name := range []string{"lora", "qlora-nf4", "full"} {
			if has(name) {
				t, _ := LookupTechnique(name)
				add(KindSpeed, t, "stories15m", 4, 128, 8, 2, 1, 8)
			}
		}
		addMemory()
		if withLoss && has("lora") {
			t, _ := LookupTechnique("lora")
			add(KindLoss, t, ShapeStories260K, 8, 64, 8, 10, 0, 0)
		}
		addPeers(4, 128, 2, 1)
	case "default", "full", "":
		if m.Name == "" {
			m.Name = "default"
		}
		for _, t := range techs {
			add(KindSpeed, t, "stories15m", 4, 128, 8, 3, 1, 32)
		}
		addMemory()
		if withLoss {
			for _, t := range techs {
				add(KindLoss, t, ShapeStories260K, 8, 64, 8, 60, 0, 0)
			}
		}
		addPeers(4, 128, 3, 1)
		if o.Name == "full" {
			for _, name := range []string{"lora", "full"} {
				if !has(name) {
					continue
				}
				t, _ := LookupTechnique(name)
				for _, bs := range [][2]int{{1, 128}, {8, 128}, {4, 64}, {4, 256}} {
					add(KindSpeed, t, "stories15m", bs[0], bs[1], 8, 3, 1, 0)
				}
				if t.UsesRank {
					for _, r := range []int{4, 16, 64} {
						add(KindSpeed, t, "stories15m", 4, 128, r, 3, 1, 0)
					}
				}
			}
		}
	case "calibrate":
		addCalibration(m, techs, has, seed, o.Device)
		if withLoss {
			// The loss runs' processes also hold the text and an evaluation graph.
			for _, name := range []string{"lora", "qlora-nf4", "full"} {
				if has(name) {
					t, _ := LookupTechnique(name)
					add(KindLoss, t, ShapeStories260K, 8, 64, 8, 10, 0, 0)
				}
			}
		}
	default:
		return nil, errors.Errorf("unknown matrix %q (default, quick, full or calibrate)", o.Name)
	}
	for _, s := range m.Specs {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// String lists the matrix's runs, one per line.
func (m *Matrix) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "matrix %s: %d runs, %d peer runs\n", m.Name, len(m.Specs), len(m.Peers))
	for _, s := range m.Specs {
		fmt.Fprintf(&sb, "  %s\n", s.ID())
	}
	for _, p := range m.Peers {
		fmt.Fprintf(&sb, "  %s\n", p.ID())
	}
	return sb.String()
}

// addCalibration adds the runs that pin down a memory model: LoRA (frozen base) and full
// fine-tuning (trained base) on the stories15M shape varying one dimension at a time
// (vocabulary, layers, intermediate width, batch and sequence), every other technique at
// 4 × 128, and QLoRA-NF4, LoRA and full on the SmolLM-135M shape at 1 × 64 (grouped-query
// attention, a larger vocabulary and more layers), and LoRA, full and QLoRA-NF4 on
// stories260K's shape (random weights) where attention scores dominate. Each measures four
// steps after a warm-up. With the fixtures, NewMatrix adds LoRA, QLoRA-NF4 and full loss runs.
func addCalibration(m *Matrix, techs []Technique, has func(string) bool, seed uint64, device string) {
	base, _ := models.Shape("stories15m")
	variant := func(label string, edit func(c *models.Config)) (string, *models.Config) {
		c := *base
		if edit != nil {
			edit(&c)
			return "stories15m-" + label, &c
		}
		return "stories15m", nil
	}
	type dims struct {
		label string
		edit  func(c *models.Config)
		b, s  int
	}
	sweep := []dims{
		{"", nil, 4, 128}, {"", nil, 2, 128}, {"", nil, 8, 64}, {"", nil, 1, 32},
		{"L2", func(c *models.Config) { c.NumLayers = 2 }, 4, 128},
		{"V8k", func(c *models.Config) { c.VocabSize = 8000 }, 4, 128},
		{"I1536", func(c *models.Config) { c.IntermediateSize = 1536 }, 4, 128},
	}
	add := func(t Technique, shape string, cfg *models.Config, b, s int) {
		rank := 0
		if t.UsesRank {
			rank = 8
		}
		m.Specs = append(m.Specs, Spec{Kind: KindMemory, Technique: t.Name, Shape: shape, Config: cfg, Batch: b, Seq: s,
			Rank: rank, DType: "f32", Steps: 4, Warmup: 1, Seed: seed, Device: device})
	}
	for _, name := range []string{"lora", "full"} {
		if !has(name) {
			continue
		}
		t, _ := LookupTechnique(name)
		for _, d := range sweep {
			shape, cfg := variant(d.label, d.edit)
			add(t, shape, cfg, d.b, d.s)
		}
	}
	for _, t := range techs {
		if t.Name != "lora" && t.Name != "full" {
			add(t, "stories15m", nil, 4, 128)
		}
	}
	for _, name := range []string{"qlora-nf4", "lora", "full"} {
		if has(name) {
			t, _ := LookupTechnique(name)
			add(t, "smollm-135m", nil, 1, 64)
		}
	}
	// A tiny model with long sequences for its width (stories260K's shape): attention scores
	// dominate, which pins down the per-score counts.
	tiny := &models.Config{ModelType: "llama", VocabSize: 512, HiddenSize: 64, IntermediateSize: 172, NumLayers: 5,
		NumHeads: 8, NumKVHeads: 4, HeadDim: 8, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true,
		MaxPositions: 512, BOSTokenID: 1, EOSTokenID: 2, RoPE: models.RoPEInterleaved}
	for _, name := range []string{"lora", "full", "qlora-nf4"} {
		if has(name) {
			t, _ := LookupTechnique(name)
			add(t, "stories260k-shape", tiny, 8, 64)
			add(t, "stories260k-shape", tiny, 4, 256)
		}
	}
}
