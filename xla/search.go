package xla

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// goXLADirs are go-xla v0.1.4's default plugin directories (pkg/pjrt/dynamiclib_posix.go,
// osDefaultLibraryPaths), relative to $HOME and to the root of the file system. go-xla's
// auto-installer puts the CUDA plugin in <lib>/go-xla/nvidia/pjrt_c_api_cuda_plugin.so, next to
// the NVIDIA libraries it downloads.
var (
	goXLAHomeDirs   = []string{".local/lib/go-xla", ".local/lib/go-xla/nvidia", ".local/lib/gomlx/pjrt"}
	goXLASystemDirs = []string{"/usr/local/lib/go-xla", "/usr/local/lib/go-xla/nvidia", "/usr/local/lib/gomlx/pjrt"}
)

// cudaPluginFiles are the file name patterns of a CUDA PJRT plugin inside a plugin directory:
// go-xla's naming (pjrt_c_api_<name>_plugin.so, pjrt-plugin-<name>.so, pjrt_plugin_<name>.so with a
// name containing "cuda") and the name the jax-cuda*-pjrt wheels use (xla_cuda_plugin.so).
var cudaPluginFiles = []string{
	"pjrt_c_api_cuda*_plugin.so", "pjrt-plugin-cuda*.so", "pjrt_plugin_cuda*.so", "xla_cuda_plugin.so",
}

// jaxPluginGlob is where a jax-cuda12-pjrt / jax-cuda13-pjrt wheel puts its plugin, relative to a
// Python site-packages directory.
const jaxPluginGlob = "jax_plugins/xla_cuda*"

// reNamedPlugin extracts a plugin name from a file name, as go-xla does.
var reNamedPlugin = []*regexp.Regexp{
	regexp.MustCompile(`^pjrt_c_api_(.+)_plugin\.so$`),
	regexp.MustCompile(`^pjrt[-_]plugin[-_](.+)\.so$`),
	regexp.MustCompile(`^xla_(.+)_plugin\.so$`),
}

// lookupEnv returns the environment lookup function of the options.
func (o Options) lookupEnv(key string) (string, bool) {
	if o.Env != nil {
		return o.Env(key)
	}
	return os.LookupEnv(key)
}

// getenv returns the variable's value, "" if unset.
func (o Options) getenv(key string) string {
	v, _ := o.lookupEnv(key)
	return v
}

// sys maps an absolute system path under Options.Root.
func (o Options) sys(p string) string {
	if o.Root == "" {
		return p
	}
	return filepath.Join(o.Root, p)
}

// home returns $HOME, "" if unknown.
func (o Options) home() string {
	if h := o.getenv("HOME"); h != "" {
		return h
	}
	if o.Env == nil {
		if h, err := os.UserHomeDir(); err == nil {
			return h
		}
	}
	return ""
}

// splitPathList splits a colon separated list, keeping only absolute entries.
func splitPathList(list string) []string {
	var out []string
	for _, p := range strings.Split(list, ":") {
		if p != "" && filepath.IsAbs(p) {
			out = append(out, filepath.Clean(p))
		}
	}
	return out
}

// SearchPaths returns the plugin directories searched, in order of preference:
//
//  1. every directory in $PJRT_PLUGIN_LIBRARY_PATH (colon separated);
//  2. go-xla's default directories: ~/.local/lib/go-xla, ~/.local/lib/go-xla/nvidia,
//     ~/.local/lib/gomlx/pjrt, /usr/local/lib/go-xla, /usr/local/lib/go-xla/nvidia,
//     /usr/local/lib/gomlx/pjrt;
//  3. the absolute directories of $LD_LIBRARY_PATH and those listed in /etc/ld.so.conf (with its
//     includes), as go-xla does.
//
// It is followed by the Python site-packages patterns of PythonSitePatterns. Unlike go-xla, which
// only looks at $PJRT_PLUGIN_LIBRARY_PATH when it is set, the defaults are always searched too.
func SearchPaths(opts Options) []string {
	var dirs []string
	dirs = append(dirs, splitPathList(opts.getenv(EnvPluginPath))...)
	if h := opts.home(); h != "" {
		for _, d := range goXLAHomeDirs {
			dirs = append(dirs, filepath.Join(h, d))
		}
	}
	for _, d := range goXLASystemDirs {
		dirs = append(dirs, opts.sys(d))
	}
	dirs = append(dirs, splitPathList(opts.getenv("LD_LIBRARY_PATH"))...)
	dirs = append(dirs, opts.ldSoConfDirs(opts.sys("/etc/ld.so.conf"), 0)...)
	return dedup(dirs)
}

