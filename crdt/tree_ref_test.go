package crdt

import (
	"slices"
	"sort"
)

// treeRef is the naive reference for tree: it keeps the set of moves and
// recomputes the whole hierarchy from scratch, sorting the moves by stamp
// and doing them one by one, skipping those that would make a cycle or put
// a node deeper than MaxTreeDepth. No
// undo, no redo, no incremental index: obviously right, and slow.
type treeRef struct {
	set     map[Stamp]move // first move seen per stamp
	tooDeep int            // moves skipped for depth by the last state()
}

func newTreeRef() *treeRef { return &treeRef{set: map[Stamp]move{}} }

// add records m; false if its stamp is known or the move is invalid.
func (r *treeRef) add(m move) bool {
	if m.Node == Root || (m.Pos != "" && ValidKey(m.Pos) != nil) {
		return false
	}
	if _, ok := r.set[m.Stamp]; ok {
		return false
	}
	r.set[m.Stamp] = m
	return true
}

// treeRefState is the recomputed tree: each moved node's parent, position and
// deciding stamp.
type treeRefState map[ElementID]treeRefPlacement

type treeRefPlacement struct {
	parent ElementID
	pos    string
	stamp  Stamp
}

// sorted returns the moves in stamp order.
func (r *treeRef) sorted() []move {
	ms := make([]move, 0, len(r.set))
	for _, m := range r.set {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Stamp.Less(ms[j].Stamp) })
	return ms
}

func (r *treeRef) state() treeRefState {
	st := treeRefState{}
	r.tooDeep = 0
	parent := func(n ElementID) ElementID {
		if p, ok := st[n]; ok {
			return p.parent
		}
		return Root
	}
	// height is the number of levels below n: the longest chain of
	// parents from a node up to n.
	height := func(n ElementID) int {
		h := 0
		for c := range st {
			d := 0
			for a := c; a != Root; a = parent(a) {
				if a == n {
					h = max(h, d)
					break
				}
				d++
			}
		}
		return h
	}
	for _, m := range r.sorted() {
		// Would m.Node become its own ancestor? Walk up from the new
		// parent, counting its depth.
		cycle, depth := false, 0
		for a := m.Parent; ; a = parent(a) {
			if a == m.Node {
				cycle = true
				break
			}
			if a == Root {
				break
			}
			depth++
		}
		// Would a node end deeper than MaxTreeDepth?
		switch {
		case cycle:
		case depth+1+height(m.Node) > MaxTreeDepth:
			r.tooDeep++
		default:
			st[m.Node] = treeRefPlacement{m.Parent, m.Pos, m.Stamp}
		}
	}
	return st
}

func (s treeRefState) parentOf(n ElementID) (ElementID, string, bool) {
	p, ok := s[n]
	if !ok {
		return Root, "", false
	}
	return p.parent, p.pos, true
}

func (s treeRefState) children(p ElementID) []ElementID {
	var out []ElementID
	for n, pl := range s {
		if pl.parent == p {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b ElementID) int { return CompareSiblings(s[a].pos, a, s[b].pos, b) })
	return out
}
