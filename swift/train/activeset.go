package train

import (
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"
)

// Active sets (Config.ActiveSet, LISA): the trainer holds optimizer state only for the
// variables that train now, and its step graphs take gradients of those only.
//
// At a step whose key differs from the current one (syncActive):
//   - the step executables of the old set are finalized (their graphs name the optimizer
//     variables of that set, which are about to be deleted, so they cannot be reused later);
//   - the moments (and gradient accumulators) of the variables that leave the set are freed
//     and deleted from the context;
//   - zero moments are created for the variables that join it, with their own bias-correction
//     count starting at that step (a fresh AdamW state, as when an optimizer's parameter
//     group is re-created); variables that stay keep theirs;
//   - new step executables are built for the set (compiled at their first run).
//
// Without Config.ActiveSet none of this runs: one set (every trainable variable), one graph.

// activeAt evaluates Config.ActiveSet at step: its key and the indices (into t.vars) of the
// active variables.
func (t *Trainer) activeAt(step int) (string, []int, error) {
	key, pred := t.cfg.ActiveSet(step)
	if key == "" || pred == nil {
		return "", nil, errors.Errorf("train: the active set at step %d has an empty key or no predicate", step)
	}
	var idx []int
	for i, v := range t.vars {
		if pred(v) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return "", nil, errors.Errorf("train: the active set %q at step %d holds none of the %d trainable variables",
			key, step, len(t.vars))
	}
	return key, idx, nil
}

// accumulates says whether a step runs several micro-steps whose gradients are summed in the
// accumulators: gradient accumulation, or emulated data parallelism (one run per shard).
func (t *Trainer) accumulates() bool {
	return t.cfg.GradAccum > 1 || (t.cfg.Parallel.degree() > 1 && t.cfg.Parallel.Emulate)
}

// stateScopes are the optimizer-state scopes every trained variable has.
func (t *Trainer) stateScopes() []string {
	scopes := []string{scopeMoment1, scopeMoment2}
	if t.accumulates() {
		scopes = append(scopes, scopeAccum)
	}
	return scopes
}

// createState creates v's optimizer state (zeros) in the context; step is when (ActiveSet runs
// count v's bias correction from it).
func (t *Trainer) createState(v *context.Variable, step int) error {
	for _, s := range t.stateScopes() {
		c := t.ctx.InAbsPath(s + v.Scope()).Checked(false)
		sv := c.VariableWithValue(v.Name(), tensors.FromShape(optimizerStateShape(v.Shape()))).SetTrainable(false)
		if t.plan != nil { // a state variable created after New: give it its owner's spec
			name := sv.ScopeAndName()
			t.plan.Vars[name], t.plan.Kinds[name] = t.plan.Vars[v.ScopeAndName()], "optimizer"
			if !t.plan.Emulate {
				if err := sv.SetShardingSpec(t.plan.Vars[name]); err != nil {
					return errors.Wrapf(err, "train: sharding %s", name)
				}
			}
		}
	}
	if t.momentStart != nil {
		t.momentStart[v.ScopeAndName()] = step
	}
	return nil
}

// dropState frees and deletes v's optimizer state.
func (t *Trainer) dropState(v *context.Variable) error {
	for _, s := range t.stateScopes() {
		scope := s + v.Scope()
		if sv := t.ctx.GetVariableByScopeAndName(scope, v.Name()); sv != nil {
			if err := sv.Reset(); err != nil {
				return errors.Wrapf(err, "train: freeing %s", sv.ScopeAndName())
			}
			if t.plan != nil {
				delete(t.plan.Vars, sv.ScopeAndName())
				delete(t.plan.Kinds, sv.ScopeAndName())
			}
		}
		if err := t.ctx.DeleteVariable(scope, v.Name()); err != nil {
			return errors.Wrapf(err, "train: deleting the optimizer state %s/%s", scope, v.Name())
		}
	}
	delete(t.momentStart, v.ScopeAndName())
	return nil
}

// syncActive switches to the active set of step, when Config.ActiveSet gives another key.
func (t *Trainer) syncActive(step int) error {
	if t.cfg.ActiveSet == nil {
		return nil
	}
	key, idx, err := t.activeAt(step)
	if err != nil || key == t.activeKey {
		return err
	}
	return t.switchActive(key, idx, step)
}

