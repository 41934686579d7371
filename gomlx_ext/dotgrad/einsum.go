package dotgrad

import (
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Einsum has graph.Einsum's signature and semantics for two operands (e.g. "bsi,oi->bso",
// "bskgd,btkd->bkgst"), and goes through DotGeneral, so its gradient is two DotGenerals.
//
// As in graph.Einsum: an axis in both operands and in the output is a batch axis, in both operands
// but not in the output is contracted, in one operand and the output is a free axis, and in one
// operand only is summed away first. Each operand's letters must be distinct; no "..." ellipsis.
func Einsum(equation string, lhs, rhs *graph.Node) *graph.Node {
	inOut := strings.Split(equation, "->")
	if len(inOut) != 2 {
		panicf("dotgrad.Einsum(%q): the equation needs exactly one \"->\"", equation)
	}
	operands := strings.Split(inOut[0], ",")
	if len(operands) != 2 {
		panicf("dotgrad.Einsum(%q): the equation describes %d operands, 2 (lhs and rhs) are required",
			equation, len(operands))
	}
	lhsDesc := parseEinsumAxes(equation, "lhs", operands[0])
	rhsDesc := parseEinsumAxes(equation, "rhs", operands[1])
	outDesc := parseEinsumAxes(equation, "output", inOut[1])
	for name, pair := range map[string]struct {
		desc []rune
		x    *graph.Node
	}{"lhs": {lhsDesc, lhs}, "rhs": {rhsDesc, rhs}} {
		if len(pair.desc) != pair.x.Rank() {
			panicf("dotgrad.Einsum(%q): %s is described by %d axes but has shape %s",
				equation, name, len(pair.desc), pair.x.Shape())
		}
	}
	for _, axis := range outDesc {
		if !hasAxis(lhsDesc, axis) && !hasAxis(rhsDesc, axis) {
			panicf("dotgrad.Einsum(%q): output axis %q appears in neither operand", equation, axis)
		}
	}

	// Axes that appear in a single operand and not in the output are summed away first.
	lhs, lhsDesc = sumAwayLonelyAxes(lhs, lhsDesc, rhsDesc, outDesc)
	rhs, rhsDesc = sumAwayLonelyAxes(rhs, rhsDesc, lhsDesc, outDesc)

	var lhsBatch, rhsBatch, lhsContracting, rhsContracting []int
	var dotOut []rune // Axes of DotGeneral's output, in its order: batch, lhs free, rhs free.
	var lhsFree, rhsFree []rune
	for lhsAxis, axis := range lhsDesc {
		rhsAxis := indexOf(rhsDesc, axis)
		switch {
		case rhsAxis >= 0 && hasAxis(outDesc, axis):
			lhsBatch = append(lhsBatch, lhsAxis)
			rhsBatch = append(rhsBatch, rhsAxis)
			dotOut = append(dotOut, axis)
		case rhsAxis >= 0:
			lhsContracting = append(lhsContracting, lhsAxis)
			rhsContracting = append(rhsContracting, rhsAxis)
		default:
			lhsFree = append(lhsFree, axis)
		}
	}
	for _, axis := range rhsDesc {
		if !hasAxis(lhsDesc, axis) {
			rhsFree = append(rhsFree, axis)
		}
	}
	dotOut = append(append(dotOut, lhsFree...), rhsFree...)

	output := DotGeneral(lhs, lhsContracting, lhsBatch, rhs, rhsContracting, rhsBatch)
	permutation := make([]int, len(outDesc))
	identity := true
	for to, axis := range outDesc {
		permutation[to] = indexOf(dotOut, axis)
		if permutation[to] != to {
			identity = false
		}
	}
	if !identity {
		output = graph.TransposeAllAxes(output, permutation...)
	}
	return output
}

func parseEinsumAxes(equation, name, desc string) []rune {
	axes := make([]rune, 0, len(desc))
	for _, r := range desc {
		if hasAxis(axes, r) {
			panicf("dotgrad.Einsum(%q): axis %q appears more than once in %s %q", equation, r, name, desc)
		}
		axes = append(axes, r)
	}
	return axes
}

// sumAwayLonelyAxes reduce-sums the axes of x that are neither in other nor in out.
func sumAwayLonelyAxes(x *graph.Node, desc, other, out []rune) (*graph.Node, []rune) {
	var reduce []int
	var kept []rune
	for i, axis := range desc {
		if hasAxis(other, axis) || hasAxis(out, axis) {
			kept = append(kept, axis)
		} else {
			reduce = append(reduce, i)
		}
	}
	if len(reduce) == 0 {
		return x, desc
	}
	return graph.ReduceSum(x, reduce...), kept
}

func hasAxis(desc []rune, axis rune) bool { return indexOf(desc, axis) >= 0 }

func indexOf(desc []rune, axis rune) int {
	for i, r := range desc {
		if r == axis {
			return i
		}
	}
	return -1
}
