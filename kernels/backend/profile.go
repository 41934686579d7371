package backend

import (
	"sort"
	"sync"
	"time"
)

// profile accumulates the wall time of each kind of step, when enabled.
type profile struct {
	mu       sync.Mutex
	enabled  bool
	detailed bool // kinds include the output shape
	byKind   map[string]*ProfileEntry
}

// ProfileEntry is the time spent in one kind of step.
type ProfileEntry struct {
	Kind  string // a kernel name ("gemm", "Exp", ...) or "simplego" for the segments
	Calls int
	Time  time.Duration
}

// EnableProfile starts (or, with false, stops) accumulating the wall time of every kernel call
// and simplego segment run, for benchmarks; it resets the figures. With byShape, kernel calls
// are told apart by their output shape too.
func (b *Backend) EnableProfile(on, byShape bool) {
	b.prof.mu.Lock()
	defer b.prof.mu.Unlock()
	b.prof.enabled, b.prof.detailed, b.prof.byKind = on, byShape, map[string]*ProfileEntry{}
}

// Profile returns the figures accumulated since EnableProfile, largest time first.
func (b *Backend) Profile() []ProfileEntry {
	b.prof.mu.Lock()
	defer b.prof.mu.Unlock()
	var out []ProfileEntry
	for _, e := range b.prof.byKind {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out
}

func (p *profile) add(kind string, start time.Time) {
	d := time.Since(start)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.enabled {
		return
	}
	e := p.byKind[kind]
	if e == nil {
		e = &ProfileEntry{Kind: kind}
		p.byKind[kind] = e
	}
	e.Calls++
	e.Time += d
}

func (p *profile) on() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.enabled
}
