package crdt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
)

var (
	treeSeeds = flag.Int("treeseeds", 16, "number of seeds (1..N) for the tree convergence simulation")
	treeSeed  = flag.Uint64("treeseed", 0, "run the tree convergence simulation for this seed only")
)

// tid names test node i (1-based); ids sort as their numbers.
func treeID(i int) ElementID { return ElementID{14: byte(i >> 8), 15: byte(i)} }

func treeStamp(ts uint64, rep ReplicaID) Stamp { return Stamp{TS: Timestamp(ts), Replica: rep} }

func treeMove(ts uint64, rep ReplicaID, node, parent int, pos string) move {
	p := Root
	if parent != 0 {
		p = treeID(parent)
	}
	return move{Stamp: treeStamp(ts, rep), Node: treeID(node), Parent: p, Pos: pos}
}

// treeParents renders every node's parent as "n<-p" ("0" for Root), for
// readable comparisons in the table tests.
func treeParents(t *tree, n int) string {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		p, pos, moved := t.parentOf(treeID(i))
		if !moved {
			continue
		}
		pn := int(p[14])<<8 | int(p[15])
		fmt.Fprintf(&b, "%d<-%d", i, pn)
		if pos != "" {
			fmt.Fprintf(&b, "@%s", pos)
		}
		b.WriteByte(' ')
	}
	return b.String()
}

// treeCheckInvariants checks what tree promises of its internals, once
// settled: the log strictly ascending, kids and slots consistent, each
// parent's height histogram exact, no cycle, no node deeper than
// MaxTreeDepth.
func treeCheckInvariants(t *testing.T, tr *tree) {
	t.Helper()
	tr.settle()
	if tr.done != len(tr.log) || len(tr.late) != 0 {
		t.Fatalf("settled tree has %d of %d moves done, %d late", tr.done, len(tr.log), len(tr.late))
	}
	for i := 1; i < len(tr.log); i++ {
		if !tr.log[i-1].m.Stamp.Less(tr.log[i].m.Stamp) {
			t.Fatalf("log not strictly ascending at %d", i)
		}
	}
	if len(tr.ids) != len(tr.nodes) || len(tr.index) != len(tr.ids) || tr.ids[0] != Root {
		t.Fatalf("%d ids, %d nodes, %d in the index", len(tr.ids), len(tr.nodes), len(tr.index))
	}
	total, placed := 0, 0
	for i := range tr.nodes {
		nd := &tr.nodes[i]
		if tr.index[tr.ids[i]] != int32(i) {
			t.Fatalf("index of %v is %d, not %d", tr.ids[i], tr.index[tr.ids[i]], i)
		}
		if nd.placed {
			placed++
		}
		total += len(nd.kids)
		for slot, k := range nd.kids {
			kn := &tr.nodes[k]
			if !kn.placed || kn.parent != int32(i) || kn.slot != int32(slot) {
				t.Fatalf("kids of %v [%d] = %v, but it says %+v", tr.ids[i], slot, tr.ids[k], kn)
			}
		}
	}
	if total != placed || placed != tr.placed {
		t.Fatalf("kids hold %d nodes, %d placed, count says %d", total, placed, tr.placed)
	}
	// Heights from scratch, by walking up from every node.
	height := make([]int, len(tr.nodes))
	for i := 1; i < len(tr.nodes); i++ {
		depth := 0
		for cur := int32(i); cur != 0 && tr.nodes[cur].placed; cur = tr.nodes[cur].parent {
			if depth++; depth > len(tr.nodes) {
				t.Fatalf("cycle through %v", tr.ids[i])
			}
			height[tr.nodes[cur].parent] = max(height[tr.nodes[cur].parent], depth)
		}
		if depth > MaxTreeDepth {
			t.Fatalf("%v at depth %d > %d", tr.ids[i], depth, MaxTreeDepth)
		}
	}
	for i := 1; i < len(tr.nodes); i++ {
		nd := &tr.nodes[i]
		if got := tr.height(int32(i)); got != height[i] {
			t.Fatalf("height(%v) = %d, want %d", tr.ids[i], got, height[i])
		}
		want := make([]uint32, height[i])
		for _, k := range nd.kids {
			want[height[k]]++
		}
		if !slices.Equal(nd.hist, want) {
			t.Fatalf("hist(%v) = %v, want %v", tr.ids[i], nd.hist, want)
		}
	}
}

// treeCheckRef compares tr with the reference on every observable: each
// node's parent, position and deciding stamp, every children list, and the
// log.
func treeCheckRef(t *testing.T, tr *tree, ref *treeRef, nodes int) {
	t.Helper()
	st := ref.state()
	for i := 0; i <= nodes; i++ {
		n := treeID(i)
		if i == 0 {
			n = Root
		}
		gp, gpos, gm := tr.parentOf(n)
		wp, wpos, wm := st.parentOf(n)
		if gp != wp || gpos != wpos || gm != wm {
			t.Fatalf("parentOf(%d) = %v %q %v; reference %v %q %v", i, gp, gpos, gm, wp, wpos, wm)
		}
		gs, gok := tr.lastMoveBy(n)
		if ws, wok := st[n]; gok != wok || gs != ws.stamp {
			t.Fatalf("lastMoveBy(%d) = %v %v; reference %v %v", i, gs, gok, ws.stamp, wok)
		}
		if gc, wc := tr.children(n), st.children(n); !slices.Equal(gc, wc) {
			t.Fatalf("children(%d) = %v; reference %v", i, gc, wc)
		}
	}
	if gm, wm := tr.moves(), ref.sorted(); !slices.Equal(gm, wm) {
		t.Fatalf("moves() differ from the reference: %d vs %d moves", len(gm), len(wm))
	}
}

