package train

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/distributed"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/testutil"
	"github.com/goswift/goswift/swift/data"
)

// rawBytes is a tensor's raw data (dtype-agnostic comparisons).
func rawBytes(t *testing.T, x *tensors.Tensor) []byte {
	t.Helper()
	var out []byte
	if err := x.ConstBytes(func(b []byte) { out = append([]byte(nil), b...) }); err != nil {
		t.Fatal(err)
	}
	return out
}

// numbered is a B×S batch whose every field holds distinct values, so a misplaced row shows.
func numbered(b, s int) *data.Batch {
	bt := data.NewBatch(b, s)
	for i := range bt.Tokens {
		bt.Tokens[i], bt.Targets[i], bt.Positions[i] = int32(i), int32(1000+i), int32(i%s)
		bt.Segments[i], bt.Weights[i] = int32(1+i/s), float32(i)/8
	}
	return bt
}

// TestParallelDistributedInputs checks the real SPMD inputs (not the emulated path): for k = 1, 2, 4
// devices, each [B, S] input is a distributed tensor with the batch spec whose shard r holds
// rows r·B/k … (r+1)·B/k−1 of the micro-batch (the rows SplitBatch gives device r) and whose
// merge is the whole input; each step scalar is replicated, every shard the same value; and
// the executables' input specs put the batch inputs on the data axis and the rest replicated.
func TestParallelDistributedInputs(t *testing.T) {
	const B, S = 8, 3
	scalars := []any{float32(1.0 / 24), float32(1e-3), float32(10), float32(1000), []float32{1, 0.5, 2}}
	for _, k := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			pl, err := NewPlan(context.New(), Parallel{Devices: k})
			if err != nil {
				t.Fatal(err)
			}
			b := numbered(B, S)
			full := batchInputs(b)
			split, err := pl.SplitBatch(b)
			if err != nil {
				t.Fatal(err)
			}
			in, err := pl.distributedInputs(b, scalars)
			if err != nil {
				t.Fatal(err)
			}
			if len(in) != len(full)+len(scalars) {
				t.Fatalf("%d inputs, want %d batch inputs + %d scalars", len(in), len(full), len(scalars))
			}
			for i, a := range in {
				dt, ok := a.(*distributed.Tensor)
				if !ok {
					t.Fatalf("input %d is a %T, want *distributed.Tensor", i, a)
				}
				if dt.NumShards() != k {
					t.Fatalf("input %d: %d shards, want %d", i, dt.NumShards(), k)
				}
				if i >= len(full) { // a step scalar: replicated, every shard the value
					if dt.ShardingSpec() != pl.Replicated {
						t.Errorf("scalar input %d: spec %s, want replicated", i, dt.ShardingSpec())
					}
					want := rawBytes(t, tensors.FromAnyValue(scalars[i-len(full)]))
					for r, sh := range dt.Shards() {
						if !bytes.Equal(rawBytes(t, sh), want) {
							t.Errorf("scalar input %d shard %d differs from the value %v", i, r, scalars[i-len(full)])
						}
					}
					continue
				}
				if dt.ShardingSpec() != pl.Batch || SpecString(dt.ShardingSpec()) != "sharded: axis 0 on "+DataAxis {
					t.Errorf("batch input %d: spec %s, want the batch spec", i, SpecString(dt.ShardingSpec()))
				}
				if got := dt.Shape().Dimensions; len(got) != 2 || got[0] != B || got[1] != S {
					t.Errorf("batch input %d: logical shape %v, want [%d %d]", i, got, B, S)
				}
				whole := rawBytes(t, full[i].(*tensors.Tensor))
				rowBytes := len(whole) / B
				rows := B / k
				for r, sh := range dt.Shards() {
					if d := sh.Shape().Dimensions; d[0] != rows || d[1] != S {
						t.Fatalf("batch input %d shard %d: shape %v, want [%d %d]", i, r, d, rows, S)
					}
					got := rawBytes(t, sh)
					if !bytes.Equal(got, whole[r*rows*rowBytes:(r+1)*rows*rowBytes]) {
						t.Errorf("batch input %d shard %d is not rows %d…%d of the batch", i, r, r*rows, (r+1)*rows-1)
					}
					if !bytes.Equal(got, rawBytes(t, batchInputs(split[r])[i].(*tensors.Tensor))) {
						t.Errorf("batch input %d shard %d differs from SplitBatch's shard", i, r)
					}
				}
				merged, err := dt.Merge()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(rawBytes(t, merged), whole) {
					t.Errorf("batch input %d: merged shards differ from the batch", i)
				}
			}
			for n, specs := range map[int][]*distributed.ShardingSpec{numInputs: pl.inputSpecs(numInputs), inWeights + 1: pl.inputSpecs(inWeights + 1)} {
				for i, s := range specs {
					want := pl.Replicated
					if i <= inWeights {
						want = pl.Batch
					}
					if s != want {
						t.Errorf("%d-input executable: input %d spec %s, want %s", n, i, SpecString(s), SpecString(want))
					}
				}
			}
		})
	}
	// A batch that does not split is refused before any tensor is built.
	pl, _ := NewPlan(context.New(), Parallel{Devices: 4})
	if _, err := pl.distributedInputs(numbered(6, 2), scalars); err == nil || !strings.Contains(err.Error(), "does not split") {
		t.Fatalf("6 rows over 4 devices: error %v", err)
	}
}

