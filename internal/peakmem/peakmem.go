// Package peakmem measures the peak resident memory (VmHWM) of a workload by running it alone in
// a child process: the test binary re-executes itself with one test selected and an environment
// variable naming the workload. It is a test helper for the gomlx_ext packages (Linux only: it
// reads /proc/self/status).
//
// Parent side:
//
//	r, err := peakmem.Run("TestPeakChild", "remat/16layers", nil)
//
// Child side (a test that is a no-op unless it is the child):
//
//	func TestPeakChild(t *testing.T) {
//		key, ok := peakmem.ChildKey()
//		if !ok { t.Skip("only runs as a peakmem child") }
//		... build and run the workload for key ...
//		peakmem.Report(map[string]float64{"seconds": s})
//	}
package peakmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// EnvKey is the environment variable that carries the workload key to the child.
const EnvKey = "GOMLX_EXT_PEAKMEM_KEY"

// reportPrefix starts the line a child prints with its measurements.
const reportPrefix = "PEAKMEM-REPORT "

// Result is what a child reported.
type Result struct {
	// PeakBytes is the child's VmHWM (peak resident set) at the end of the workload.
	PeakBytes int64
	// BaselineBytes is the child's VmHWM when ChildKey was first called (before the workload).
	BaselineBytes int64
	// Values holds the extra values the child passed to Report.
	Values map[string]float64
	// Output is the child's combined output.
	Output string
}

// WorkloadBytes is PeakBytes - BaselineBytes.
func (r Result) WorkloadBytes() int64 { return r.PeakBytes - r.BaselineBytes }

var baseline int64 = -1

// ChildKey returns the workload key when running as a child, and records the baseline VmHWM.
func ChildKey() (string, bool) {
	key := os.Getenv(EnvKey)
	if key == "" {
		return "", false
	}
	if baseline < 0 {
		baseline, _ = ReadStatus("VmHWM")
	}
	return key, true
}

// Report prints the child's measurements (peak and baseline VmHWM plus values) for the parent.
func Report(values map[string]float64) {
	peak, err := ReadStatus("VmHWM")
	if err != nil {
		panic(err)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%speak=%d baseline=%d", reportPrefix, peak, baseline)
	for k, v := range values {
		fmt.Fprintf(&sb, " %s=%g", k, v)
	}
	fmt.Println(sb.String())
}

// Run re-executes the current test binary running only testName, with the workload key in the
// environment (plus extraEnv entries "K=V"), and returns what the child reported.
func Run(testName, key string, extraEnv []string) (Result, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^"+testName+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), EnvKey+"="+key), extraEnv...)
	out, err := cmd.CombinedOutput()
	r := Result{Output: string(out), Values: map[string]float64{}}
	if err != nil {
		return r, errors.Wrapf(err, "peakmem child %s (key %q) failed:\n%s", testName, key, tail(out))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	found := false
	for sc.Scan() {
		line := sc.Text()
		idx := strings.Index(line, reportPrefix)
		if idx < 0 {
			continue
		}
		found = true
		for _, field := range strings.Fields(line[idx+len(reportPrefix):]) {
			k, v, ok := strings.Cut(field, "=")
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			switch k {
			case "peak":
				r.PeakBytes = int64(f)
			case "baseline":
				r.BaselineBytes = int64(f)
			default:
				r.Values[k] = f
			}
		}
	}
	if !found {
		return r, errors.Errorf("peakmem child %s (key %q) printed no report:\n%s", testName, key, tail(out))
	}
	return r, nil
}

// ReadStatus returns a "kB" field of /proc/self/status (e.g. "VmHWM", "VmRSS") in bytes.
func ReadStatus(field string) (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, errors.Wrap(err, "reading /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, field+":") {
			continue
		}
		fields := strings.Fields(line[len(field)+1:])
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, errors.Wrapf(err, "parsing %s in /proc/self/status", field)
		}
		return kb * 1024, nil
	}
	return 0, errors.Errorf("field %s not found in /proc/self/status", field)
}

// MemAvailable returns /proc/meminfo's MemAvailable in bytes (0 if unknown).
func MemAvailable() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "MemAvailable:") {
			fields := strings.Fields(line[len("MemAvailable:"):])
			if len(fields) > 0 {
				kb, _ := strconv.ParseInt(fields[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func tail(out []byte) string {
	const n = 3000
	if len(out) > n {
		return "..." + string(out[len(out)-n:])
	}
	return string(out)
}
