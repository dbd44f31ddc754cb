package crdt

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The simulator: several replicas make random ops of every kind, the network
// delivers them in random order with duplicates and partitions, and at the
// end every replica must hold byte-identical state. Every run logs its seed;
// `go test -run TestSimulator -simseed=N` reproduces one, and -simseeds=K
// runs K more random seeds (CI runs the fixed ones).

var (
	simSeeds = flag.Int("simseeds", 0, "extra random simulator seeds to run")
	simSeed  = flag.Uint64("simseed", 0, "run only this simulator seed")
	simSteps = flag.Int("simsteps", 400, "steps per simulator run")
)

type simReplica struct {
	id    ReplicaID
	doc   *Doc
	undo  *UndoManager
	log   []Change // everything applied here, in order
	inbox []Change
	now   int64
	// heldSeen counts changes that arrived before their dependencies.
	heldSeen int
}

type typingRun struct {
	replica ReplicaID
	el      ElementID
	field   string
	ids     []OpID
	seenEnd VersionVector // the author's version when the run ended
}

type sim struct {
	t        testing.TB
	rng      *rand.Rand
	reps     []*simReplica
	cut      map[ReplicaID]bool // partitioned replicas
	elems    []ElementID
	runs     []typingRun
	all      []Change // every change made, for the reference models
	moves    int
	cycleTry int
	deep     bool // nine local steps in ten push mindmaps towards MaxTreeDepth (deepStep)
	// binary: replicas take each change in binary form, by ApplyBinary, as
	// a node does, instead of by Apply.
	binary bool
}

var simKinds = []string{"note", "shape", "text", "stroke", "connector", "frame", "mindmap", "comment", "future-kind"}
var simVoters = []string{"ana", "bo", "chen"}
var simWords = []string{"idea", "vote", "ship it", "naïve", "ünïcödé", "日本", "x", "brainstorm", "🙂"}

func newSim(t testing.TB, seed uint64, n int) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cut: map[ReplicaID]bool{}}
	for i := 0; i < n; i++ {
		id := ReplicaID(s.rng.Uint64()>>1 | 1)
		if i == 1 {
			id = s.reps[0].id + 1 // adjacent ids exercise the tie-breaks
		}
		d := NewDoc()
		s.reps = append(s.reps, &simReplica{id: id, doc: d, undo: NewUndoManager(d, id), now: 1_700_000_000_000})
	}
	return s
}

func (s *sim) newElementID() ElementID {
	var e ElementID
	binary.LittleEndian.PutUint64(e[:8], s.rng.Uint64())
	binary.LittleEndian.PutUint64(e[8:], s.rng.Uint64()|1)
	return e
}

func (s *sim) pick(r *simReplica) (ElementID, bool) {
	ids := r.doc.Elements()
	if len(ids) == 0 {
		return Root, false
	}
	return ids[s.rng.IntN(len(ids))], true
}

func (s *sim) randomValue() Value {
	switch s.rng.IntN(6) {
	case 0:
		return Number(float64(s.rng.IntN(100000)) / 100)
	case 1:
		return String(simWords[s.rng.IntN(len(simWords))])
	case 2:
		return Bool(s.rng.IntN(2) == 0)
	case 3:
		v, _ := JSONValue([]byte(fmt.Sprintf(`{"el":"e%d","anchor":[0.5,%d]}`, s.rng.IntN(9), s.rng.IntN(2))))
		return v
	case 4:
		return Null()
	}
	return Number(float64(s.rng.IntN(7)))
}

// commit records and broadcasts a local change.
func (s *sim) commit(r *simReplica, c Change, ok bool) {
	if !ok {
		return
	}
	r.log = append(r.log, c)
	s.all = append(s.all, c)
	for _, o := range s.reps {
		if o != r {
			o.inbox = append(o.inbox, c)
		}
	}
}

