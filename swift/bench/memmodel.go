package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/xla"
)

// MemoryModel is the activation model of one backend: what a training step keeps alive at its
// peak beyond the variables, as float32 tensors per token (T = batch·seq tokens) per decoder
// block on the gradient path (blocks before the first trainable part keep nothing: their
// activations are freed as the forward pass leaves them), plus the loss head and the update.
// The counts are fitted to measurements by Calibrate (`goswift bench --calibrate`): how many
// tensors of each kind stay alive depends on the backend's executor, not only on the graph.
type MemoryModel struct {
	// HeadTensors [T, V] tensors around the loss: logits, their log-softmax and its exp, and
	// their gradients.
	HeadTensors float64 `json:"head_tensors"`
	// EmbedCopies [V, H] copies of the embedding table that the tied head's matmuls use, and
	// EmbedTrainCopies more when the embeddings train (their gradient and AdamW's new values).
	EmbedCopies      float64 `json:"embed_copies"`
	EmbedTrainCopies float64 `json:"embed_train_copies"`
	// BlockHidden, BlockInter and BlockScore: per token, the hidden-width tensors (norm inputs
	// and outputs, q/k/v, the RoPE rotations, attention output, residuals) and the
	// intermediate-width ones (gate, up, sigmoid(gate), SiLU, their product) that a block with a
	// frozen base keeps, and its [heads, S, S] attention tensors per sample (scores, masked, the
	// softmax, its gradient).
	BlockHidden float64 `json:"block_hidden"`
	BlockInter  float64 `json:"block_inter"`
	BlockScore  float64 `json:"block_score"`
	// TrainBlockHidden, TrainBlockInter and TrainBlockScore: the same for a block whose base
	// weights train.
	TrainBlockHidden float64 `json:"train_block_hidden"`
	TrainBlockInter  float64 `json:"train_block_inter"`
	TrainBlockScore  float64 `json:"train_block_score"`
	// LoRAInput [T, In] tensors per projection with a LoRA-family adapter (its input, kept for
	// A's gradient, and A·x).
	LoRAInput float64 `json:"lora_input"`
	// UpdateOverhead × the trainable bytes: AdamW's new weights and moments while the executor
	// still references the previous ones, and buffers pooled for reuse.
	UpdateOverhead float64 `json:"update_overhead"`
	// RuntimeBytes: the compiled graphs and the executor's own structures.
	RuntimeBytes float64 `json:"runtime_bytes"`
	// DequantFraction of QLoRA's base decoded to float32 alive at the peak (each projection is
	// decoded next to its matmul, forward and backward; the parallel executor runs several).
	DequantFraction float64 `json:"dequant_fraction"`
	// DoRAOutTensors overrides doraOutTensors for this backend (0: the graph count): an executor
	// that frees buffers at their last use keeps fewer of DoRA's [T, Out] outputs alive.
	DoRAOutTensors float64 `json:"dora_out_tensors,omitempty"`
	// Source says how the model was obtained.
	Source string `json:"source"`
}

// doraOut is the number of [T, Out] tensors kept per DoRA target.
func (m MemoryModel) doraOut() float64 {
	if m.DoRAOutTensors > 0 {
		return m.DoRAOutTensors
	}
	return doraOutTensors
}

// Terms not fitted (one measurement each would not pin them down): counted from the graph.
const (
	// doraOutTensors [T, Out] tensors per DoRA target: both output paths (W·x and s·B·A·x) and
	// their rescaled sums, for the magnitude's gradient.
	doraOutTensors = 5.0
	// adapterTensors: each bottleneck adapter keeps its down, activation and up outputs
	// ([T, Dim] each) and adapterHidden [T, H] sums.
	adapterTensors = 3.0
	adapterHidden  = 2.0
	// dequantCopies float32 copies of the largest quantised projection exist at once (QLoRA
	// decodes each weight next to its matmul; independent projections run in parallel).
	dequantCopies = 3.0
)

// hiddenShare splits a block's hidden-width tensors between the hidden size (residual stream,
// norms), the query width and the key/value width: they were equal on the shape the counts were
// measured on; the split follows the block's structure.
var hiddenShare = struct{ h, q, kv float64 }{0.37, 0.36, 0.27}

