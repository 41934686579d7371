package xla

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/pkg/errors"

	kbackend "github.com/goswift/goswift/kernels/backend"
)

// Environment variables read or written by this package.
const (
	// EnvDevice selects the device of Default: "auto" (default), "cpu" or "cuda".
	EnvDevice = "GOSWIFT_DEVICE"
	// EnvBackend is GoMLX's backend configuration variable; when set it is respected verbatim.
	EnvBackend = backends.ConfigEnvVar
	// EnvNoAutoInstall disables the GoMLX XLA plugin auto-installer; this package sets it to "1".
	EnvNoAutoInstall = "GOMLX_NO_AUTO_INSTALL"
	// EnvPluginPath is go-xla's colon separated list of PJRT plugin directories.
	EnvPluginPath = "PJRT_PLUGIN_LIBRARY_PATH"
	// EnvXLAFlags holds XLA's flags; New adds --xla_gpu_cuda_data_dir to it when it can.
	EnvXLAFlags = "XLA_FLAGS"
	// EnvCUDAChecks switches go-xla's check of the NVIDIA libraries after loading a CUDA plugin;
	// New sets it to "0" unless the user set it.
	EnvCUDAChecks = "GOPJRT_CUDA_CHECKS"
)

// Backend kinds reported in Choice.Kind.
const (
	KindGo     = "go"      // a pure Go CPU backend: GoSwift's "goswift" (kernels/backend) or GoMLX's simplego ("go")
	KindCUDA   = "cuda"    // XLA with a CUDA PJRT plugin
	KindXLACPU = "xla-cpu" // XLA with the CPU PJRT plugin
)

// CPU configurations. See the package documentation for the measurements behind them.
const (
	// GoConfigUnlimited lifts simplego's worker limit: every ready op, and every part of a large op,
	// gets its own goroutine. It cannot deadlock (nothing ever waits for a worker) and was ~30%
	// faster than GoConfigSequential on 2 cores, at the price of many goroutines and more
	// intermediate buffers alive at once. simplego prints a line on stdout for it; New filters it.
	GoConfigUnlimited = "go:parallelism=-1"
	// GoConfigSequential runs a graph's ops one at a time, each op using up to runtime.NumCPU()
	// workers internally. It cannot deadlock, keeps memory to one op's working set, and prints
	// nothing; elementwise ops then use one core (simplego only parallelises inside matmuls).
	GoConfigSequential = "go:ops_sequential"
	// GoSwiftConfig is GoSwift's CPU backend (kernels/backend: simplego with the matmuls and the
	// hot element-wise ops on GoSwift's kernels), its simplego segments run as GoConfigUnlimited.
	GoSwiftConfig = kbackend.Name + ":parallelism=-1"
	// DefaultGoConfig is the CPU configuration New uses when it chooses the CPU: the goswift
	// backend. GoMLX's plain simplego stays the reference: GOMLX_BACKEND=go:parallelism=-1 (or
	// Options.GoConfig GoConfigUnlimited).
	DefaultGoConfig = GoSwiftConfig
	// BareGoConfig is what this package's init puts in backends.DefaultConfig, for code that calls
	// backends.New() directly: deadlock-free and silent on stdout (that call is not filtered).
	BareGoConfig = kbackend.Name + ":ops_sequential"
)

// cpuBackends are the names of the pure Go CPU backends (Kind KindGo).
var cpuBackends = map[string]bool{"go": true, kbackend.Name: true}

// xlaAvailable is XLACompiled, a variable so tests of Choose can run without XLA compiled in.
var xlaAvailable = XLACompiled

// xlaNames are the names GoMLX registers for its XLA backend.
var xlaNames = map[string]bool{"xla": true, "stablehlo": true, "hlo": true, "shlo": true}

// Choice describes the backend chosen and why.
type Choice struct {
	// Config is the GoMLX backend config string used, e.g. "go:parallelism=-1" or
	// "xla:/abs/path/pjrt_c_api_cuda_plugin.so".
	Config string
	// Kind is KindGo, KindCUDA, KindXLACPU, "xla-<plugin name>" or, for another backend named in
	// $GOMLX_BACKEND, that backend's name.
	Kind string
	// Plugin is the absolute path of the PJRT plugin when XLA is used.
	Plugin string
	// Reason says in one line why this backend was chosen.
	Reason string
	// Source is what decided: "GOMLX_BACKEND", "auto" or "want" (an explicit Options.Want).
	Source string
	// Searched lists the directories and glob patterns looked at for a plugin.
	Searched []string
	// Env holds the environment variables New sets before loading the plugin: for a CUDA plugin
	// XLA_FLAGS with --xla_gpu_cuda_data_dir (when the user has not given one and a CUDA directory
	// is found) and GOPJRT_CUDA_CHECKS=0 (when the user has not set it).
	Env map[string]string
}