func TestTreeConcurrentSwap(t *testing.T) {
	// Replica 1 puts A under B while replica 2 puts B under A, both from a
	// flat tree. The lower stamp wins everywhere; the other is skipped.
	aUnderB := treeMove(100, 1, 1, 2, "a0")
	bUnderA := treeMove(100, 2, 2, 1, "a0")
	var states [][]byte
	for _, order := range [][]move{{aUnderB, bUnderA}, {bUnderA, aUnderB}} {
		tr := newTree()
		for _, m := range order {
			if !tr.apply(m) {
				t.Fatalf("apply(%v) = false", m)
			}
		}
		if got := treeParents(tr, 2); got != "1<-2@a0 " {
			t.Errorf("order %v: parents %q, want A under B only", order[0].Stamp, got)
		}
		if len(tr.moves()) != 2 {
			t.Errorf("skipped move not logged")
		}
		treeCheckInvariants(t, tr)
		states = append(states, tr.appendState(nil))
	}
	if !bytes.Equal(states[0], states[1]) {
		t.Error("states differ between delivery orders")
	}
}

func TestTreeMoveUnderDescendantSkipped(t *testing.T) {
	tr := newTree()
	tr.apply(treeMove(1, 1, 2, 1, "a0")) // B under A
	tr.apply(treeMove(2, 1, 3, 2, "a0")) // C under B
	before := treeParents(tr, 3)
	if !tr.apply(treeMove(3, 1, 1, 3, "a0")) { // A under C: cycle
		t.Fatal("cyclic move not logged")
	}
	if !tr.apply(treeMove(4, 1, 1, 1, "a0")) { // A under A: cycle
		t.Fatal("self move not logged")
	}
	if got := treeParents(tr, 3); got != before {
		t.Errorf("parents %q after cyclic moves, want %q", got, before)
	}
	if _, _, moved := tr.parentOf(treeID(1)); moved {
		t.Error("A counts as moved after only skipped moves")
	}
	if !tr.isAncestor(treeID(1), treeID(3)) || tr.isAncestor(treeID(3), treeID(1)) || tr.isAncestor(treeID(1), treeID(1)) {
		t.Error("isAncestor wrong")
	}
	if !tr.isAncestor(Root, treeID(3)) || !tr.isAncestor(Root, treeID(9)) || tr.isAncestor(Root, Root) {
		t.Error("Root is the ancestor of every other node, and not of itself")
	}
	// A later move of C elsewhere frees the way: A under C now applies.
	tr.apply(treeMove(5, 1, 3, 0, "a1"))
	tr.apply(treeMove(6, 1, 1, 3, "a0"))
	if got := treeParents(tr, 3); got != "1<-3@a0 2<-1@a0 3<-0@a1 " {
		t.Errorf("parents %q", got)
	}
	treeCheckInvariants(t, tr)
}

func TestTreeLateMoveUndoRedo(t *testing.T) {
	early := treeMove(10, 1, 2, 1, "a0") // B under A
	late := treeMove(20, 2, 1, 3, "a0")  // A under C, made before...
	later := treeMove(30, 1, 3, 2, "a0") // ...C under B, but delivered after it
	// In stamp order: B under A, A under C (fine: C is at the root), then C
	// under B would close the loop C->B->A->C and is skipped. Delivering the
	// late move last must undo "C under B", do "A under C", and redo (skip)
	// "C under B".
	want := "1<-3@a0 2<-1@a0 "
	for _, order := range [][]move{{early, late, later}, {early, later, late}, {later, late, early}, {late, later, early}} {
		tr := newTree()
		ref := newTreeRef()
		for _, m := range order {
			tr.apply(m)
			ref.add(m)
			treeCheckRef(t, tr, ref, 3)
			treeCheckInvariants(t, tr)
		}
		if got := treeParents(tr, 3); got != want {
			t.Errorf("order %v %v %v: parents %q, want %q", order[0].Stamp.TS, order[1].Stamp.TS, order[2].Stamp.TS, got, want)
		}
		if s, ok := tr.lastMoveBy(treeID(3)); ok {
			t.Errorf("C's move is skipped, yet lastMoveBy = %v", s)
		}
		if s, ok := tr.lastMoveBy(treeID(1)); !ok || s != late.Stamp {
			t.Errorf("lastMoveBy(A) = %v %v", s, ok)
		}
	}
}

func TestTreeDuplicatesAndInvalid(t *testing.T) {
	tr := newTree()
	m := treeMove(5, 1, 1, 2, "a0")
	if !tr.apply(m) || tr.apply(m) {
		t.Fatal("first apply must succeed, the second be a duplicate")
	}
	// Same stamp, different content: an op-id conflict; the first stays.
	if tr.apply(treeMove(5, 1, 1, 3, "a1")) {
		t.Error("move with a logged stamp applied")
	}
	// A duplicate of an older move, arriving out of order.
	tr.apply(treeMove(9, 1, 4, 2, "a0"))
	if tr.apply(m) {
		t.Error("old duplicate applied")
	}
	if got := treeParents(tr, 4); got != "1<-2@a0 4<-2@a0 " {
		t.Errorf("parents %q", got)
	}
	for _, bad := range []move{
		{Stamp: treeStamp(6, 1), Node: Root, Parent: treeID(1)},
		{Stamp: treeStamp(7, 1), Node: treeID(1), Parent: Root, Pos: "a00"},
		{Stamp: treeStamp(8, 1), Node: treeID(1), Parent: Root, Pos: "x"},
	} {
		if tr.apply(bad) {
			t.Errorf("invalid move %+v applied", bad)
		}
		if err := bad.validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("validate(%+v) = %v", bad, err)
		}
	}
	if len(tr.moves()) != 2 {
		t.Errorf("log has %d moves, want 2", len(tr.moves()))
	}
}

