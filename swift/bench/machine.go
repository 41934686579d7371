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

func commit() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				rev += "+dirty"
			}
			return rev
		}
	}
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += "+dirty"
	}
	return rev
}
