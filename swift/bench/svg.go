package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Charts are self-contained SVG (no scripts, no external fonts), so the HTML report and the
// notebook show them offline.

// Bar is one bar of a BarChart.
type Bar struct {
	Label string
	Value float64
	Note  string // printed after the value, e.g. "(predicted 1.2 GB)"
	Color string // "" picks the default
}

// palette are the series colours (colour-blind friendly).
var palette = []string{"#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb",
	"#000000", "#ee7733", "#0077bb", "#33bbee", "#009988"}

func esc(s string) string { return html.EscapeString(s) }

// BarChartSVG draws horizontal bars, one per row, with the value printed by format.
func BarChartSVG(title, unit string, bars []Bar, format func(float64) string) string {
	const rowH, left, right, top = 22, 150, 230, 34
	width := 760
	height := top + rowH*len(bars) + 16
	maxV := 0.0
	for _, b := range bars {
		if finiteF(b.Value) {
			maxV = math.Max(maxV, b.Value)
		}
	}
	if maxV <= 0 {
		maxV = 1
	}
	plotW := float64(width - left - right)
	var w strings.Builder
	fmt.Fprintf(&w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12" role="img" aria-label="%s">`,
		width, height, width, height, esc(title))
	fmt.Fprintf(&w, `<rect width="100%%" height="100%%" fill="white"/><text x="8" y="20" font-size="14" font-weight="bold">%s</text>`, esc(title))
	if unit != "" {
		fmt.Fprintf(&w, `<text x="%d" y="20" text-anchor="end" fill="#555">%s</text>`, width-8, esc(unit))
	}
	for i, b := range bars {
		y := top + i*rowH
		color := b.Color
		if color == "" {
			color = palette[0]
		}
		bw := 0.0
		if finiteF(b.Value) && b.Value > 0 {
			bw = plotW * b.Value / maxV
		}
		fmt.Fprintf(&w, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+15, esc(b.Label))
		fmt.Fprintf(&w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y+3, bw, rowH-6, color)
		val := "n/a"
		if finiteF(b.Value) {
			val = format(b.Value)
		}
		fmt.Fprintf(&w, `<text x="%.1f" y="%d" fill="#222">%s %s</text>`, float64(left)+bw+5, y+15, esc(val), esc(b.Note))
	}
	w.WriteString("</svg>")
	return w.String()
}

// Series is one line of a LineChart.
type Series struct {
	Name string
	Y    []float64 // at x = 1, 2, ...
}

// LineChartSVG draws series against the step (1-based), with a legend.
func LineChartSVG(title, xLabel, yLabel string, series []Series) string {
	const width, height, left, right, top, bottom = 760, 360, 60, 170, 34, 40
	ylo, yhi, n := math.Inf(1), math.Inf(-1), 0
	for _, s := range series {
		n = max(n, len(s.Y))
		for _, y := range s.Y {
			if finiteF(y) {
				ylo, yhi = math.Min(ylo, y), math.Max(yhi, y)
			}
		}
	}
	if n < 2 || ylo > yhi {
		ylo, yhi, n = 0, 1, max(n, 2)
	}
	if yhi == ylo {
		yhi = ylo + 1
	}
	pad := (yhi - ylo) * 0.05
	ylo, yhi = ylo-pad, yhi+pad
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	px := func(i int) float64 { return float64(left) + pw*float64(i)/float64(n-1) }
	py := func(y float64) float64 { return float64(top) + ph*(yhi-y)/(yhi-ylo) }
	var w strings.Builder
	fmt.Fprintf(&w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12" role="img" aria-label="%s">`,
		width, height, width, height, esc(title))
	fmt.Fprintf(&w, `<rect width="100%%" height="100%%" fill="white"/><text x="8" y="20" font-size="14" font-weight="bold">%s</text>`, esc(title))
	axes(&w, left, top, pw, ph, xLabel, yLabel)
	for k := 0; k <= 4; k++ {
		y := ylo + (yhi-ylo)*float64(k)/4
		fmt.Fprintf(&w, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%.2f</text>`, left-4, py(y)+4, y)
	}
	fmt.Fprintf(&w, `<text x="%d" y="%d" text-anchor="middle" fill="#555">1</text><text x="%d" y="%d" text-anchor="middle" fill="#555">%d</text>`,
		left, top+int(ph)+14, left+int(pw), top+int(ph)+14, n)
	for i, s := range series {
		color := palette[i%len(palette)]
		var pts []string
		for j, y := range s.Y {
			if finiteF(y) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(j), py(y)))
			}
		}
		fmt.Fprintf(&w, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, color, strings.Join(pts, " "))
		ly := top + 14*i
		fmt.Fprintf(&w, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`,
			width-right+12, ly+5, color, width-right+28, ly+10, esc(s.Name))
	}
	w.WriteString("</svg>")
	return w.String()
}

