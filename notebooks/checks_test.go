package notebooks

import (
	"encoding/json"
	"strings"
	"testing"
)

// executedFixture is a small executed notebook as nbconvert writes it.
const executedFixture = `{
 "cells": [
  {"cell_type": "markdown", "source": ["# title"], "metadata": {}},
  {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["%%\n", "train()"], "outputs": [
    {"output_type": "stream", "name": "stdout", "text": ["held-out loss: 4.70"]},
    {"output_type": "stream", "name": "stdout", "text": [" → 2.88 (-1.8)\n"]},
    {"output_type": "display_data", "metadata": {}, "data": {"image/svg+xml": ["<svg>", "<polyline/></svg>"], "text/plain": "plot"}}
  ]},
  {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": "%%\nfail()", "outputs": [
    {"output_type": "stream", "name": "stderr", "text": "warning: slow\n"},
    {"output_type": "stream", "name": "stderr", "text": "panic: boom\n\ngoroutine 1\nexit status 2\n"}
  ]},
  {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": "!false", "outputs": [
    {"output_type": "stream", "name": "stderr", "text": "exit status 1\n"}
  ]},
  {"cell_type": "code", "execution_count": 4, "metadata": {}, "source": "x := y", "outputs": [
    {"output_type": "error", "ename": "ERROR", "evalue": "undefined: y", "traceback": []}
  ]},
  {"cell_type": "code", "execution_count": null, "metadata": {}, "source": "%%\nlater()", "outputs": []},
  {"cell_type": "code", "execution_count": null, "metadata": {}, "source": "", "outputs": []}
 ],
 "metadata": {"goswift": {"expect": [{"stream": "stdout", "contains": ["held-out loss"]}]}},
 "nbformat": 4, "nbformat_minor": 4
}`

func TestChecks(t *testing.T) {
	var nb notebook
	if err := json.Unmarshal([]byte(executedFixture), &nb); err != nil {
		t.Fatal(err)
	}
	problems := nb.problems()
	want := []string{"cell 2 (\"%%\\nfail()\"): failed:\npanic: boom", "cell 3 (\"!false\"): failed:\nexit status 1",
		"cell 4 (\"x := y\"): error output ERROR: undefined: y", "cell 5 (\"%%\\nlater()\"): did not run"}
	if len(problems) != len(want) {
		t.Fatalf("problems:\n%s", strings.Join(problems, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, problems[i], w)
		}
	}

	fall := `held-out loss: ([0-9.]+) → ([0-9.]+)`
	tests := []struct {
		e  expectation
		ok bool
	}{
		{expectation{MIME: "image/svg+xml", Contains: []string{"<polyline"}}, true},
		{expectation{MIME: "image/svg+xml", Contains: []string{"<circle"}}, false},
		{expectation{MIME: "text/html", Contains: []string{"<svg"}}, false},
		{expectation{Stream: "stdout", Contains: []string{"held-out loss: 4.70 → 2.88"}}, true}, // joined across outputs
		{expectation{Stream: "stdout", Falls: fall}, true},
		{expectation{Stream: "stdout", Falls: `held-out loss: ([0-9.]+) → ([0-9.]+) \(([-0-9.]+)\)`}, true},
		{expectation{Stream: "stderr", Contains: []string{"warning: slow", "panic"}}, true},
	}
	for _, tc := range tests {
		if err := tc.e.check(&nb); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.e, err, tc.ok)
		}
	}
	rising := expectation{Stream: "stdout", Falls: `loss: ([0-9.]+)(?:\s*→\s*)?()`}
	if err := rising.check(&nb); err == nil {
		t.Error("an unparsable 'after' passed")
	}
	if err := (expectation{Stream: "stdout", Falls: `held-out loss: (2.88)?.*?([0-9.]+)`}).check(&nb); err == nil {
		t.Error("an unparsable 'before' passed")
	}
}

func TestHTMLProblems(t *testing.T) {
	expect := []expectation{
		{MIME: "image/svg+xml", Contains: []string{"<polyline"}},
		{Stream: "stdout", Contains: []string{`loss "held-out" <4.7>`}},
		{MIME: "text/html", Contains: []string{"<b>ROMEO:</b>"}},
	}
	good := `<html><svg><polyline/></svg><pre>loss &#34;held-out&#34; &lt;4.7&gt;</pre><td><b>ROMEO:</b></td></html>`
	if p := htmlProblems([]byte(good), expect); len(p) != 0 {
		t.Errorf("a complete export reported problems: %v", p)
	}
	bad := `<html><pre>nothing ran</pre></html>`
	p := htmlProblems([]byte(bad), expect)
	want := []string{"no inline <svg>", `lacks "<polyline"`, `lacks "loss \"held-out\" <4.7>"`, `lacks "<b>ROMEO:</b>"`}
	if len(p) != len(want) {
		t.Fatalf("got %d problems %q, want %d", len(p), p, len(want))
	}
	for i, w := range want {
		if !strings.Contains(p[i], w) {
			t.Errorf("problem %d = %q, want it to mention %q", i, p[i], w)
		}
	}
}
