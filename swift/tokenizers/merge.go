package tokenizers

import "sync"

// mergeRule is what a pair of adjacent symbols merges into: the new id and its rank (lower
// merges first; ties go to the leftmost pair).
type mergeRule struct {
	rank int32 // BPE rank (tokenizer.json) or the rank of the score, highest first (llama2.c)
	id   int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// mergeCand is a queued merge of the symbol at pos with the symbol after it.
type mergeCand struct {
	key         uint64 // rank<<32 | pos: the heap order
	left, right int32  // the ids the pair had when queued, to detect stale entries
	id          int32
}

func newCand(r mergeRule, pos int32, left, right int32) mergeCand {
	return mergeCand{key: uint64(uint32(r.rank))<<32 | uint64(uint32(pos)), left: left, right: right, id: r.id}
}

// mergeHeap is a binary min-heap of merge candidates.
type mergeHeap []mergeCand

func (h mergeHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].key < h[l].key {
			m = r
		}
		if h[m].key >= h[i].key {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *mergeHeap) push(c mergeCand) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[i].key >= s[p].key {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeCand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	s.down(0)
	*h = s
	return top
}

// applyMerges runs BPE on ids: repeatedly merge the adjacent pair with the lowest priority
// (leftmost on ties) until no adjacent pair has a rule. This is exactly the quadratic
// "scan all pairs, merge the best one, repeat" loop of llama2.c's run.c and of Hugging Face's
// Word::merge_all, done in O(n log n) with a heap and a linked list (stale heap entries are
// skipped on pop). ids is overwritten and the merged prefix returned.
func applyMerges(ids []int32, merges map[uint64]mergeRule) []int32 {
	n := len(ids)
	if n < 2 || len(merges) == 0 {
		return ids
	}
	next := make([]int32, n) // -1 at the end; a merged-away symbol has ids[i] = -1
	prev := make([]int32, n)
	for i := range ids {
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
	}
	next[n-1] = -1
	h := make(mergeHeap, 0, n)
	for i := 0; i+1 < n; i++ {
		if r, ok := merges[pairKey(ids[i], ids[i+1])]; ok {
			h = append(h, newCand(r, int32(i), ids[i], ids[i+1]))
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for len(h) > 0 {
		c := h.pop()
		p := int32(uint32(c.key))
		q := next[p]
		if ids[p] != c.left || q < 0 || ids[q] != c.right {
			continue // stale
		}
		// Merge q into p.
		ids[p] = c.id
		ids[q] = -1
		nq := next[q]
		next[p] = nq
		if nq >= 0 {
			prev[nq] = p
		}
		if l := prev[p]; l >= 0 {
			if r, ok := merges[pairKey(ids[l], ids[p])]; ok {
				h.push(newCand(r, l, ids[l], ids[p]))
			}
		}
		if nq >= 0 {
			if r, ok := merges[pairKey(ids[p], ids[nq])]; ok {
				h.push(newCand(r, p, ids[p], ids[nq]))
			}
		}
	}
	out := ids[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out
}

// wordCache memoises the BPE result of pre-token words. It is bounded: when full it is
// emptied (cheap, and real text has a small working set of words).
type wordCache struct {
	mu     sync.RWMutex
	m      map[string][]int32
	maxLen int // words longer than this (bytes) are not cached
	maxN   int
}

func newWordCache() *wordCache {
	return &wordCache{m: make(map[string][]int32), maxLen: 256, maxN: 1 << 17}
}

func (c *wordCache) get(w string) ([]int32, bool) {
	if len(w) > c.maxLen {
		return nil, false
	}
	c.mu.RLock()
	ids, ok := c.m[w]
	c.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	if len(w) > c.maxLen {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.maxN {
		c.m = make(map[string][]int32)
	}
	c.m[w] = ids
	c.mu.Unlock()
}
