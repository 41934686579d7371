package nb

import (
	"fmt"
	"math"
	"strings"
)

// Series is one line of a LineChart. Points whose X or Y is NaN or ±Inf are skipped.
type Series struct {
	Name    string
	X, Y    []float64
	Color   string  // default: the next Palette colour
	Dashed  bool    // dashed line
	Markers bool    // a dot at every point
	Faint   bool    // thin, translucent (raw data under a smoothed line)
	Width   float64 // stroke width (default 2, Faint 1)
}

// LineChart is a line chart of one or more series, rendered as inline SVG.
type LineChart struct {
	Title          string
	XLabel, YLabel string
	Series         []Series
	// XMin/XMax, YMin/YMax fix an axis range when Min < Max (a live plot fixes X to the
	// planned steps, so the curve grows to the right); otherwise the data decide.
	XMin, XMax, YMin, YMax float64
	Width, Height          int // default 640×320
	// Note is a status line drawn under the title (e.g. "step 120/300 · 1,050 tok/s").
	Note string
	// Progress, in (0, 1], draws a progress bar beside the title; 0 draws none.
	Progress float64
}

func (c *LineChart) size() (int, int) {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 320
	}
	return w, h
}

// dataRange returns the range of the finite points of every series.
func (c *LineChart) dataRange() (xlo, xhi, ylo, yhi float64, n int) {
	xlo, ylo, xhi, yhi = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range min(len(s.X), len(s.Y)) {
			x, y := s.X[i], s.Y[i]
			if !finite(x) || !finite(y) {
				continue
			}
			xlo, xhi = math.Min(xlo, x), math.Max(xhi, x)
			ylo, yhi = math.Min(ylo, y), math.Max(yhi, y)
			n++
		}
	}
	return
}

// SVG renders the chart.
func (c *LineChart) SVG() string {
	width, height := c.size()
	var w svgWriter
	w.open(width, height, c.Title)
	top := 12.0
	if c.Title != "" {
		w.text(12, 18, "start", `font-size="14" font-weight="bold"`, c.Title)
		top = 28
	}
	if c.Progress > 0 {
		p := math.Min(c.Progress, 1)
		bx, bw := float64(width)-172, 160.0
		w.rect(bx, 8, bw, 10, "#e6e6e6", `rx="3"`)
		w.rect(bx, 8, bw*p, 10, "#2e7d32", `rx="3"`)
		w.text(bx-6, 17, "end", `fill="#444"`, fmt.Sprintf("%.0f%%", 100*p))
	}
	if c.Note != "" {
		w.text(12, top+8, "start", `fill="#555"`, c.Note)
		top += 16
	}
	// Legend rows.
	legendY := top + 8
	lx := 56.0
	for i, s := range c.Series {
		if s.Name == "" {
			continue
		}
		itemW := 22 + 6.5*float64(len([]rune(s.Name))) + 18
		if lx > 56 && lx+itemW > float64(width)-8 {
			lx, legendY = 56, legendY+14
		}
		color := seriesColor(s, i)
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5,3"`
		}
		if s.Faint {
			dash += ` stroke-opacity="0.35"`
		}
		w.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>`,
			num(lx), num(legendY-4), num(lx+18), num(legendY-4), color, dash)
		w.text(lx+22, legendY, "start", "", s.Name)
		lx += itemW
	}
	top = legendY + 10

	left, right, bottom := 56.0, float64(width)-16, float64(height)-36
	if bottom-top < 40 {
		bottom = top + 40
	}
	xlo, xhi, ylo, yhi, n := c.dataRange()
	if c.XMin < c.XMax {
		xlo, xhi = c.XMin, c.XMax
	}
	if c.YMin < c.YMax {
		ylo, yhi = c.YMin, c.YMax
	}
	if n == 0 && !(c.XMin < c.XMax) {
		xlo, xhi = 0, 1
	}
	if n == 0 && !(c.YMin < c.YMax) {
		ylo, yhi = 0, 1
	}
	xt, xd := niceTicks(xlo, xhi, 6)
	yt, yd := niceTicks(ylo, yhi, 5)
	if !(c.XMin < c.XMax) && len(xt) > 1 {
		xlo, xhi = xt[0], xt[len(xt)-1]
	}
	if !(c.YMin < c.YMax) && len(yt) > 1 {
		ylo, yhi = yt[0], yt[len(yt)-1]
	}
	if xhi == xlo {
		xhi = xlo + 1
	}
	if yhi == ylo {
		yhi = ylo + 1
	}
	px := func(x float64) float64 { return left + (x-xlo)/(xhi-xlo)*(right-left) }
	py := func(y float64) float64 { return bottom - (y-ylo)/(yhi-ylo)*(bottom-top) }

	// Grid and ticks.
	for _, v := range yt {
		if v < ylo-1e-9 || v > yhi+1e-9 {
			continue
		}
		y := py(v)
		w.line(left, y, right, y, "#e8e8e8", 1)
		w.text(left-6, y+4, "end", `fill="#444"`, formatTick(v, yd))
	}
	for _, v := range xt {
		if v < xlo-1e-9 || v > xhi+1e-9 {
			continue
		}
		x := px(v)
		w.line(x, top, x, bottom, "#f0f0f0", 1)
		w.text(x, bottom+14, "middle", `fill="#444"`, formatTick(v, xd))
	}
	w.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#999" stroke-width="1"/>`,
		num(left), num(top), num(right-left), num(bottom-top))
	if c.XLabel != "" {
		w.text((left+right)/2, float64(height)-6, "middle", `fill="#333"`, c.XLabel)
	}
	if c.YLabel != "" {
		w.printf(`<text x="14" y="%s" text-anchor="middle" fill="#333" transform="rotate(-90 14 %s)">%s</text>`,
			num((top+bottom)/2), num((top+bottom)/2), esc(c.YLabel))
	}
	if n == 0 {
		w.text((left+right)/2, (top+bottom)/2, "middle", `fill="#888"`, "no data yet")
	}

	// Series: faint ones first, so the main lines are drawn on top.
	for pass := 0; pass < 2; pass++ {
		for i, s := range c.Series {
			if s.Faint != (pass == 0) {
				continue
			}
			c.drawSeries(&w, s, seriesColor(s, i), px, py, xlo, xhi, ylo, yhi)
		}
	}
	return w.close()
}