// switchActive makes idx (with its key) the active set: state of leaving variables dropped,
// zero state for joining ones (their moments counted from step), step graphs rebuilt.
func (t *Trainer) switchActive(key string, idx []int, step int) error {
	for _, e := range []*context.Exec{t.applyStep, t.accumulate} {
		if e != nil {
			e.Finalize()
		}
	}
	t.applyStep, t.accumulate = nil, nil
	for _, i := range t.active {
		if !slices.Contains(idx, i) {
			if err := t.dropState(t.vars[i]); err != nil {
				return err
			}
		}
	}
	for _, i := range idx {
		if !slices.Contains(t.active, i) {
			if err := t.createState(t.vars[i], step); err != nil {
				return err
			}
		}
	}
	t.active, t.activeKey = idx, key
	if err := t.buildStepExecs(); err != nil {
		return err
	}
	if t.plan != nil && !t.plan.Emulate {
		t.configureStepExecs()
	}
	return nil
}

// activeVars is the active set's variables, in t.vars order.
func (t *Trainer) activeVars() []*context.Variable {
	out := make([]*context.Variable, len(t.active))
	for j, i := range t.active {
		out[j] = t.vars[i]
	}
	return out
}

// buildStepExecs builds the step executables (apply, and accumulate when needed) of the
// active set.
func (t *Trainer) buildStepExecs() error {
	vars, perVar := t.activeVars(), t.cfg.ActiveSet != nil
	var err error
	if t.applyStep, err = context.NewExec(t.backend, t.ctx, t.buildStep(true, vars, perVar)); err != nil {
		return errors.Wrap(err, "train: building the step graph")
	}
	if t.accumulates() {
		if t.accumulate, err = context.NewExec(t.backend, t.ctx, t.buildStep(false, vars, perVar)); err != nil {
			return errors.Wrap(err, "train: building the accumulation graph")
		}
	}
	return nil
}

// configureStepExecs sets the SPMD configuration of the step executables (real devices).
func (t *Trainer) configureStepExecs() {
	for _, e := range []*context.Exec{t.applyStep, t.accumulate} {
		if e != nil {
			t.plan.configureExec(e, numInputs)
		}
	}
}

// biasInputs are the step's AdamW bias-correction inputs: scalars 1/(1−β^t) for t = step+1,
// or with Config.ActiveSet one value per active variable, t counted from its moments' creation.
func (t *Trainer) biasInputs() (any, any) {
	c := t.cfg
	bias := func(beta, n float64) float32 { return float32(1 / (1 - math.Pow(beta, n))) }
	if c.ActiveSet == nil {
		n := float64(t.step + 1)
		return bias(c.Beta1, n), bias(c.Beta2, n)
	}
	b1, b2 := make([]float32, len(t.active)), make([]float32, len(t.active))
	for j, i := range t.active {
		n := float64(t.step - t.momentStart[t.vars[i].ScopeAndName()] + 1)
		b1[j], b2[j] = bias(c.Beta1, n), bias(c.Beta2, n)
	}
	return b1, b2
}

// ActiveKey is the current active set's key (Config.ActiveSet; "" without it).
func (t *Trainer) ActiveKey() string { return t.activeKey }

// restoreActive recreates, before Resume loads a checkpoint, the active set whose optimizer
// state it holds: the set of its last step (step 0's for a checkpoint before any step).
func (t *Trainer) restoreActive(st trainerState, dir string) error {
	switch {
	case t.cfg.ActiveSet == nil && st.ActiveSet == "":
		return nil
	case t.cfg.ActiveSet == nil:
		return errors.Errorf("train: resume %s: the checkpoint holds the optimizer state of active set %q, "+
			"but this trainer has no Config.ActiveSet (another tuner?)", dir, st.ActiveSet)
	case st.ActiveSet == "":
		return errors.Errorf("train: resume %s: the checkpoint was saved without an active set (optimizer "+
			"state for every variable), but this trainer has Config.ActiveSet", dir)
	}
	step := max(st.Step-1, 0)
	key, idx, err := t.activeAt(step)
	if err != nil {
		return errors.WithMessagef(err, "train: resume %s", dir)
	}
	if key != st.ActiveSet {
		return errors.Errorf("train: resume %s: the checkpoint's active set at step %d is %q, this trainer draws %q "+
			"(another seed or interval?)", dir, step, st.ActiveSet, key)
	}
	if key != t.activeKey {
		if err := t.switchActive(key, idx, step); err != nil {
			return err
		}
	}
	for _, i := range t.active {
		name := t.vars[i].ScopeAndName()
		s, ok := st.MomentStart[name]
		if !ok {
			return errors.Errorf("train: resume %s: no moment step for %s in %s", dir, name, stateFile)
		}
		t.momentStart[name] = s
	}
	return nil
}
