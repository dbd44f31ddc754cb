package crdt

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// MaxTreeDepth is how deep the element tree goes: an element on the board
// itself is at depth 1, its child at 2, and so on. A move that would put
// its node, or any node of the subtree it carries, deeper is skipped by
// every replica, as a move that would make a cycle is. A mindmap rarely
// goes past 30 levels; the limit bounds the walk every move costs.
const MaxTreeDepth = 64

// move is one move op as the tree sees it: make Node a child of Parent, at
// position Pos among Parent's children. Pos is "" (unpositioned: sorts
// first, then by element id) or a valid order key (see ValidKey).
type move struct {
	Stamp  Stamp
	Node   ElementID
	Parent ElementID
	Pos    string
}

// validate checks what the tree needs of a move: Node is not Root and Pos is
// "" or a valid key. A move of a node under itself is valid (and is skipped
// when applied, like any other cycle). The op decoder has already rejected
// such moves with a clearer error; the tree checks again so that its log
// only ever holds moves that its decoder accepts.
func (m move) validate() error {
	if m.Node == Root {
		return malformed("move: the root cannot move")
	}
	if m.Pos != "" {
		if err := ValidKey(m.Pos); err != nil {
			return err
		}
	}
	return nil
}

// treePlacement is where a move put a node: its parent (an index, see
// tree), its position among the parent's children, and the stamp of that
// move.
type treePlacement struct {
	parent int32
	pos    string
	stamp  Stamp
}

// treeNode is an element in the tree: its placement when some move placed
// it (placed), its slot (its index in its parent's kids, for removal in
// O(1)), its children in no particular order, and how many of them have
// each height (hist[h] children of height h, no trailing zero), so that
// its own height is len(hist) and follows in O(1) when a child comes, goes
// or changes height. A leaf's height is 0.
type treeNode struct {
	treePlacement
	placed bool
	slot   int32
	kids   []int32
	hist   []uint32
}

// treeLogEntry is one applied move, its node and parent as indices, with
// what is needed to undo it: the node's placement before it (prev,
// meaningful when had), or had == false when the node had not been placed
// by any earlier move. skipped marks a move that would have made a cycle,
// or put a node deeper than MaxTreeDepth, when it was (re)done, and so
// changed nothing.
type treeLogEntry struct {
	m       move
	n, p    int32
	prev    treePlacement
	had     bool
	skipped bool
}