func seriesColor(s Series, i int) string {
	if s.Color != "" {
		return s.Color
	}
	return Palette[i%len(Palette)]
}

func (c *LineChart) drawSeries(w *svgWriter, s Series, color string, px, py func(float64) float64,
	xlo, xhi, ylo, yhi float64) {
	width := s.Width
	if width <= 0 {
		width = 2
		if s.Faint {
			width = 1
		}
	}
	style := fmt.Sprintf(`fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round"`, color, num(width))
	if s.Dashed {
		style += ` stroke-dasharray="5,3"`
	}
	if s.Faint {
		style += ` stroke-opacity="0.35"`
	}
	inRange := func(x, y float64) bool {
		return finite(x) && finite(y) && x >= xlo-1e-9 && x <= xhi+1e-9 && y >= ylo-1e-9 && y <= yhi+1e-9
	}
	var pts []string
	flush := func() {
		if len(pts) > 1 {
			w.printf(`<polyline %s points="%s"/>`, style, strings.Join(pts, " "))
		}
		pts = pts[:0]
	}
	for i := range min(len(s.X), len(s.Y)) {
		x, y := s.X[i], s.Y[i]
		if !inRange(x, y) {
			flush() // a gap in the line
			continue
		}
		pts = append(pts, num(px(x))+","+num(py(y)))
	}
	flush()
	if s.Markers {
		for i := range min(len(s.X), len(s.Y)) {
			if x, y := s.X[i], s.Y[i]; inRange(x, y) {
				w.printf(`<circle cx="%s" cy="%s" r="3" fill="%s"/>`, num(px(x)), num(py(y)), color)
			}
		}
	}
}

// HTML returns the SVG in a div.
func (c *LineChart) HTML() string { return "<div>" + c.SVG() + "</div>" }

// Text summarises each series: points, first, last and lowest value.
func (c *LineChart) Text() string {
	var b strings.Builder
	if c.Title != "" {
		b.WriteString(c.Title + "\n")
	}
	if c.Note != "" {
		b.WriteString(c.Note + "\n")
	}
	for _, s := range c.Series {
		var first, last, best [2]float64
		n := 0
		for i := range min(len(s.X), len(s.Y)) {
			x, y := s.X[i], s.Y[i]
			if !finite(x) || !finite(y) {
				continue
			}
			if n == 0 {
				first, best = [2]float64{x, y}, [2]float64{x, y}
			}
			if y < best[1] {
				best = [2]float64{x, y}
			}
			last = [2]float64{x, y}
			n++
		}
		if n == 0 {
			fmt.Fprintf(&b, "  %s: no data\n", s.Name)
			continue
		}
		fmt.Fprintf(&b, "  %s: %d points, %s=%s: %s → %s=%s: %s (lowest %s at %s)\n", s.Name, n,
			c.xName(), FormatValue(first[0]), FormatValue(first[1]), c.xName(), FormatValue(last[0]),
			FormatValue(last[1]), FormatValue(best[1]), FormatValue(best[0]))
	}
	return b.String()
}

