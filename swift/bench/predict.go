package bench

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
	"github.com/goswift/goswift/swift/tuners/lisa"
	"github.com/goswift/goswift/swift/tuners/qlora"
)

// PredictInput is what the predictor needs: the architecture, the technique and the step's
// shape.
type PredictInput struct {
	Config    *models.Config
	Technique Technique
	Batch     int
	Seq       int
	Rank      int    // LoRA family (0: the technique's default, 8)
	DType     string // base weights: "f32" (default) or "bf16"
	GradAccum int    // micro-batches per step (accumulators when > 1)
	// Backend is the backend whose memory model applies ("go" simplego, "goswift" the kernels
	// backend, ...; "" the default CPU backend). See MemoryModelFor.
	Backend string
}

// Prediction is the predicted peak memory of one training step, by part, and its FLOPs.
type Prediction struct {
	ParamsTotal     int64 `json:"params_total"`
	ParamsTrainable int64 `json:"params_trainable"`
	WeightsBytes    int64 `json:"weights_bytes"`
	GradientBytes   int64 `json:"gradient_bytes"`
	OptimizerBytes  int64 `json:"optimizer_bytes"`
	ActivationBytes int64 `json:"activation_bytes"`
	TotalBytes      int64 `json:"total_bytes"`
	// AccountedBytes is weights + gradients + optimizer state.
	AccountedBytes int64   `json:"accounted_bytes"`
	FLOPsPerStep   float64 `json:"flops_per_step"`
	// Model names the memory model used for the activations (see MemoryModelFor).
	Model string `json:"model"`
}

// projection is one linear layer of a decoder block.
type projection struct {
	name          string
	in, out       int64
	bias          bool
	quantized     bool // stored packed (QLoRA)
	trainable     bool // its base weight trains
	active        bool // its base weight takes a gradient and has optimizer state this step
	adapterParams int64
}

// plan is a technique's effect on the model, derived from its config.
type plan struct {
	cfg        *models.Config
	blocks     int            // decoder blocks after the tuner (LLaMAPro inserts some)
	firstGrad  int            // first block on the gradient path (blocks before it keep no activations)
	trainBlock func(int) bool // whether block i's base weights train
	// activeBlock says whether block i's base weights take gradients and keep optimizer state
	// at a step (nil: trainBlock). LISA trains every block but only N at a time (an active set,
	// train.Config.ActiveSet); which N does not matter to the model (the blocks are alike), so
	// it counts the first N.
	activeBlock func(int) bool
	newBlock    func(int) bool // whether block i is a tuner's new block (LLaMAPro)
	targets     []string       // LoRA-family targets
	rank        int64
	dora        bool
	quant       *qlora.Quantization
	adapterDim  int64
	adapterPos  int64 // sub-layers with an adapter per block
	embedTrain  bool  // embeddings (and the tied head) train
}