func TestTreeReorderAndChildren(t *testing.T) {
	tr := newTree()
	tr.apply(treeMove(1, 1, 2, 1, "a1"))
	tr.apply(treeMove(2, 1, 3, 1, "a2"))
	tr.apply(treeMove(3, 1, 4, 1, "a0"))
	tr.apply(treeMove(4, 1, 5, 1, ""))   // unpositioned: first
	tr.apply(treeMove(5, 1, 6, 1, "a1")) // same key as 2: id breaks the tie
	want := []ElementID{treeID(5), treeID(4), treeID(2), treeID(6), treeID(3)}
	if got := tr.children(treeID(1)); !slices.Equal(got, want) {
		t.Fatalf("children = %v, want %v", got, want)
	}
	// Reorder: 3 to the front, same parent.
	tr.apply(treeMove(6, 1, 3, 1, "Zz"))
	want = []ElementID{treeID(5), treeID(3), treeID(4), treeID(2), treeID(6)}
	if got := tr.children(treeID(1)); !slices.Equal(got, want) {
		t.Fatalf("after reorder children = %v, want %v", got, want)
	}
	if s, _ := tr.lastMoveBy(treeID(3)); s != treeStamp(6, 1) {
		t.Errorf("lastMoveBy after reorder = %v", s)
	}
	// Move 4 away; a late reorder of 2 lands under its stamp-order state.
	tr.apply(treeMove(7, 1, 4, 0, "a0"))
	tr.apply(treeMove(3, 2, 2, 1, "b00")) // between stamps 3@1 and 4@1
	want = []ElementID{treeID(5), treeID(3), treeID(6), treeID(2)}
	if got := tr.children(treeID(1)); !slices.Equal(got, want) {
		t.Fatalf("after late reorder children = %v, want %v", got, want)
	}
	if got := tr.children(Root); !slices.Equal(got, []ElementID{treeID(4)}) {
		t.Errorf("children(Root) = %v (only moved nodes)", got)
	}
	if got := tr.children(treeID(9)); got != nil {
		t.Errorf("children of a leaf = %v", got)
	}
	treeCheckInvariants(t, tr)
}

func TestTreeClone(t *testing.T) {
	tr := newTree()
	tr.apply(treeMove(1, 1, 2, 1, "a0"))
	tr.apply(treeMove(3, 1, 3, 1, "a1"))
	c := tr.clone()
	before := tr.appendState(nil)
	c.apply(treeMove(2, 1, 1, 3, "a0")) // late, undoes and redoes in the clone only
	c.apply(treeMove(4, 1, 2, 0, "a0"))
	if !bytes.Equal(tr.appendState(nil), before) || treeParents(tr, 3) != "2<-1@a0 3<-1@a1 " {
		t.Fatal("applying to the clone changed the original")
	}
	treeCheckInvariants(t, tr)
	treeCheckInvariants(t, c)
	tr.apply(treeMove(4, 1, 2, 0, "a0"))
	tr.apply(treeMove(2, 1, 1, 3, "a0"))
	if !bytes.Equal(tr.appendState(nil), c.appendState(nil)) {
		t.Error("same moves, different states")
	}
}

func TestTreeEncoding(t *testing.T) {
	tr := newTree()
	tr.apply(move{Stamp: treeStamp(300, 2), Node: treeID(2), Parent: treeID(1)})
	tr.apply(move{Stamp: treeStamp(5, 0x0102030405060708), Node: treeID(1), Parent: Root, Pos: "a0"})
	got := hex.EncodeToString(tr.appendState(nil))
	want := "02" + // two moves
		"05" + "0807060504030201" + "00000000000000000000000000000001" + "00000000000000000000000000000000" + "026130" +
		"a702" + "0200000000000000" + "00000000000000000000000000000002" + "00000000000000000000000000000001" + "00"
	if got != want {
		t.Fatalf("appendState =\n%s\nwant\n%s", got, want)
	}
	b, _ := hex.DecodeString(want)
	r := &reader{b: append(b, 0xEE)} // trailing byte belongs to the caller
	dt, err := decodeTreeState(r)
	if err != nil || r.len() != 1 || treeParents(dt, 2) != treeParents(tr, 2) {
		t.Fatalf("decode: %v, %d bytes left, %q", err, r.len(), treeParents(dt, 2))
	}
	if empty := newTree().appendState(nil); !bytes.Equal(empty, []byte{0}) {
		t.Errorf("empty tree encodes as %x", empty)
	}

	enc := func(parts ...string) []byte {
		var s string
		for _, p := range parts {
			s += p
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			panic(err)
		}
		return b
	}
	node1, node2, root := "00000000000000000000000000000001", "00000000000000000000000000000002", "00000000000000000000000000000000"
	rep1, rep2 := "0100000000000000", "0200000000000000"
	bad := map[string][]byte{
		"truncated":          b[:len(b)-1],
		"count too large":    enc("03", "05", rep1, node1, root, "00"),
		"stamps descending":  enc("02", "05", rep2, node1, root, "00", "00", rep1, node2, root, "00"),
		"duplicate stamp":    enc("02", "05", rep1, node1, root, "00", "00", rep1, node2, root, "00"),
		"bad position":       enc("01", "05", rep1, node1, root, "03613030"),
		"position not ascii": enc("01", "05", rep1, node1, root, "0361ff31"),
		"root moved":         enc("01", "05", rep1, root, node1, "00"),
		"overlong count":     enc("8100", "05", rep1, node1, root, "00"),
		"overlong dts":       enc("01", "8500", rep1, node1, root, "00"),
		"overlong pos len":   enc("01", "05", rep1, node1, root, "8000"),
		"position too long":  enc("01", "05", rep1, node1, root, "05613031"),
		"timestamp overflow": enc("02", "05", rep1, node1, root, "00", "ffffffffffffffffff01", rep1, node2, root, "00"),
	}
	for name, in := range bad {
		if _, err := decodeTreeState(&reader{b: in}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: decode = %v, want ErrMalformed", name, err)
		}
	}
	// A cyclic move is a valid log entry: logged, skipped, round-tripped.
	cyc := enc("02", "05", rep1, node2, node1, "00", "00", rep2, node1, node2, "00")
	dc, err := decodeTreeState(&reader{b: cyc})
	if err != nil || !bytes.Equal(dc.appendState(nil), cyc) || treeParents(dc, 2) != "2<-1 " {
		t.Errorf("cyclic log: %v, %q", err, treeParents(dc, 2))
	}
}

// treeSim is one run of the multi-replica simulation.
type treeSim struct {
	t        *testing.T
	rng      *rand.Rand
	nodes    int
	replicas []*treeSimReplica
	all      []move
	step     int
	late     int // moves applied below the latest logged stamp (undo/redo)
}

type treeSimReplica struct {
	id      ReplicaID
	tr      *tree
	ref     *treeRef
	clock   Clock
	skew    int64
	inbox   []move // made by others, not yet delivered (or to deliver again)
	outbox  []move // made while offline, not yet sent
	offline int    // steps left offline
}