// TestParallelConfigureExec: configureExec puts an executable in AutoSharding mode
// over the plan's mesh (variables default to replicated), and applyVariableSpecs gives every
// variable its planned spec — FSDP weights and their optimizer state sharded, a weight whose
// axis 0 does not divide replicated — and refuses a variable the plan does not know.
func TestParallelConfigureExec(t *testing.T) {
	ctx := context.New()
	ctx.InAbsPath("/model/a").VariableWithValue("weight", tensors.FromValue([][]float32{{1}, {2}, {3}, {4}}))
	ctx.InAbsPath("/model/b").VariableWithValue("weight", tensors.FromValue([][]float32{{1, 2}, {3, 4}, {5, 6}}))
	ctx.InAbsPath(scopeMoment1+"/model/a").VariableWithValue("weight", tensors.FromValue([][]float32{{0}, {0}, {0}, {0}})).SetTrainable(false)
	pl, err := NewPlan(ctx, Parallel{Devices: 2, FSDP: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.applyVariableSpecs(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/model/a/weight":                "sharded: axis 0 on data", // [4, 1]
		"/model/b/weight":                "replicated",              // [3, 2]: 3 % 2 != 0
		scopeMoment1 + "/model/a/weight": "sharded: axis 0 on data",
	}
	for v := range ctx.IterVariables() {
		if got := SpecString(v.ShardingSpec()); got != want[v.ScopeAndName()] || v.ShardingSpec() != pl.Vars[v.ScopeAndName()] {
			t.Errorf("%s: spec %s, want %s", v.ScopeAndName(), got, want[v.ScopeAndName()])
		}
	}
	e, err := context.NewExec(testutil.Backend(t), ctx, func(ctx *context.Context, x *Node) *Node { return x })
	if err != nil {
		t.Fatal(err)
	}
	pl.configureExec(e, numInputs)
	if ms := e.Meshes(); len(ms) != 1 || ms[0] != pl.Mesh || ms[0].NumDevices() != 2 {
		t.Errorf("meshes %v, want the plan's 2-device mesh", ms)
	}
	if d := e.DefaultShardingSpec(); d == nil || !d.IsReplicated() {
		t.Errorf("default variable spec %v, want replicated", d)
	}
	ctx.InAbsPath("/model/c").VariableWithValue("weight", tensors.FromValue([]float32{1, 2}))
	if err := pl.applyVariableSpecs(ctx); err == nil || !strings.Contains(err.Error(), "/model/c/weight") {
		t.Fatalf("unplanned variable: error %v", err)
	}
}
