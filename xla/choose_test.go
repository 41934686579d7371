package xla

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeMachine is a fake file system root plus a fake environment.
type fakeMachine struct {
	t    *testing.T
	root string            // Options.Root: fake "/" for system paths
	home string            // fake $HOME (outside root)
	env  map[string]string // fake environment
}

func newFakeMachine(t *testing.T) *fakeMachine {
	t.Helper()
	m := &fakeMachine{t: t, root: t.TempDir(), home: t.TempDir()}
	m.env = map[string]string{"HOME": m.home}
	return m
}

// touch creates an empty file (and its directories) and returns its path.
func (m *fakeMachine) touch(path string) string {
	m.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		m.t.Fatal(err)
	}
	return path
}

func (m *fakeMachine) mkdir(path string) string {
	m.t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		m.t.Fatal(err)
	}
	return path
}

func (m *fakeMachine) sys(p string) string    { return filepath.Join(m.root, p) }
func (m *fakeMachine) inHome(p string) string { return filepath.Join(m.home, p) }
func (m *fakeMachine) gpu()                   { m.touch(m.sys("/dev/nvidia0")) }

func (m *fakeMachine) opts(want string) Options {
	return Options{Want: want, Root: m.root, Env: func(k string) (string, bool) {
		v, ok := m.env[k]
		return v, ok
	}}
}