func newTreeSim(t *testing.T, seed uint64) *treeSim {
	rng := rand.New(rand.NewPCG(seed, 0x74726565))
	s := &treeSim{t: t, rng: rng, nodes: 10 + rng.IntN(21)}
	nr := 3 + rng.IntN(3)
	for i := 0; i < nr; i++ {
		s.replicas = append(s.replicas, &treeSimReplica{
			id:   ReplicaID(rng.Uint64() | 1),
			tr:   newTree(),
			ref:  newTreeRef(),
			skew: int64(rng.IntN(200)) - 100,
		})
	}
	return s
}

func (s *treeSim) node() ElementID { return treeID(1 + s.rng.IntN(s.nodes)) }

// makeMove has replica r move a random node. Some moves put a node under
// its own descendant on r (skipped at once), many more become cycles only
// with concurrent moves; positions are taken between current siblings,
// sometimes "" and sometimes copied from a sibling (a tie).
func (s *treeSim) makeMove(r *treeSimReplica) {
	n := s.node()
	var parent ElementID
	switch x := s.rng.IntN(100); {
	case x < 15:
		parent = Root
	case x < 30:
		var desc []ElementID
		for i := 1; i <= s.nodes; i++ {
			if r.tr.isAncestor(n, treeID(i)) {
				desc = append(desc, treeID(i))
			}
		}
		if len(desc) > 0 {
			parent = desc[s.rng.IntN(len(desc))]
		} else {
			parent = s.node()
		}
	default:
		parent = s.node()
	}
	sibs := r.tr.children(parent)
	pos := ""
	switch x := s.rng.IntN(100); {
	case x < 10:
	case x < 20 && len(sibs) > 0:
		_, pos, _ = r.tr.parentOf(sibs[s.rng.IntN(len(sibs))])
	default:
		i := s.rng.IntN(len(sibs) + 1)
		var a, b string
		if i > 0 {
			_, a, _ = r.tr.parentOf(sibs[i-1])
		}
		if i < len(sibs) {
			_, b, _ = r.tr.parentOf(sibs[i])
		}
		var err error
		if pos, err = KeyBetween(a, b); err != nil { // a tie or "" below: append instead
			last := ""
			if len(sibs) > 0 {
				_, last, _ = r.tr.parentOf(sibs[len(sibs)-1])
			}
			if pos, err = KeyBetween(last, ""); err != nil {
				s.t.Fatalf("KeyBetween(%q, \"\"): %v", last, err)
			}
		}
	}
	ts := r.clock.Next(int64(s.step)*10+r.skew+1000, 1)
	m := move{Stamp: Stamp{ts, r.id}, Node: n, Parent: parent, Pos: pos}
	if !r.tr.apply(m) || !r.ref.add(m) {
		s.t.Fatalf("local move %+v not applied", m)
	}
	s.all = append(s.all, m)
	if r.offline > 0 {
		r.outbox = append(r.outbox, m)
	} else {
		s.send(r, m)
	}
}

func (s *treeSim) send(from *treeSimReplica, m move) {
	for _, o := range s.replicas {
		if o != from {
			o.inbox = append(o.inbox, m)
		}
	}
}

// deliver gives r one move from its inbox, chosen at random; some stay in
// the inbox to arrive again, and some old moves are replayed outright.
func (s *treeSim) deliver(r *treeSimReplica) {
	var m move
	if s.rng.IntN(20) == 0 {
		m = s.all[s.rng.IntN(len(s.all))]
	} else {
		i := s.rng.IntN(len(r.inbox))
		m = r.inbox[i]
		if s.rng.IntN(5) != 0 {
			r.inbox[i] = r.inbox[len(r.inbox)-1]
			r.inbox = r.inbox[:len(r.inbox)-1]
		}
	}
	r.clock.Observe(m.Stamp.TS)
	n := len(r.tr.log)
	late := n > 0 && m.Stamp.Less(r.tr.log[n-1].m.Stamp)
	got, want := r.tr.apply(m), r.ref.add(m)
	if got != want {
		s.t.Fatalf("apply(%+v) = %v, reference says new = %v", m, got, want)
	}
	if got && late {
		s.late++
	}
	treeCheckRef(s.t, r.tr, r.ref, s.nodes)
}

func (s *treeSim) run(steps int) {
	for s.step = 0; s.step < steps; s.step++ {
		r := s.replicas[s.rng.IntN(len(s.replicas))]
		switch x := s.rng.IntN(100); {
		case x < 3 && r.offline == 0:
			r.offline = 20 + s.rng.IntN(80)
		case x < 40:
			s.makeMove(r)
		case r.offline == 0 && len(r.inbox) > 0:
			s.deliver(r)
		}
		for _, o := range s.replicas {
			if o.offline > 0 {
				if o.offline--; o.offline == 0 {
					for _, m := range o.outbox {
						s.send(o, m)
					}
					o.outbox = nil
				}
			}
		}
	}
	// Heal: everyone online, everything delivered, in random order.
	for _, r := range s.replicas {
		r.offline = 0
		for _, m := range r.outbox {
			s.send(r, m)
		}
		r.outbox = nil
	}
	for _, r := range s.replicas {
		for len(r.inbox) > 0 {
			s.deliver(r)
		}
		for _, m := range s.all { // anything the random replays skipped
			r.tr.apply(m)
			r.ref.add(m)
		}
		treeCheckRef(s.t, r.tr, r.ref, s.nodes)
		treeCheckInvariants(s.t, r.tr)
	}
}

func (s *treeSim) checkConverged() {
	t := s.t
	want := s.replicas[0].tr.appendState(nil)
	for i, r := range s.replicas {
		got := r.tr.appendState(nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("replica %d state differs from replica 0", i)
		}
		dt, err := decodeTreeState(&reader{b: got})
		if err != nil {
			t.Fatalf("replica %d: decode own state: %v", i, err)
		}
		if !bytes.Equal(dt.appendState(nil), got) || treeParents(dt, s.nodes) != treeParents(r.tr, s.nodes) {
			t.Fatalf("replica %d: decoded state differs", i)
		}
	}
	tr := s.replicas[0].tr
	// No node lost: each is either never moved (under Root by convention) or
	// listed exactly once, among its parent's children; and every chain of
	// parents reaches Root.
	seen := map[ElementID]int{}
	for i := 0; i <= s.nodes; i++ {
		p := treeID(i)
		if i == 0 {
			p = Root
		}
		for _, c := range tr.children(p) {
			seen[c]++
		}
	}
	for i := 1; i <= s.nodes; i++ {
		n := treeID(i)
		_, _, moved := tr.parentOf(n)
		if moved && seen[n] != 1 || !moved && seen[n] != 0 {
			t.Fatalf("node %d: moved %v, listed %d times among children", i, moved, seen[n])
		}
		if !tr.isAncestor(Root, n) {
			t.Fatalf("node %d does not reach Root", i)
		}
	}
}

