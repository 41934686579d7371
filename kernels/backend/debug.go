package backend

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// debugEnv, when set, makes Compile print a summary of the large ops of each graph to stderr.
const debugEnv = "GOSWIFT_KERNELS_DEBUG"

func (b *Builder) debugSummary(outs []*value) {
	if os.Getenv(debugEnv) == "" {
		return
	}
	type key struct{ op, shape string }
	count := map[key]int{}
	for _, n := range b.reachable(outs) {
		for _, v := range n.outputs {
			if v.shape.Size() < 100_000 {
				continue
			}
			var ins []string
			for _, in := range n.inputs {
				ins = append(ins, in.shape.String())
			}
			op := n.op
			if n.kernel != nil {
				op += "[" + n.kernel.name() + "]"
			}
			count[key{op, v.shape.String() + " <- " + strings.Join(ins, ", ")}]++
		}
	}
	var keys []key
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].op < keys[j].op || keys[i].op == keys[j].op && keys[i].shape < keys[j].shape
	})
	fmt.Fprintf(os.Stderr, "graph %q: %d nodes\n", b.name, len(b.nodes))
	if level := os.Getenv(debugEnv); level == "2" || level == "3" {
		for _, n := range b.reachable(outs) {
			if n.outputs[0].shape.Size() < 1_000_000 && level == "2" {
				continue
			}
			var ins []string
			for _, in := range n.inputs {
				ins = append(ins, fmt.Sprintf("#%d%s", in.n.idx, in.shape))
			}
			kind := ""
			if n.kernel != nil {
				kind = "[" + n.kernel.name() + "]"
			}
			fmt.Fprintf(os.Stderr, "  #%d %s%s %s <- %s\n", n.idx, n.op, kind, n.outputs[0].shape, strings.Join(ins, ", "))
		}
	}
	for _, k := range keys {
		fmt.Fprintf(os.Stderr, "  %4d × %-22s %s\n", count[k], k.op, k.shape)
	}
}
