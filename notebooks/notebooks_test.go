package notebooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goswift/goswift/internal/fixtures"
)

// notebookTimeout bounds one notebook's execution (each runs in a few minutes on 2 cores).
const notebookTimeout = 20 * time.Minute

// tools are what `make notebooks-setup` installs, relative to the repository root.
type tools struct {
	root, bin, jupyterData string
}

func findTools(t *testing.T) tools {
	t.Helper()
	root, ok := fixtures.RepoRoot()
	if !ok {
		t.Fatal("repository root (go.mod) not found")
	}
	tl := tools{root: root, bin: filepath.Join(root, ".cache", "bin"), jupyterData: filepath.Join(root, ".cache", "jupyter")}
	var missing []string
	for _, p := range []string{filepath.Join(tl.bin, "gonb"), filepath.Join(tl.bin, "goimports"),
		filepath.Join(tl.jupyterData, "kernels", "gonb", "kernel.json")} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if _, err := exec.LookPath("jupyter-nbconvert"); err != nil {
		missing = append(missing, "jupyter-nbconvert (Debian package jupyter-nbconvert)")
	}
	if len(missing) > 0 {
		t.Fatalf("the notebook tools are not installed: run `make notebooks-setup` (or skip with go test -short); missing:\n  %s",
			strings.Join(missing, "\n  "))
	}
	return tl
}

// env is the environment nbconvert and the kernel run in: the tools first on PATH, the kernel
// spec in the repository's own Jupyter data directory, the fixtures and a scratch directory
// for what the notebooks write.
func (tl tools) env(runs, shared string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "PATH" && k != "JUPYTER_DATA_DIR" && k != "GOSWIFT_NOTEBOOK_RUNS" &&
			k != "GOSWIFT_SHARED_DATA" {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+tl.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"JUPYTER_DATA_DIR="+tl.jupyterData, "GOSWIFT_NOTEBOOK_RUNS="+runs, "GOSWIFT_SHARED_DATA="+shared,
		"GOMLX_NO_AUTO_INSTALL=1")
}

// TestNotebooks executes every notebook in this directory with nbconvert and the GoNB kernel,
// exports it to HTML and checks its outputs. The executed copies and HTML go to
// $GOSWIFT_NOTEBOOK_OUT when set (make notebooks, make test), else to a temporary directory.
func TestNotebooks(t *testing.T) {
	if testing.Short() {
		t.Skip("executes every notebook in Jupyter (minutes)")
	}
	paths, err := filepath.Glob("*.ipynb")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no notebooks found: %v", err)
	}
	fixtures.Path(t, "models", "stories260K", "stories260K.bin") // skips when the fixtures are absent
	shared, err := filepath.Abs(fixtures.Dir())
	if err != nil {
		t.Fatal(err)
	}
	tl := findTools(t)
	outDir := os.Getenv("GOSWIFT_NOTEBOOK_OUT")
	if outDir == "" {
		outDir = t.TempDir()
	} else if outDir, err = filepath.Abs(outDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".ipynb")
		t.Run(name, func(t *testing.T) {
			abs, err := filepath.Abs(path)
			if err != nil {
				t.Fatal(err)
			}
			expect, err := readExpectations(abs)
			if err != nil {
				t.Fatal(err)
			}
			executed := filepath.Join(outDir, name+".ipynb")
			_ = os.Remove(executed)
			start := time.Now()
			logPath := filepath.Join(outDir, name+".log")
			err = tl.nbconvert(t, logPath, tl.env(t.TempDir(), shared), "--to", "notebook", "--execute", "--allow-errors",
				"--ExecutePreprocessor.kernel_name=gonb", "--ExecutePreprocessor.timeout=600",
				"--output-dir", outDir, "--output", name+".ipynb", abs)
			t.Logf("%s executed in %s (kernel log: %s)", name, time.Since(start).Round(time.Second), logPath)
			if err != nil {
				t.Fatal(err)
			}
			nb, err := readNotebook(executed)
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range nb.problems() {
				t.Error(problem)
			}
			for _, e := range expect {
				if err := e.check(nb); err != nil {
					t.Error(err)
				}
			}
			if err := setGoLexer(executed); err != nil {
				t.Fatal(err)
			}
			if err := tl.nbconvert(t, filepath.Join(outDir, name+".html.log"), tl.env(t.TempDir(), shared),
				"--to", "html", "--output-dir", outDir, "--output", name+".html", executed); err != nil {
				t.Fatal(err)
			}
			htmlPath := filepath.Join(outDir, name+".html")
			page, err := os.ReadFile(htmlPath)
			if err != nil {
				t.Fatalf("HTML export: %v", err)
			}
			for _, problem := range htmlProblems(page, expect) {
				t.Errorf("HTML export %s: %s", htmlPath, problem)
			}
		})
	}
}

