package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// EnvSpec is the environment variable that carries a run's Spec (JSON) to a child process.
const EnvSpec = "GOSWIFT_BENCH_SPEC"

// resultPrefix starts the line a child prints with its Result.
const resultPrefix = "GOSWIFT-BENCH-RESULT "

// ChildSpec returns the spec of this process when it is a bench child (EnvSpec set).
func ChildSpec() (Spec, bool, error) {
	raw := os.Getenv(EnvSpec)
	if raw == "" {
		return Spec{}, false, nil
	}
	var s Spec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return s, true, errors.Wrapf(err, "$%s", EnvSpec)
	}
	return s, true, nil
}

// ChildMain runs this process's spec (EnvSpec) and prints its result line on w. The result is
// printed even when the run fails (Status "error"); the returned error says why.
func ChildMain(w io.Writer) error {
	spec, ok, err := ChildSpec()
	if err != nil {
		return err
	}
	if !ok {
		return errors.Errorf("not a bench child: $%s is not set", EnvSpec)
	}
	res, runErr := RunOne(spec)
	line, err := json.Marshal(res)
	if err != nil {
		return errors.Wrap(err, "encoding the result")
	}
	if _, err := fmt.Fprintf(w, "\n%s%s\n", resultPrefix, line); err != nil {
		return err
	}
	return runErr
}

// Launcher runs one spec in a fresh process and returns its result.
type Launcher func(ctx context.Context, spec Spec) (*Result, error)

// ExecLauncher returns a Launcher that runs argv (e.g. the goswift binary with "bench
// --child", or a test binary selecting its child test) with the spec in $GOSWIFT_BENCH_SPEC,
// plus extraEnv ("K=V"), and reads the result line it prints. stderr, if set, receives the
// child's output as it runs.
func ExecLauncher(argv []string, extraEnv []string, stderr io.Writer) Launcher {
	return func(ctx context.Context, spec Spec) (*Result, error) {
		raw, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(append(os.Environ(), EnvSpec+"="+string(raw)), extraEnv...)
		cmd.WaitDelay = 5 * time.Second
		var out bytes.Buffer
		cmd.Stdout = &out
		var errBuf tailBuffer
		if stderr != nil {
			cmd.Stderr = io.MultiWriter(&errBuf, stderr)
		} else {
			cmd.Stderr = &errBuf
		}
		runErr := cmd.Run()
		res, parseErr := parseResult(out.Bytes())
		if res != nil {
			if runErr != nil && res.Status == "ok" {
				res.Status, res.Error = "error", runErr.Error()
			}
			if res.Status != "ok" {
				return res, errors.Errorf("%s: %s", spec.ID(), res.Error)
			}
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, errors.Wrapf(ctx.Err(), "%s: child process", spec.ID())
		}
		msg := strings.TrimSpace(errBuf.String() + "\n" + tail(out.String(), 2000))
		if runErr != nil {
			return nil, errors.Errorf("%s: child process failed (%v):\n%s", spec.ID(), runErr, msg)
		}
		return nil, errors.Errorf("%s: child process printed no result (%v):\n%s", spec.ID(), parseErr, msg)
	}
}

func parseResult(out []byte) (*Result, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, resultPrefix)
		if i < 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line[i+len(resultPrefix):]), &r); err != nil {
			return nil, errors.Wrap(err, "decoding the result line")
		}
		return &r, nil
	}
	return nil, errors.New("no result line")
}

// tailBuffer keeps the last 4 KB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