// ldSoConfDirs reads the directories listed in an ld.so.conf file, following "include" lines.
func (o Options) ldSoConfDirs(file string, depth int) []string {
	if depth > 8 {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var dirs []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "include ") || strings.HasPrefix(line, "include\t"):
			pattern := strings.TrimSpace(line[len("include"):])
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(file), pattern)
			} else {
				pattern = o.sys(pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				dirs = append(dirs, o.ldSoConfDirs(m, depth+1)...)
			}
		case filepath.IsAbs(line):
			dirs = append(dirs, o.sys(filepath.Clean(line)))
		}
	}
	return dirs
}

// PythonSitePatterns returns the glob patterns of the Python site-packages directories searched for
// a jax-cuda*-pjrt plugin (<site-packages>/jax_plugins/xla_cuda*/xla_cuda_plugin.so), in order of
// preference: the active virtual environment ($VIRTUAL_ENV) and conda environment ($CONDA_PREFIX),
// the user's site (~/.local), pyenv versions ($PYENV_ROOT or ~/.pyenv), the user's conda
// installations, then the system prefixes (/usr/local, /usr, /opt/conda, /root/.pyenv).
func PythonSitePatterns(opts Options) []string {
	const lib = "lib/python3*"
	var prefixes []string // each: a prefix containing lib/python3*/{site,dist}-packages
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if p := opts.getenv(env); p != "" && filepath.IsAbs(p) {
			prefixes = append(prefixes, filepath.Clean(p))
		}
	}
	home := opts.home()
	if home != "" {
		prefixes = append(prefixes, filepath.Join(home, ".local"))
	}
	if p := opts.getenv("PYENV_ROOT"); p != "" && filepath.IsAbs(p) {
		prefixes = append(prefixes, filepath.Join(p, "versions/*"))
	}
	if home != "" {
		prefixes = append(prefixes, filepath.Join(home, ".pyenv/versions/*"))
		for _, conda := range []string{"miniconda3", "anaconda3", "miniforge3"} {
			prefixes = append(prefixes, filepath.Join(home, conda), filepath.Join(home, conda, "envs/*"))
		}
	}
	for _, p := range []string{"/usr/local", "/usr", "/opt/conda", "/opt/conda/envs/*", "/root/.pyenv/versions/*"} {
		prefixes = append(prefixes, opts.sys(p))
	}
	var patterns []string
	for _, p := range dedup(prefixes) {
		patterns = append(patterns,
			filepath.Join(p, lib, "site-packages"),
			filepath.Join(p, lib, "dist-packages"))
	}
	// Debian's system-wide python3 packages.
	patterns = append(patterns, opts.sys("/usr/lib/python3/dist-packages"))
	return dedup(patterns)
}

// searchedPlaces lists everything FindCUDAPlugins looks at, for messages and Choice.Searched.
func searchedPlaces(opts Options) []string {
	places := SearchPaths(opts)
	for _, site := range PythonSitePatterns(opts) {
		places = append(places, filepath.Join(site, jaxPluginGlob))
	}
	return places
}

