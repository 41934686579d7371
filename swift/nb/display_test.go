package nb

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
)

// sent is one bundle a fake notebook received.
type sent struct {
	id     string
	bundle Bundle
}

// fakeNotebook makes the helpers believe they run in GoNB and records what they send. It also
// captures Out.
func fakeNotebook(t *testing.T, notebook bool) (got func() []sent, out *bytes.Buffer) {
	t.Helper()
	var mu sync.Mutex
	var msgs []sent
	oldIn, oldSend, oldOut, oldStderr, oldFlush := inNotebook, send, Out, stderr, flush
	flush = func() {}
	out = &bytes.Buffer{}
	stderr = &bytes.Buffer{}
	inNotebook = func() bool { return notebook }
	send = func(id string, b Bundle) {
		mu.Lock()
		defer mu.Unlock()
		msgs = append(msgs, sent{id, b})
	}
	Out = out
	t.Cleanup(func() { inNotebook, send, Out, stderr, flush = oldIn, oldSend, oldOut, oldStderr, oldFlush })
	return func() []sent {
		mu.Lock()
		defer mu.Unlock()
		return append([]sent(nil), msgs...)
	}, out
}

func TestShowOutsideNotebook(t *testing.T) {
	got, out := fakeNotebook(t, false)
	Show(&BarChart{Title: "speed", Bars: []Bar{{Label: "a", Value: 1}}})
	Show(nil)
	ShowHTML("<b>x</b>", "x")
	if len(got()) != 0 {
		t.Errorf("sent %d bundles outside a notebook", len(got()))
	}
	if s := out.String(); !strings.HasPrefix(s, "speed\n") || !strings.HasSuffix(s, "\nx\n") {
		t.Errorf("text output %q", s)
	}
}

func TestShowInNotebook(t *testing.T) {
	got, out := fakeNotebook(t, true)
	flushes := 0
	flush = func() { flushes++ }
	Show(&LineChart{Title: "loss", Series: []Series{{X: []float64{0, 1}, Y: []float64{2, 1}}}})
	Show(&Table{Header: []string{"a"}, Rows: [][]string{{"1"}}})
	msgs := got()
	if flushes != 2 {
		t.Errorf("%d flushes after 2 Shows: a cell's last output could be lost at exit", flushes)
	}
	if len(msgs) != 2 || out.Len() != 0 {
		t.Fatalf("%d bundles, %d bytes of text", len(msgs), out.Len())
	}
	chart := msgs[0].bundle
	if msgs[0].id != "" || !strings.HasPrefix(chart[MIMESVG], "<svg") || !strings.Contains(chart[MIMEHTML], chart[MIMESVG]) ||
		!strings.HasPrefix(chart[MIMEText], "loss") {
		t.Errorf("chart bundle: %v", chart)
	}
	if _, ok := msgs[1].bundle[MIMESVG]; ok || !strings.Contains(msgs[1].bundle[MIMEHTML], "<table") {
		t.Errorf("table bundle: %v", msgs[1].bundle)
	}
}

func TestLiveUpdatesInPlace(t *testing.T) {
	got, _ := fakeNotebook(t, true)
	a, b := NewLive(), NewLive()
	a.Update(&Table{Title: "1"})
	b.Update(&Table{Title: "2"})
	a.Update(&Table{Title: "3"})
	var nilLive *Live
	nilLive.Update(&Table{})
	msgs := got()
	if len(msgs) != 3 || msgs[0].id == "" || msgs[0].id != msgs[2].id || msgs[0].id == msgs[1].id {
		t.Errorf("ids %q %q %q: want the same id for the same live output, distinct otherwise",
			msgs[0].id, msgs[1].id, msgs[2].id)
	}
}

