package train

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/internal/atomicfile"
	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/weights"
)

// Checkpoint layout: OutputDir/checkpoint-<step>/{state.safetensors, trainer_state.json},
// each directory written whole to a temporary name and renamed; OutputDir/latest names the
// newest complete one.
const (
	stateWeightsFile = "state.safetensors"
	stateFile        = "trainer_state.json"
	latestFile       = "latest"
)

type rawVar struct {
	DType string `json:"dtype"`
	Dims  []int  `json:"dims"`
	Data  string `json:"data"` // base64 of the raw bytes
}

type trainerState struct {
	Step   int               `json:"step"`
	Config Config            `json:"config"`
	Raw    map[string]rawVar `json:"raw_vars,omitempty"` // non-float32 state (RNG)
	// Config.ActiveSet runs: the key of the set whose optimizer state the checkpoint holds,
	// and the step each of those variables' moments were created at (bias correction).
	ActiveSet   string         `json:"active_set,omitempty"`
	MomentStart map[string]int `json:"moment_start,omitempty"`
}

// stateVariables are what a checkpoint holds: every variable except the frozen base weights
// (tuner variables, trained base weights, optimizer state, the RNG).
func stateVariables(ctx *context.Context) []*context.Variable {
	var out []*context.Variable
	for v := range ctx.IterVariables() {
		if models.IsBaseScope(v.Scope()) && !v.Trainable {
			continue
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ScopeAndName() < out[j].ScopeAndName() })
	return out
}

// SaveCheckpoint writes the training state after the current step and returns its directory.
// Older checkpoints beyond KeepLast are removed only after the new one is complete.
func (t *Trainer) SaveCheckpoint() (string, error) {
	if t.cfg.OutputDir == "" {
		return "", errors.New("train: no output directory to save a checkpoint in")
	}
	dir := filepath.Join(t.cfg.OutputDir, fmt.Sprintf("checkpoint-%06d", t.step))
	if _, err := os.Stat(dir); err == nil {
		if err := os.RemoveAll(dir); err != nil { // a re-save of the same step (resumed run)
			return "", errors.Wrapf(err, "train: replacing %s", dir)
		}
	}
	err := atomicfile.WriteDir(dir, func(tmp string) error {
		st := trainerState{Step: t.step, Config: t.cfg, Raw: map[string]rawVar{},
			ActiveSet: t.activeKey, MomentStart: t.momentStart}
		var ts []weights.Tensor
		for _, v := range stateVariables(t.ctx) {
			val, err := v.Value()
			if err != nil {
				return errors.Wrapf(err, "reading %s", v.ScopeAndName())
			}
			if v.DType() == dtypes.Float32 {
				ts = append(ts, weights.Tensor{Name: v.ScopeAndName(), Shape: v.Shape().Dimensions,
					Data: tensors.MustCopyFlatData[float32](val)})
				continue
			}
			var raw []byte
			if err := val.ConstBytes(func(b []byte) { raw = append([]byte(nil), b...) }); err != nil {
				return errors.Wrapf(err, "reading %s", v.ScopeAndName())
			}
			st.Raw[v.ScopeAndName()] = rawVar{DType: v.DType().String(), Dims: v.Shape().Dimensions,
				Data: base64.StdEncoding.EncodeToString(raw)}
		}
		if err := weights.WriteSafetensors(filepath.Join(tmp, stateWeightsFile), ts, nil); err != nil {
			return err
		}
		js, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteBytes(filepath.Join(tmp, stateFile), js)
	})
	if err != nil {
		return "", errors.WithMessage(err, "train: checkpoint")
	}
	if err := atomicfile.WriteBytes(filepath.Join(t.cfg.OutputDir, latestFile), []byte(filepath.Base(dir)+"\n")); err != nil {
		return "", err
	}
	return dir, t.pruneCheckpoints()
}

