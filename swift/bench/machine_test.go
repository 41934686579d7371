package bench

import "testing"

// TestDirtyOutside: the "+dirty" marker ignores changes under the results folder and counts
// every other tracked change, renames on either side and quoted paths included.
func TestDirtyOutside(t *testing.T) {
	for _, tc := range []struct {
		name, porcelain string
		want            bool
	}{
		{"clean", "", false},
		{"report only", " M benchmarks/results/2026-11-28-cpu/report.md\nA  benchmarks/results/2026-12-01-cpu/results.jsonl\n", false},
		{"code change", " M swift/bench/machine.go\n", true},
		{"code and report", " M benchmarks/results/x/report.md\nM  go.mod\n", true},
		{"benchmarks outside results", " M benchmarks/peer_llama.py\n", true},
		{"prefix is a folder", " M benchmarks/results.md\n", true},
		{"rename within results", "R  benchmarks/results/a/r.md -> benchmarks/results/b/r.md\n", false},
		{"rename out of results", "R  benchmarks/results/a/r.md -> docs/r.md\n", true},
		{"quoted path in results", " M \"benchmarks/results/a b/\\303\\251.md\"\n", false},
		{"quoted path outside", " M \"swift/a b.go\"\n", true},
		{"CRLF", " M benchmarks/results/x/report.md\r\n", false},
	} {
		if got := dirtyOutside(tc.porcelain, ResultsDir); got != tc.want {
			t.Errorf("%s: dirtyOutside(%q) = %v, want %v", tc.name, tc.porcelain, got, tc.want)
		}
	}
}