// localStep makes one random local edit on r.
func (s *sim) localStep(r *simReplica) {
	r.now += int64(s.rng.IntN(3)) // clocks advance slowly: many equal ms
	rng := s.rng
	el, any := s.pick(r)
	switch k := rng.IntN(20); {
	case k < 3 || !any:
		tx := r.undo.Begin(r.now)
		id := s.newElementID()
		kind := simKinds[rng.IntN(len(simKinds))]
		must(s.t, tx.Create(id, kind))
		must(s.t, tx.Set(id, "x", Number(float64(rng.IntN(1000)))))
		if rng.IntN(2) == 0 {
			must(s.t, tx.InsertText(id, "text", 0, simWords[rng.IntN(len(simWords))]))
		}
		c, ok := tx.Commit()
		s.commit(r, c, ok)
	case k < 6:
		tx := r.undo.Begin(r.now)
		must(s.t, tx.Set(el, []string{"x", "y", "color", "points"}[rng.IntN(4)], s.randomValue()))
		c, ok := tx.Commit()
		s.commit(r, c, ok)
	case k < 7:
		tx := r.undo.Begin(r.now)
		if rng.IntN(2) == 0 {
			must(s.t, tx.Delete(el))
		} else {
			must(s.t, tx.Restore(el))
		}
		c, ok := tx.Commit()
		s.commit(r, c, ok)
	case k < 10:
		// A typing run: one change per keystroke, like a person typing.
		field := "text"
		n := r.doc.TextLen(el, field)
		pos := []int{0, n, rng.IntN(n + 1)}[rng.IntN(3)]
		word := []rune(simWords[rng.IntN(len(simWords))] + " ")
		run := typingRun{replica: r.id, el: el, field: field}
		for i, ch := range word {
			tx := r.doc.Begin(r.id, r.now)
			must(s.t, tx.InsertText(el, field, pos+i, string(ch)))
			c, ok := tx.Commit()
			run.ids = append(run.ids, OpID{c.Replica, c.Start})
			s.commit(r, c, ok)
		}
		run.seenEnd = r.doc.Version()
		s.runs = append(s.runs, run)
	case k < 12:
		n := r.doc.TextLen(el, "text")
		if n == 0 {
			return
		}
		pos := rng.IntN(n)
		cnt := 1 + rng.IntN(min(4, n-pos))
		tx := r.undo.Begin(r.now)
		must(s.t, tx.DeleteText(el, "text", pos, cnt))
		c, ok := tx.Commit()
		s.commit(r, c, ok)
	case k < 15:
		// Moves, some designed to race into cycles: move el under a
		// random element, or swap parent/child.
		parent, _ := s.pick(r)
		if rng.IntN(5) == 0 {
			parent = Root
		}
		if p, _ := r.doc.Parent(parent); p == el && rng.IntN(2) == 0 {
			s.cycleTry++
		}
		pos, _ := KeyBetween("", "")
		if rng.IntN(2) == 0 {
			pos, _ = KeyBetween(pos, "")
		}
		tx := r.undo.Begin(r.now)
		if err := tx.Move(el, parent, pos); err == nil {
			s.moves++
		}
		c, ok := tx.Commit()
		s.commit(r, c, ok)
	case k < 18:
		tx := r.undo.Begin(r.now)
		v := []Value{Number(1), Number(2), Number(0), Null(), Bool(true), String("👍")}[rng.IntN(6)]
		must(s.t, tx.Vote(el, []string{"vote", "react"}[rng.IntN(2)], simVoters[rng.IntN(len(simVoters))], v))
		c, ok := tx.Commit()
		s.commit(r, c, ok)
	case k < 19:
		c, ok := r.undo.Undo(r.now)
		s.commit(r, c, ok)
	default:
		c, ok := r.undo.Redo(r.now)
		s.commit(r, c, ok)
	}
}

// deliverStep delivers one message (perhaps again) to a random replica.
func (s *sim) deliverStep() {
	r := s.reps[s.rng.IntN(len(s.reps))]
	if len(r.inbox) == 0 || s.cut[r.id] {
		return
	}
	i := s.rng.IntN(len(r.inbox))
	c := r.inbox[i]
	if s.cut[c.Replica] && s.rng.IntN(4) != 0 {
		return // the author is partitioned away: the message waits
	}
	if s.rng.IntN(8) != 0 { // 1 in 8: duplicate, keep it queued
		r.inbox = slices.Delete(r.inbox, i, i+1)
	}
	s.apply(r, c)
}

