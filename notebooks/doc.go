// Package notebooks holds GoSwift's GoNB notebooks (*.ipynb) and the test that executes each of
// them in real Jupyter (nbconvert with the GoNB kernel) and checks its outputs.
//
// A notebook dropped into this directory is picked up by the test. Its metadata says what its
// executed copy must show, under "goswift": {"expect": [...]}; each expectation is one of
//
//	{"mime": "image/svg+xml", "contains": ["<polyline", ...]}   some rich output of that MIME type
//	{"stream": "stdout", "contains": ["held-out loss: "]}       some stdout/stderr output
//
// and may add "falls": a regular expression with two numeric groups (before, after) that must
// match the same output with after < before — e.g. the held-out loss line.
//
// Besides its expectations, a notebook fails the test on any error output (a compile error),
// any stderr output holding "panic:" or "exit status N" (GoNB reports a cell's failed program
// that way, not as a Jupyter error), or a code cell that did not run. Set up the tools with
// `make notebooks-setup`; `make notebooks` runs the test and keeps the executed notebooks and
// their HTML exports.
package notebooks