// tree is the board's element hierarchy (mindmap structure and frame
// containment) under the move operation of Kleppmann, Mulligan, Gomes and
// Beresford, "A highly-available move operation for replicated trees"
// (2021). The tree knows only nodes that some move placed; every
// other element is, by convention, a child of Root with position "". The
// caller keeps the list of elements, and checks that the elements a move
// names exist.
//
// Invariants, after every call:
//   - log holds every move applied (minus duplicates and those still in
//     late), strictly ascending by stamp; late holds the others, all below
//     the log's top. log[:done] is done, each as if in that order: its
//     prev/had say the node's placement just before it, skipped whether it
//     would have made a cycle or put a node deeper than MaxTreeDepth.
//   - nodes is the result of doing log[:done] in order on an empty tree: a
//     node is placed iff some non-skipped move of it is, with the placement
//     of the last such move. Every read settles first (merges late, does
//     the rest), so it sees the result of the whole set.
//   - the parent relation is acyclic, and no node is deeper than
//     MaxTreeDepth (a placed node's chain of parents reaches Root in at
//     most MaxTreeDepth steps, counting its own).
//   - a node's kids are exactly the placed nodes whose parent it is, each
//     with its slot there, and hist counts their heights.
//
// So the state is a function of the set of moves applied, whatever their
// order of arrival and whenever reads settle: replicas that applied the
// same moves have equal logs, equal nodes, and equal appendState bytes.
// (Two different moves sharing a stamp are an op-id conflict, which the op
// layer rejects; the tree keeps the first.)
//
// # Cost, and the depth limit
//
// A move above the log's top costs a walk up from the new parent (at most
// MaxTreeDepth steps: the cycle check and the parent's depth at once) and
// carrying the moved subtree's height to its old and new ancestors (at
// most MaxTreeDepth each, usually none). A move below the top waits in
// late; the next read undoes every logged move above the oldest late one,
// merges, and redoes: O(later moves × MaxTreeDepth) once for all the late
// moves that arrived since the last read (up to treeMaxPending). Reads
// happen at each render on a client; a node reads it for exports and
// notifications, and encodes snapshots from the set without settling.
//
// The attack this answers: a chain 20,000 deep and one late move made a
// node undo and redo every later move, each redo walking the whole chain,
// and a 1 MiB frame holds 20,000 such moves: late moves × moves × depth,
// 13.8 s for one. Now depth is at most 64 and a frame settles once.
// Worst case measured (BenchmarkTreeLateMoveWorstCase: a 1 MiB frame of
// 30,839 late moves against a tree 64 deep and N later moves that each
// walk 63 parents and change 63 heights when redone) on a 2-core Xeon: 37
// ms for N = 20,000, 68 ms for 60,000, 94 ms for 100,000 (up to 1.5 times
// that while the machine is busy), about 0.7 µs per entry of that kind;
// 0.1 µs per later move on a shallow board (BenchmarkTreeMoveOutOfOrder).
//
// What remains is linear in the later moves: a board that has collected
// N moves makes one frame of late moves cost O(N), and N grows with the
// board's history (the log is never truncated). Bounding it needs a
// point below which no move can arrive any more (the paper's causal
// stability, or a stability marker op that nodes agree on): a protocol
// change, not done here. Until then Doc.MoveReach gives N per change, for
// a server that refuses client changes reaching back too far: an edge rule,
// which cannot break convergence since a refused change exists nowhere.
// And at most treeMaxPending moves wait for a read, so that frames sent
// with no read in between never pile up into one long settle.
//
// The depth rule: a move is skipped when its parent's depth + 1 + the
// height of the moved subtree would exceed MaxTreeDepth, judged at its
// place in stamp order exactly like the cycle check, so every replica
// agrees whatever the arrival order. Heights are kept per node by a
// histogram of its children's heights, exact under undo and redo, so the
// check is one walk and no subtree traversal. Tx.Move refuses such a move
// locally, with ErrInvalidOp. Rejected: refusing deep moves at the edge
// only (Doc.CheckSchema): late moves and concurrent moves make trees
// deeper than any edge check saw, and a snapshot replays with no edge at
// all. Rejected: limiting only the moved node's own depth: moving a deep
// subtree under a deep node stacks depths without bound. Rejected: an
// ancestor index (Euler-tour or link-cut trees) for O(log n) cycle checks:
// walks are then cheap but every redo still costs, and a 64-level walk
// over a slice is already as cheap as such an index's upkeep. Rejected:
// bounding how far back a late move reorders by its arrival (skip moves
// older than the last K): it depends on the order of arrival, so replicas
// would diverge.
//
// Elements get dense indices: walks and height updates read a slice, not
// a map (4-5 times faster at full depth).
//
// Children are kept as an unordered set per parent (swap-remove by slot) and
// sorted on demand by children(), O(k log k) for k children. Rejected: a
// sorted slice per parent, maintained by binary-search insert. It makes
// children() a copy, but costs O(siblings) memmove per move and again per
// undo and redo, so a late op on a board with a large frame would pay
// later-moves × siblings; reads (an outline, a render) are rarer than the
// undo/redo storms of a reconnecting offline client.
//
// Rejected: recomputing the tree from the whole sorted log for each late
// move (what tree_ref_test.go does, as the reference): O(all moves) even when
// only the last few are later. Rejected: storing the derived parent map in
// snapshots instead of the log. Late moves older than the snapshot must
// still undo and redo later ones, so the log is needed anyway, and the map
// is cheap to rebuild from it (in order: no undo, no redo). Not done yet:
// truncating the log below a stamp every replica has seen (the paper's
// causal stability). Boards have an open set of replicas (a laptop may come
// back after a month), so there is no safe point to truncate without a
// membership protocol.
//
// Not safe for concurrent use (reads settle pending work); the room owns it
// in one goroutine.
type tree struct {
	// log[:done] is what nodes reflects; log[done:] waits for settle to be
	// done. late holds moves that arrived below the log's top and are not
	// merged yet, in arrival order; lateAt their stamps.
	log    []treeLogEntry
	done   int
	late   []move
	lateAt map[Stamp]struct{}

	// Every element a logged move names has an index: ids[i] is its id,
	// nodes[i] its state. Index 0 is Root. Walks and height updates, the
	// bulk of a redo, read a slice instead of a map.
	index  map[ElementID]int32
	ids    []ElementID
	nodes  []treeNode
	placed int // nodes placed by some move

	// work counts steps: moves undone and done, parents walked, heights
	// updated. Tests bound the cost of an input with it; nothing else
	// reads it.
	work int
}

