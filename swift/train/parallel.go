package train

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/data"
)

// DataAxis is the name of the device-mesh axis the batch is split along.
const DataAxis = "data"

// Parallel configures data parallelism. The work is done by XLA's SPMD partitioner through
// GoMLX (Exec.AutoSharding with a device mesh and sharding specs): the batch is sharded along
// the data axis, parameters are replicated (or sharded too, with FSDP), and XLA inserts the
// gradient all-reduce. There is no hand-written collective.
//
// The global batch, micro-batch and accumulation are one set of numbers: every optimizer step
// sees GradAccum micro-batches of the dataset's batch size, each split into Devices equal
// shards; the loss is normalised by the token count of the whole step; the data order does not
// depend on the device count.
type Parallel struct {
	// Devices is the data-parallel degree. 0: no SPMD (plain single-device execution); 1: the
	// SPMD path on a one-device mesh; AllDevices (-1): every device of the backend (resolved by
	// Resolve, which train.New calls).
	Devices int `json:"devices,omitempty"`
	// FSDP shards parameters and their optimizer state along the data axis too (ZeRO-3-like):
	// every variable whose first axis divides by Devices, except adapters, which stay
	// replicated.
	FSDP bool `json:"fsdp,omitempty"`
	// Emulate runs the shards one after another on one device, summing their gradients as the
	// all-reduce would: the same plan and step on the CPU backends (which have one device), for
	// semantics tests.
	Emulate bool `json:"emulate,omitempty"`
}

// AllDevices as Parallel.Devices asks for a mesh over every device of the backend.
const AllDevices = -1

func (p Parallel) degree() int { return max(p.Devices, 1) }

// Resolve replaces Devices == AllDevices by the backend's device count (with Emulate, which
// runs on one device, "all" is that one device). Other values are returned unchanged; a
// negative value other than AllDevices is an error naming it.
func (p Parallel) Resolve(b backends.Backend) (Parallel, error) {
	switch {
	case p.Devices == AllDevices:
		if b == nil {
			return p, errors.New("parallel: devices=all needs a backend to count its devices")
		}
		p.Devices = max(b.NumDevices(), 1)
	case p.Devices < 0:
		return p, errors.Errorf("parallel: devices=%d: want a count >= 0 or %d (all devices)", p.Devices, AllDevices)
	}
	return p, nil
}

// Plan is how one run is laid out on the devices: the mesh, the batch and scalar specs, and
// the sharding spec of every variable.
type Plan struct {
	Parallel
	Mesh       *distributed.DeviceMesh
	Batch      *distributed.ShardingSpec // [B, S] inputs: B split along DataAxis
	Replicated *distributed.ShardingSpec
	// Vars maps Variable.ScopeAndName to its spec; Kinds to what the planner took it for:
	// "adapter", "base", "optimizer" or "state".
	Vars  map[string]*distributed.ShardingSpec
	Kinds map[string]string
}

// optimizerScopes hold per-variable optimizer state: their spec follows the variable's.
var optimizerScopes = []string{scopeMoment1, scopeMoment2, scopeAccum}

// NewPlan assigns a sharding spec to every variable of ctx:
//   - trainable variables of a tuner scope (LoRA A/B, ...): replicated;
//   - state (names starting with '#', the RNG): replicated;
//   - every other weight (the base, QLoRA's packed codes and scales, fully fine-tuned
//     weights): replicated, or with FSDP sharded on its first axis when it divides;
//   - optimizer state: the spec of the variable it belongs to.
func NewPlan(ctx *context.Context, p Parallel) (*Plan, error) {
	k := p.degree()
	mesh, err := distributed.NewDeviceMesh([]int{k}, []string{DataAxis})
	if err != nil {
		return nil, errors.Wrap(err, "parallel: device mesh")
	}
	pl := &Plan{Parallel: p, Mesh: mesh, Replicated: distributed.NewReplicatedShardingSpec(mesh),
		Vars: map[string]*distributed.ShardingSpec{}, Kinds: map[string]string{}}
	if pl.Batch, err = distributed.NewShardingSpec(mesh, distributed.AxisSpec{DataAxis}); err != nil {
		return nil, errors.Wrap(err, "parallel: batch spec")
	}
	owner := func(v *context.Variable) (string, bool) {
		for _, s := range optimizerScopes {
			if strings.HasPrefix(v.Scope(), s+"/") {
				return context.JoinScope(strings.TrimPrefix(v.Scope(), s), v.Name()), true
			}
		}
		return "", false
	}
	var optimizer []*context.Variable
	for v := range ctx.IterVariables() {
		name := v.ScopeAndName()
		switch {
		case isOptimizerState(v):
			optimizer = append(optimizer, v)
			continue
		case strings.HasPrefix(v.Name(), "#"):
			pl.Kinds[name], pl.Vars[name] = "state", pl.Replicated
		case v.Trainable && strings.HasPrefix(v.Scope(), "/tuners/"):
			pl.Kinds[name], pl.Vars[name] = "adapter", pl.Replicated
		default:
			pl.Kinds[name], pl.Vars[name] = "base", pl.Replicated
			dims := v.Shape().Dimensions
			if p.FSDP && k > 1 && len(dims) > 0 && dims[0]%k == 0 {
				spec, err := distributed.NewShardingSpec(mesh, distributed.AxisSpec{DataAxis})
				if err != nil {
					return nil, errors.Wrapf(err, "parallel: spec of %s", name)
				}
				pl.Vars[name] = spec
			}
		}
	}
	for _, v := range optimizer {
		name := v.ScopeAndName()
		of, _ := owner(v)
		spec, ok := pl.Vars[of]
		if !ok {
			return nil, errors.Errorf("parallel: optimizer state %s belongs to no variable (%s)", name, of)
		}
		pl.Kinds[name], pl.Vars[name] = "optimizer", spec
	}
	return pl, nil
}

