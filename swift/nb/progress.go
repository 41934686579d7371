package nb

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress is a progress bar for any loop: a bar updated in place in a notebook, a
// carriage-return line on Writer elsewhere.
type Progress struct {
	Label string
	Total int
	// Writer receives the text bar outside a notebook (default os.Stderr; nil: none).
	Writer io.Writer
	// Every is the least time between two redraws (default 200ms); the first and last
	// updates are always drawn.
	Every time.Duration

	mu       sync.Mutex
	live     *Live
	start    time.Time
	lastDraw time.Time
	done     int
	status   string
	finished bool
}

// NewProgress starts a progress bar of total steps.
func NewProgress(label string, total int) *Progress {
	p := &Progress{Label: label, Total: total, Writer: os.Stderr, Every: 200 * time.Millisecond,
		live: NewLive(), start: time.Now()}
	if inNotebook() {
		p.draw() // an empty bar at once; the text bar starts with the first Update
	}
	return p
}

// Update sets the steps done and a status text (e.g. the current loss).
func (p *Progress) Update(done int, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.done, p.status = done, status
	if time.Since(p.lastDraw) >= p.Every || done >= p.Total {
		p.drawLocked()
	}
}

// Finish draws the bar a last time, with a final status.
func (p *Progress) Finish(status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	if status != "" {
		p.status = status
	}
	p.drawLocked()
	p.finished = true
	p.live.Flush()
	if !inNotebook() && p.Writer != nil {
		fmt.Fprintln(p.Writer)
	}
}

func (p *Progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked()
}

func (p *Progress) fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return math.Min(1, math.Max(0, float64(p.done)/float64(p.Total)))
}

// timing returns "elapsed" or "elapsed < ETA remaining".
func (p *Progress) timing() string {
	elapsed := time.Since(p.start)
	s := formatDuration(elapsed)
	if f := p.fraction(); f > 0 && f < 1 {
		s += ", ~" + formatDuration(time.Duration(float64(elapsed)*(1-f)/f)) + " left"
	}
	return s
}

func (p *Progress) drawLocked() {
	p.lastDraw = time.Now()
	if inNotebook() {
		p.live.Update(p)
		return
	}
	if p.Writer != nil {
		fmt.Fprintf(p.Writer, "\r%s", p.Text())
	}
}

// Text is the bar as one line of text.
func (p *Progress) Text() string {
	const width = 30
	n := int(math.Round(p.fraction() * width))
	s := fmt.Sprintf("%s [%s%s] %d/%d (%s)", p.Label, strings.Repeat("█", n), strings.Repeat("·", width-n),
		p.done, p.Total, p.timing())
	if p.status != "" {
		s += " " + p.status
	}
	return s
}

// HTML is the bar as an HTML fragment.
func (p *Progress) HTML() string {
	pct := 100 * p.fraction()
	return fmt.Sprintf(`<div style="font-family:sans-serif;font-size:13px;margin:4px 0">`+
		`<span style="display:inline-block;min-width:6em">%s</span> `+
		`<span style="display:inline-block;width:240px;height:10px;background:#e6e6e6;border-radius:3px;vertical-align:middle">`+
		`<span style="display:block;width:%.1f%%;height:10px;background:#2e7d32;border-radius:3px"></span></span> `+
		`%d/%d <span style="color:#555">(%s)</span> %s</div>`,
		esc(p.Label), pct, p.done, p.Total, esc(p.timing()), esc(p.status))
}

// formatDuration prints 42s, 3m05s or 1h02m.
func formatDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
}
