package xla

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// hermetic returns options that see no $GOMLX_BACKEND and an empty fake machine.
func hermetic(t *testing.T, want string) Options {
	m := newFakeMachine(t)
	return m.opts(want)
}

// runAddGraph runs x+x on the backend.
func runAddGraph(t *testing.T, b backends.Backend) []float32 {
	t.Helper()
	exec, err := graph.NewExec(b, func(x *graph.Node) *graph.Node { return graph.Add(x, x) })
	if err != nil {
		t.Fatalf("NewExec: %v", err)
	}
	out, err := exec.Exec1([]float32{1, 2, 3})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	return out.Value().([]float32)
}

func TestNewCPU(t *testing.T) {
	for _, goConfig := range []string{"", GoConfigSequential, "go", "go:parallelism=2,ops_parallel", GoSwiftConfig, "goswift:ops_sequential"} {
		t.Run(goConfig, func(t *testing.T) {
			opts := hermetic(t, "cpu")
			opts.GoConfig = goConfig
			b, c, err := New(opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer b.Finalize()
			want := DefaultGoConfig
			if goConfig != "" {
				want = goConfig
			}
			if name, _ := splitConfig(want); c.Kind != KindGo || b.String() != name {
				t.Fatalf("got backend %q, choice %s", b.String(), c)
			}
			if got := runAddGraph(t, b); !slices.Equal(got, []float32{2, 4, 6}) {
				t.Errorf("x+x = %v", got)
			}
			if d := Describe(b, c); !strings.Contains(d, b.Name()) || !strings.Contains(d, "1 device(s)") {
				t.Errorf("Describe = %q", d)
			}
		})
	}
}

// TestNewAutoWithoutPlugin: on an empty machine "auto" gives a working simplego.
func TestNewAutoWithoutPlugin(t *testing.T) {
	b, c, err := New(hermetic(t, "auto"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer b.Finalize()
	if c.Kind != KindGo || c.Config != DefaultGoConfig || c.Source != "auto" {
		t.Fatalf("choice %s", c)
	}
	if got := runAddGraph(t, b); !slices.Equal(got, []float32{2, 4, 6}) {
		t.Errorf("x+x = %v", got)
	}
}

// TestNewAutoFallsBack: a broken CUDA plugin in "auto" mode falls back to simplego; asked for
// explicitly, it is an error.
func TestNewAutoFallsBack(t *testing.T) {
	if !XLACompiled {
		t.Skip("built without XLA")
	}
	m := newFakeMachine(t)
	m.gpu()
	plugin := m.touch(m.inHome(".local/lib/go-xla/pjrt_c_api_cuda_plugin.so")) // empty: dlopen fails
	b, c, err := New(m.opts("auto"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer b.Finalize()
	if c.Kind != KindGo || !strings.Contains(c.Reason, plugin) || !strings.Contains(c.Reason, "failed to load") {
		t.Errorf("choice %s", c)
	}
	if _, _, err := New(m.opts("cuda")); err == nil || !strings.Contains(err.Error(), plugin) {
		t.Errorf("New(cuda) with a broken plugin: err = %v", err)
	}
}

// TestNewUnknownBackend: GoMLX panics on an unregistered backend name; New returns an error.
func TestNewUnknownBackend(t *testing.T) {
	m := newFakeMachine(t)
	m.env[EnvBackend] = "nosuchbackend:x"
	if _, _, err := New(m.opts("")); err == nil || !strings.Contains(err.Error(), "nosuchbackend") {
		t.Errorf("err = %v", err)
	}
}

func TestNoAutoInstall(t *testing.T) {
	if v, ok := os.LookupEnv(EnvNoAutoInstall); !ok {
		t.Errorf("$%s not set after init", EnvNoAutoInstall)
	} else if v == "" {
		t.Logf("$%s set, but empty (by the user)", EnvNoAutoInstall)
	}
	if backends.DefaultConfig != BareGoConfig {
		t.Errorf("backends.DefaultConfig = %q, want %q", backends.DefaultConfig, BareGoConfig)
	}
	if _, found := os.LookupEnv(EnvBackend); !found {
		b, err := backends.New()
		if err != nil {
			t.Fatalf("backends.New: %v", err)
		}
		defer b.Finalize()
		if name, _ := splitConfig(BareGoConfig); b.String() != name {
			t.Errorf("bare backends.New() gave %q, want %q", b.String(), name)
		}
	}
}

func TestDefault(t *testing.T) {
	if _, found := os.LookupEnv(EnvBackend); found {
		t.Skipf("$%s is set", EnvBackend)
	}
	b1, c, err := DefaultWithChoice()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	b2, err := Default()
	if err != nil || b1 != b2 {
		t.Fatalf("Default is not a singleton: %p %p %v", b1, b2, err)
	}
	t.Logf("Default: %s", Describe(b1, c))
	if got := runAddGraph(t, b1); !slices.Equal(got, []float32{2, 4, 6}) {
		t.Errorf("x+x = %v", got)
	}
}

func TestDescribeWithoutBackend(t *testing.T) {
	c := Choice{Kind: KindCUDA, Config: "xla:/p.so", Plugin: "/p.so", Reason: "because",
		Env: map[string]string{EnvXLAFlags: "--xla_gpu_cuda_data_dir=/n"}}
	d := Describe(nil, c)
	for _, s := range []string{"kind cuda", `config "xla:/p.so"`, "plugin /p.so", "because", "--xla_gpu_cuda_data_dir=/n"} {
		if !strings.Contains(d, s) {
			t.Errorf("Describe = %q, lacks %q", d, s)
		}
	}
}

// ExampleNew creates the CPU backend and runs a graph on it.
func ExampleNew() {
	b, c, err := New(Options{Want: "cpu", Env: func(k string) (string, bool) {
		if k == EnvBackend { // ignore the caller's $GOMLX_BACKEND in this example
			return "", false
		}
		return os.LookupEnv(k)
	}})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer b.Finalize()
	fmt.Println(c.Kind, c.Config)
	out, err := graph.ExecOnce(b, func(x *graph.Node) *graph.Node { return graph.Add(x, x) }, []float32{1, 2, 3})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(out.Value())
	// Output:
	// go goswift:parallelism=-1
	// [2 4 6]
}

// ExampleChoose shows that $GOMLX_BACKEND is respected verbatim.
func ExampleChoose() {
	env := map[string]string{"GOMLX_BACKEND": "go:parallelism=-1"}
	c, err := Choose(Options{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(c.Kind, c.Config)
	fmt.Println(c.Reason)
	// Output:
	// go go:parallelism=-1
	// GOMLX_BACKEND=go:parallelism=-1 set
}