func (s *sim) apply(r *simReplica, c Change) {
	var st Status
	var applied []Change
	var err error
	if s.binary {
		var got Change
		got, st, applied, err = r.doc.ApplyBinary(c.AppendBinary(nil))
		if err == nil && !reflect.DeepEqual(got, c) {
			s.t.Fatalf("replica %v: ApplyBinary decoded %+v, not %+v", r.id, got, c)
		}
		// The ops live in the doc's buffer until the next one: the log
		// keeps copies.
		applied = slices.Clone(applied)
		for i := range applied {
			applied[i].Ops = slices.Clone(applied[i].Ops)
		}
	} else {
		st, applied, err = r.doc.Apply(c)
	}
	if err != nil {
		s.t.Fatalf("replica %v: apply: %v", r.id, err)
	}
	if st == Held {
		r.heldSeen++
	}
	if st == Duplicate && len(applied) != 0 {
		s.t.Fatalf("duplicate applied something")
	}
	r.log = append(r.log, applied...)
}

func (s *sim) run(steps int) {
	for i := 0; i < steps; i++ {
		switch k := s.rng.IntN(10); {
		case k < 4 && s.deep && s.rng.IntN(10) != 0:
			s.deepStep(s.reps[s.rng.IntN(len(s.reps))])
		case k < 4:
			s.localStep(s.reps[s.rng.IntN(len(s.reps))])
		case k < 9:
			for j := 0; j < 3; j++ {
				s.deliverStep()
			}
		default:
			r := s.reps[s.rng.IntN(len(s.reps))]
			s.cut[r.id] = !s.cut[r.id]
		}
		if i%50 == 0 {
			s.checkInvariants(s.reps[s.rng.IntN(len(s.reps))])
		}
	}
	// Heal and deliver everything, in random order.
	clear(s.cut)
	for {
		pending := false
		for _, r := range s.reps {
			for len(r.inbox) > 0 {
				pending = true
				i := s.rng.IntN(len(r.inbox))
				c := r.inbox[i]
				r.inbox = slices.Delete(r.inbox, i, i+1)
				s.apply(r, c)
			}
		}
		if !pending {
			break
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkInvariants checks what must hold of any state.
func (s *sim) checkInvariants(r *simReplica) {
	t := s.t
	d := r.doc
	ids := d.Elements()
	// No cycles, nobody lost: every ancestor chain reaches the root, and
	// every element is listed among its parent's children exactly once.
	seen := map[ElementID]int{}
	for _, id := range ids {
		cur := id
		for steps := 0; cur != Root; steps++ {
			if steps > len(ids) {
				t.Fatalf("replica %v: cycle through %v", r.id, id)
			}
			if steps >= MaxTreeDepth {
				t.Fatalf("replica %v: %v is deeper than %d", r.id, id, MaxTreeDepth)
			}
			cur, _ = d.Parent(cur)
		}
	}
	for _, p := range append([]ElementID{Root}, ids...) {
		for _, c := range d.Children(p) {
			seen[c]++
			if pp, _ := d.Parent(c); pp != p {
				t.Fatalf("replica %v: %v listed under %v but its parent is %v", r.id, c, p, pp)
			}
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("replica %v: element %v listed %d times among children", r.id, id, seen[id])
		}
	}
	// Tallies equal the number of distinct live voters.
	for _, id := range ids {
		for _, key := range []string{"vote", "react"} {
			votes := d.Votes(id, key)
			n, _ := d.Tally(id, key)
			if n != len(votes) {
				t.Fatalf("tally %d != %d votes", n, len(votes))
			}
			for i := 1; i < len(votes); i++ {
				if votes[i-1].Voter >= votes[i].Voter {
					t.Fatalf("voters not distinct/sorted: %v", votes)
				}
			}
		}
	}
	// Snapshot round trip.
	snap := d.Snapshot()
	d2, err := LoadSnapshot(snap)
	if err != nil {
		t.Fatalf("replica %v: load snapshot: %v", r.id, err)
	}
	if snap2 := d2.Snapshot(); !bytes.Equal(snap, snap2) {
		t.Fatalf("replica %v: snapshot does not round-trip (%d vs %d bytes)", r.id, len(snap), len(snap2))
	}
	j1, _ := d.MarshalJSON()
	j2, _ := d2.MarshalJSON()
	if !bytes.Equal(j1, j2) {
		t.Fatalf("replica %v: loaded snapshot reads differently", r.id)
	}
}

// checkFinal checks convergence and compares registers with a naive model.
func (s *sim) checkFinal() {
	t := s.t
	first := s.reps[0]
	want := first.doc.Snapshot()
	for _, r := range s.reps {
		if r.doc.Held() != 0 {
			t.Fatalf("replica %v still holds %d changes", r.id, r.doc.Held())
		}
		if got := r.doc.Snapshot(); !bytes.Equal(got, want) {
			j1, _ := first.doc.MarshalJSON()
			j2, _ := r.doc.MarshalJSON()
			t.Fatalf("replicas %v and %v diverged:\n%s\n%s", first.id, r.id, j1, j2)
		}
		s.checkInvariants(r)
	}
	s.checkRegisters(first.doc)
	s.checkRuns(first.doc)
}

// checkRegisters recomputes every property and vote register the naive way
// — the write with the greatest stamp among all changes ever made — and
// compares with the doc.
func (s *sim) checkRegisters(d *Doc) {
	type rk struct {
		el       ElementID
		kind     OpType
		key, who string
	}
	type w struct {
		v Value
		s Stamp
	}
	model := map[rk]w{}
	for _, c := range s.all {
		ctr := c.Start
		for _, op := range c.Ops {
			st := c.stampAt(ctr)
			ctr += op.span()
			var k rk
			switch op.Type {
			case OpSet:
				k = rk{op.Element, OpSet, op.Key, ""}
			case OpVote:
				k = rk{op.Element, OpVote, op.Key, op.Voter}
			default:
				continue
			}
			if cur, ok := model[k]; !ok || cur.s.Less(st) {
				model[k] = w{op.Value, st}
			}
		}
	}
	votes := map[[2]string]int{}
	for k, w := range model {
		switch k.kind {
		case OpSet:
			if v, _ := d.Get(k.el, k.key); !v.Equal(w.v) {
				s.t.Fatalf("property %v.%s = %v, model says %v", k.el, k.key, v, w.v)
			}
		case OpVote:
			if counts(w.v) {
				votes[[2]string{string(k.el[:]), k.key}]++
			}
		}
	}
	for _, id := range d.Elements() {
		for _, key := range []string{"vote", "react"} {
			if n, _ := d.Tally(id, key); n != votes[[2]string{string(id[:]), key}] {
				s.t.Fatalf("tally of %v/%s = %d, model says %d", id, key, n, votes[[2]string{string(id[:]), key}])
			}
		}
	}
}

// checkRuns checks non-interleaving: two runs typed concurrently at any
// places never interleave — among their surviving characters, the ones of
// one run form one block.
func (s *sim) checkRuns(d *Doc) {
	for i := range s.runs {
		for j := i + 1; j < len(s.runs); j++ {
			a, b := &s.runs[i], &s.runs[j]
			if a.el != b.el || a.field != b.field || a.replica == b.replica {
				continue
			}
			if a.seenEnd.Contains(b.ids[0]) || b.seenEnd.Contains(a.ids[0]) {
				continue // not concurrent
			}
			e := d.elems[a.el]
			if e == nil {
				continue
			}
			tl := e.text(a.field)
			type lp struct {
				pos   int
				label byte
			}
			var all []lp
			for _, r := range []*typingRun{a, b} {
				for _, id := range r.ids {
					if p, vis := tl.posOf(id); vis {
						all = append(all, lp{p, map[bool]byte{true: 'A', false: 'B'}[r == a]})
					}
				}
			}
			slices.SortFunc(all, func(x, y lp) int { return x.pos - y.pos })
			switches := 0
			for k := 1; k < len(all); k++ {
				if all[k].label != all[k-1].label {
					switches++
				}
			}
			if switches > 1 {
				var sb strings.Builder
				for _, x := range all {
					sb.WriteByte(x.label)
				}
				s.t.Fatalf("concurrent runs interleave: %s in %q", sb.String(), tl.String())
			}
		}
	}
}

func runSim(t *testing.T, seed uint64, replicas, steps int) {
	runSimAs(t, seed, replicas, steps, false)
}

func runSimAs(t *testing.T, seed uint64, replicas, steps int, binary bool) {
	if binary {
		t.Logf("simulator seed %d (%d replicas, %d steps), changes by ApplyBinary; reproduce with -run TestSimulatorBinary/%d", seed, replicas, steps, seed)
	} else {
		t.Logf("simulator seed %d (%d replicas, %d steps); reproduce with -run TestSimulator -simseed=%d", seed, replicas, steps, seed)
	}
	s := newSim(t, seed, replicas)
	s.binary = binary
	s.run(steps)
	s.checkFinal()
	d := s.reps[0].doc
	held := 0
	for _, r := range s.reps {
		held += r.heldSeen
	}
	t.Logf("%d changes, %d elements, %d moves (%d racing into cycles), %d typing runs, %d held on arrival, %d bytes of snapshot",
		len(s.all), d.Len(), s.moves, s.cycleTry, len(s.runs), held, len(d.Snapshot()))
}

func TestSimulator(t *testing.T) {
	if *simSeed != 0 {
		runSim(t, *simSeed, 3+int(*simSeed%3), *simSteps)
		return
	}
	for seed := uint64(1); seed <= 24; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runSim(t, seed, 2+int(seed%4), *simSteps) })
	}
	for i := 0; i < *simSeeds; i++ {
		seed := rand.Uint64()
		if !t.Run(fmt.Sprint(seed), func(t *testing.T) { runSim(t, seed, 2+int(seed%4), *simSteps) }) {
			return
		}
	}
}

