package nb

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/goswift/goswift/swift/infer"
)

// Table is a small table: a title, a header row and rows of cells. Numeric columns are
// right-aligned. The last row is drawn as a total when Total is set.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
	Total  bool   // the last row sums the others (drawn in bold, after a rule)
	Notes  string // a line under the table
}

var numericCell = regexp.MustCompile(`^[-+−]?[0-9][0-9,.]*\s*(%|[KMGTP]?i?B|[kMG]|×|x|s|ms)?$`)

// numericColumns says which columns hold only numbers (and empty cells).
func (t *Table) numericColumns() []bool {
	cols := len(t.Header)
	for _, r := range t.Rows {
		cols = max(cols, len(r))
	}
	out := make([]bool, cols)
	for c := range out {
		seen := false
		out[c] = true
		for _, r := range t.Rows {
			if c >= len(r) || strings.TrimSpace(r[c]) == "" {
				continue
			}
			seen = true
			if !numericCell.MatchString(strings.TrimSpace(r[c])) {
				out[c] = false
				break
			}
		}
		out[c] = out[c] && seen
	}
	return out
}

const (
	tableStyle = `border-collapse:collapse;font-size:13px;margin:4px 0`
	cellStyle  = `padding:3px 10px;border-bottom:1px solid #ddd;vertical-align:top`
)

// HTML renders the table with inline styles (they survive an HTML export).
func (t *Table) HTML() string {
	var b strings.Builder
	numeric := t.numericColumns()
	align := func(c int) string {
		if c < len(numeric) && numeric[c] {
			return "text-align:right;font-variant-numeric:tabular-nums"
		}
		return "text-align:left"
	}
	b.WriteString(`<div>`)
	if t.Title != "" {
		fmt.Fprintf(&b, `<div style="font-weight:bold;margin:4px 0">%s</div>`, esc(t.Title))
	}
	fmt.Fprintf(&b, `<table style="%s"><thead><tr>`, tableStyle)
	for c, h := range t.Header {
		fmt.Fprintf(&b, `<th style="%s;%s;border-bottom:2px solid #999">%s</th>`, cellStyle, align(c), esc(h))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for i, r := range t.Rows {
		total := t.Total && i == len(t.Rows)-1
		b.WriteString("<tr>")
		for c, cell := range r {
			extra := ""
			if total {
				extra = ";font-weight:bold;border-top:2px solid #999"
			}
			fmt.Fprintf(&b, `<td style="%s;%s%s">%s</td>`, cellStyle, align(c), extra, esc(cell))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
	if t.Notes != "" {
		fmt.Fprintf(&b, `<div style="color:#555;font-size:12px">%s</div>`, esc(t.Notes))
	}
	b.WriteString("</div>")
	return b.String()
}

// Text renders the table in aligned columns.
func (t *Table) Text() string {
	numeric := t.numericColumns()
	widths := make([]int, len(numeric))
	measure := func(r []string) {
		for c, cell := range r {
			widths[c] = max(widths[c], utf8.RuneCountInString(cell))
		}
	}
	measure(t.Header)
	for _, r := range t.Rows {
		measure(r)
	}
	var b strings.Builder
	if t.Title != "" {
		b.WriteString(t.Title + "\n")
	}
	row := func(r []string) {
		var line strings.Builder
		line.WriteString(" ")
		for c, cell := range r {
			pad := strings.Repeat(" ", widths[c]-utf8.RuneCountInString(cell))
			if numeric[c] {
				line.WriteString(" " + pad + cell + " ")
			} else {
				line.WriteString(" " + cell + pad + " ")
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	rule := func() {
		total := 0
		for _, w := range widths {
			total += w + 2
		}
		b.WriteString(" " + strings.Repeat("─", total) + "\n")
	}
	row(t.Header)
	rule()
	for i, r := range t.Rows {
		if t.Total && i == len(t.Rows)-1 {
			rule()
		}
		row(r)
	}
	if t.Notes != "" {
		b.WriteString(t.Notes + "\n")
	}
	return b.String()
}

// Column is one column of a generation table: a name ("before", "LoRA", ...) and one text per
// prompt.
type Column struct {
	Name  string
	Texts []string
}

// Outputs makes a Column from generation results (their Text).
func Outputs(name string, results []infer.Result) Column {
	c := Column{Name: name, Texts: make([]string, len(results))}
	for i, r := range results {
		c.Texts[i] = r.Text
	}
	return c
}

// GenerationTable lays out continuations of the same prompts side by side.
type GenerationTable struct {
	Title   string
	Prompts []string
	Columns []Column
}

// Generations returns a side-by-side table of the continuations of prompts, one column per
// model or stage (e.g. Outputs("before", r0), Outputs("after", r1)).
func Generations(prompts []string, cols ...Column) *GenerationTable {
	return &GenerationTable{Prompts: prompts, Columns: cols}
}

func (g *GenerationTable) text(col, row int) string {
	if col >= len(g.Columns) || row >= len(g.Columns[col].Texts) {
		return ""
	}
	return g.Columns[col].Texts[row]
}

// HTML renders one row per prompt; each cell shows the prompt (bold) followed by the
// continuation, wrapped.
func (g *GenerationTable) HTML() string {
	var b strings.Builder
	b.WriteString(`<div>`)
	if g.Title != "" {
		fmt.Fprintf(&b, `<div style="font-weight:bold;margin:4px 0">%s</div>`, esc(g.Title))
	}
	fmt.Fprintf(&b, `<table style="%s;table-layout:fixed;width:100%%"><thead><tr>`, tableStyle)
	for _, c := range g.Columns {
		fmt.Fprintf(&b, `<th style="%s;text-align:left;border-bottom:2px solid #999">%s</th>`, cellStyle, esc(c.Name))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for row, p := range g.Prompts {
		b.WriteString("<tr>")
		for col := range g.Columns {
			fmt.Fprintf(&b, `<td style="%s;text-align:left;white-space:pre-wrap;font-family:monospace;font-size:12px">`+
				`<b>%s</b>%s</td>`, cellStyle, esc(p), esc(g.text(col, row)))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table></div>")
	return b.String()
}

// Text prints, for each prompt, every column's continuation in turn.
func (g *GenerationTable) Text() string {
	var b strings.Builder
	if g.Title != "" {
		b.WriteString(g.Title + "\n")
	}
	width := 0
	for _, c := range g.Columns {
		width = max(width, utf8.RuneCountInString(c.Name))
	}
	for row, p := range g.Prompts {
		fmt.Fprintf(&b, "prompt %q\n", p)
		for col, c := range g.Columns {
			text := strings.ReplaceAll(g.text(col, row), "\n", "\n"+strings.Repeat(" ", width+4))
			fmt.Fprintf(&b, "  %s%s: %s%s\n", c.Name, strings.Repeat(" ", width-utf8.RuneCountInString(c.Name)), p, text)
		}
	}
	return b.String()
}