// newPlan reads what a technique does from its tuner config.
func newPlan(in PredictInput) (*plan, error) {
	c := in.Config
	p := &plan{cfg: c, blocks: c.NumLayers, trainBlock: func(int) bool { return false }, newBlock: func(int) bool { return false }}
	tcfg, err := tuners.ParseConfig(in.Technique.Tuner, in.Technique.ConfigJSON(in.Rank))
	if err != nil {
		return nil, errors.WithMessagef(err, "technique %q", in.Technique.Name)
	}
	// The LoRA family shares its config's JSON keys: read them generically.
	var lc struct {
		Rank    int      `json:"r"`
		Targets []string `json:"target_modules"`
	}
	_ = decodeInto(tcfg, &lc)
	switch in.Technique.Tuner {
	case "full":
		p.embedTrain = true
		p.trainBlock = func(int) bool { return true }
	case "lisa":
		var lc lisa.Config
		_ = decodeInto(tcfg, &lc)
		n := lc.ActivatedLayers
		if n == 0 {
			n = 2 // lisa's default
		}
		p.embedTrain = true // the non-block weights are always in the active set
		p.trainBlock = func(int) bool { return true }
		p.activeBlock = func(i int) bool { return i < n }
		// firstGrad stays 0: the embeddings train, so the gradient path reaches every block.
	case "freeze":
		var fc struct {
			Layers int      `json:"trainable_layers"`
			Parts  []string `json:"trainable_parts"`
		}
		_ = decodeInto(tcfg, &fc)
		if fc.Layers == 0 && len(fc.Parts) == 0 {
			fc.Layers = 2 // freeze.DefaultLayers
		}
		if len(fc.Parts) > 0 {
			return nil, errors.Errorf("predict: freeze with trainable_parts is not modelled")
		}
		n := c.NumLayers - fc.Layers
		p.trainBlock = func(i int) bool { return i >= n }
		p.firstGrad = max(0, n)
	case "llamapro":
		var lp struct {
			N int `json:"num_new_blocks"`
		}
		_ = decodeInto(tcfg, &lp)
		if lp.N == 0 {
			lp.N = 2
		}
		// The L blocks are cut into N groups (larger first), a new block after each.
		isNew := map[int]bool{}
		pos, l := 0, c.NumLayers
		for j := range lp.N {
			size := l / lp.N
			if j < l%lp.N {
				size++
			}
			pos += size
			isNew[pos] = true
			pos++
		}
		p.blocks = l + lp.N
		p.newBlock = func(i int) bool { return isNew[i] }
		p.trainBlock = p.newBlock
		p.firstGrad = l / lp.N
		if l%lp.N > 0 {
			p.firstGrad++
		}
	case "adapter":
		var ac struct {
			Dim int      `json:"adapter_length"`
			Pos []string `json:"positions"`
		}
		_ = decodeInto(tcfg, &ac)
		p.adapterDim, p.adapterPos = 32, 2
		if ac.Dim > 0 {
			p.adapterDim = int64(ac.Dim)
		}
		if len(ac.Pos) > 0 {
			p.adapterPos = int64(len(ac.Pos))
		}
	case "lora", "dora", "qlora":
		p.rank = 8
		if lc.Rank > 0 {
			p.rank = int64(lc.Rank)
		}
		p.targets = lc.Targets
		if len(p.targets) == 0 || slices.Contains(p.targets, "all-linear") {
			p.targets = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
		}
		p.dora = in.Technique.Tuner == "dora"
		if q, ok := quantizationOf(tcfg); ok {
			p.quant = &q
		}
	default:
		return nil, errors.Errorf("predict: tuner %q is not modelled (add it to newPlan)", in.Technique.Tuner)
	}
	return p, nil
}

// active says whether block i's base weights take gradients and keep optimizer state.
func (p *plan) active(i int) bool {
	if p.activeBlock != nil {
		return p.activeBlock(i)
	}
	return p.trainBlock(i)
}

