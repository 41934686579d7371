// Package nb holds GoSwift's helpers for GoNB notebooks (github.com/janpfeifer/gonb): a live
// training plot with a progress bar, a model summary table, a side-by-side generation table,
// line and bar charts for benchmark results, and a progress bar for any loop.
//
// The helpers sit on top of the library and only display what it computes: Train runs
// train.Trainer.Run and listens to its log; Summary reads the model's variables; Generations
// lays out infer results. Charts are plain inline SVG written here, so they render offline
// (no CDN-loaded JavaScript) and survive an HTML export.
//
// Inside a GoNB cell (gonbui.IsNotebook) the helpers send rich outputs (text/html, with
// image/svg+xml for charts and text/plain beside them), updating live displays in place.
// Anywhere else they print plain text to Out (os.Stdout) and never fail, so the same code runs
// in a test, a CLI or a notebook.
//
// Each GoNB cell runs as its own program: values do not survive from one cell to the next,
// only declarations do. Notebooks therefore keep state on disk (a saved adapter, a training
// log) and declare small loader functions that later cells call again.
//
// In a notebook cell, Check and Must turn an error into a readable message and end the cell's
// program with exit status 1, instead of a panic's stack trace.
package nb
