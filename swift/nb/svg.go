package nb

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Palette are the series colours, in order (colour-blind-safe, after Okabe & Ito).
var Palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

// svgWriter accumulates an SVG document.
type svgWriter struct {
	b strings.Builder
}

func (w *svgWriter) printf(format string, args ...any) { fmt.Fprintf(&w.b, format, args...) }

func (w *svgWriter) open(width, height int, label string) {
	w.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" `+
		`font-family="sans-serif" font-size="11" role="img" aria-label="%s">`, width, height, width, height, esc(label))
	w.printf(`<rect width="%d" height="%d" fill="#ffffff"/>`, width, height)
}

func (w *svgWriter) close() string {
	w.b.WriteString("</svg>")
	return w.b.String()
}

// text writes a text element; anchor is start, middle or end.
func (w *svgWriter) text(x, y float64, anchor, style, s string) {
	if style != "" {
		style = " " + style
	}
	w.printf(`<text x="%s" y="%s" text-anchor="%s"%s>%s</text>`, num(x), num(y), anchor, style, esc(s))
}

func (w *svgWriter) line(x1, y1, x2, y2 float64, stroke string, width float64) {
	w.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"/>`,
		num(x1), num(y1), num(x2), num(y2), stroke, num(width))
}

func (w *svgWriter) rect(x, y, width, height float64, fill string, extra string) {
	if extra != "" {
		extra = " " + extra
	}
	w.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"%s/>`, num(x), num(y), num(width), num(height), fill, extra)
}

// esc escapes text for SVG/HTML.
func esc(s string) string { return html.EscapeString(s) }

// num formats a coordinate compactly.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// finite reports whether v is a usable number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// niceTicks returns about n round tick values covering [lo, hi] and the decimals to print them.
func niceTicks(lo, hi float64, n int) (ticks []float64, decimals int) {
	if !finite(lo) || !finite(hi) {
		return nil, 0
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		d := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-d, hi+d
	}
	if n < 2 {
		n = 2
	}
	raw := (hi - lo) / float64(n-1)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	for decimals = 0; decimals < 8; decimals++ { // the decimals step needs: 25 → 0, 0.25 → 2
		scaled := step * math.Pow(10, float64(decimals))
		if math.Abs(scaled-math.Round(scaled)) < 1e-6*scaled {
			break
		}
	}
	k0 := math.Floor(lo/step + 1e-9)
	for k := k0; len(ticks) <= 4*n; k++ { // multiples of step, computed afresh: no drift
		v := k * step
		ticks = append(ticks, v)
		if v >= hi-step*1e-9 {
			break
		}
	}
	return ticks, decimals
}

// formatTick prints v with the given decimals, as a short number (1.5k for 1500).
func formatTick(v float64, decimals int) string {
	if math.Abs(v) < 1e-12 {
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimZeros(strconv.FormatFloat(v/1e9, 'f', 1, 64)) + "G"
	case a >= 1e6:
		return trimZeros(strconv.FormatFloat(v/1e6, 'f', 1, 64)) + "M"
	case a >= 1e4:
		return trimZeros(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// FormatValue prints a measured value with about 4 significant digits.
func FormatValue(v float64) string {
	switch {
	case !finite(v):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e4:
		return formatThousands(v)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// formatThousands prints a large number rounded to an integer with thousands separators.
func formatThousands(v float64) string {
	s := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// FormatBytes prints a byte count in binary units (KiB, MiB, GiB).
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.*f %ciB", map[bool]int{true: 0, false: 1}[v >= 100], v, "KMGTP"[i])
}

// FormatCount prints a count with thousands separators.
func FormatCount(n int64) string { return formatThousands(float64(n)) }
