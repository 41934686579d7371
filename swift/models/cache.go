package models

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Cache is a fixed-capacity key/value cache, as graph values. Every row of the batch writes at
// the same slot (prompts are left-padded to one length and padding slots are marked invalid), so
// the write position is one scalar; slots are written with Gather + Where, because simplego has
// no DynamicUpdateSlice.
type Cache struct {
	Keys, Values []*Node // per layer [Cap, B, KV, D]
	Valid        *Node   // [Cap, B] bool: the slot holds a real (non-padding) token
	Length       *Node   // scalar int32: slots written so far
}

// CacheShapes returns the shapes of a cache's tensors, in the order Flatten uses:
// keys per layer, values per layer, valid, length.
func (m *Model) CacheShapes(batch, capacity int, dtype dtypes.DType) []shapes.Shape {
	c := m.Config
	n := len(m.Blocks())
	out := make([]shapes.Shape, 0, 2*n+2)
	for range 2 * n {
		out = append(out, shapes.Make(dtype, capacity, batch, c.NumKVHeads, c.HeadDim))
	}
	return append(out, shapes.Make(dtypes.Bool, capacity, batch), shapes.Make(dtypes.Int32))
}

// Flatten lists the cache's nodes in CacheShapes order.
func (c *Cache) Flatten() []*Node {
	out := append(append([]*Node{}, c.Keys...), c.Values...)
	return append(out, c.Valid, c.Length)
}

// UnflattenCache is the inverse of Flatten.
func UnflattenCache(nodes []*Node) *Cache {
	n := (len(nodes) - 2) / 2
	return &Cache{Keys: nodes[:n], Values: nodes[n : 2*n], Valid: nodes[2*n], Length: nodes[2*n+1]}
}

// EmptyCache returns a cache with nothing written: zeros, no valid slot, length 0.
func (m *Model) EmptyCache(g *Graph, batch, capacity int, dtype dtypes.DType) *Cache {
	sh := m.CacheShapes(batch, capacity, dtype)
	nodes := make([]*Node, len(sh))
	for i, s := range sh {
		nodes[i] = Zeros(g, s)
	}
	return UnflattenCache(nodes)
}

// Step runs the model over new tokens with a cache and returns the logits and the updated cache.
//
//	tokens, positions [B, S] int32; valid [B, S] bool (false for left padding);
//	-> logits [B, S, Vocab] float32, or [B, 1, Vocab] for the last position only when lastOnly.
//
// Query i (slot Length+i) attends to every valid slot up to its own.
func (m *Model) Step(ctx *context.Context, tokens, positions, valid *Node, cache *Cache, lastOnly bool) (*Node, *Cache) {
	return m.StepImages(ctx, tokens, positions, valid, nil, cache, lastOnly)
}

// StepImages is Step with the rows' images [B, K, C, H, W] (nil for none) spliced in place of
// the image placeholder tokens of this step (a vision-language model's prefill).
func (m *Model) StepImages(ctx *context.Context, tokens, positions, valid, images *Node, cache *Cache, lastOnly bool) (*Node, *Cache) {
	st := newCacheState(cache, valid)
	hidden := m.run(ctx, tokens, positions, images, st) // [B, S, Hidden]
	s := tokens.Shape().Dimensions[1]
	next := &Cache{Keys: st.keys, Values: st.values, Valid: st.valid,
		Length: AddScalar(cache.Length, s)}
	if lastOnly && s > 1 {
		hidden = SliceAxis(hidden, 1, AxisElem(s-1)) // [B, 1, Hidden]: inference only, no gradient
	}
	return m.Head(ctx, hidden), next
}

type cacheState struct {
	keys, values []*Node
	valid        *Node // [Cap, B]
	write        *Node // [Cap] bool: slot written by this step
	source       *Node // [Cap, 1] int32: which new token a written slot takes
	m            *Node // [B, S, Cap]
}

func newCacheState(c *Cache, valid *Node) *cacheState {
	g := valid.Graph()
	capacity := c.Valid.Shape().Dimensions[0]
	b, s := valid.Shape().Dimensions[0], valid.Shape().Dimensions[1]
	slots := Iota(g, shapes.Make(dtypes.Int32, capacity), 0) // [Cap]
	rel := Sub(slots, c.Length)                              // [Cap]: slot − write position
	write := And(GreaterOrEqual(rel, ZerosLike(rel)), LessThan(rel, Scalar(g, dtypes.Int32, s)))
	source := ExpandAxes(ClipScalar(rel, 0, float64(s-1)), -1) // [Cap, 1]
	st := &cacheState{keys: append([]*Node{}, c.Keys...), values: append([]*Node{}, c.Values...),
		write: write, source: source}
	newValid := Gather(TransposeAllAxes(valid, 1, 0), source) // [Cap, B]
	st.valid = Where(write, newValid, c.Valid)
	// Mask [B, S, Cap]: slot t is visible to query i if t ≤ Length+i and the slot is valid.
	qSlot := Add(Iota(g, shapes.Make(dtypes.Int32, s, capacity), 0), c.Length) // [S, Cap]
	kSlot := Iota(g, shapes.Make(dtypes.Int32, s, capacity), 1)                // [S, Cap]
	causal := BroadcastToDims(Reshape(LessOrEqual(kSlot, qSlot), 1, s, capacity), b, s, capacity)
	slotValid := BroadcastToDims(Reshape(TransposeAllAxes(st.valid, 1, 0), b, 1, capacity), b, s, capacity)
	st.m = And(causal, slotValid)
	return st
}

// update writes the step's keys/values [B, S, KV, D] into their slots and returns the whole
// cache as [B, Cap, KV, D].
func (st *cacheState) update(layer int, k, v *Node) (*Node, *Node) {
	write := func(cache, x *Node) *Node {
		xt := TransposeAllAxes(x, 1, 0, 2, 3)   // [S, B, KV, D]
		gathered := Gather(xt, st.source)       // [Cap, B, KV, D]
		return Where(st.write, gathered, cache) // [Cap, B, KV, D]
	}
	st.keys[layer] = write(st.keys[layer], k)
	st.values[layer] = write(st.values[layer], v)
	return TransposeAllAxes(st.keys[layer], 1, 0, 2, 3), TransposeAllAxes(st.values[layer], 1, 0, 2, 3)
}

func (st *cacheState) mask() *Node { return st.m }