// memoryModels are the calibrated models by backend ("go" simplego, "goswift" kernels/backend).
var memoryModels = map[string]MemoryModel{
	"go": {HeadTensors: 3.405, EmbedCopies: 0.908, EmbedTrainCopies: 1.850, BlockHidden: 19.794, BlockInter: 4.692,
		BlockScore: 4.342, TrainBlockHidden: 19.986, TrainBlockInter: 4.016, TrainBlockScore: 5.646, LoRAInput: 2.746,
		UpdateOverhead: 1.935, RuntimeBytes: 2.66e6,
		Source: "simplego (go:parallelism=-1), 25 runs on 2026-11-28: stories15M shape varied one dimension at a time, every technique at 4×128, SmolLM-135M at 1×64"},
	"goswift": {HeadTensors: 0.7487, EmbedCopies: 1.846, EmbedTrainCopies: 2.146, BlockHidden: 6.403, BlockInter: 3.747,
		BlockScore: 3.609, TrainBlockHidden: 13.86, TrainBlockInter: 4.87, TrainBlockScore: 3.37, LoRAInput: 1.869,
		UpdateOverhead: 1.668, RuntimeBytes: 1.1e+07, DequantFraction: 0.0159,
		// DoRA − LoRA training heap on stories15M 4×128 (24 targets of [512, 288]): 21 MB in the
		// 2026-11-28 calibration run, 31 MB in that day's suite, against 71 MB for the graph count of 5.
		DoRAOutTensors: 2,
		// The SmolLM-135M QLoRA step's live-heap peak is bimodal from run to run (about 505 or
		// 618 MB: whether a float32 copy of the 113 MB tied embedding is still alive at the peak
		// depends on the parallel executor's order), so the fit takes runs of both modes.
		Source: "goswift:parallelism=-1 (kernels/backend, fused cross-entropy, LISA with active-set gradients), " +
			"fitted to the 36 runs of `goswift bench --calibrate` and the 27 GoSwift runs of the default suite on 2026-12-03 (worst fit 11.2%)"},
}

// backendID is the short name of a backend config: "goswift:parallelism=-1" -> "goswift".
func backendID(config string) string {
	name, _, _ := strings.Cut(config, ":")
	return name
}

// MemoryModelFor returns the memory model of a backend ("" or "cpu": the default CPU backend)
// and its name. A backend without a calibrated model (XLA on a GPU) gets the default CPU
// backend's, named "<default> (fallback for <backend>)".
func MemoryModelFor(backend string) (MemoryModel, string) {
	def := backendID(xla.DefaultGoConfig)
	if backend == "" || backend == "cpu" {
		backend = def
	}
	if m, ok := memoryModels[backend]; ok {
		return m, backend
	}
	if m, ok := memoryModels[def]; ok {
		return m, fmt.Sprintf("%s (fallback for %s)", def, backend)
	}
	return memoryModels["go"], fmt.Sprintf("go (fallback for %s)", backend)
}