// nbconvert runs `jupyter nbconvert args...`, logging its output to logPath; the error quotes
// the log's tail.
func (tl tools) nbconvert(t *testing.T, logPath string, env []string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), notebookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "jupyter", append([]string{"nbconvert"}, args...)...)
	cmd.Dir = filepath.Join(tl.root, "notebooks")
	cmd.Env = env
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Run(); err != nil {
		tail, _ := os.ReadFile(logPath)
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return fmt.Errorf("jupyter nbconvert %s: %v\n…%s", strings.Join(args, " "), err, tail)
	}
	return nil
}

// setGoLexer names Pygments' Go lexer in an executed notebook's language_info, which GoNB leaves
// empty: without it nbconvert highlights the code of an HTML export as Python.
func setGoLexer(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var nb map[string]any
	if err := json.Unmarshal(raw, &nb); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	meta, _ := nb["metadata"].(map[string]any)
	info, _ := meta["language_info"].(map[string]any)
	if info == nil || info["pygments_lexer"] != "" {
		return nil
	}
	info["pygments_lexer"] = "go"
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(nb); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// notebook is the part of an .ipynb file the test reads.
type notebook struct {
	Cells []struct {
		CellType       string   `json:"cell_type"`
		Source         multiStr `json:"source"`
		ExecutionCount *int     `json:"execution_count"`
		Outputs        []output `json:"outputs"`
	} `json:"cells"`
	Metadata struct {
		GoSwift struct {
			Expect []expectation `json:"expect"`
		} `json:"goswift"`
	} `json:"metadata"`
}

type output struct {
	OutputType string              `json:"output_type"`
	Name       string              `json:"name"` // stream: stdout or stderr
	Text       multiStr            `json:"text"`
	Data       map[string]multiStr `json:"data"`
	EName      string              `json:"ename"`
	EValue     string              `json:"evalue"`
}

// multiStr is a notebook string: either a string or a list of lines.
type multiStr string

func (m *multiStr) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*m = multiStr(s)
		return nil
	}
	var lines []string
	if err := json.Unmarshal(b, &lines); err != nil {
		// Non-string MIME data (application/json): keep the raw JSON.
		*m = multiStr(b)
		return nil //nolint:nilerr // raw JSON is fine here
	}
	*m = multiStr(strings.Join(lines, ""))
	return nil
}

func readNotebook(path string) (*notebook, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var nb notebook
	if err := json.Unmarshal(raw, &nb); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &nb, nil
}

func readExpectations(path string) ([]expectation, error) {
	nb, err := readNotebook(path)
	if err != nil {
		return nil, err
	}
	expect := nb.Metadata.GoSwift.Expect
	if len(expect) == 0 {
		return nil, fmt.Errorf(`%s declares no expected outputs: add metadata "goswift": {"expect": [...]} (see doc.go)`, path)
	}
	for i, e := range expect {
		if (e.MIME == "") == (e.Stream == "") || (len(e.Contains) == 0 && e.Falls == "") {
			return nil, fmt.Errorf("%s: expectation %d needs exactly one of mime/stream and contains or falls: %+v", path, i, e)
		}
		if e.Falls != "" {
			re, err := regexp.Compile(e.Falls)
			if err != nil || re.NumSubexp() != 2 {
				return nil, fmt.Errorf("%s: expectation %d: falls %q must be a regexp with two groups (%v)", path, i, e.Falls, err)
			}
		}
	}
	return expect, nil
}

var exitStatus = regexp.MustCompile(`exit status \d+`)

