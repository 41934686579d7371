package nb

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

// svgStats parses an SVG document (failing the test if it is not well-formed XML) and counts
// its elements by name.
func svgStats(t *testing.T, doc string) map[string]int {
	t.Helper()
	if !strings.HasPrefix(doc, "<svg ") || !strings.HasSuffix(doc, "</svg>") {
		t.Fatalf("not an svg document: %.80q…", doc)
	}
	counts := map[string]int{}
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
			for _, a := range se.Attr {
				if strings.Contains(a.Value, "NaN") || strings.Contains(a.Value, "Inf") {
					t.Errorf("<%s %s=%q>: not a number", se.Name.Local, a.Name.Local, a.Value)
				}
			}
		}
	}
	return counts
}

func TestLineChartSVG(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name           string
		chart          LineChart
		polylines      int
		circles        int
		contains       []string
		doesNotContain []string
	}{
		{name: "empty", chart: LineChart{Title: "nothing"}, contains: []string{"no data yet", "nothing"}},
		{name: "one series", polylines: 1, contains: []string{"loss &lt;&amp;&gt;", ">step<"},
			chart: LineChart{Title: "loss <&>", XLabel: "step", Series: []Series{{Name: "train", X: []float64{0, 1, 2}, Y: []float64{3, 2, 1}}}}},
		{name: "NaN splits the line", polylines: 2,
			chart: LineChart{Series: []Series{{X: []float64{0, 1, 2, 3, 4}, Y: []float64{5, 4, nan, 2, 1}}}}},
		{name: "markers", polylines: 1, circles: 3,
			chart: LineChart{Series: []Series{{Name: "eval", X: []float64{0, 5, 10}, Y: []float64{3, 2.5, 2}, Markers: true}}}},
		{name: "single point draws a marker only", circles: 1,
			chart: LineChart{Series: []Series{{X: []float64{1}, Y: []float64{1}, Markers: true}}}},
		{name: "fixed x range and progress", polylines: 1, contains: []string{"40%", "step 40/100"},
			chart: LineChart{XMin: 0, XMax: 100, Progress: 0.4, Note: "step 40/100",
				Series: []Series{{X: []float64{0, 20, 40}, Y: []float64{3, 2, 1}}}}},
		{name: "points outside a fixed y range are gaps", polylines: 1,
			chart: LineChart{YMin: 0, YMax: 10, Series: []Series{{X: []float64{0, 1, 2, 3}, Y: []float64{1, 2, 50, 3}}}}},
		{name: "long legends wrap", polylines: 4, contains: []string{`x="78" y="34" text-anchor="start">d: held-out loss</text>`},
			chart: LineChart{Series: []Series{
				{Name: "a: training loss (smoothed)", X: []float64{0, 1}, Y: []float64{1, 2}},
				{Name: "b: training loss (smoothed)", X: []float64{0, 1}, Y: []float64{1, 2}},
				{Name: "c: held-out loss", X: []float64{0, 1}, Y: []float64{1, 2}},
				{Name: "d: held-out loss", X: []float64{0, 1}, Y: []float64{1, 2}}}}},
		{name: "constant series", polylines: 1, doesNotContain: []string{"no data"},
			chart: LineChart{Series: []Series{{X: []float64{0, 1, 2}, Y: []float64{2, 2, 2}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.chart.SVG()
			got := svgStats(t, doc)
			if got["polyline"] != tc.polylines {
				t.Errorf("%d polylines, want %d", got["polyline"], tc.polylines)
			}
			if got["circle"] != tc.circles {
				t.Errorf("%d circles, want %d", got["circle"], tc.circles)
			}
			for _, s := range tc.contains {
				if !strings.Contains(doc, s) {
					t.Errorf("svg lacks %q", s)
				}
			}
			for _, s := range tc.doesNotContain {
				if strings.Contains(doc, s) {
					t.Errorf("svg has %q", s)
				}
			}
			if html := tc.chart.HTML(); !strings.Contains(html, doc) {
				t.Error("HTML does not embed the SVG")
			}
		})
	}
}

// TestLineChartFalls checks the geometry: a falling series is drawn going down the page.
func TestLineChartFalls(t *testing.T) {
	c := LineChart{Series: []Series{{X: []float64{0, 1, 2}, Y: []float64{3, 2, 1}}}}
	doc := c.SVG()
	i := strings.Index(doc, `points="`)
	pts := strings.Fields(doc[i+len(`points="`) : i+strings.Index(doc[i:], `"/>`)])
	if len(pts) != 3 {
		t.Fatalf("points %q", pts)
	}
	var prevX, prevY float64 = -1, -1
	for _, p := range pts {
		var x, y float64
		if _, err := fmt.Sscanf(p, "%g,%g", &x, &y); err != nil {
			t.Fatal(err)
		}
		if x <= prevX || y <= prevY { // SVG y grows downwards
			t.Errorf("point %s does not go right and down after (%g,%g)", p, prevX, prevY)
		}
		prevX, prevY = x, y
	}
}

func TestLineChartText(t *testing.T) {
	c := LineChart{Title: "loss", XLabel: "step", Series: []Series{{Name: "held-out", X: []float64{0, 10, 20}, Y: []float64{3, 1.5, 2}}, {Name: "empty"}}}
	got := c.Text()
	for _, want := range []string{"loss\n", "held-out: 3 points, step=0: 3 → step=20: 2 (lowest 1.5 at 10)", "empty: no data"} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
}

func TestBarChart(t *testing.T) {
	c := BarChart{Title: "throughput", Unit: "tokens/s", Bars: []Bar{
		{Label: "LoRA", Value: 1200}, {Label: "QLoRA", Value: 900, Note: "(NF4)"}, {Label: "full", Value: math.NaN()}, {Label: "zero", Value: 0}}}
	doc := c.SVG()
	got := svgStats(t, doc)
	if got["rect"] != 1+4 { // background + one per bar
		t.Errorf("%d rects, want 5", got["rect"])
	}
	for _, s := range []string{"LoRA", "1200 tokens/s", "900 tokens/s (NF4)", `font-weight="bold">1200`} {
		if !strings.Contains(doc, s) {
			t.Errorf("svg lacks %q", s)
		}
	}
	text := c.Text()
	if !strings.Contains(text, "LoRA   "+strings.Repeat("█", 40)+" 1200 tokens/s") || !strings.Contains(text, "QLoRA  "+strings.Repeat("█", 30)+" 900") {
		t.Errorf("text:\n%s", text)
	}
	c.LowerIsBetter = true
	if c.best() != 3 {
		t.Errorf("best with LowerIsBetter = %d, want 3 (zero)", c.best())
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi   float64
		n        int
		want     []float64
		decimals int
	}{
		{0, 300, 6, []float64{0, 100, 200, 300}, 0},
		{1.83, 4.31, 5, []float64{1, 2, 3, 4, 5}, 0},
		{1.83, 2.31, 5, []float64{1.8, 2, 2.2, 2.4}, 1},
		{0, 1, 5, []float64{0, 0.25, 0.5, 0.75, 1}, 2},
		{2, 2, 5, []float64{1, 1.5, 2, 2.5, 3}, 1},
		{0, 120, 6, []float64{0, 25, 50, 75, 100, 125}, 0},
	}
	for _, tc := range tests {
		got, dec := niceTicks(tc.lo, tc.hi, tc.n)
		if len(got) != len(tc.want) || dec != tc.decimals {
			t.Errorf("niceTicks(%g, %g, %d) = %v, %d decimals; want %v, %d", tc.lo, tc.hi, tc.n, got, dec, tc.want, tc.decimals)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-9 {
				t.Errorf("niceTicks(%g, %g, %d) = %v, want %v", tc.lo, tc.hi, tc.n, got, tc.want)
				break
			}
		}
	}
	if got, _ := niceTicks(math.NaN(), 1, 5); got != nil {
		t.Errorf("NaN range gave ticks %v", got)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{FormatBytes(512), "512 B"},
		{FormatBytes(1536), "1.5 KiB"},
		{FormatBytes(300 << 20), "300 MiB"},
		{FormatCount(1234567), "1,234,567"},
		{FormatCount(-1234), "-1,234"},
		{FormatValue(3.14159), "3.142"},
		{FormatValue(123456.7), "123,457"},
		{formatTick(1500, 0), "1500"},
		{formatTick(15000, 0), "15k"},
		{formatTick(0.25, 2), "0.25"},
		{formatDuration(65e9), "1m05s"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestEMA(t *testing.T) {
	got := EMA([]float64{4, 4, math.NaN(), 1}, 0.5)
	if got[0] != 4 || got[1] != 4 || !math.IsNaN(got[2]) || math.Abs(got[3]-(0.125*4+0.25*4+0.5*1)/0.875) > 1e-12 {
		t.Errorf("EMA = %v", got)
	}
}