func TestTreeConvergenceSimulation(t *testing.T) {
	seeds := make([]uint64, 0, *treeSeeds)
	if *treeSeed != 0 {
		seeds = append(seeds, *treeSeed)
	} else {
		for i := 1; i <= *treeSeeds; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	late, skipped := 0, 0
	for _, seed := range seeds {
		s := newTreeSim(t, seed)
		t.Logf("seed %d: %d replicas, %d nodes (rerun: -treeseed=%d)", seed, len(s.replicas), s.nodes, seed)
		s.run(400)
		s.checkConverged()
		for _, e := range s.replicas[0].tr.log {
			if e.skipped {
				skipped++
			}
		}
		late += s.late
		if t.Failed() {
			break
		}
	}
	t.Logf("%d seeds; late (undo/redo) applications: %d; skipped (cyclic) moves in final logs: %d", len(seeds), late, skipped)
	if (skipped == 0 || late == 0) && len(seeds) >= 4 {
		t.Error("simulation made no cyclic or no late move: it tests less than it claims")
	}
}

// treeFuzzMoves turns bytes into moves, 4 bytes each (at most 100), over 8 nodes, 3
// replicas and a few positions, keeping the first move of each stamp (two
// moves with one stamp are an op-id conflict, rejected by the op layer).
func treeFuzzMoves(data []byte) []move {
	positions := []string{"", "a0", "a1", "Zz", "a0V"}
	var out []move
	seen := map[Stamp]bool{}
	if len(data) > 400 {
		data = data[:400] // 100 moves: longer inputs cost time and find nothing new
	}
	for ; len(data) >= 4; data = data[4:] {
		node, parent, ts, x := int(data[0]%8)+1, int(data[1]%9), uint64(data[2])+1, int(data[3])
		m := treeMove(ts, ReplicaID(x%3+1), node, parent, positions[(x/3)%len(positions)])
		if !seen[m.Stamp] {
			seen[m.Stamp] = true
			out = append(out, m)
		}
	}
	return out
}

func FuzzTreeConvergence(f *testing.F) {
	f.Add([]byte{1, 2, 10, 0, 2, 1, 10, 1})                        // A under B, B under A
	f.Add([]byte{1, 2, 30, 0, 2, 3, 20, 0, 3, 1, 10, 0})           // a late op
	f.Add([]byte{0, 1, 5, 7, 1, 2, 4, 8, 2, 0, 3, 9, 0, 2, 6, 10}) // a chain, rearranged
	f.Fuzz(func(t *testing.T, data []byte) {
		ms := treeFuzzMoves(data)
		ref := newTreeRef()
		for _, m := range ms {
			ref.add(m)
		}
		h := fnv.New64a()
		h.Write(data)
		rng := rand.New(rand.NewPCG(h.Sum64(), 1))
		shuffled := slices.Clone(ms)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// The second with every move twice; the third read after each move
		// (late moves settle one by one instead of together).
		orders := [][]move{ms, slices.Concat(shuffled, ms), shuffled}
		var want []byte
		for k, order := range orders {
			tr := newTree()
			for _, m := range order {
				tr.apply(m)
				if k == 2 {
					tr.settle()
				}
			}
			treeCheckInvariants(t, tr)
			treeCheckRef(t, tr, ref, 8)
			got := tr.appendState(nil)
			if k == 0 {
				want = got
			} else if !bytes.Equal(got, want) {
				t.Fatalf("orders give different states")
			}
		}
	})
}

func FuzzDecodeTreeState(f *testing.F) {
	tr := newTree()
	for _, m := range treeFuzzMoves([]byte{1, 2, 10, 0, 2, 1, 10, 1, 3, 0, 9, 4, 4, 3, 200, 5}) {
		tr.apply(m)
	}
	f.Add(tr.appendState(nil))
	f.Add([]byte{0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &reader{b: data}
		dt, err := decodeTreeState(r)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if got := dt.appendState(nil); !bytes.Equal(got, data[:r.off]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", got, data[:r.off])
		}
		treeCheckInvariants(t, dt)
	})
}

// treeBenchMoves makes n random moves over nodes nodes, stamps ascending
// from base.
func treeBenchMoves(n, nodes int, base uint64) []move {
	rng := rand.New(rand.NewPCG(1, 2))
	keys, _ := KeysBetween("", "", 64)
	ms := make([]move, n)
	for i := range ms {
		node := 1 + rng.IntN(nodes)
		parent := rng.IntN(nodes + 1)
		if rng.IntN(4) == 0 {
			parent = 0
		}
		ms[i] = treeMove(base+uint64(i), 1, node, parent, keys[rng.IntN(len(keys))])
	}
	return ms
}

func treeAvgDepth(tr *tree, nodes int) float64 {
	total := 0
	for i := 1; i <= nodes; i++ {
		for cur := treeID(i); cur != Root; total++ {
			cur, _, _ = tr.parentOf(cur)
		}
	}
	return float64(total) / float64(nodes)
}

// BenchmarkTreeMoveInOrder applies moves in stamp order (the common case:
// no undo) over 1000 nodes.
func BenchmarkTreeMoveInOrder(b *testing.B) {
	const nodes = 1000
	ms := treeBenchMoves(1<<16, nodes, 1)
	tr := newTree()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(ms) == 0 && i > 0 {
			// A board's log, not an ever-growing one: start afresh
			// every 65536 moves (the growth of the log stays counted).
			b.StopTimer()
			tr = newTree()
			b.StartTimer()
		}
		m := ms[i%len(ms)]
		m.Stamp.TS = Timestamp(i + 1)
		tr.apply(m)
	}
	b.StopTimer()
	b.ReportMetric(treeAvgDepth(tr, nodes), "avg-depth")
	b.ReportMetric(float64(len(tr.appendState(nil)))/float64(max(1, len(tr.log))), "state-B/move")
}