func decodeInto(cfg tuners.Config, v any) error {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// projections lists block i's linear layers.
func (p *plan) projections(i int) []projection {
	c := p.cfg
	h, q, kv, ff := int64(c.HiddenSize), int64(c.QDim()), int64(c.KVDim()), int64(c.IntermediateSize)
	ps := []projection{{name: "q_proj", in: h, out: q, bias: c.AttentionBias}, {name: "k_proj", in: h, out: kv, bias: c.AttentionBias},
		{name: "v_proj", in: h, out: kv, bias: c.AttentionBias}, {name: "o_proj", in: q, out: h},
		{name: "gate_proj", in: h, out: ff}, {name: "up_proj", in: h, out: ff}, {name: "down_proj", in: ff, out: h}}
	for k := range ps {
		pr := &ps[k]
		pr.trainable = p.trainBlock(i)
		pr.active = pr.trainable && p.active(i)
		pr.quantized = p.quant != nil && !p.newBlock(i)
		if p.rank > 0 && slices.Contains(p.targets, pr.name) && !p.newBlock(i) {
			pr.adapterParams = p.rank * (pr.in + pr.out)
			if p.dora {
				pr.adapterParams += pr.out
			}
		}
	}
	return ps
}

// packedBytes is the storage of n parameters quantised as q (see gomlx_ext/quant).
func packedBytes(n int64, q qlora.Quantization) int64 {
	blocks := (n + 63) / 64
	codes := n // int8
	if q.Mode == "nf4" {
		codes = (n + 1) / 2
	}
	if q.DoubleQuant {
		return codes + blocks + (blocks+255)/256*4 + 4
	}
	return codes + blocks*4
}

// Predict predicts a training step's peak memory and FLOPs from the config (see the package
// documentation; the activation model is in activations).
func Predict(in PredictInput) (*Prediction, error) {
	c := in.Config
	if c == nil {
		return nil, errors.New("predict: no model config")
	}
	if err := c.Validate(); err != nil {
		return nil, errors.WithMessage(err, "predict")
	}
	if in.Batch < 1 || in.Seq < 1 {
		return nil, errors.Errorf("predict: batch %d and seq %d must be positive", in.Batch, in.Seq)
	}
	wBytes := int64(4)
	switch in.DType {
	case "", "f32":
	case "bf16":
		wBytes = 2
	default:
		return nil, errors.Errorf("predict: dtype %q is not f32 or bf16", in.DType)
	}
	p, err := newPlan(in)
	if err != nil {
		return nil, err
	}
	h, v := int64(c.HiddenSize), int64(c.VocabSize)
	tokens := int64(in.Batch) * int64(in.Seq)
	pr := &Prediction{}
	// trainable counts the parameters that train (tuners.CountParams), stateful those that take
	// a gradient and keep AdamW state at a step (fewer under an active set: LISA).
	var trainable, stateful, weights int64
	addParams := func(n, bytes int64, train, state bool) {
		pr.ParamsTotal += n
		weights += bytes
		if train {
			trainable += n
		}
		if train && state {
			stateful += n
		}
	}
	// Embeddings (the tied head reads them), final norm, untied head.
	addParams(v*h, v*h*wBytes, p.embedTrain, true)
	addParams(h, h*wBytes, p.embedTrain, true)
	if !c.TieWordEmbeddings {
		addParams(v*h, v*h*wBytes, p.embedTrain, true)
	}
	var linearParams, trainLinear, adapterParams float64 // for FLOPs, per token
	for i := range p.blocks {
		isNew := p.newBlock(i)
		newBytes := wBytes
		if isNew {
			newBytes = 4 // LLaMAPro's copies are float32
		}
		addParams(2*h, 2*h*newBytes, p.trainBlock(i), p.active(i)) // the two norms
		for _, proj := range p.projections(i) {
			n := proj.in * proj.out
			switch {
			case proj.quantized:
				addParams(n, packedBytes(n, *p.quant), false, false)
			default:
				addParams(n, n*newBytes, proj.trainable, proj.active)
			}
			if proj.bias {
				addParams(proj.out, proj.out*newBytes, proj.trainable, proj.active)
			}
			if proj.adapterParams > 0 {
				addParams(proj.adapterParams, 4*proj.adapterParams, true, true)
				adapterParams += float64(proj.adapterParams)
			}
			linearParams += float64(n)
			if proj.active {
				trainLinear += float64(n)
			}
		}
		if p.adapterDim > 0 {
			n := p.adapterPos * (2*p.adapterDim*h + p.adapterDim + h)
			addParams(n, 4*n, true, true)
			adapterParams += float64(n)
		}
	}
	pr.ParamsTrainable = trainable
	pr.WeightsBytes = weights
	pr.GradientBytes = 4 * stateful
	pr.OptimizerBytes = 8 * stateful
	if in.GradAccum > 1 {
		pr.OptimizerBytes += 4 * stateful
	}
	pr.AccountedBytes = pr.WeightsBytes + pr.GradientBytes + pr.OptimizerBytes
	mm, name := MemoryModelFor(in.Backend)
	pr.Model = name
	pr.ActivationBytes = mm.activations(p, in, tokens, stateful)
	pr.TotalBytes = pr.AccountedBytes + pr.ActivationBytes
	// FLOPs: forward 2·N per token through every matmul (the head included) and 4·S·Q per token
	// per layer for attention; backward the input gradients (same again) from the first block on
	// the gradient path, plus 2·N for every weight that takes a gradient (LISA: the active
	// blocks'); adapters 6·N (forward + both
	// gradients).
	head := float64(v * h)
	attn := 4 * float64(in.Seq) * float64(c.QDim())
	grad := float64(p.blocks-p.firstGrad) / float64(p.blocks)
	perToken := 2*(linearParams+head) + attn*float64(p.blocks) + // forward
		2*(linearParams*grad+head) + 2*attn*float64(p.blocks)*grad + // input gradients
		2*trainLinear + 6*adapterParams
	if p.embedTrain {
		perToken += 2 * head
	}
	pr.FLOPsPerStep = perToken * float64(tokens)
	return pr, nil
}

// String is a one-line summary.
func (p *Prediction) String() string {
	return fmt.Sprintf("total %s = weights %s + gradients %s + optimizer %s + activations %s; %.3g FLOPs/step",
		formatBytes(p.TotalBytes), formatBytes(p.WeightsBytes), formatBytes(p.GradientBytes),
		formatBytes(p.OptimizerBytes), formatBytes(p.ActivationBytes), p.FLOPsPerStep)
}
