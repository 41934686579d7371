package models

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// refModel is a plain float64 Llama forward pass, written loop by loop from the math, used as
// the reference the graph is checked against on random weights (both RoPE styles, GQA, biases).
type refModel struct {
	cfg *Config
	w   map[string][]float64
}

func newRefModel(ctx *context.Context, cfg *Config) *refModel {
	r := &refModel{cfg: cfg, w: map[string][]float64{}}
	for name := range cfg.ExpectedTensors() {
		scope, vn := SplitTensorName(name)
		v := ctx.GetVariableByScopeAndName(scope, vn)
		t, err := v.Value()
		if err != nil {
			panic(err)
		}
		f := tensors.MustCopyFlatData[float32](t)
		d := make([]float64, len(f))
		for i, x := range f {
			d[i] = float64(x)
		}
		r.w[name] = d
	}
	return r
}

// linear: w [out, in] row-major.
func refLinear(x []float64, w []float64, bias []float64, out int) []float64 {
	in := len(x)
	y := make([]float64, out)
	for o := range out {
		s := 0.0
		for i := range in {
			s += w[o*in+i] * x[i]
		}
		if bias != nil {
			s += bias[o]
		}
		y[o] = s
	}
	return y
}

func refRMSNorm(x, w []float64, eps float64) []float64 {
	ss := 0.0
	for _, v := range x {
		ss += v * v
	}
	inv := 1 / math.Sqrt(ss/float64(len(x))+eps)
	y := make([]float64, len(x))
	for i := range x {
		y[i] = x[i] * inv * w[i]
	}
	return y
}

func (r *refModel) rope(v []float64, heads, pos int) {
	c := r.cfg
	d := c.HeadDim
	for h := range heads {
		for j := range d / 2 {
			theta := float64(pos) * math.Pow(c.RopeTheta, -float64(2*j)/float64(d))
			a, b := h*d+j, h*d+j+d/2
			if c.RoPE == RoPEInterleaved {
				a, b = h*d+2*j, h*d+2*j+1
			}
			x0, x1 := v[a], v[b]
			v[a] = x0*math.Cos(theta) - x1*math.Sin(theta)
			v[b] = x0*math.Sin(theta) + x1*math.Cos(theta)
		}
	}
}

// logits of every position of one sequence: [S][Vocab].
func (r *refModel) logits(tokens []int) [][]float64 {
	c := r.cfg
	h, d := c.HiddenSize, c.HeadDim
	s := len(tokens)
	x := make([][]float64, s)
	for t, id := range tokens {
		x[t] = append([]float64(nil), r.w["model.embed_tokens.weight"][id*h:(id+1)*h]...)
	}
	bias := func(name string) []float64 {
		if c.AttentionBias {
			return r.w[name]
		}
		return nil
	}
	for l := range c.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", l)
		qs, ks, vs := make([][]float64, s), make([][]float64, s), make([][]float64, s)
		hs := make([][]float64, s)
		for t := range s {
			hs[t] = refRMSNorm(x[t], r.w[p+"input_layernorm.weight"], c.RMSNormEps)
			qs[t] = refLinear(hs[t], r.w[p+"self_attn.q_proj.weight"], bias(p+"self_attn.q_proj.bias"), c.QDim())
			ks[t] = refLinear(hs[t], r.w[p+"self_attn.k_proj.weight"], bias(p+"self_attn.k_proj.bias"), c.KVDim())
			vs[t] = refLinear(hs[t], r.w[p+"self_attn.v_proj.weight"], bias(p+"self_attn.v_proj.bias"), c.KVDim())
			r.rope(qs[t], c.NumHeads, t)
			r.rope(ks[t], c.NumKVHeads, t)
		}
		group := c.NumHeads / c.NumKVHeads
		for t := range s {
			att := make([]float64, c.QDim())
			for hd := range c.NumHeads {
				kvh := hd / group
				scores := make([]float64, t+1)
				maxS := math.Inf(-1)
				for u := 0; u <= t; u++ {
					dot := 0.0
					for i := range d {
						dot += qs[t][hd*d+i] * ks[u][kvh*d+i]
					}
					scores[u] = dot / math.Sqrt(float64(d))
					maxS = math.Max(maxS, scores[u])
				}
				sum := 0.0
				for u := range scores {
					scores[u] = math.Exp(scores[u] - maxS)
					sum += scores[u]
				}
				for u := range scores {
					for i := range d {
						att[hd*d+i] += scores[u] / sum * vs[u][kvh*d+i]
					}
				}
			}
			o := refLinear(att, r.w[p+"self_attn.o_proj.weight"], nil, h)
			for i := range h {
				x[t][i] += o[i]
			}
			hn := refRMSNorm(x[t], r.w[p+"post_attention_layernorm.weight"], c.RMSNormEps)
			gate := refLinear(hn, r.w[p+"mlp.gate_proj.weight"], nil, c.IntermediateSize)
			up := refLinear(hn, r.w[p+"mlp.up_proj.weight"], nil, c.IntermediateSize)
			for i := range gate {
				gate[i] = gate[i] / (1 + math.Exp(-gate[i])) * up[i]
			}
			down := refLinear(gate, r.w[p+"mlp.down_proj.weight"], nil, h)
			for i := range h {
				x[t][i] += down[i]
			}
		}
	}
	head := r.w["lm_head.weight"]
	if c.TieWordEmbeddings {
		head = r.w["model.embed_tokens.weight"]
	}
	out := make([][]float64, s)
	for t := range s {
		out[t] = refLinear(refRMSNorm(x[t], r.w["model.norm.weight"], c.RMSNormEps), head, nil, c.VocabSize)
	}
	return out
}