func TestCheck(t *testing.T) {
	for _, notebook := range []bool{false, true} {
		got, _ := fakeNotebook(t, notebook)
		code := -1
		oldExit := exit
		exit = func(c int) { code = c }
		Check(nil)
		if code != -1 {
			t.Fatalf("Check(nil) exited")
		}
		v := Must(42, nil)
		if v != 42 || code != -1 {
			t.Fatalf("Must(42, nil) = %d, exit %d", v, code)
		}
		Check(errors.New("no <model>"))
		exit = oldExit
		if code != 1 {
			t.Errorf("notebook=%v: exit code %d, want 1", notebook, code)
		}
		if notebook {
			if msgs := got(); len(msgs) != 1 || !strings.Contains(msgs[0].bundle[MIMEHTML], "no &lt;model&gt;") {
				t.Errorf("error display %v", msgs)
			}
		}
	}
}

func TestProgress(t *testing.T) {
	t.Run("text", func(t *testing.T) {
		fakeNotebook(t, false)
		var w bytes.Buffer
		p := NewProgress("eval", 4)
		p.Writer, p.Every = &w, 0
		p.Update(2, "half")
		p.Update(4, "all")
		p.Finish("done")
		p.Update(3, "ignored after Finish")
		s := w.String()
		if !strings.Contains(s, "\reval ["+strings.Repeat("█", 15)+strings.Repeat("·", 15)+"] 2/4") ||
			!strings.Contains(s, "4/4") || !strings.HasSuffix(s, "done\n") || strings.Contains(s, "ignored") {
			t.Errorf("progress text %q", s)
		}
	})
	t.Run("notebook", func(t *testing.T) {
		got, _ := fakeNotebook(t, true)
		p := NewProgress("eval", 4)
		p.Every = 0
		p.Update(1, "")
		p.Finish("done")
		msgs := got()
		if len(msgs) != 3 {
			t.Fatalf("%d updates, want 3", len(msgs))
		}
		for _, m := range msgs {
			if m.id != msgs[0].id {
				t.Errorf("progress updates went to different outputs")
			}
		}
		if last := msgs[2].bundle[MIMEHTML]; !strings.Contains(last, "width:25.0%") || !strings.Contains(last, "done") {
			t.Errorf("last progress html %s", last)
		}
	})
}

func TestTable(t *testing.T) {
	tab := &Table{Title: "params", Header: []string{"part", "parameters", "memory"}, Total: true, Notes: "note <1>",
		Rows: [][]string{{"embeddings", "32,768", "128 KiB"}, {"attention", "40,960", "160 KiB"}, {"total", "73,728", "288 KiB"}}}
	text := tab.Text()
	want := "params\n" +
		"  part        parameters   memory\n" +
		" ─────────────────────────────────\n" +
		"  embeddings      32,768  128 KiB\n" +
		"  attention       40,960  160 KiB\n" +
		" ─────────────────────────────────\n" +
		"  total           73,728  288 KiB\n" +
		"note <1>\n"
	if text != want {
		t.Errorf("text:\n%s\nwant:\n%s", text, want)
	}
	html := tab.HTML()
	for _, s := range []string{"<table", "text-align:right", "font-weight:bold", "note &lt;1&gt;"} {
		if !strings.Contains(html, s) {
			t.Errorf("html lacks %q", s)
		}
	}
}

func TestGenerations(t *testing.T) {
	g := Generations([]string{"ROMEO:", "Once"}, Column{Name: "before", Texts: []string{" a <b>", " upon"}},
		Column{Name: "after", Texts: []string{" Good\nmorrow"}})
	html := g.HTML()
	for _, s := range []string{">before</th>", ">after</th>", "<b>ROMEO:</b> a &lt;b&gt;", "<b>Once</b></td>"} {
		if !strings.Contains(html, s) {
			t.Errorf("html lacks %q:\n%s", s, html)
		}
	}
	want := "prompt \"ROMEO:\"\n  before: ROMEO: a <b>\n  after : ROMEO: Good\n          morrow\n" +
		"prompt \"Once\"\n  before: Once upon\n  after : Once\n"
	if got := g.Text(); got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
}