// TestSimulatorBinary runs the simulator with every change taken by
// ApplyBinary: changes held in a doc while its decode buffer is reused for
// the next must apply as they came, and every replica must end as Apply's
// do.
func TestSimulatorBinary(t *testing.T) {
	for seed := uint64(101); seed <= 112; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runSimAs(t, seed, 2+int(seed%4), *simSteps, true) })
	}
}

// depth returns how deep id is in r's tree: 1 on the board.
func (s *sim) depth(r *simReplica, id ElementID) int {
	n := 0
	for cur := id; cur != Root; n++ {
		cur, _ = r.doc.Parent(cur)
	}
	return n
}

// deepStep makes a mindmap edit that pushes towards MaxTreeDepth: a new
// subtopic under one of the deepest nodes, or a node (often the top of a
// deep subtree) moved under one of the deepest nodes, to the board, or
// anywhere. Moves the local tree refuses (too deep, a cycle) are not made;
// concurrent ones that together go too deep are skipped on every replica.
func (s *sim) deepStep(r *simReplica) {
	r.now += int64(s.rng.IntN(3))
	var nodes []ElementID
	deepest, most := []ElementID{}, 0
	for _, id := range r.doc.Elements() {
		if r.doc.Kind(id) != "mindmap" {
			continue
		}
		nodes = append(nodes, id)
		switch d := s.depth(r, id); {
		case d > most:
			deepest, most = []ElementID{id}, d
		case d == most:
			deepest = append(deepest, id)
		}
	}
	tx := r.undo.Begin(r.now)
	pos, _ := KeyBetween("", "")
	switch k := s.rng.IntN(20); {
	case k < 8 || len(nodes) == 0:
		id := s.newElementID()
		must(s.t, tx.Create(id, "mindmap"))
		switch {
		case len(nodes) > 0 && s.rng.IntN(2) == 0:
			tx.Move(id, nodes[s.rng.IntN(len(nodes))], pos)
		case len(deepest) > 0:
			tx.Move(id, deepest[s.rng.IntN(len(deepest))], pos)
		}
	case k < 18:
		// A node with its subtree under a node as deep as the subtree
		// allows, or nearly: a saturated tree, where concurrent edits of
		// other replicas go too deep.
		n := nodes[s.rng.IntN(len(nodes))]
		tr := r.doc.tree
		tr.settle()
		want := MaxTreeDepth - 1 - tr.height(tr.index[n])
		var fit []ElementID
		for _, p := range nodes {
			if d := s.depth(r, p); d <= want && d >= want-2 && p != n && !r.doc.IsAncestor(n, p) {
				fit = append(fit, p)
			}
		}
		if len(fit) > 0 && tx.Move(n, fit[s.rng.IntN(len(fit))], pos) == nil {
			s.moves++
		}
	case k < 19:
		if tx.Move(nodes[s.rng.IntN(len(nodes))], Root, pos) == nil {
			s.moves++
		}
	default:
		if tx.Move(nodes[s.rng.IntN(len(nodes))], nodes[s.rng.IntN(len(nodes))], pos) == nil {
			s.moves++
		}
	}
	c, ok := tx.Commit()
	s.commit(r, c, ok)
}