func newTree() *tree {
	return &tree{index: map[ElementID]int32{Root: 0}, ids: []ElementID{Root}, nodes: make([]treeNode, 1)}
}

// indexOf returns id's index, giving it one if it has none.
func (t *tree) indexOf(id ElementID) int32 {
	if i, ok := t.index[id]; ok {
		return i
	}
	i := int32(len(t.ids))
	t.index[id] = i
	t.ids = append(t.ids, id)
	t.nodes = append(t.nodes, treeNode{})
	return i
}

// entry returns m as a log entry, with its indices.
func (t *tree) entry(m move) treeLogEntry {
	return treeLogEntry{m: m, n: t.indexOf(m.Node), p: t.indexOf(m.Parent)}
}

// apply adds a move to the set, to take effect in stamp order whenever it
// arrives. It returns false, changing nothing, for a duplicate (a stamp
// already in the log) or an invalid move (see validate). A move that would
// make its node its own ancestor, or put a node deeper than MaxTreeDepth,
// at its place in stamp order, is logged but changes nothing.
//
// A move above the log's top is done at once when nothing waits. A move
// below it only joins late: the undo and redo it calls for wait for the
// next read (settle), so that a frame of late moves, or the tail of a log
// replayed at load, costs one undo and one redo of the later moves, not one
// per late move.
func (t *tree) apply(m move) bool {
	if m.validate() != nil {
		return false
	}
	n := len(t.log)
	if n == 0 || t.log[n-1].m.Stamp.Less(m.Stamp) {
		t.log = append(t.log, t.entry(m))
		switch {
		case t.done == n && len(t.late) == 0:
			t.do(&t.log[n])
			t.done = n + 1
		case len(t.late)+len(t.log)-t.done > treeMaxPending:
			t.settle()
		}
		return true
	}
	if i := t.search(m.Stamp); t.log[i].m.Stamp == m.Stamp {
		return false
	}
	if _, dup := t.lateAt[m.Stamp]; dup {
		return false
	}
	if t.lateAt == nil {
		t.lateAt = make(map[Stamp]struct{})
	}
	t.lateAt[m.Stamp] = struct{}{}
	t.late = append(t.late, m)
	if len(t.late)+len(t.log)-t.done > treeMaxPending {
		t.settle()
	}
	return true
}

// treeMaxPending bounds the moves that wait for a read: past it, apply
// settles. Waiting makes a frame of late moves cost one undo and redo
// instead of one per move, but a client that sends frame after frame with
// no read in between must not pile up work for one long settle later.
const treeMaxPending = 1 << 15

// reach returns how many logged moves have a stamp above s: the moves a
// move stamped s makes the next read undo and redo (moves still in late
// are not counted; there are at most treeMaxPending).
func (t *tree) reach(s Stamp) int {
	return len(t.log) - t.search(s)
}

// settle brings nodes up to the whole set of moves: it merges the late
// moves into the log (undoing the moves above the oldest of them) and
// redoes every move not yet done. Every read calls it first.
func (t *tree) settle() {
	t.merge()
	for ; t.done < len(t.log); t.done++ {
		t.do(&t.log[t.done])
	}
}

// merge moves the late moves into the log, in stamp order, after undoing
// the logged moves above the oldest of them; those stay to be redone.
func (t *tree) merge() {
	if len(t.late) == 0 {
		return
	}
	slices.SortFunc(t.late, func(a, b move) int { return a.Stamp.Compare(b.Stamp) })
	i0 := t.search(t.late[0].Stamp)
	for ; t.done > i0; t.done-- {
		t.undo(&t.log[t.done-1])
	}
	// Merge from the back, in place: log[:i0] sorts before every late move.
	n, k := len(t.log), len(t.late)
	t.log = slices.Grow(t.log, k)[:n+k]
	i, w := n-1, n+k-1
	for j := k - 1; j >= 0; w-- {
		if i >= i0 && t.late[j].Stamp.Less(t.log[i].m.Stamp) {
			t.log[w] = t.log[i]
			i--
		} else {
			t.log[w] = t.entry(t.late[j])
			j--
		}
	}
	t.late = t.late[:0]
	clear(t.lateAt)
}