func isOptimizerState(v *context.Variable) bool {
	for _, s := range optimizerScopes {
		if strings.HasPrefix(v.Scope(), s+"/") {
			return true
		}
	}
	return false
}

// String lists the plan, one variable per line, sorted.
func (pl *Plan) String() string {
	names := make([]string, 0, len(pl.Vars))
	for n := range pl.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	fmt.Fprintf(&sb, "mesh %s, batch %s\n", pl.Mesh, SpecString(pl.Batch))
	for _, n := range names {
		fmt.Fprintf(&sb, "%-10s %-70s %s\n", pl.Kinds[n], n, SpecString(pl.Vars[n]))
	}
	return sb.String()
}

// SpecString describes a spec in words: "replicated", or which tensor axes are sharded on which
// mesh axes ("axis 0 on data").
func SpecString(s *distributed.ShardingSpec) string {
	if s == nil || s.IsReplicated() {
		return "replicated"
	}
	var parts []string
	for i, a := range s.Axes {
		if len(a) > 0 {
			parts = append(parts, fmt.Sprintf("axis %d on %s", i, strings.Join(a, ",")))
		}
	}
	return "sharded: " + strings.Join(parts, "; ")
}

// SplitBatch cuts a micro-batch into Devices shards along the batch axis (shard r holds rows
// r·B/k … (r+1)·B/k−1, the rows device r receives).
func (pl *Plan) SplitBatch(b *data.Batch) ([]*data.Batch, error) {
	k := pl.degree()
	if b.B%k != 0 {
		return nil, errors.Errorf("parallel: batch of %d rows does not split over %d devices (make batch-size a multiple)", b.B, k)
	}
	rows := b.B / k
	out := make([]*data.Batch, k)
	for r := range k {
		lo, hi := r*rows*b.S, (r+1)*rows*b.S
		out[r] = &data.Batch{B: rows, S: b.S, Tokens: b.Tokens[lo:hi], Targets: b.Targets[lo:hi],
			Positions: b.Positions[lo:hi], Segments: b.Segments[lo:hi], Weights: b.Weights[lo:hi]}
	}
	return out, nil
}

// distributedInputs turns a micro-batch and the step's scalars into the distributed tensors of
// an SPMD execution: batch inputs sharded, scalars replicated.
func (pl *Plan) distributedInputs(b *data.Batch, scalars []any) ([]any, error) {
	shards, err := pl.SplitBatch(b)
	if err != nil {
		return nil, err
	}
	k := pl.degree()
	perShard := make([][]any, k)
	for r, s := range shards {
		perShard[r] = batchInputs(s)
	}
	var out []any
	for i := range perShard[0] {
		ts := make([]*tensors.Tensor, k)
		for r := range k {
			ts[r] = perShard[r][i].(*tensors.Tensor)
		}
		dt, err := distributed.NewTensor(pl.Batch, ts)
		if err != nil {
			return nil, errors.Wrap(err, "parallel: sharding the batch")
		}
		out = append(out, dt)
	}
	for _, s := range scalars {
		ts := make([]*tensors.Tensor, k)
		for r := range k {
			ts[r] = tensors.FromAnyValue(s)
		}
		dt, err := distributed.NewTensor(pl.Replicated, ts)
		if err != nil {
			return nil, errors.Wrap(err, "parallel: replicating the step scalars")
		}
		out = append(out, dt)
	}
	return out, nil
}

// inputSpecs is the sharding spec of each of an executable's numInputs inputs, in the order
// of the step inputs (step.go): the [B, S] batch inputs (tokens … weights) sharded along the
// data axis, the scalars and the per-variable learning-rate scales replicated.
func (pl *Plan) inputSpecs(numInputs int) []*distributed.ShardingSpec {
	specs := make([]*distributed.ShardingSpec, numInputs)
	for i := range specs {
		specs[i] = pl.Replicated
		if i < inWeights+1 {
			specs[i] = pl.Batch
		}
	}
	return specs
}

// configureExec sets the SPMD partitioning (AutoSharding over the plan's mesh) and the input
// specs of one of the trainer's executables (real devices only).
func (pl *Plan) configureExec(e *context.Exec, numInputs int) {
	e.AutoSharding(pl.Mesh).WithInputShardingSpecs(pl.inputSpecs(numInputs)...)
}

// applyVariableSpecs gives every variable its planned spec before the first distributed run.
func (pl *Plan) applyVariableSpecs(ctx *context.Context) error {
	for v := range ctx.IterVariables() {
		spec, ok := pl.Vars[v.ScopeAndName()]
		if !ok {
			return errors.Errorf("parallel: variable %s has no planned spec", v.ScopeAndName())
		}
		if err := v.SetShardingSpec(spec); err != nil {
			return errors.Wrapf(err, "parallel: %s", v.ScopeAndName())
		}
	}
	return nil
}

// checkDevices verifies the backend has the devices a real (non-emulated) run needs.
func (pl *Plan) checkDevices(b backends.Backend) error {
	if pl.Emulate {
		return nil
	}
	if name := b.Name(); name != "xla" && name != "stablehlo" {
		return errors.Errorf("parallel: the SPMD path needs the XLA backend; %q implements no distributed execution (use Emulate for CPU semantics)", name)
	}
	if n := b.NumDevices(); n < pl.degree() {
		return errors.Errorf("parallel: %d devices asked for, backend %q has %d (simplego has one: use Emulate for CPU semantics; multi-device needs an XLA/PJRT plugin)",
			pl.degree(), b.Name(), n)
	}
	return nil
}
