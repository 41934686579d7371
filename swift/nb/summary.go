package nb

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/swift"
	"github.com/goswift/goswift/swift/tuners"
)

// Part is one group of a model's variables in a Summary.
type Part struct {
	Name      string
	Variables int
	Params    int64 // model parameters (as tuners.CountParams counts them: packed NF4 codes hold two a byte)
	Trainable int64
	Bytes     int64 // host memory of the values
	DTypes    []string
}

// partOf names the part a variable belongs to, from its scope.
func partOf(v *context.Variable) string {
	scope := v.Scope() + "/"
	switch {
	case strings.HasPrefix(scope, "/optimizer"):
		return "optimizer state"
	case strings.HasPrefix(scope, "/tuners/"):
		name, _, _ := strings.Cut(strings.TrimPrefix(scope, "/tuners/"), "/")
		return "tuner: " + name
	case strings.HasPrefix(scope, "/lm_head/"):
		return "lm_head"
	case strings.Contains(scope, "/embed_tokens/"):
		return "embeddings"
	case strings.Contains(scope, "norm/"):
		return "norms"
	case strings.Contains(scope, "/self_attn/"):
		return "attention"
	case strings.Contains(scope, "/mlp/"):
		return "mlp"
	}
	parts := strings.Split(strings.Trim(v.Scope(), "/"), "/")
	return "other: /" + parts[0]
}

// partOrder sorts the parts as a model reads: embeddings first, optimizer state last.
var partOrder = []string{"embeddings", "attention", "mlp", "norms", "lm_head"}

func partRank(name string) int {
	if i := slices.Index(partOrder, name); i >= 0 {
		return i
	}
	switch {
	case strings.HasPrefix(name, "other"):
		return len(partOrder)
	case strings.HasPrefix(name, "tuner"):
		return len(partOrder) + 1
	}
	return len(partOrder) + 2 // optimizer state
}

// paramsOf counts the model parameters v stores with the library's own rule
// (tuners.CountParams, which knows that QLoRA's packed codes hold two per byte and their scales
// none), applied to a shape-only copy of v: no value is copied.
func paramsOf(v *context.Variable) int64 {
	scratch := context.New()
	scratch.InAbsPath(v.Scope()).Checked(false).VariableWithShape(v.Name(), v.Shape())
	_, total := tuners.CountParams(scratch)
	return total
}

// Parts groups the variables of ctx by part. Tuner bookkeeping variables (names starting
// with "#") are left out.
func Parts(ctx *context.Context) []Part {
	byName := map[string]*Part{}
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Name(), "#") {
			continue
		}
		name := partOf(v)
		p := byName[name]
		if p == nil {
			p = &Part{Name: name}
			byName[name] = p
		}
		p.Variables++
		shape := v.Shape()
		p.Bytes += int64(shape.Memory())
		if dt := shape.DType.String(); !slices.Contains(p.DTypes, dt) {
			p.DTypes = append(p.DTypes, dt)
		}
		n := paramsOf(v)
		p.Params += n
		if v.Trainable {
			p.Trainable += n
		}
	}
	out := make([]Part, 0, len(byName))
	for _, p := range byName {
		sort.Strings(p.DTypes)
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := partRank(out[i].Name), partRank(out[j].Name)
		if ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// PartsTable makes a summary table of parts: variables, parameters, trainable parameters,
// dtypes and memory, with a total row. Optimizer state counts toward memory only.
func PartsTable(title string, parts []Part) *Table {
	t := &Table{Title: title, Header: []string{"part", "variables", "parameters", "trainable", "dtype", "memory"}, Total: true}
	var total Part
	for _, p := range parts {
		params, trainable := FormatCount(p.Params), FormatCount(p.Trainable)
		if p.Name == "optimizer state" {
			params, trainable = "", ""
		} else {
			total.Params += p.Params
			total.Trainable += p.Trainable
		}
		total.Variables += p.Variables
		total.Bytes += p.Bytes
		t.Rows = append(t.Rows, []string{p.Name, FormatCount(int64(p.Variables)), params, trainable,
			strings.ToLower(strings.Join(p.DTypes, ", ")), FormatBytes(p.Bytes)})
	}
	share := ""
	if total.Params > 0 {
		share = fmt.Sprintf("%.2f%% of the parameters train", 100*float64(total.Trainable)/float64(total.Params))
	}
	t.Rows = append(t.Rows, []string{"total", FormatCount(int64(total.Variables)), FormatCount(total.Params),
		FormatCount(total.Trainable), "", FormatBytes(total.Bytes)})
	t.Notes = share
	return t
}

// Summary is a compact table of a model: its architecture and backend in the title, then
// parameters, trainable parameters and memory by part (embeddings, attention, MLP, norms,
// head, each attached tuner, optimizer state once a trainer exists).
func Summary(m *swift.Model) *Table {
	if m == nil || m.Ctx == nil {
		return &Table{Title: "no model"}
	}
	title := filepath.Base(m.Path)
	if m.Config != nil {
		title += " — " + m.Config.String()
	}
	if m.Device.Kind != "" {
		title += " — backend " + m.Device.Kind
	}
	t := PartsTable(title, Parts(m.Ctx))
	if names := tunerNames(m); names != "" {
		t.Notes += " · tuners: " + names
	}
	return t
}

func tunerNames(m *swift.Model) string {
	var names []string
	for _, t := range m.Tuners() {
		names = append(names, t.Name())
	}
	return strings.Join(names, ", ")
}