// String returns a one-line summary.
func (c Choice) String() string {
	s := fmt.Sprintf("%s (%s): %s", c.Kind, c.Config, c.Reason)
	if c.Env[EnvXLAFlags] != "" {
		s += fmt.Sprintf(" [%s=%q]", EnvXLAFlags, c.Env[EnvXLAFlags])
	}
	return s
}

// Options configure Choose and New. The zero value means "auto" with the process environment.
type Options struct {
	// Want is the device asked for: "" or "auto" (a CUDA plugin if one is found and an NVIDIA GPU
	// is present, else the CPU backend), "cpu" (also "go"; always the CPU backend, GoConfig) or
	// "cuda" (also "gpu"; a CUDA plugin or an error).
	Want string
	// Env looks environment variables up; nil means os.LookupEnv. For tests.
	Env func(string) (string, bool)
	// Root, when set, is prefixed to the fixed system paths searched (/usr/local/lib/go-xla,
	// /etc/ld.so.conf, /usr/lib/python3*, /dev/nvidia*, ...); paths taken from the environment
	// ($HOME, $PJRT_PLUGIN_LIBRARY_PATH, $VIRTUAL_ENV, ...) are used as they are. For tests.
	Root string
	// GoConfig is the CPU backend's config used when the CPU is chosen; "" means DefaultGoConfig.
	// It names a pure Go backend: "goswift[:options]" or "go[:options]" (plain simplego).
	GoConfig string
	// PJRTOptions are passed to the PJRT client of an XLA backend, e.g. for the CUDA plugin
	// {"preallocate": false} or {"memory_fraction": float32(0.5)}. Nil uses the plugin defaults
	// (the CUDA plugin preallocates most of the GPU memory).
	PJRTOptions map[string]any
}

// want normalises Options.Want to "auto", "cpu" or "cuda".
func (o Options) want() (string, error) {
	switch strings.ToLower(strings.TrimSpace(o.Want)) {
	case "", "auto":
		return "auto", nil
	case "cpu", "go", "simplego":
		return "cpu", nil
	case "cuda", "gpu":
		return "cuda", nil
	}
	return "", errors.Errorf("unknown device %q: want \"auto\", \"cpu\" or \"cuda\"", o.Want)
}

func (o Options) goConfig() string {
	if o.GoConfig != "" {
		return o.GoConfig
	}
	return DefaultGoConfig
}

// Choose decides the backend configuration without creating anything: it only reads the
// environment and looks for files. See the package documentation for the rules.
func Choose(opts Options) (Choice, error) {
	want, err := opts.want()
	if err != nil {
		return Choice{}, err
	}
	if name, _ := splitConfig(opts.goConfig()); !cpuBackends[name] {
		return Choice{}, errors.Errorf("Options.GoConfig %q is not a pure Go CPU backend config (\"%s...\" or \"go...\")",
			opts.GoConfig, kbackend.Name)
	}
	searched := searchedPlaces(opts)
	if cfg, found := opts.lookupEnv(EnvBackend); found && strings.TrimSpace(cfg) != "" {
		c, err := chooseFromEnv(opts, strings.TrimSpace(cfg), searched)
		if err != nil {
			return c, err
		}
		if want == "cuda" && c.Kind != KindCUDA {
			return c, errors.Errorf("device \"cuda\" asked for, but %s=%q selects a %q backend: unset one of them", EnvBackend, cfg, c.Kind)
		}
		if want == "cpu" && c.Kind == KindCUDA {
			return c, errors.Errorf("device \"cpu\" asked for, but %s=%q selects a CUDA backend: unset one of them", EnvBackend, cfg)
		}
		return c, nil
	}

	switch want {
	case "cpu":
		return opts.goChoice("want", fmt.Sprintf("device %q asked for", opts.Want), searched), nil
	case "cuda":
		if !xlaAvailable {
			return Choice{Searched: searched, Source: "want"}, errors.New("device \"cuda\" asked for, but this binary was built without XLA (noxla build tag or no cgo)")
		}
		plugins := FindCUDAPlugins(opts)
		if len(plugins) == 0 {
			return Choice{Searched: searched, Source: "want"}, notFoundError("device \"cuda\" asked for, but no CUDA PJRT plugin was found", searched)
		}
		return opts.cudaChoice("want", plugins[0], fmt.Sprintf("device \"cuda\" asked for: using CUDA PJRT plugin %s", plugins[0]), searched), nil
	}

	// auto
	if !xlaAvailable {
		return opts.goChoice("auto", "built without XLA (noxla build tag or no cgo): using the CPU backend", searched), nil
	}
	plugins := FindCUDAPlugins(opts)
	if len(plugins) == 0 {
		return opts.goChoice("auto", fmt.Sprintf("no CUDA PJRT plugin found (looked in %d places, see Choice.Searched): using the CPU backend", len(searched)), searched), nil
	}
	if !hasNVIDIADevice(opts) {
		return opts.goChoice("auto", fmt.Sprintf("CUDA PJRT plugin %s found but no NVIDIA GPU (no /dev/nvidia[0-9]*): using the CPU backend", plugins[0]), searched), nil
	}
	return opts.cudaChoice("auto", plugins[0], fmt.Sprintf("CUDA PJRT plugin found: %s", plugins[0]), searched), nil
}