// search returns the index of the first log entry whose stamp is >= s.
func (t *tree) search(s Stamp) int {
	lo, hi := 0, len(t.log)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if t.log[mid].m.Stamp.Less(s) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// do performs the entry's move on the current state, recording what undo
// needs.
func (t *tree) do(e *treeLogEntry) {
	t.work++
	nd := &t.nodes[e.n]
	e.prev, e.had = nd.treePlacement, nd.placed
	e.skipped = !t.fits(e.n, e.p)
	if !e.skipped {
		t.place(e.n, treePlacement{e.p, e.m.Pos, e.m.Stamp})
	}
}

// undo reverts the entry's move; the state must be as do left it.
func (t *tree) undo(e *treeLogEntry) {
	t.work++
	switch {
	case e.skipped:
	case e.had:
		t.place(e.n, e.prev)
	default:
		t.unplace(e.n)
	}
}

// fits reports whether node n may go under p in the current state: p is
// neither n nor one of its descendants, and n's subtree would end no
// deeper than MaxTreeDepth. It walks up from p, at most MaxTreeDepth steps.
func (t *tree) fits(n, p int32) bool {
	// Under the root n is at depth 1, and its subtree no deeper than it is
	// now (at depth >= 1).
	limit := MaxTreeDepth - 1 - len(t.nodes[n].hist) // the deepest p may be
	depth := 0
	for cur := p; cur != 0; {
		if cur == n {
			return false
		}
		if depth++; depth > limit {
			return false
		}
		t.work++
		nd := &t.nodes[cur]
		if !nd.placed {
			break // cur hangs from the root
		}
		cur = nd.parent
	}
	return true
}

// allows reports whether a move of n under p, made now, would take effect:
// fits on the settled state. Elements no move names yet get an index (an
// empty node: on the board, a leaf), as the move would give them.
func (t *tree) allows(n, p ElementID) bool {
	t.settle()
	if p == Root {
		return n != Root
	}
	return t.fits(t.indexOf(n), t.indexOf(p))
}

// height returns the number of levels below node i: 0 for a leaf.
func (t *tree) height(i int32) int { return len(t.nodes[i].hist) }

// place sets node n's placement, keeping kids and heights in step.
func (t *tree) place(n int32, pl treePlacement) {
	nd := &t.nodes[n]
	if nd.placed && nd.parent == pl.parent {
		nd.treePlacement = pl
		return
	}
	h := len(nd.hist)
	if nd.placed {
		t.unlink(n)
		t.count(nd.parent, h, -1)
	} else {
		nd.placed = true
		t.placed++
	}
	nd.treePlacement = pl
	pk := &t.nodes[pl.parent]
	nd.slot = int32(len(pk.kids))
	pk.kids = append(pk.kids, n)
	t.count(pl.parent, -1, h)
}

// unplace forgets node n's placement: it is back to "never moved".
func (t *tree) unplace(n int32) {
	nd := &t.nodes[n]
	if !nd.placed {
		return
	}
	t.unlink(n)
	t.count(nd.parent, len(nd.hist), -1)
	nd.treePlacement, nd.placed, nd.slot = treePlacement{}, false, 0
	t.placed--
}

// unlink removes node n from its parent's kids by moving the last sibling
// into its slot. A slice that empties is kept, capacity and all: undo and
// redo empty and refill the same parents over and over.
func (t *tree) unlink(n int32) {
	nd := &t.nodes[n]
	pk := &t.nodes[nd.parent]
	last := len(pk.kids) - 1
	if int(nd.slot) != last {
		moved := pk.kids[last]
		pk.kids[nd.slot] = moved
		t.nodes[moved].slot = nd.slot
	}
	pk.kids = pk.kids[:last]
}

// count moves one child of p from height from to height to in p's
// histogram (-1: the child comes or goes), and carries a change of p's own
// height up to its ancestors, as far as heights change: at most
// MaxTreeDepth levels. The root's height is not kept.
func (t *tree) count(p int32, from, to int) {
	for p != 0 {
		nd := &t.nodes[p]
		before := len(nd.hist)
		if from >= 0 {
			nd.hist[from]--
		}
		if to >= 0 {
			for len(nd.hist) <= to {
				nd.hist = append(nd.hist, 0)
			}
			nd.hist[to]++
		}
		for len(nd.hist) > 0 && nd.hist[len(nd.hist)-1] == 0 {
			nd.hist = nd.hist[:len(nd.hist)-1]
		}
		if len(nd.hist) == before || !nd.placed {
			return // no change, or p hangs from the root
		}
		t.work++
		p, from, to = nd.parent, before, len(nd.hist)
	}
}

// node returns the state of id, nil when no move names it.
func (t *tree) node(id ElementID) *treeNode {
	if i, ok := t.index[id]; ok && i != 0 {
		return &t.nodes[i]
	}
	return nil
}

// parentOf returns n's parent and position; moved is false (and the parent
// Root, the position "") when no move places n. Root itself reports Root.
func (t *tree) parentOf(n ElementID) (parent ElementID, pos string, moved bool) {
	t.settle()
	nd := t.node(n)
	if nd == nil || !nd.placed {
		return Root, "", false
	}
	return t.ids[nd.parent], nd.pos, true
}

// children returns the moved nodes whose parent is p, in sibling order
// (CompareSiblings: position, then id). Nodes never moved are not included,
// not even for Root: the caller merges them in (they sort first, by id).
// The slice is the caller's.
func (t *tree) children(p ElementID) []ElementID {
	t.settle()
	i, ok := t.index[p]
	if !ok || len(t.nodes[i].kids) == 0 {
		return nil
	}
	kids := t.nodes[i].kids
	type sib struct {
		pos string
		id  ElementID
	}
	sibs := make([]sib, len(kids))
	for j, k := range kids {
		sibs[j] = sib{t.nodes[k].pos, t.ids[k]}
	}
	slices.SortFunc(sibs, func(a, b sib) int { return CompareSiblings(a.pos, a.id, b.pos, b.id) })
	out := make([]ElementID, len(sibs))
	for j := range sibs {
		out[j] = sibs[j].id
	}
	return out
}

// isAncestor reports whether a is a proper ancestor of n: a walk up from n,
// at most MaxTreeDepth steps. Root is an ancestor of every other node.
//
// The depth limit makes a longer walk impossible; should a bug ever break
// it (or acyclicity), the walk answers true instead of the room's goroutine
// spinning forever.
func (t *tree) isAncestor(a, n ElementID) bool {
	t.settle()
	switch {
	case n == Root:
		return false
	case a == Root:
		return true
	}
	ai, aok := t.index[a]
	cur, nok := t.index[n]
	if !aok || !nok {
		return false // a move names neither, or n was never moved
	}
	for steps := 0; ; steps++ {
		if steps > MaxTreeDepth {
			return true
		}
		nd := &t.nodes[cur]
		if !nd.placed {
			return false
		}
		if nd.parent == ai {
			return true
		}
		t.work++
		cur = nd.parent
	}
}

// moves returns the log, ascending by stamp, skipped moves included.
func (t *tree) moves() []move {
	out := make([]move, 0, len(t.log)+len(t.late))
	t.each(func(m *move) { out = append(out, *m) })
	return out
}

// each calls f on every move of the set in stamp order, late ones
// included, without settling: encoding needs the set, not the state.
func (t *tree) each(f func(m *move)) {
	slices.SortFunc(t.late, func(a, b move) int { return a.Stamp.Compare(b.Stamp) })
	j := 0
	for i := range t.log {
		for ; j < len(t.late) && t.late[j].Stamp.Less(t.log[i].m.Stamp); j++ {
			f(&t.late[j])
		}
		f(&t.log[i].m)
	}
	for ; j < len(t.late); j++ {
		f(&t.late[j])
	}
}

// lastMoveBy returns the stamp of the move that put n where it is, false if
// n was never (effectively) moved.
func (t *tree) lastMoveBy(n ElementID) (Stamp, bool) {
	t.settle()
	if nd := t.node(n); nd != nil && nd.placed {
		return nd.stamp, true
	}
	return Stamp{}, false
}

// clone returns an independent copy, settled. Strings are shared
// (immutable).
func (t *tree) clone() *tree {
	t.settle()
	c := &tree{
		log:    slices.Clone(t.log),
		done:   t.done,
		index:  make(map[ElementID]int32, len(t.index)),
		ids:    slices.Clone(t.ids),
		nodes:  slices.Clone(t.nodes),
		placed: t.placed,
	}
	for k, v := range t.index {
		c.index[k] = v
	}
	for i := range c.nodes {
		c.nodes[i].kids = slices.Clone(c.nodes[i].kids)
		c.nodes[i].hist = slices.Clone(c.nodes[i].hist)
	}
	return c
}

// Encoding of the tree state: the log, nothing derived.
//
//	tree  = count:uvarint move*
//	move  = dts:uvarint replica:u64 node:16 parent:16 pos:string
//
// dts is the move's timestamp minus the previous move's (the first: minus
// zero), so the ascending order costs one or two bytes per stamp instead of
// eight. Decoding requires what apply guarantees (strictly ascending stamps,
// valid moves) and minimal varints, so every accepted input re-encodes to
// the same bytes: one state, one encoding.
const treeMinMoveBytes = 1 + 8 + 16 + 16 + 1

// appendState appends the canonical encoding of the log.
func (t *tree) appendState(b []byte) []byte {
	b = appendUvarint(b, uint64(len(t.log)+len(t.late)))
	var prev Timestamp
	t.each(func(m *move) {
		b = appendUvarint(b, uint64(m.Stamp.TS-prev))
		b = appendU64(b, uint64(m.Stamp.Replica))
		b = append(b, m.Node[:]...)
		b = append(b, m.Parent[:]...)
		b = appendString(b, m.Pos)
		prev = m.Stamp.TS
	})
	return b
}

// decodeTreeState reads what appendState wrote and rebuilds the tree by
// doing the log in order. It never panics; errors wrap ErrMalformed.
func decodeTreeState(r *reader) (*tree, error) {
	start := r.off
	n, err := r.count(treeMinMoveBytes)
	if err != nil {
		return nil, err
	}
	if err := treeMinimal(r, start, uint64(n)); err != nil {
		return nil, err
	}
	t := newTree()
	t.log = make([]treeLogEntry, 0, n)
	// The positions become substrings of one string holding them all: one
	// allocation instead of one per move (the moves stay in the log as
	// long as the tree lives, and so would their positions). So the moves
	// are read first, then checked and done.
	var posBytes []byte
	ends := make([]int, n) // of each move's position in posBytes
	var prev Stamp
	for i := 0; i < n; i++ {
		var m move
		dts, err := treeUvarint(r)
		if err != nil {
			return nil, err
		}
		if dts > uint64(^Timestamp(0)-prev.TS) {
			return nil, malformed("tree: move %d: timestamp overflows", i)
		}
		rep, err := r.u64()
		if err != nil {
			return nil, err
		}
		m.Stamp = Stamp{prev.TS + Timestamp(dts), ReplicaID(rep)}
		if i > 0 && !prev.Less(m.Stamp) {
			return nil, malformed("tree: move %d: stamps not strictly ascending", i)
		}
		if m.Node, err = r.elementID(); err != nil {
			return nil, err
		}
		if m.Parent, err = r.elementID(); err != nil {
			return nil, err
		}
		l, err := treeUvarint(r)
		if err != nil {
			return nil, err
		}
		if l > uint64(r.len()) {
			return nil, malformed("tree: move %d: position length %d exceeds input", i, l)
		}
		pos, _ := r.bytes(int(l))
		posBytes = append(posBytes, pos...)
		ends[i] = len(posBytes)
		t.log = append(t.log, treeLogEntry{m: m, n: t.indexOf(m.Node), p: t.indexOf(m.Parent)})
		prev = m.Stamp
	}
	all := string(posBytes)
	from := 0
	for i := range t.log {
		e := &t.log[i]
		e.m.Pos = all[from:ends[i]]
		from = ends[i]
		if err := e.m.validate(); err != nil {
			return nil, fmt.Errorf("crdt: tree: move %d: %w", i, err)
		}
		t.do(e)
	}
	t.done = len(t.log)
	return t, nil
}

// treeUvarint reads a uvarint and insists on its minimal encoding.
func treeUvarint(r *reader) (uint64, error) {
	start := r.off
	v, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	return v, treeMinimal(r, start, v)
}

// treeMinimal checks that the uvarint v just read from start was encoded in
// as few bytes as possible (binary.Uvarint accepts padded forms too).
func treeMinimal(r *reader, start int, v uint64) error {
	var buf [binary.MaxVarintLen64]byte
	if r.off-start != len(binary.AppendUvarint(buf[:0], v)) {
		return malformed("tree: non-minimal varint at offset %d", start)
	}
	return nil
}

// MoveReach returns how many moves already on the board have a stamp above
// the oldest move of c: the moves that applying c makes the tree undo and
// redo (at the next read), at most MaxTreeDepth parents walked and heights
// updated each. 0 when c moves nothing or only above every logged move.
// A server may refuse client changes that reach too far back: the cost of
// a late move grows with the board's history, which no convergent rule of
// the tree bounds (see tree).
func (d *Doc) MoveReach(c *Change) int {
	// Stamps ascend with the counter: the first move is the oldest.
	ctr := c.Start
	for i := range c.Ops {
		if c.Ops[i].Type == OpMove {
			return d.tree.reach(c.stampAt(ctr))
		}
		ctr += c.Ops[i].span()
	}
	return 0
}