// BenchmarkTreeMoveOutOfOrder applies moves that each arrive below the last
// `later` logged moves, each followed by a read, so each undoes and redoes
// exactly that many (without the read, late moves wait and settle
// together).
func BenchmarkTreeMoveOutOfOrder(b *testing.B) {
	const nodes = 1000
	for _, later := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("later=%d", later), func(b *testing.B) {
			tr := newTree()
			for _, m := range treeBenchMoves(later, nodes, 1<<40) {
				tr.apply(m)
			}
			ms := treeBenchMoves(1<<16, nodes, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := ms[i%len(ms)]
				m.Stamp.TS = Timestamp(i + 1)
				tr.apply(m)
				tr.settle()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(later), "ns/later-move")
		})
	}
}

// BenchmarkTreeDecode measures opening a snapshot's tree: 100k moves.
func BenchmarkTreeDecode(b *testing.B) {
	tr := newTree()
	for _, m := range treeBenchMoves(100000, 1000, 1) {
		tr.apply(m)
	}
	enc := tr.appendState(nil)
	b.SetBytes(int64(len(enc)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := decodeTreeState(&reader{b: enc}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100000, "ns/move")
}

// treeAttack is what one editor can send to freeze a board: a chain of n
// mindmap nodes, each moved under the previous one (in stamp order), made by
// replica 1; then frames of late moves by replica 2, each move in a change
// of its own and stamped before every move of the chain, so that each one
// lands below the whole log. Every change goes through the binary codec as
// it would over the wire.
type treeAttack struct {
	ids  []ElementID
	next uint64 // replica 2's next counter
}

// newTreeAttack creates the n nodes and moves each under the previous one
// (the chain's changes hold at most 20,000 ops, as a 1 MiB frame would).
func newTreeAttack(tb testing.TB, d *Doc, n int) *treeAttack {
	tb.Helper()
	a := &treeAttack{next: 1}
	creates := Change{Replica: 1, Start: 1, Time: 1 << 40}
	for i := 0; i < n; i++ {
		id := ElementID{0: 0xaa, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}
		a.ids = append(a.ids, id)
		creates.Ops = append(creates.Ops, Op{Type: OpCreate, Element: id, Key: "mindmap"})
	}
	treeApplyWire(tb, d, []Change{creates})
	ctr, ts := uint64(n+1), Timestamp(1<<40+n)
	for from := 1; from < n; from += 20000 {
		c := Change{Replica: 1, Start: ctr, Time: ts}
		for i := from; i < min(n, from+20000); i++ {
			c.Ops = append(c.Ops, Op{Type: OpMove, Element: a.ids[i], Parent: a.ids[i-1], Pos: "a0"})
		}
		treeApplyWire(tb, d, []Change{c})
		ctr += uint64(len(c.Ops))
		ts += Timestamp(len(c.Ops))
	}
	return a
}

// frame returns k late changes of one move each: chain node j under the
// board, stamped j-th from the beginning of time. The chain's own later
// move of that node puts it back, so the chain stays as deep.
func (a *treeAttack) frame(k int) []Change {
	out := make([]Change, k)
	for j := range out {
		out[j] = Change{Replica: 2, Start: a.next, Time: Timestamp(a.next),
			Ops: []Op{{Type: OpMove, Element: a.ids[int(a.next)%len(a.ids)], Parent: Root}}}
		a.next++
	}
	return out
}

// treeApplyWire encodes changes as one frame, decodes them and applies
// them in order, as a room does with a client's frame.
func treeApplyWire(tb testing.TB, d *Doc, cs []Change) int {
	tb.Helper()
	data := EncodeBatch(cs)
	got, err := DecodeBatch(data)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range got {
		if st, _, err := d.Apply(c); err != nil || st != Applied {
			tb.Fatalf("apply: %v %v", st, err)
		}
	}
	return len(data)
}

// TestTreeLateMoveAttackBounded reproduces the attack on the tree's cost: a
// deep chain, then a frame of late moves. Each late move used to undo and
// redo every later move, walking up a deep chain at each redo: late moves ×
// moves × depth steps. The work of the frame (and of the first read after
// it, which settles the tree) must stay within a small constant times the
// log's length: a bounded walk per logged move, once per frame.
func TestTreeLateMoveAttackBounded(t *testing.T) {
	const chain, late = 1000, 20
	d := NewDoc()
	a := newTreeAttack(t, d, chain)
	d.tree.work = 0
	treeApplyWire(t, d, a.frame(late))
	d.Parent(a.ids[chain-1]) // a read settles the tree
	// Per logged move: an undo and a redo, a walk of at most MaxTreeDepth
	// parents, and height updates of at most MaxTreeDepth levels at the
	// undo and at the redo.
	const perMove = 2 + 3*MaxTreeDepth
	bound := (chain + late) * perMove
	if d.tree.work > bound {
		t.Fatalf("a frame of %d late moves on a chain of %d took %d steps; bound %d", late, chain, d.tree.work, bound)
	}
	t.Logf("%d late moves on a chain of %d: %d steps", late, chain, d.tree.work)

	// The chain stops at MaxTreeDepth: the moves past it were skipped.
	depth := 0
	for cur := a.ids[MaxTreeDepth-1]; cur != Root; depth++ {
		cur, _ = d.Parent(cur)
	}
	if p, _ := d.Parent(a.ids[MaxTreeDepth]); depth != MaxTreeDepth || p != Root {
		t.Errorf("chain node %d at depth %d, the next one under %v", MaxTreeDepth, depth, p)
	}

	// Loading the board does its moves once, in order: no undo, no redo.
	snap := d.Snapshot()
	d2, err := LoadSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if d2.tree.work > bound {
		t.Errorf("loading the snapshot took %d steps; bound %d", d2.tree.work, bound)
	}
	if !bytes.Equal(d2.Snapshot(), snap) {
		t.Error("the loaded board differs")
	}
}

// TestTreeLatePileBounded sends frame after frame of late moves with no
// read in between: the moves wait, but never more than treeMaxPending, so
// no single apply or read does more than one settle's worth of work: the
// later moves and the pending ones, a bounded walk each.
func TestTreeLatePileBounded(t *testing.T) {
	const later = 5000
	d, a, leaf := treeWorstBoard(t, later)
	const perMove = 2 + 3*MaxTreeDepth
	bound := (later + 2*MaxTreeDepth + treeMaxPending + 1) * perMove
	worst, moves := 0, 0
	for f := 0; f < 3; f++ {
		cs := a.frame(20000)
		moves += len(cs)
		for _, c := range cs {
			before := d.tree.work
			if _, _, err := d.Apply(c); err != nil {
				t.Fatal(err)
			}
			worst = max(worst, d.tree.work-before)
			if p := len(d.tree.late) + len(d.tree.log) - d.tree.done; p > treeMaxPending {
				t.Fatalf("%d moves wait, more than %d", p, treeMaxPending)
			}
		}
	}
	before := d.tree.work
	d.Parent(leaf)
	worst = max(worst, d.tree.work-before)
	if worst > bound {
		t.Fatalf("one call did %d steps; bound %d", worst, bound)
	}
	if got := d.MoveReach(&Change{Replica: 1, Start: 1, Time: 1, Ops: []Op{{Type: OpMove, Element: leaf}}}); got != len(d.tree.log) {
		t.Errorf("MoveReach of a move older than all = %d, want %d", got, len(d.tree.log))
	}
	if got := d.MoveReach(&Change{Replica: 9, Start: 1, Time: 1 << 50, Ops: []Op{{Type: OpMove, Element: leaf}}}); got != 0 {
		t.Errorf("MoveReach of a move above all = %d", got)
	}
	if got := d.MoveReach(&Change{Replica: 9, Start: 1, Time: 1, Ops: []Op{{Type: OpCreate, Element: leaf, Key: "note"}}}); got != 0 {
		t.Errorf("MoveReach of a change without moves = %d", got)
	}
	t.Logf("%d late moves in 3 frames, no read between: at most %d steps in one call", moves, worst)
}

// TestTreeDepthLimitSubtree checks that the limit counts the subtree a move
// carries, not just the node moved, and that a local move past it is
// refused with ErrInvalidOp while the same move from a peer is skipped.
func TestTreeDepthLimitSubtree(t *testing.T) {
	const half = 40
	tr := newTree()
	ts := uint64(1)
	for i := 2; i <= 2*half; i++ { // chains 1..40 and 41..80
		if i != half+1 {
			tr.apply(treeMove(ts, 1, i, i-1, "a0"))
			ts++
		}
	}
	// The second chain (height 39) under node 30 (depth 30): its bottom
	// would be at 70.
	tr.apply(treeMove(ts, 1, half+1, 30, "a0"))
	ts++
	if p, _, moved := tr.parentOf(treeID(half + 1)); moved {
		t.Fatalf("a subtree went under %v, too deep", p)
	}
	// Under node 24 (depth 24) it ends at 64 exactly: fine.
	tr.apply(treeMove(ts, 1, half+1, 24, "a0"))
	ts++
	if p, _, _ := tr.parentOf(treeID(half + 1)); p != treeID(24) {
		t.Fatalf("the subtree is under %v, want 24", p)
	}
	// Nothing more goes under its bottom, nor under the first chain's
	// bottom through it.
	tr.apply(treeMove(ts, 1, 90, 2*half, "a0"))
	ts++
	if _, _, moved := tr.parentOf(treeID(90)); moved {
		t.Error("a leaf went under a node at depth 64")
	}
	treeCheckInvariants(t, tr)

	// A doc refuses the same move locally, with a clear error.
	d := NewDoc()
	tx := d.Begin(1, 1)
	ids := make([]ElementID, MaxTreeDepth+1)
	prev := Root
	for i := range ids {
		ids[i] = ElementID{0: 0xcc, 15: byte(i)}
		must(t, tx.Create(ids[i], "mindmap"))
		if i < MaxTreeDepth {
			must(t, tx.Move(ids[i], prev, "a0"))
			prev = ids[i]
		}
	}
	err := tx.Move(ids[MaxTreeDepth], prev, "a0")
	if !errors.Is(err, ErrInvalidOp) {
		t.Errorf("a move to depth %d: %v, want ErrInvalidOp", MaxTreeDepth+1, err)
	}
	tx.Commit()
}

// treeWorstBoard builds, through the change codec, the board that makes late
// moves cost the most within the limits: a chain of MaxTreeDepth-1 mindmap
// nodes, and a leaf moved back and forth `later` times between the board
// and the chain's deepest node, so that each of those moves, when redone,
// walks the whole depth and carries a height change up the whole chain. It
// returns the doc, the chain and the leaf.
func treeWorstBoard(tb testing.TB, later int) (*Doc, *treeAttack, ElementID) {
	d := NewDoc()
	a := newTreeAttack(tb, d, MaxTreeDepth-1)
	leaf := ElementID{0: 0xbb, 15: 1}
	ctr := uint64(2*(MaxTreeDepth-1) + 0)
	ts := Timestamp(1<<40 + 2*MaxTreeDepth)
	treeApplyWire(tb, d, []Change{{Replica: 1, Start: ctr, Time: ts, Ops: []Op{{Type: OpCreate, Element: leaf, Key: "mindmap"}}}})
	ctr, ts = ctr+1, ts+1
	deepest := a.ids[len(a.ids)-1]
	for from := 0; from < later; from += 20000 {
		c := Change{Replica: 1, Start: ctr, Time: ts}
		for i := from; i < min(later, from+20000); i++ {
			p := Root
			if (later-i)%2 == 1 { // the last one under the chain
				p = deepest
			}
			c.Ops = append(c.Ops, Op{Type: OpMove, Element: leaf, Parent: p, Pos: "a0"})
		}
		treeApplyWire(tb, d, []Change{c})
		ctr += uint64(len(c.Ops))
		ts += Timestamp(len(c.Ops))
	}
	return d, a, leaf
}

// treeFrame returns the largest frame of late moves a client may send
// (max bytes, encoded as a client sends them): one change of replica 3
// whose moves, stamped from the beginning of time, put the chain's nodes
// on the board in turn (the chain's own later moves put them back), and
// the number of moves.
func treeFrame(tb testing.TB, a *treeAttack, max int) (frame []byte, moves int) {
	c := Change{Replica: 3, Start: 1, Time: 1}
	size := len(EncodeBatch([]Change{c}))
	one := len(EncodeBatch([]Change{{Replica: 3, Start: 1, Time: 1, Ops: []Op{{Type: OpMove, Element: a.ids[0], Parent: Root}}}})) - size
	for size+one+16 <= max { // 16: the frame's tag and seq, and length prefixes that grow
		c.Ops = append(c.Ops, Op{Type: OpMove, Element: a.ids[len(c.Ops)%len(a.ids)], Parent: Root})
		size += one
	}
	frame = EncodeBatch([]Change{c})
	if len(frame) > max {
		tb.Fatalf("frame of %d bytes > %d", len(frame), max)
	}
	return frame, len(c.Ops)
}

// BenchmarkTreeLateMoveWorstCase measures the attack of issue 10 finding 7
// at its worst within the limits: a frame of late moves (1 MiB, through the
// change codec, each move in a change of its own and stamped before
// everything on the board) against the deepest tree allowed and `later`
// moves on the board that each cost a full-depth walk when redone. The time
// is the frame's apply plus the read that settles the tree: what the room's
// goroutine spends on it.
func BenchmarkTreeLateMoveWorstCase(b *testing.B) {
	for _, later := range []int{20000, 60000, 100000} {
		b.Run(fmt.Sprintf("later=%d", later), func(b *testing.B) {
			d, a, leaf := treeWorstBoard(b, later)
			snap := d.Snapshot()
			frame, moves := treeFrame(b, a, MaxMessageBytesForBench)
			depth := 0
			for cur := leaf; cur != Root; depth++ {
				cur, _ = d.Parent(cur)
			}
			if depth != MaxTreeDepth {
				b.Fatalf("the leaf is at depth %d, not %d", depth, MaxTreeDepth)
			}
			var work int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				d2, err := LoadSnapshot(snap)
				if err != nil {
					b.Fatal(err)
				}
				d2.tree.work = 0
				b.StartTimer()
				cs, err := DecodeBatch(frame)
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range cs {
					if _, _, err := d2.Apply(c); err != nil {
						b.Fatal(err)
					}
				}
				d2.Parent(leaf)
				work = d2.tree.work
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/frame")
			b.ReportMetric(float64(len(frame))/(1<<20), "MiB/frame")
			b.ReportMetric(float64(moves), "late-moves")
			b.ReportMetric(float64(depth), "depth")
			b.ReportMetric(float64(work), "steps/frame")
		})
	}
}

// MaxMessageBytesForBench is the largest WebSocket message a node accepts
// (server/protocol.MaxMessageBytes), the size of the attacking frame.
const MaxMessageBytesForBench = 1 << 20

// TestTreeDepthLimitConvergence applies sets of moves that build trees past
// MaxTreeDepth — chains, and subtrees moved under deep nodes — in random
// orders, with duplicates, reading (and so settling) at random moments or
// not at all until the end. Every order must give the reference's tree
// (too-deep moves skipped, in stamp order) and byte-identical state.
func TestTreeDepthLimitConvergence(t *testing.T) {
	tooDeep := 0
	for seed := uint64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x64656570))
		const nodes = 100
		var ms []move
		// Four chains of 25 (1..25, 26..50, ...), their moves stamped
		// early, and later moves that hang the top of a chain (with all it
		// carries by then) under the lower part of another: three chains
		// stacked so go too deep, two do not, and some of these moves make
		// cycles, depending on what came before in stamp order. Arrival
		// order is random anyway.
		stamp := func(from, to int) Stamp {
			return treeStamp(uint64(from+rng.IntN(to-from)), ReplicaID(1+rng.IntN(3)))
		}
		for i := 1; i <= nodes; i++ {
			if i%25 != 1 {
				ms = append(ms, move{Stamp: stamp(0, 1000), Node: treeID(i), Parent: treeID(i - 1), Pos: "a0"})
			}
		}
		for i := 0; i < 200; i++ {
			pp := Root
			if rng.IntN(10) != 0 {
				pp = treeID(25*rng.IntN(4) + 11 + rng.IntN(15))
			}
			ms = append(ms, move{Stamp: stamp(500, 5000), Node: treeID(1 + 25*rng.IntN(4)), Parent: pp, Pos: "a" + string(rune('0'+rng.IntN(10)))})
		}
		// Distinct stamps: two moves sharing one are an op-id conflict.
		seen := map[Stamp]bool{}
		ms = slices.DeleteFunc(ms, func(m move) bool {
			dup := seen[m.Stamp]
			seen[m.Stamp] = true
			return dup
		})
		ref := newTreeRef()
		for _, m := range ms {
			ref.add(m)
		}
		var want []byte
		for order := 0; order < 4; order++ {
			tr := newTree()
			for _, k := range rng.Perm(len(ms)) {
				tr.apply(ms[k])
				if rng.IntN(4) == 0 {
					tr.apply(ms[rng.IntN(len(ms))]) // a duplicate
				}
				switch {
				case order == 0: // read after every move
					tr.parentOf(treeID(1))
				case order == 1: // never read until the end
				case rng.IntN(30) == 0:
					tr.children(treeID(1 + rng.IntN(nodes)))
				case rng.IntN(30) == 0:
					tr.appendState(nil) // encodes the late moves without settling
				}
			}
			got := tr.appendState(nil)
			treeCheckRef(t, tr, ref, nodes)
			treeCheckInvariants(t, tr)
			if want == nil {
				want = got
			} else if !bytes.Equal(got, want) {
				t.Fatalf("seed %d: order %d gives a different state", seed, order)
			}
			dt, err := decodeTreeState(&reader{b: got})
			if err != nil || treeParents(dt, nodes) != treeParents(tr, nodes) {
				t.Fatalf("seed %d: decoded state differs (%v)", seed, err)
			}
		}
		tooDeep += ref.tooDeep
		t.Logf("seed %d: %d moves, %d skipped for depth", seed, len(ms), ref.tooDeep)
	}
	if tooDeep == 0 {
		t.Fatal("no move skipped for depth: the limit was never in play")
	}
	t.Logf("%d moves skipped for depth", tooDeep)
}