func (t *Trainer) pruneCheckpoints() error {
	if t.cfg.KeepLast <= 0 {
		return nil
	}
	matches, err := filepath.Glob(filepath.Join(t.cfg.OutputDir, "checkpoint-*"))
	if err != nil {
		return err
	}
	var dirs []string
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() && !strings.Contains(filepath.Base(m), ".tmp") {
			dirs = append(dirs, m)
		}
	}
	sort.Strings(dirs)
	for len(dirs) > t.cfg.KeepLast {
		if err := os.RemoveAll(dirs[0]); err != nil {
			return errors.Wrapf(err, "train: removing old checkpoint %s", dirs[0])
		}
		dirs = dirs[1:]
	}
	return nil
}

// LatestCheckpoint returns the newest complete checkpoint directory of a run directory (or the
// path itself when it is a checkpoint directory).
func LatestCheckpoint(runDir string) (string, error) {
	if _, err := os.Stat(filepath.Join(runDir, stateFile)); err == nil {
		return runDir, nil
	}
	name, err := os.ReadFile(filepath.Join(runDir, latestFile))
	if err != nil {
		return "", errors.Wrapf(err, "train: %s holds no checkpoint", runDir)
	}
	dir := filepath.Join(runDir, strings.TrimSpace(string(name)))
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		return "", errors.Wrapf(err, "train: latest checkpoint of %s", runDir)
	}
	return dir, nil
}

// Resume restores a checkpoint (a checkpoint directory, or a run directory: its latest) into
// the trainer: every state variable, and the step count. The data order is a function of the
// step, so the run continues exactly. With Config.ActiveSet the checkpoint's active set (that
// of its last step) is recreated first, so the optimizer state it holds has somewhere to go.
func (t *Trainer) Resume(path string) error {
	dir, err := LatestCheckpoint(path)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return errors.Wrap(err, "train: resume")
	}
	var st trainerState
	if err := json.Unmarshal(raw, &st); err != nil {
		return errors.Wrapf(err, "train: resume: %s", filepath.Join(dir, stateFile))
	}
	if err := t.restoreActive(st, dir); err != nil {
		return err
	}
	src, err := weights.OpenSafetensors(filepath.Join(dir, stateWeightsFile))
	if err != nil {
		return errors.WithMessage(err, "train: resume")
	}
	defer src.Close()
	want := stateVariables(t.ctx)
	seen := 0
	for _, v := range want {
		name := v.ScopeAndName()
		if rv, ok := st.Raw[name]; ok {
			if err := setRaw(v, rv); err != nil {
				return errors.WithMessagef(err, "train: resume %s: %s", dir, name)
			}
			seen++
			continue
		}
		info, ok := src.Info(name)
		if !ok {
			return errors.Errorf("train: resume %s: variable %s is not in the checkpoint (another tuner or config?)", dir, name)
		}
		if !slices.Equal(info.Shape, v.Shape().Dimensions) {
			return errors.Errorf("train: resume %s: %s has shape %v, the model wants %v", dir, name, info.Shape, v.Shape().Dimensions)
		}
		data, err := src.ReadFloat32(name)
		if err != nil {
			return errors.WithMessage(err, "train: resume")
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(data, info.Shape...)); err != nil {
			return errors.Wrapf(err, "train: resume: setting %s", name)
		}
		seen++
	}
	if extra := len(src.Names()) + len(st.Raw) - seen; extra != 0 {
		return errors.Errorf("train: resume %s: the checkpoint holds %d variables this model does not have", dir, extra)
	}
	t.step = st.Step
	return nil
}

func setRaw(v *context.Variable, rv rawVar) error {
	if rv.DType != v.DType().String() || !slices.Equal(rv.Dims, v.Shape().Dimensions) {
		return errors.Errorf("saved as %s%v, the model has %s%v", rv.DType, rv.Dims, v.DType(), v.Shape().Dimensions)
	}
	b, err := base64.StdEncoding.DecodeString(rv.Data)
	if err != nil {
		return errors.Wrap(err, "decoding")
	}
	t := tensors.FromShape(v.Shape())
	var n int
	if err := t.MutableBytes(func(dst []byte) { n = copy(dst, b) }); err != nil {
		return err
	}
	if n != len(b) {
		return errors.Errorf("%d bytes saved, the variable holds %d", len(b), n)
	}
	return v.SetValue(t)
}