// TestSimulatorDeepTree runs the simulator on boards whose mindmaps reach
// MaxTreeDepth: every replica starts with a chain MaxTreeDepth-2 deep,
// nine local steps in ten go deeper (deepStep), and the last replica starts cut
// off with a clock an hour behind, so that its moves arrive late
// everywhere and undo and redo the others' moves. Deliveries come in random
// order, with duplicates. Every replica must end byte-identical, no node
// deeper than MaxTreeDepth, and each parent as the reference model (every
// move ever made, in stamp order, skipping cycles and too-deep moves) says.
func TestSimulatorDeepTree(t *testing.T) {
	tooDeep := 0
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { tooDeep += runDeepSim(t, seed, 3+int(seed%2), 3**simSteps) })
	}
	if tooDeep == 0 {
		t.Error("no move was skipped for depth: the limit was never in play")
	}
	t.Logf("moves skipped for depth, all seeds: %d", tooDeep)
}

func runDeepSim(t *testing.T, seed uint64, replicas, steps int) int {
	t.Logf("deep-tree simulator seed %d (%d replicas, %d steps)", seed, replicas, steps)
	s := newSim(t, seed, replicas)
	s.deep = true
	r0 := s.reps[0]
	tx := r0.doc.Begin(r0.id, r0.now)
	var chain []ElementID
	prev := Root
	for i := 0; i < MaxTreeDepth-2; i++ {
		id := s.newElementID()
		must(t, tx.Create(id, "mindmap"))
		must(t, tx.Move(id, prev, "a0"))
		chain = append(chain, id)
		prev = id
	}
	c, ok := tx.Commit()
	s.commit(r0, c, ok)
	for _, r := range s.reps[1:] { // everyone starts with the chain
		s.apply(r, c)
		r.inbox = r.inbox[:0]
	}
	late := s.reps[len(s.reps)-1]
	late.now -= 3_600_000
	s.cut[late.id] = true
	// A race at the limit to begin with: cut off, the late replica adds
	// two levels under the chain (to depth 64), while replica 0 hangs the
	// whole chain under a new node (one level more). Both are fine alone;
	// together too deep, so the later of them in stamp order, replica 0's,
	// is skipped everywhere (unless a move the run makes in between, in
	// stamp order, breaks the chain first).
	tx = late.doc.Begin(late.id, late.now)
	a, b := s.newElementID(), s.newElementID()
	must(t, tx.Create(a, "mindmap"))
	must(t, tx.Move(a, chain[len(chain)-1], "a0"))
	must(t, tx.Create(b, "mindmap"))
	must(t, tx.Move(b, a, "a0"))
	c, ok = tx.Commit()
	s.commit(late, c, ok)
	tx = r0.doc.Begin(r0.id, r0.now)
	top := s.newElementID()
	must(t, tx.Create(top, "mindmap"))
	must(t, tx.Move(chain[0], top, "a0"))
	c, ok = tx.Commit()
	s.commit(r0, c, ok)
	s.run(steps)
	s.checkFinal()

	// The reference: every move op ever made, in stamp order.
	ref := newTreeRef()
	for _, c := range s.all {
		ctr := c.Start
		for _, op := range c.Ops {
			if op.Type == OpMove {
				ref.add(move{Stamp: c.stampAt(ctr), Node: op.Element, Parent: op.Parent, Pos: op.Pos})
			}
			ctr += op.span()
		}
	}
	st := ref.state()
	d := s.reps[0].doc
	for _, id := range d.Elements() {
		want, _, _ := st.parentOf(id)
		if got, _ := d.Parent(id); got != want {
			t.Fatalf("parent of %v is %v; the reference says %v", id, got, want)
		}
	}
	t.Logf("%d changes, %d elements, %d moves, %d skipped for depth, %d tree steps on replica 0",
		len(s.all), d.Len(), s.moves, ref.tooDeep, d.tree.work)
	return ref.tooDeep
}