// chooseFromEnv handles a set $GOMLX_BACKEND.
func chooseFromEnv(opts Options, cfg string, searched []string) (Choice, error) {
	c := Choice{Config: cfg, Source: EnvBackend, Searched: searched, Reason: fmt.Sprintf("%s=%s set", EnvBackend, cfg)}
	name, rest := splitConfig(cfg)
	if cpuBackends[name] {
		c.Kind = KindGo
		if !strings.Contains(rest, "ops_sequential") && !strings.Contains(rest, "parallelism=-1") && !strings.Contains(rest, "parallelism=0") {
			c.Reason += fmt.Sprintf(" (note: this simplego config can deadlock on wide graphs; %q or %q avoid it)", GoConfigUnlimited, GoConfigSequential)
		}
		return c, nil
	}
	if !xlaNames[name] {
		c.Kind = name
		return c, nil
	}
	plugin, pluginOpts, _ := strings.Cut(rest, ",")
	if filepath.IsAbs(plugin) {
		c.Plugin, c.Kind = plugin, pluginKind(plugin)
		c.Env = cudaEnv(opts, c.Kind, plugin)
		return c, nil
	}

	// A plugin name (or none): resolve it ourselves, GoMLX would auto-install it.
	var path string
	switch lower := strings.ToLower(plugin); {
	case lower == "" || lower == "gpu" || strings.Contains(lower, "cuda"):
		if plugins := FindCUDAPlugins(opts); len(plugins) > 0 {
			path = plugins[0]
		} else if lower == "" {
			path = findNamedPlugin(opts, "cpu")
		}
	default:
		path = findNamedPlugin(opts, plugin)
	}
	if path == "" {
		what := fmt.Sprintf("plugin %q", plugin)
		if plugin == "" {
			what = "CUDA or CPU plugin"
		}
		return c, notFoundError(fmt.Sprintf("%s=%q names no plugin path and no %s was found (GoSwift never downloads one)", EnvBackend, cfg, what), searched)
	}
	c.Plugin, c.Kind = path, pluginKind(path)
	c.Config = name + ":" + path
	if pluginOpts != "" {
		c.Config += "," + pluginOpts
	}
	c.Reason = fmt.Sprintf("%s=%s set: resolved to %s", EnvBackend, cfg, path)
	c.Env = cudaEnv(opts, c.Kind, path)
	return c, nil
}

func (o Options) goChoice(source, reason string, searched []string) Choice {
	cfg := o.goConfig()
	return Choice{Config: cfg, Kind: KindGo, Source: source, Searched: searched, Reason: reason + " (" + cfg + ")"}
}

func (o Options) cudaChoice(source, plugin, reason string, searched []string) Choice {
	return Choice{
		Config: "xla:" + plugin, Kind: KindCUDA, Plugin: plugin, Source: source, Searched: searched,
		Reason: reason, Env: cudaEnv(o, KindCUDA, plugin),
	}
}

// cudaEnv returns the environment New sets for a CUDA plugin: XLA_FLAGS with
// --xla_gpu_cuda_data_dir added, unless the user already gives one or no CUDA directory is found
// next to the plugin; and GOPJRT_CUDA_CHECKS=0 unless the user set it, which stops go-xla's
// post-load check (it warns wrongly for the jax wheel layout and may set a bogus XLA_FLAGS).
func cudaEnv(opts Options, kind, plugin string) map[string]string {
	if kind != KindCUDA {
		return nil
	}
	env := make(map[string]string)
	if _, set := opts.lookupEnv(EnvCUDAChecks); !set {
		env[EnvCUDAChecks] = "0"
	}
	if flags := opts.getenv(EnvXLAFlags); !strings.Contains(flags, "--xla_gpu_cuda_data_dir") {
		if dir := cudaDataDir(plugin); dir != "" {
			env[EnvXLAFlags] = strings.TrimSpace(flags + " --xla_gpu_cuda_data_dir=" + dir)
		}
	}
	return env
}

// notFoundError builds the one error that lists every place looked at.
func notFoundError(msg string, searched []string) error {
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString("; looked in:")
	for _, s := range searched {
		b.WriteString("\n  ")
		b.WriteString(s)
	}
	b.WriteString("\nInstall one (e.g. `pip install jax-cuda13-pjrt`, or go-xla's installer into ~/.local/lib/go-xla), " +
		"or set " + EnvBackend + "=xla:/abs/path/pjrt_c_api_cuda_plugin.so or " + EnvPluginPath + "=<dir>")
	return errors.New(b.String())
}

// splitConfig splits "<backend>:<config>" as GoMLX does.
func splitConfig(cfg string) (name, rest string) {
	name, rest, _ = strings.Cut(cfg, ":")
	return name, rest
}
