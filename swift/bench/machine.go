package bench

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Machine describes where the suite ran.
type Machine struct {
	CPU         string  `json:"cpu"`
	Cores       int     `json:"cores"` // runtime.NumCPU
	MemoryBytes int64   `json:"memory_bytes"`
	OS          string  `json:"os"`
	Arch        string  `json:"arch"`
	LoadAverage float64 `json:"load_average"` // 1-minute load when the suite started (others' work)
	Hostname    string  `json:"hostname"`
}

// Versions are the software versions of a run.
type Versions struct {
	Go      string `json:"go"`
	GoMLX   string `json:"gomlx"`
	GoSwift string `json:"goswift"` // git commit (+dirty), or "unknown"
	Torch   string `json:"torch,omitempty"`
	Python  string `json:"python,omitempty"`
}

// Commit can be set at link time (-ldflags "-X github.com/goswift/goswift/swift/bench.Commit=...");
// otherwise the build's VCS stamp or `git rev-parse HEAD` in the working directory is used.
var Commit = ""

// DescribeMachine reads the CPU model, memory and load from /proc (Linux; fields stay empty
// elsewhere).
func DescribeMachine() *Machine {
	m := &Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	m.Hostname, _ = os.Hostname()
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if m.CPU == "" {
		m.CPU = runtime.GOARCH
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				if fs := strings.Fields(line[len("MemTotal:"):]); len(fs) > 0 {
					kb, _ := strconv.ParseInt(fs[0], 10, 64)
					m.MemoryBytes = kb * 1024
				}
			}
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if fs := strings.Fields(string(data)); len(fs) > 0 {
			m.LoadAverage, _ = strconv.ParseFloat(fs[0], 64)
		}
	}
	return m
}

// CurrentVersions returns the Go, GoMLX and GoSwift versions of this binary.
func CurrentVersions() Versions {
	v := Versions{Go: runtime.Version(), GoMLX: "unknown", GoSwift: commit()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/gomlx/gomlx" {
				v.GoMLX = d.Version
				if d.Replace != nil {
					v.GoMLX += " => " + d.Replace.Path + " " + d.Replace.Version
				}
			}
		}
	}
	return v
}

// ResultsDir is the repository folder of the committed reports. Changes under it do not make
// the version "+dirty": a report being written (or one not yet committed) is not a code change.
const ResultsDir = "benchmarks/results/"

// commit returns the GoSwift version of this binary: the -ldflags Commit, else the build's VCS
// stamp, else `git rev-parse HEAD` in the working directory; "+dirty" is appended when tracked
// files outside ResultsDir differ from that commit. The VCS stamp's vcs.modified cannot say which
// files changed, so when git in the working directory is at the same commit, git decides;
// otherwise (no git, another checkout) the stamp's word stands.
func commit() string {
	if Commit != "" {
		return Commit
	}
	rev, stampDirty := "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				stampDirty = s.Value == "true"
			}
		}
	}
	head := ""
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		head = strings.TrimSpace(string(out))
	}
	if rev == "" {
		if head == "" {
			return "unknown"
		}
		rev = head
	}
	dirty := stampDirty
	if head == rev { // git describes the tree this binary was built from
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
			dirty = dirtyOutside(string(st), ResultsDir)
		}
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// dirtyOutside reports whether `git status --porcelain` (v1) output lists a changed path outside
// the folder prefix (slash-separated, relative to the repository root, ending in "/"). A rename
// counts when either side lies outside; quoted paths (special characters) are unquoted first.
func dirtyOutside(porcelain, prefix string) bool {
	for _, line := range strings.Split(porcelain, "\n") {
		line = strings.TrimRight(line, "\r")
		if len(line) < 4 {
			continue
		}
		for _, p := range strings.Split(line[3:], " -> ") {
			if uq, err := strconv.Unquote(p); err == nil {
				p = uq
			}
			if !strings.HasPrefix(p, prefix) {
				return true
			}
		}
	}
	return false
}
