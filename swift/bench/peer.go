package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// DebianPython is Debian's interpreter, where python3-torch lives (the first python3 on PATH
// may be another one).
const DebianPython = "/usr/bin/python3"

// PeerScript is the peer's path relative to the repository root.
const PeerScript = "benchmarks/peer_llama.py"

// PeerOptions say how to run the PyTorch peer.
type PeerOptions struct {
	// Python is the interpreter (DebianPython when empty).
	Python string
	// Script is the peer script (benchmarks/peer_llama.py); empty leaves the peer rows
	// "not measured".
	Script string
	// Threads for torch (0: all cores, as GoSwift's backend).
	Threads int
	// Disabled leaves the peer rows out with a reason.
	Disabled string
}

// FindPeerScript looks for benchmarks/peer_llama.py in dir and its parents (the repository
// root), returning "" when it is not found.
func FindPeerScript(dir string) string {
	for {
		p := filepath.Join(dir, PeerScript)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// peerOutput is the JSON line the peer script prints.
type peerOutput struct {
	StepSeconds       []float64 `json:"step_seconds"`
	StepSecondsMedian float64   `json:"step_seconds_median"`
	TrainTokensPerS   float64   `json:"train_tokens_per_s"`
	TrainSamplesPerS  float64   `json:"train_samples_per_s"`
	PeakRSSBytes      int64     `json:"peak_rss_bytes"`
	BaselineRSSBytes  int64     `json:"baseline_rss_bytes"`
	ParamsTrainable   int64     `json:"params_trainable"`
	ParamsTotal       int64     `json:"params_total"`
	Threads           int       `json:"threads"`
	Torch             string    `json:"torch"`
	BLAS              string    `json:"blas"`
	Python            string    `json:"python"`
}

// Run executes one peer run in a fresh Python process. It always returns a result: a failure
// (no torch, no script) is recorded with Status "error" and the reason.
func (o PeerOptions) Run(ctx context.Context, p PeerSpec) *Result {
	start := time.Now()
	tech, _ := LookupTechnique(p.Technique)
	res := &Result{Schema: SchemaVersion, ID: p.ID(), Engine: "pytorch", Status: "error", Kind: KindSpeed,
		Technique: p.Technique, Tuner: tech.Tuner, TunerConfig: tunerConfigJSON(tech, p.Rank), Shape: p.Shape,
		Batch: p.Batch, Seq: p.Seq, Rank: p.Rank, DType: "f32", Seed: p.Seed, Versions: CurrentVersions(),
		Backend: "pytorch (CPU)", DeviceMemory: "not measured: CPU, device memory is host memory (see peak_rss_bytes)"}
	defer func() { res.WallSeconds = time.Since(start).Seconds() }()
	if o.Disabled != "" {
		res.Status, res.Error = "skipped", "not measured: "+o.Disabled
		return res
	}
	if o.Script == "" {
		res.Status, res.Error = "skipped", "not measured: peer script "+PeerScript+" not found"
		return res
	}
	python := o.Python
	if python == "" {
		python = DebianPython
	}
	args := []string{o.Script, "--technique", p.Technique, "--shape", p.Shape, "--batch", strconv.Itoa(p.Batch),
		"--seq", strconv.Itoa(p.Seq), "--rank", strconv.Itoa(max(p.Rank, 1)), "--steps", strconv.Itoa(p.Steps),
		"--warmup", strconv.Itoa(p.Warmup), "--seed", strconv.FormatUint(p.Seed, 10),
		"--lr", strconv.FormatFloat(tech.LR, 'g', -1, 64), "--threads", strconv.Itoa(o.Threads)}
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(tail(stderr.String(), 1500))
		if strings.Contains(msg, "No module named 'torch'") || errors.Is(err, exec.ErrNotFound) {
			res.Status = "skipped"
			res.Error = "not measured: python3-torch is not installed for " + python + " (apt-get install python3-torch)"
			return res
		}
		res.Error = fmt.Sprintf("peer %s %s failed (%v): %s", python, filepath.Base(o.Script), err, msg)
		return res
	}
	var out peerOutput
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		res.Error = fmt.Sprintf("peer printed no JSON line: %v: %s", err, tail(stdout.String(), 500))
		return res
	}
	res.Status = "ok"
	res.StepSeconds = out.StepSeconds
	res.StepSecondsMedian = f(out.StepSecondsMedian)
	res.TrainTokensPerS = f(out.TrainTokensPerS)
	res.TrainSamplesPerS = f(out.TrainSamplesPerS)
	res.PeakRSSBytes, res.BaselineRSSBytes = i64(out.PeakRSSBytes), i64(out.BaselineRSSBytes)
	res.ParamsTrainable, res.ParamsTotal = out.ParamsTrainable, out.ParamsTotal
	if out.ParamsTotal > 0 {
		res.TrainablePct = f(100 * float64(out.ParamsTrainable) / float64(out.ParamsTotal))
	}
	res.Versions.Torch, res.Versions.Python = out.Torch, out.Python
	res.Backend = fmt.Sprintf("pytorch %s (CPU, %d threads, BLAS %s)", out.Torch, out.Threads, out.BLAS)
	return res
}

// errNoPeer is returned by CheckPeer when torch cannot be imported.
var errNoPeer = errors.New("PyTorch peer unavailable")

// CheckPeer reports whether python can import torch (with the reason when not).
func CheckPeer(python string) error {
	if python == "" {
		python = DebianPython
	}
	out, err := exec.Command(python, "-c", "import torch; print(torch.__version__)").CombinedOutput()
	if err != nil {
		return errors.Wrapf(errNoPeer, "%s cannot import torch (apt-get install python3-torch): %s", python,
			strings.TrimSpace(tail(string(out), 300)))
	}
	return nil
}