// FindCUDAPlugins returns the absolute paths of the CUDA PJRT plugins found, best first: first
// those in SearchPaths order, then those of Python jax-cuda*-pjrt packages in PythonSitePatterns
// order. Within one directory pattern newer CUDA versions come first (xla_cuda13 before
// xla_cuda12). It only looks at file names: nothing is loaded.
func FindCUDAPlugins(opts Options) []string {
	var found []string
	for _, dir := range SearchPaths(opts) {
		for _, name := range cudaPluginFiles {
			found = append(found, globFiles(filepath.Join(dir, name))...)
		}
	}
	for _, site := range PythonSitePatterns(opts) {
		for _, name := range []string{"xla_cuda_plugin.so", "pjrt_c_api_cuda_plugin.so"} {
			found = append(found, globFiles(filepath.Join(site, jaxPluginGlob, name))...)
		}
	}
	return dedup(found)
}

// findNamedPlugin looks for the go-xla plugin named name (e.g. "cpu") in SearchPaths.
func findNamedPlugin(opts Options, name string) string {
	for _, dir := range SearchPaths(opts) {
		for _, file := range []string{"pjrt_c_api_" + name + "_plugin.so", "pjrt-plugin-" + name + ".so", "pjrt_plugin_" + name + ".so"} {
			if p := filepath.Join(dir, file); isFile(p) {
				return p
			}
		}
	}
	return ""
}

// globFiles returns the regular files (or links to them) matching pattern, in reverse lexical
// order, so that e.g. xla_cuda13 comes before xla_cuda12.
func globFiles(pattern string) []string {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil
	}
	slices.Sort(matches)
	slices.Reverse(matches)
	return slices.DeleteFunc(matches, func(p string) bool { return !isFile(p) })
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// dedup removes repeated paths, keeping the first occurrence.
func dedup(paths []string) []string {
	seen := make(map[string]bool, len(paths))
	out := paths[:0:0]
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// hasNVIDIADevice reports whether the machine shows an NVIDIA GPU device node
// (/dev/nvidia0, ...) or a GPU under /proc/driver/nvidia/gpus.
func hasNVIDIADevice(opts Options) bool {
	for _, pattern := range []string{"/dev/nvidia[0-9]*", "/proc/driver/nvidia/gpus/*"} {
		if m, _ := filepath.Glob(opts.sys(pattern)); len(m) > 0 {
			return true
		}
	}
	return false
}

// pluginKind classifies a plugin by its file name: KindCUDA, KindXLACPU or "xla-<name>".
func pluginKind(path string) string {
	base := strings.ToLower(filepath.Base(path))
	if strings.Contains(base, "cuda") || strings.Contains(base, "nvidia") {
		return KindCUDA
	}
	for _, re := range reNamedPlugin {
		if m := re.FindStringSubmatch(base); m != nil {
			if m[1] == "cpu" {
				return KindXLACPU
			}
			return "xla-" + m[1]
		}
	}
	return "xla"
}

// cudaDataDir finds the directory to give XLA as --xla_gpu_cuda_data_dir for a CUDA plugin: the
// one holding nvvm/libdevice (else bin/ptxas) among the NVIDIA Python packages next to it:
// <dir>/nvidia, <dir>/../nvidia and <dir>/../../nvidia (the plugin's own RPATH looks there), each
// tried as cu13/ (CUDA 13 wheels), cuda_nvcc/ (CUDA 12 wheels) and itself. If none holds either,
// it returns <dir>/../nvidia when that exists (the directory go-xla itself would pick), else "".
func cudaDataDir(plugin string) string {
	dir := filepath.Dir(plugin)
	var bases []string
	if filepath.Base(dir) == "nvidia" {
		bases = append(bases, dir)
	}
	bases = append(bases, filepath.Join(filepath.Dir(dir), "nvidia"), filepath.Join(filepath.Dir(filepath.Dir(dir)), "nvidia"))
	bases = dedup(bases)
	var candidates []string
	for _, b := range bases {
		candidates = append(candidates, filepath.Join(b, "cu13"), filepath.Join(b, "cuda_nvcc"), b)
	}
	for _, c := range candidates {
		if isDir(filepath.Join(c, "nvvm", "libdevice")) {
			return c
		}
	}
	for _, c := range candidates {
		if isFile(filepath.Join(c, "bin", "ptxas")) {
			return c
		}
	}
	if up := filepath.Join(filepath.Dir(dir), "nvidia"); isDir(up) {
		return up
	}
	return ""
}