func TestChoose(t *testing.T) {
	type want struct {
		kind, config, plugin string // "" = don't check; config/plugin may use {plugin}
		reason               string // substring
		errHas               []string
		xlaFlags             string // substring of Choice.Env[XLA_FLAGS]; "-" = must be unset
	}
	tests := []struct {
		name  string
		want  string
		setup func(m *fakeMachine) (plugin string) // returns the plugin expected, if any
		check want
	}{
		{
			name:  "nothing found: simplego",
			check: want{kind: KindGo, config: DefaultGoConfig, reason: "no CUDA PJRT plugin found"},
		},
		{
			name: "go-xla home dir",
			setup: func(m *fakeMachine) string {
				m.gpu()
				return m.touch(m.inHome(".local/lib/go-xla/nvidia/pjrt_c_api_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, config: "xla:{plugin}", plugin: "{plugin}", reason: "{plugin}"},
		},
		{
			name: "go-xla system dir",
			setup: func(m *fakeMachine) string {
				m.gpu()
				return m.touch(m.sys("/usr/local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, config: "xla:{plugin}"},
		},
		{
			name: "jax site-packages",
			setup: func(m *fakeMachine) string {
				m.gpu()
				return m.touch(m.sys("/usr/local/lib/python3.12/dist-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, config: "xla:{plugin}"},
		},
		{
			name: "PJRT_PLUGIN_LIBRARY_PATH beats go-xla dirs and site-packages",
			setup: func(m *fakeMachine) string {
				m.gpu()
				m.touch(m.inHome(".local/lib/go-xla/nvidia/pjrt_c_api_cuda_plugin.so"))
				m.touch(m.sys("/usr/lib/python3/dist-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so"))
				dir := m.mkdir(filepath.Join(m.home, "mine"))
				m.env[EnvPluginPath] = "/nonexistent:" + dir
				return m.touch(filepath.Join(dir, "pjrt_c_api_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, plugin: "{plugin}"},
		},
		{
			name: "go-xla home beats system beats site-packages",
			setup: func(m *fakeMachine) string {
				m.gpu()
				m.touch(m.sys("/usr/local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
				m.touch(m.sys("/opt/conda/lib/python3.11/site-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so"))
				return m.touch(m.inHome(".local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
			},
			check: want{plugin: "{plugin}"},
		},
		{
			name: "LD_LIBRARY_PATH and ld.so.conf dirs",
			setup: func(m *fakeMachine) string {
				m.gpu()
				m.touch(m.sys("/usr/lib/python3/dist-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so"))
				if err := os.WriteFile(m.touch(m.sys("/etc/ld.so.conf")), []byte("# comment\ninclude /etc/ld.so.conf.d/*.conf\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(m.touch(m.sys("/etc/ld.so.conf.d/cuda.conf")), []byte("/opt/cudaplugins\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return m.touch(m.sys("/opt/cudaplugins/pjrt_c_api_cuda_plugin.so"))
			},
			check: want{plugin: "{plugin}"},
		},
		{
			name: "virtualenv beats system site-packages; cuda13 beats cuda12",
			setup: func(m *fakeMachine) string {
				m.gpu()
				venv := m.mkdir(filepath.Join(m.home, "venv"))
				m.env["VIRTUAL_ENV"] = venv
				m.touch(m.sys("/usr/local/lib/python3.12/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so"))
				m.touch(filepath.Join(venv, "lib/python3.12/site-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so"))
				return m.touch(filepath.Join(venv, "lib/python3.12/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so"))
			},
			check: want{plugin: "{plugin}"},
		},
		{
			name: "user site and pyenv",
			setup: func(m *fakeMachine) string {
				m.gpu()
				m.env["PYENV_ROOT"] = m.inHome(".pyenv")
				m.touch(m.inHome(".pyenv/versions/3.12.1/lib/python3.12/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so"))
				return m.touch(m.inHome(".local/lib/python3.12/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so"))
			},
			check: want{plugin: "{plugin}"},
		},
		{
			name: "auto: plugin but no GPU device gives simplego",
			setup: func(m *fakeMachine) string {
				m.touch(m.inHome(".local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
				return ""
			},
			check: want{kind: KindGo, config: DefaultGoConfig, reason: "no NVIDIA GPU"},
		},
		{
			name: "cuda: plugin without GPU device is still used",
			want: "cuda",
			setup: func(m *fakeMachine) string {
				return m.touch(m.inHome(".local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, plugin: "{plugin}"},
		},
		{
			name: "cpu: simplego even with a CUDA plugin",
			want: "cpu",
			setup: func(m *fakeMachine) string {
				m.gpu()
				m.touch(m.inHome(".local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
				return ""
			},
			check: want{kind: KindGo, config: DefaultGoConfig},
		},
		{
			name: "cuda: nothing found lists every place",
			want: "cuda",
			check: want{errHas: []string{
				"no CUDA PJRT plugin", "{home}/.local/lib/go-xla", "{root}/usr/local/lib/go-xla/nvidia",
				"{root}/usr/local/lib/gomlx/pjrt", "{root}/usr/lib/python3*/dist-packages/jax_plugins/xla_cuda*",
				"{home}/.local/lib/python3*/site-packages/jax_plugins/xla_cuda*",
			}},
		},
		{
			name:  "unknown want",
			want:  "tpu",
			check: want{errHas: []string{`unknown device "tpu"`}},
		},
		{
			name: "GOMLX_BACKEND go is verbatim",
			setup: func(m *fakeMachine) string {
				m.gpu()
				m.touch(m.inHome(".local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
				m.env[EnvBackend] = "go:parallelism=-1"
				return ""
			},
			check: want{kind: KindGo, config: "go:parallelism=-1", reason: "GOMLX_BACKEND=go:parallelism=-1 set"},
		},
		{
			name: "GOMLX_BACKEND plain go gets a deadlock note",
			setup: func(m *fakeMachine) string {
				m.env[EnvBackend] = "go"
				return ""
			},
			check: want{kind: KindGo, config: "go", reason: "can deadlock"},
		},
		{
			name: "GOMLX_BACKEND xla absolute path is verbatim",
			setup: func(m *fakeMachine) string {
				m.env[EnvBackend] = "xla:/somewhere/pjrt_c_api_cuda_plugin.so,tf32"
				return "/somewhere/pjrt_c_api_cuda_plugin.so"
			},
			check: want{kind: KindCUDA, config: "xla:/somewhere/pjrt_c_api_cuda_plugin.so,tf32", plugin: "{plugin}"},
		},
		{
			name: "GOMLX_BACKEND xla:cuda is resolved by our search",
			setup: func(m *fakeMachine) string {
				m.env[EnvBackend] = "xla:cuda,tf32"
				return m.touch(m.sys("/usr/lib/python3.10/site-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, config: "xla:{plugin},tf32", plugin: "{plugin}", reason: "resolved to {plugin}"},
		},
		{
			name: "GOMLX_BACKEND bare xla without CUDA resolves the CPU plugin",
			setup: func(m *fakeMachine) string {
				m.env[EnvBackend] = "xla"
				return m.touch(m.sys("/usr/local/lib/go-xla/pjrt_c_api_cpu_plugin.so"))
			},
			check: want{kind: KindXLACPU, config: "xla:{plugin}"},
		},
		{
			name: "GOMLX_BACKEND xla:cuda with nothing found",
			setup: func(m *fakeMachine) string {
				m.env[EnvBackend] = "xla:cuda"
				return ""
			},
			check: want{errHas: []string{`GOMLX_BACKEND="xla:cuda"`, "never downloads", "{root}/usr/local/lib/go-xla"}},
		},
		{
			name: "GOMLX_BACKEND stablehlo:cpu with nothing found",
			setup: func(m *fakeMachine) string {
				m.env[EnvBackend] = "stablehlo:cpu"
				return ""
			},
			check: want{errHas: []string{`plugin "cpu"`}},
		},
		{
			name: "want cuda contradicts GOMLX_BACKEND=go",
			want: "cuda",
			setup: func(m *fakeMachine) string {
				m.env[EnvBackend] = "go"
				return ""
			},
			check: want{errHas: []string{"GOMLX_BACKEND", "unset one of them"}},
		},
		{
			name: "XLA_FLAGS: CUDA 13 wheel layout",
			setup: func(m *fakeMachine) string {
				m.gpu()
				site := m.sys("/usr/local/lib/python3.12/dist-packages")
				m.mkdir(filepath.Join(site, "nvidia/cu13/nvvm/libdevice"))
				m.env[EnvXLAFlags] = "--xla_dump_to=/tmp/x"
				return m.touch(filepath.Join(site, "jax_plugins/xla_cuda13/xla_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, xlaFlags: "--xla_dump_to=/tmp/x --xla_gpu_cuda_data_dir={root}/usr/local/lib/python3.12/dist-packages/nvidia/cu13"},
		},
		{
			name: "XLA_FLAGS: go-xla layout with ptxas only",
			setup: func(m *fakeMachine) string {
				m.gpu()
				m.touch(m.inHome(".local/lib/go-xla/nvidia/bin/ptxas"))
				return m.touch(m.inHome(".local/lib/go-xla/nvidia/pjrt_c_api_cuda_plugin.so"))
			},
			check: want{xlaFlags: "--xla_gpu_cuda_data_dir={home}/.local/lib/go-xla/nvidia"},
		},
		{
			name: "XLA_FLAGS: the user's flag wins",
			setup: func(m *fakeMachine) string {
				m.gpu()
				m.touch(m.inHome(".local/lib/go-xla/nvidia/bin/ptxas"))
				m.env[EnvXLAFlags] = "--xla_gpu_cuda_data_dir=/usr/local/cuda"
				return m.touch(m.inHome(".local/lib/go-xla/nvidia/pjrt_c_api_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, xlaFlags: "-"},
		},
		{
			name: "XLA_FLAGS: nothing next to the plugin",
			setup: func(m *fakeMachine) string {
				m.gpu()
				return m.touch(m.sys("/usr/local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
			},
			check: want{kind: KindCUDA, xlaFlags: "-"},
		},
	}
	// Choose only looks at files: pretend XLA is compiled in (it matters for "auto" and "cuda").
	saved := xlaAvailable
	xlaAvailable = true
	defer func() { xlaAvailable = saved }()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newFakeMachine(t)
			var plugin string
			if tc.setup != nil {
				plugin = tc.setup(m)
			}
			subst := func(s string) string {
				return strings.NewReplacer("{plugin}", plugin, "{root}", m.root, "{home}", m.home).Replace(s)
			}
			c, err := Choose(m.opts(tc.want))
			if len(tc.check.errHas) > 0 {
				if err == nil {
					t.Fatalf("want error, got choice %+v", c)
				}
				for _, s := range tc.check.errHas {
					if !strings.Contains(err.Error(), subst(s)) {
						t.Errorf("error lacks %q:\n%v", subst(s), err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Choose: %v", err)
			}
			for _, f := range []struct{ name, got, want string }{
				{"Kind", c.Kind, tc.check.kind}, {"Config", c.Config, tc.check.config}, {"Plugin", c.Plugin, tc.check.plugin},
			} {
				if f.want != "" && f.got != subst(f.want) {
					t.Errorf("%s = %q, want %q (choice: %s)", f.name, f.got, subst(f.want), c)
				}
			}
			if r := subst(tc.check.reason); r != "" && !strings.Contains(c.Reason, r) {
				t.Errorf("Reason %q lacks %q", c.Reason, r)
			}
			switch flags := subst(tc.check.xlaFlags); {
			case flags == "-":
				if _, ok := c.Env[EnvXLAFlags]; ok {
					t.Errorf("XLA_FLAGS set to %q, want unset", c.Env[EnvXLAFlags])
				}
			case flags != "" && !strings.Contains(c.Env[EnvXLAFlags], flags):
				t.Errorf("XLA_FLAGS = %q, want it to contain %q", c.Env[EnvXLAFlags], flags)
			}
			if len(c.Searched) == 0 {
				t.Errorf("Choice.Searched is empty")
			}
		})
	}
}

func TestSearchPathsOrder(t *testing.T) {
	m := newFakeMachine(t)
	m.env[EnvPluginPath] = "/a::relative:/b"
	m.env["LD_LIBRARY_PATH"] = "/ld1:/ld2"
	got := SearchPaths(m.opts(""))
	want := []string{
		"/a", "/b",
		m.inHome(".local/lib/go-xla"), m.inHome(".local/lib/go-xla/nvidia"), m.inHome(".local/lib/gomlx/pjrt"),
		m.sys("/usr/local/lib/go-xla"), m.sys("/usr/local/lib/go-xla/nvidia"), m.sys("/usr/local/lib/gomlx/pjrt"),
		"/ld1", "/ld2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("SearchPaths =\n%q\nwant\n%q", got, want)
	}
	patterns := PythonSitePatterns(m.opts(""))
	for _, p := range []string{
		m.inHome(".local/lib/python3*/site-packages"), m.sys("/usr/lib/python3*/dist-packages"),
		m.sys("/usr/local/lib/python3*/site-packages"), m.sys("/opt/conda/lib/python3*/site-packages"),
		m.sys("/root/.pyenv/versions/*/lib/python3*/site-packages"), m.sys("/usr/lib/python3/dist-packages"),
	} {
		if !slices.Contains(patterns, p) {
			t.Errorf("PythonSitePatterns lacks %q", p)
		}
	}
}

func TestGoConfigOption(t *testing.T) {
	m := newFakeMachine(t)
	o := m.opts("cpu")
	o.GoConfig = GoConfigUnlimited
	c, err := Choose(o)
	if err != nil || c.Config != GoConfigUnlimited {
		t.Fatalf("Choose = %+v, %v; want config %q", c, err, GoConfigUnlimited)
	}
	o.GoConfig = "xla:cpu"
	if _, err := Choose(o); err == nil {
		t.Fatalf("GoConfig %q accepted", o.GoConfig)
	}
}

func TestPluginKind(t *testing.T) {
	for path, want := range map[string]string{
		"/x/pjrt_c_api_cuda_plugin.so":       KindCUDA,
		"/x/xla_cuda_plugin.so":              KindCUDA,
		"/x/pjrt_c_api_cpu_plugin.so":        KindXLACPU,
		"/x/pjrt-plugin-metal.so":            "xla-metal",
		"/x/libsomething.so":                 "xla",
		"/x/pjrt_c_api_cuda13_plugin.so":     KindCUDA,
		"/x/nvidia/pjrt_plugin_nvidia.so":    KindCUDA,
		"/x/pjrt_c_api_tpu_plugin.so":        "xla-tpu",
		"/x/y/pjrt_c_api_rocm_plugin.so":     "xla-rocm",
		"/opt/pjrt/pjrt_c_api_cpu_plugin.so": KindXLACPU,
	} {
		if got := pluginKind(path); got != want {
			t.Errorf("pluginKind(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestDropLines(t *testing.T) {
	in := "a\nSimpleGo backend: parallelism set to 2\nb\nc"
	if got, want := dropLines(in, simplegoParallelismLine), "a\nb\nc"; got != want {
		t.Errorf("dropLines = %q, want %q", got, want)
	}
}

func TestChooseWithoutXLA(t *testing.T) {
	saved := xlaAvailable
	xlaAvailable = false
	defer func() { xlaAvailable = saved }()
	m := newFakeMachine(t)
	m.gpu()
	m.touch(m.inHome(".local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
	c, err := Choose(m.opts("auto"))
	if err != nil || c.Kind != KindGo || !strings.Contains(c.Reason, "without XLA") {
		t.Errorf("auto without XLA: %s, %v", c, err)
	}
	if _, err := Choose(m.opts("cuda")); err == nil || !strings.Contains(err.Error(), "without XLA") {
		t.Errorf("cuda without XLA: err = %v", err)
	}
}

func TestCUDAChecksEnv(t *testing.T) {
	m := newFakeMachine(t)
	plugin := m.touch(m.inHome(".local/lib/go-xla/pjrt_c_api_cuda_plugin.so"))
	if got := cudaEnv(m.opts(""), KindCUDA, plugin)[EnvCUDAChecks]; got != "0" {
		t.Errorf("%s = %q, want \"0\"", EnvCUDAChecks, got)
	}
	m.env[EnvCUDAChecks] = "1"
	if got, ok := cudaEnv(m.opts(""), KindCUDA, plugin)[EnvCUDAChecks]; ok {
		t.Errorf("%s overridden to %q", EnvCUDAChecks, got)
	}
	if env := cudaEnv(m.opts(""), KindXLACPU, "/x/pjrt_c_api_cpu_plugin.so"); env != nil {
		t.Errorf("CPU plugin env = %v", env)
	}
}
