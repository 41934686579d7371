package nb

import (
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// MIME types the helpers send.
const (
	MIMEText = "text/plain"
	MIMEHTML = "text/html"
	MIMESVG  = "image/svg+xml"
)

// Out receives the plain-text output outside a notebook; nil means os.Stdout.
var Out io.Writer

func out() io.Writer {
	if Out == nil {
		return os.Stdout
	}
	return Out
}

// Bundle is one rich output: its representations by MIME type.
type Bundle map[string]string

// These are variables so tests can observe what a notebook would receive.
var (
	// inNotebook reports whether the program runs as a GoNB cell.
	inNotebook = func() bool { return gonbui.IsNotebook }
	// send delivers a bundle to the notebook; a non-empty id names an updatable output (the
	// first send creates it, later sends replace its content).
	send = func(id string, b Bundle) {
		data := &protocol.DisplayData{Data: make(map[protocol.MIMEType]any, len(b)), DisplayID: id}
		for mime, content := range b {
			data.Data[protocol.MIMEType(mime)] = content
		}
		gonbui.SendData(data)
	}
	// flush waits (a few seconds at most) until GoNB has passed on everything sent so far:
	// display data still in GoNB's pipe when a cell's program exits can be lost.
	flush = func() {
		done := make(chan struct{})
		go func() {
			gonbui.Sync()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	// exit ends the cell's program (Check); stderr receives its message.
	exit             = os.Exit
	stderr io.Writer = os.Stderr
)

// IsNotebook reports whether the program runs as a GoNB notebook cell.
func IsNotebook() bool { return inNotebook() }

// Renderer is anything the helpers can show: a plain-text form and an HTML form.
type Renderer interface {
	Text() string
	HTML() string
}

// SVGRenderer is a Renderer that is also a picture (charts): notebooks receive the SVG as
// image/svg+xml beside the HTML.
type SVGRenderer interface {
	Renderer
	SVG() string
}

// bundleOf renders r for a notebook.
func bundleOf(r Renderer) Bundle {
	b := Bundle{MIMEText: r.Text(), MIMEHTML: r.HTML()}
	if s, ok := r.(SVGRenderer); ok {
		b[MIMESVG] = s.SVG()
	}
	return b
}

// Show displays r: as a rich output in a notebook, as text on Out elsewhere.
func Show(r Renderer) {
	if r == nil {
		return
	}
	if inNotebook() {
		send("", bundleOf(r))
		flush()
		return
	}
	text := r.Text()
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	_, _ = io.WriteString(out(), text)
}

// ShowHTML displays an HTML fragment in a notebook, or text (when not empty) on Out elsewhere.
func ShowHTML(htmlFragment, text string) {
	Show(rawRenderer{html: htmlFragment, text: text})
}

type rawRenderer struct{ html, text string }

func (r rawRenderer) HTML() string { return r.html }
func (r rawRenderer) Text() string { return r.text }

// Live is an output that is replaced in place each time it is updated (a progress bar, a
// training plot). Outside a notebook updating it does nothing: callers print their own text.
type Live struct {
	id string
}

// NewLive returns a new, still empty, live output.
func NewLive() *Live { return &Live{id: "goswift_" + gonbui.UniqueId()} }

// Update replaces the live output's content with r.
func (l *Live) Update(r Renderer) {
	if l == nil || r == nil || !inNotebook() {
		return
	}
	send(l.id, bundleOf(r))
}

// Flush waits until the notebook has received the live output's last update (call it after
// the final one: GoNB can drop what is still in transit when the cell's program exits).
func (l *Live) Flush() {
	if inNotebook() {
		flush()
	}
}

// Check ends the cell when err is not nil: it shows the error (in red in a notebook, on stderr
// elsewhere) and exits with status 1, which GoNB reports as "exit status 1". It is meant for
// notebook cells and small programs' main functions, where there is no caller to return to.
func Check(err error) {
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%v", err)
	if inNotebook() {
		send("", Bundle{MIMEText: "error: " + msg, MIMEHTML: `<pre style="color:#b00020;white-space:pre-wrap">error: ` +
			html.EscapeString(msg) + "</pre>"})
		flush()
	}
	fmt.Fprintln(stderr, "error:", msg)
	exit(1)
}

// Must returns v, or ends the cell as Check does when err is not nil.
func Must[T any](v T, err error) T {
	Check(err)
	return v
}