// Point is one point of a ScatterSVG.
type Point struct {
	Label string
	X, Y  float64
}

// ScatterSVG plots predicted (y) against measured (x) bytes on the same logarithmic scale, with
// the diagonal and a ±tol band.
func ScatterSVG(title string, points []Point, tol float64) string {
	const width, height, left, right, top, bottom = 760, 420, 70, 210, 34, 44
	lo, hi := math.Inf(1), 0.0
	for _, p := range points {
		for _, v := range []float64{p.X, p.Y} {
			if v > 0 && finiteF(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi <= 0 {
		lo, hi = 1e6, 1e9
	}
	lo = math.Max(lo, hi/1e4)
	llo, lhi := math.Log10(lo/1.3), math.Log10(hi*1.3)
	if lhi-llo < 1 {
		llo = lhi - 1
	}
	mults := []float64{1, 2, 5}
	if lhi-llo > 2.5 {
		mults = []float64{1}
	}
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	pos := func(v float64) float64 {
		return math.Min(1.02, math.Max(-0.02, (math.Log10(math.Max(v, 1))-llo)/(lhi-llo)))
	}
	px := func(x float64) float64 { return float64(left) + pw*pos(x) }
	py := func(y float64) float64 { return float64(top) + ph*(1-pos(y)) }
	var w strings.Builder
	fmt.Fprintf(&w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11" role="img" aria-label="%s">`,
		width, height, width, height, esc(title))
	fmt.Fprintf(&w, `<rect width="100%%" height="100%%" fill="white"/><text x="8" y="20" font-size="14" font-weight="bold">%s</text>`, esc(title))
	a, b := math.Pow(10, llo), math.Pow(10, lhi)
	fmt.Fprintf(&w, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="#e8f0e8"/>`,
		px(a), py(a*(1+tol)), px(b), py(b*(1+tol)), px(b), py(b*(1-tol)), px(a), py(a*(1-tol)))
	fmt.Fprintf(&w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="4 3"/>`, px(a), py(a), px(b), py(b))
	axes(&w, left, top, pw, ph, "measured peak live heap (training), log scale", "predicted")
	for e := math.Floor(llo); e <= lhi; e++ {
		for _, m := range mults {
			v := m * math.Pow(10, e)
			if l := math.Log10(v); l < llo || l > lhi {
				continue
			}
			fmt.Fprintf(&w, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`, left-4, py(v)+4, formatBytes(int64(v)))
			fmt.Fprintf(&w, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`, px(v), top+int(ph)+14, formatBytes(int64(v)))
			fmt.Fprintf(&w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`, left-3, py(v), left, py(v))
		}
	}
	for i, p := range points {
		color := palette[i%len(palette)]
		fmt.Fprintf(&w, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" fill-opacity="0.85"><title>%s</title></circle>`,
			px(p.X), py(p.Y), color, esc(p.Label))
		if ly := top + 13*i; ly < height-10 {
			fmt.Fprintf(&w, `<circle cx="%d" cy="%d" r="4" fill="%s"/><text x="%d" y="%d">%s</text>`,
				width-right+14, ly+4, color, width-right+22, ly+8, esc(p.Label))
		}
	}
	fmt.Fprintf(&w, `<text x="%.1f" y="%.1f" fill="#4a4">±%.0f%%</text>`, px(b)-40, py(b*(1+tol))+14, 100*tol)
	w.WriteString("</svg>")
	return w.String()
}

func axes(w *strings.Builder, left, top int, pw, ph float64, xLabel, yLabel string) {
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="#333"/>`, left, top, left, float64(top)+ph)
	fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`, left, float64(top)+ph, float64(left)+pw, float64(top)+ph)
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">%s</text>`, float64(left)+pw/2, float64(top)+ph+32, esc(xLabel))
	fmt.Fprintf(w, `<text x="14" y="%.1f" text-anchor="middle" fill="#333" transform="rotate(-90 14 %.1f)">%s</text>`,
		float64(top)+ph/2, float64(top)+ph/2, esc(yLabel))
}

func finiteF(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