// problems lists error outputs, failed cell programs and code cells that did not run.
func (nb *notebook) problems() []string {
	var out []string
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		where := fmt.Sprintf("cell %d (%.60q)", i, strings.TrimSpace(string(c.Source)))
		if c.ExecutionCount == nil && strings.TrimSpace(string(c.Source)) != "" {
			out = append(out, where+": did not run")
		}
		for _, o := range c.Outputs {
			switch {
			case o.OutputType == "error":
				out = append(out, fmt.Sprintf("%s: error output %s: %s", where, o.EName, o.EValue))
			case o.OutputType == "stream" && o.Name == "stderr":
				text := string(o.Text)
				if strings.Contains(text, "panic:") || exitStatus.MatchString(text) || strings.Contains(text, "GoNB Error") {
					out = append(out, fmt.Sprintf("%s: failed:\n%s", where, text))
				}
			}
		}
	}
	return out
}

// expectation is one output a notebook must show (see doc.go).
type expectation struct {
	MIME     string   `json:"mime,omitempty"`
	Stream   string   `json:"stream,omitempty"`
	Contains []string `json:"contains,omitempty"`
	Falls    string   `json:"falls,omitempty"`
}

// htmlProblems checks that an HTML export shows what the executed notebook showed: an inline
// SVG when one is expected, and every expected string (HTML outputs are embedded as they are,
// text outputs escaped).
func htmlProblems(page []byte, expect []expectation) []string {
	var out []string
	for _, e := range expect {
		if e.MIME == "image/svg+xml" && !bytes.Contains(page, []byte("<svg")) {
			out = append(out, "no inline <svg> although the notebook displays one")
		}
		for _, s := range e.Contains {
			if !bytes.Contains(page, []byte(s)) && !bytes.Contains(page, []byte(html.EscapeString(s))) {
				out = append(out, fmt.Sprintf("lacks %q (expected in a %s%s output)", s, e.MIME, e.Stream))
			}
		}
	}
	return out
}

// texts returns the candidate outputs: stream text of the stream, or data of the MIME type.
// Consecutive stream outputs of a cell are joined (Jupyter splits them arbitrarily).
func (e expectation) texts(nb *notebook) []string {
	var out []string
	for _, c := range nb.Cells {
		var stream strings.Builder
		for _, o := range c.Outputs {
			switch {
			case e.Stream != "" && o.OutputType == "stream" && o.Name == e.Stream:
				stream.WriteString(string(o.Text))
			case e.MIME != "" && (o.OutputType == "display_data" || o.OutputType == "execute_result"):
				if d, ok := o.Data[e.MIME]; ok {
					out = append(out, string(d))
				}
			}
		}
		if stream.Len() > 0 {
			out = append(out, stream.String())
		}
	}
	return out
}

func (e expectation) matches(text string) error {
	for _, s := range e.Contains {
		if !strings.Contains(text, s) {
			return fmt.Errorf("lacks %q", s)
		}
	}
	if e.Falls == "" {
		return nil
	}
	m := regexp.MustCompile(e.Falls).FindStringSubmatch(text)
	if len(m) < 3 {
		return fmt.Errorf("does not match %q (with two groups)", e.Falls)
	}
	before, err1 := strconv.ParseFloat(m[1], 64)
	after, err2 := strconv.ParseFloat(m[2], 64)
	if err1 != nil || err2 != nil || !(after < before) {
		return fmt.Errorf("%q: %s does not fall below %s", m[0], m[2], m[1])
	}
	return nil
}

// check passes if one output satisfies the expectation.
func (e expectation) check(nb *notebook) error {
	texts := e.texts(nb)
	what := e.MIME
	if what == "" {
		what = e.Stream
	}
	var reasons []string
	for _, text := range texts {
		err := e.matches(text)
		if err == nil {
			return nil
		}
		reasons = append(reasons, err.Error())
	}
	if len(reasons) > 6 {
		reasons = append(reasons[:6], "…")
	}
	return fmt.Errorf("no %s output contains %q (falls: %q); %d candidates: %s", what, e.Contains, e.Falls,
		len(texts), strings.Join(reasons, "; "))
}