// MemoryModelNames lists the backends with a calibrated memory model.
func MemoryModelNames() []string {
	out := make([]string, 0, len(memoryModels))
	for n := range memoryModels {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// numTerms is the number of fitted coefficients.
const numTerms = 13

func (m MemoryModel) vector() [numTerms]float64 {
	return [numTerms]float64{m.HeadTensors, m.EmbedCopies, m.EmbedTrainCopies, m.BlockHidden, m.BlockInter, m.BlockScore,
		m.TrainBlockHidden, m.TrainBlockInter, m.TrainBlockScore, m.LoRAInput, m.UpdateOverhead, m.RuntimeBytes,
		m.DequantFraction}
}

func modelFromVector(v [numTerms]float64, source string) MemoryModel {
	return MemoryModel{HeadTensors: v[0], EmbedCopies: v[1], EmbedTrainCopies: v[2], BlockHidden: v[3], BlockInter: v[4],
		BlockScore: v[5], TrainBlockHidden: v[6], TrainBlockInter: v[7], TrainBlockScore: v[8], LoRAInput: v[9],
		UpdateOverhead: v[10], RuntimeBytes: v[11], DequantFraction: v[12], Source: source}
}

// termNames name the coefficients in order (Go field names).
var termNames = [numTerms]string{"HeadTensors", "EmbedCopies", "EmbedTrainCopies", "BlockHidden", "BlockInter",
	"BlockScore", "TrainBlockHidden", "TrainBlockInter", "TrainBlockScore", "LoRAInput", "UpdateOverhead", "RuntimeBytes",
	"DequantFraction"}

// features returns, for each coefficient, the bytes it multiplies, and the bytes of the terms
// that are not fitted: activations = Σ coefficient·feature + fixed.
//
// trainable is the parameters that take a gradient and keep optimizer state at a step
// (Prediction.GradientBytes/4; under an active set, LISA, fewer than ParamsTrainable).
func features(p *plan, in PredictInput, tokens, trainable int64, doraOut float64) (f [numTerms]float64, fixed float64) {
	c := p.cfg
	t := float64(tokens)
	h, q, kv, ff, v := float64(c.HiddenSize), float64(c.QDim()), float64(c.KVDim()), float64(c.IntermediateSize), float64(c.VocabSize)
	width := hiddenShare.h*h + hiddenShare.q*q + hiddenShare.kv*kv // a hidden-width tensor, per token
	scores := float64(in.Batch) * float64(c.NumHeads) * float64(in.Seq) * float64(in.Seq)
	f[0] = 4 * t * v
	f[1] = 4 * v * h
	if p.embedTrain {
		f[2] = 4 * v * h
	}
	for i := p.firstGrad; i < p.blocks; i++ {
		if p.active(i) { // LISA: only the active blocks keep a trained block's tensors
			f[6] += 4 * t * width
			f[7] += 4 * t * ff
			f[8] += 4 * scores
		} else {
			f[3] += 4 * t * width
			f[4] += 4 * t * ff
			f[5] += 4 * scores
		}
		for _, proj := range p.projections(i) {
			if proj.adapterParams > 0 {
				f[9] += 4 * t * float64(proj.in)
				if p.dora {
					fixed += 4 * doraOut * t * float64(proj.out)
				}
			}
		}
		if p.adapterDim > 0 {
			fixed += 4 * float64(p.adapterPos) * t * (adapterTensors*float64(p.adapterDim) + adapterHidden*h)
		}
	}
	if p.quant != nil {
		fixed += 4 * dequantCopies * float64(max(c.HiddenSize*c.QDim(), c.HiddenSize*c.IntermediateSize))
		for i := range p.blocks {
			for _, proj := range p.projections(i) {
				if proj.quantized {
					f[12] += 4 * float64(proj.in*proj.out)
				}
			}
		}
	}
	f[10] = 4 * float64(trainable)
	f[11] = 1
	return f, fixed
}

// activations is the bytes a training step keeps alive at its peak beyond the variables.
func (m MemoryModel) activations(p *plan, in PredictInput, tokens, trainable int64) int64 {
	f, fixed := features(p, in, tokens, trainable, m.doraOut())
	coef := m.vector()
	total := fixed
	for i := range f {
		total += coef[i] * f[i]
	}
	return int64(math.Round(total))
}

// Residual is one run's fit: measured and predicted training heap.
type Residual struct {
	ID                  string
	Measured, Predicted int64
}

// Error is (predicted − measured) / measured.
func (r Residual) Error() float64 { return float64(r.Predicted-r.Measured) / float64(r.Measured) }

// Calibrate fits a memory model to measured runs (ok GoSwift runs with a training heap, e.g.
// the "calibrate" matrix): weighted least squares on the relative error, each coefficient the
// count of tensors of its kind. Coefficients no run informs keep base's values. It returns the
// model and every run's residual.
func Calibrate(results []Result, base MemoryModel, source string) (MemoryModel, []Residual, error) {
	type row struct {
		f      [numTerms]float64
		target float64 // measured − accounted − fixed
		w      float64
		id     string
		meas   int64
		in     PredictInput
		p      *plan
	}
	var rows []row
	for _, r := range results {
		if r.Engine != "goswift" || r.Status != "ok" || r.TrainingHeapBytes == nil || r.Accounted == nil {
			continue
		}
		in, err := predictInputOf(r)
		if err != nil {
			return base, nil, err
		}
		p, err := newPlan(in)
		if err != nil {
			return base, nil, errors.WithMessagef(err, "calibrate %s", r.ID)
		}
		pr, err := Predict(in)
		if err != nil {
			return base, nil, errors.WithMessagef(err, "calibrate %s", r.ID)
		}
		f, fixed := features(p, in, int64(in.Batch)*int64(in.Seq), pr.GradientBytes/4, base.doraOut())
		meas := *r.TrainingHeapBytes
		rows = append(rows, row{f: f, target: float64(meas-pr.AccountedBytes) - fixed, w: 1 / float64(meas), id: r.ID,
			meas: meas, in: in, p: p})
	}
	if len(rows) < numTerms {
		return base, nil, errors.Errorf("calibrate: %d usable runs, need at least %d", len(rows), numTerms)
	}
	// Columns no run informs keep base's coefficient.
	coef := base.vector()
	var used []int
	for j := range numTerms {
		for _, r := range rows {
			if r.f[j] != 0 {
				used = append(used, j)
				break
			}
		}
	}
	// Normal equations of the weighted problem: minimise Σ (w·(f·c − target))².
	n := len(used)
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
	}
	for _, r := range rows {
		y := r.target
		for j := range numTerms {
			if !containsInt(used, j) {
				y -= coef[j] * r.f[j]
			}
		}
		for ii, i := range used {
			for jj, j := range used {
				a[ii][jj] += r.w * r.w * r.f[i] * r.f[j]
			}
			a[ii][n] += r.w * r.w * r.f[i] * y
		}
	}
	sol, err := solve(a)
	if err != nil {
		return base, nil, errors.WithMessage(err, "calibrate: the runs do not determine every coefficient")
	}
	for ii, j := range used {
		coef[j] = sol[ii]
	}
	m := modelFromVector(coef, source)
	m.DoRAOutTensors = base.DoRAOutTensors
	var res []Residual
	for _, r := range rows {
		pr, _ := Predict(r.in)
		total := pr.AccountedBytes + m.activations(r.p, r.in, int64(r.in.Batch)*int64(r.in.Seq), pr.GradientBytes/4)
		res = append(res, Residual{ID: r.id, Measured: r.meas, Predicted: total})
	}
	return m, res, nil
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// solve solves the augmented system a·x = b (a is n×(n+1)) by Gaussian elimination with partial
// pivoting, scaling each column first.
func solve(a [][]float64) ([]float64, error) {
	n := len(a)
	scale := make([]float64, n)
	for j := range n {
		for i := range n {
			scale[j] = math.Max(scale[j], math.Abs(a[i][j]))
		}
		if scale[j] == 0 {
			return nil, errors.Errorf("coefficient %d is undetermined", j)
		}
		for i := range n {
			a[i][j] /= scale[j]
		}
	}
	for col := range n {
		piv := col
		for i := col + 1; i < n; i++ {
			if math.Abs(a[i][col]) > math.Abs(a[piv][col]) {
				piv = i
			}
		}
		if math.Abs(a[piv][col]) < 1e-12 {
			return nil, errors.Errorf("coefficient %d is undetermined", col)
		}
		a[col], a[piv] = a[piv], a[col]
		for i := range n {
			if i == col {
				continue
			}
			k := a[i][col] / a[col][col]
			for j := col; j <= n; j++ {
				a[i][j] -= k * a[col][j]
			}
		}
	}
	x := make([]float64, n)
	for i := range n {
		x[i] = a[i][n] / a[i][i] / scale[i]
	}
	return x, nil
}

// GoSource renders the model as an entry of memoryModels (what `goswift bench --calibrate`
// prints to paste into memmodel.go).
func (m MemoryModel) GoSource(backend string) string {
	v := m.vector()
	var parts []string
	for i, name := range termNames {
		parts = append(parts, fmt.Sprintf("%s: %.4g", name, v[i]))
	}
	if m.DoRAOutTensors > 0 {
		parts = append(parts, fmt.Sprintf("DoRAOutTensors: %.4g", m.DoRAOutTensors))
	}
	return fmt.Sprintf("%q: {%s,\n\tSource: %q},", backend, strings.Join(parts, ", "), m.Source)
}