func (c *LineChart) xName() string {
	if c.XLabel != "" {
		return c.XLabel
	}
	return "x"
}

// Bar is one bar of a BarChart.
type Bar struct {
	Label string
	Value float64
	Note  string // printed after the value, e.g. "±0.02" or "OOM"
	Color string // default: by position in Palette
}

// BarChart is a horizontal bar chart (one bar per technique, model or setting) as inline SVG.
type BarChart struct {
	Title string
	Unit  string // printed after each value, e.g. "tokens/s" or "MiB"
	Bars  []Bar
	Width int // default 640
	// LowerIsBetter marks the best bar (the smallest value) instead of the largest.
	LowerIsBetter bool
}

// best returns the index of the best bar, or -1.
func (c *BarChart) best() int {
	bi := -1
	for i, b := range c.Bars {
		if !finite(b.Value) {
			continue
		}
		if bi < 0 || (c.LowerIsBetter && b.Value < c.Bars[bi].Value) || (!c.LowerIsBetter && b.Value > c.Bars[bi].Value) {
			bi = i
		}
	}
	return bi
}

func (c *BarChart) valueText(b Bar) string {
	s := FormatValue(b.Value)
	if c.Unit != "" {
		s += " " + c.Unit
	}
	if b.Note != "" {
		s += " " + b.Note
	}
	return s
}

// SVG renders the chart.
func (c *BarChart) SVG() string {
	width := c.Width
	if width <= 0 {
		width = 640
	}
	const barH, gap = 20.0, 8.0
	top := 12.0
	if c.Title != "" {
		top = 32
	}
	height := int(top + float64(len(c.Bars))*(barH+gap) + 12)
	var w svgWriter
	w.open(width, height, c.Title)
	if c.Title != "" {
		w.text(12, 18, "start", `font-size="14" font-weight="bold"`, c.Title)
	}
	labelW := 40.0
	for _, b := range c.Bars {
		labelW = math.Max(labelW, 6.5*float64(len([]rune(b.Label)))+16)
	}
	labelW = math.Min(labelW, float64(width)/3)
	maxV := 0.0
	for _, b := range c.Bars {
		if finite(b.Value) {
			maxV = math.Max(maxV, b.Value)
		}
	}
	valueW := 150.0
	left, right := labelW, float64(width)-valueW
	best := c.best()
	for i, b := range c.Bars {
		y := top + float64(i)*(barH+gap)
		w.text(left-8, y+barH/2+4, "end", "", b.Label)
		color := b.Color
		if color == "" {
			color = Palette[i%len(Palette)]
		}
		bw := 0.0
		if finite(b.Value) && maxV > 0 && b.Value > 0 {
			bw = b.Value / maxV * (right - left)
		}
		w.rect(left, y, bw, barH, color, "")
		style := ""
		if i == best && len(c.Bars) > 1 {
			style = `font-weight="bold"`
		}
		w.text(left+bw+6, y+barH/2+4, "start", style, c.valueText(b))
	}
	w.line(left, top-4, left, top+float64(len(c.Bars))*(barH+gap)-gap+4, "#999", 1)
	return w.close()
}

// HTML returns the SVG in a div.
func (c *BarChart) HTML() string { return "<div>" + c.SVG() + "</div>" }

// Text draws the bars with block characters.
func (c *BarChart) Text() string {
	var b strings.Builder
	if c.Title != "" {
		b.WriteString(c.Title + "\n")
	}
	labelW, maxV := 0, 0.0
	for _, bar := range c.Bars {
		labelW = max(labelW, len([]rune(bar.Label)))
		if finite(bar.Value) {
			maxV = math.Max(maxV, bar.Value)
		}
	}
	for _, bar := range c.Bars {
		n := 0
		if finite(bar.Value) && maxV > 0 && bar.Value > 0 {
			n = int(math.Round(bar.Value / maxV * 40))
		}
		fmt.Fprintf(&b, "  %s%s  %s %s\n", bar.Label, strings.Repeat(" ", labelW-len([]rune(bar.Label))),
			strings.Repeat("█", n), c.valueText(bar))
	}
	return b.String()
}
