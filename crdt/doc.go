// Package crdt is Corkboard's board document: a set of elements whose edits
// merge without coordination, whether replicas exchange them live or weeks
// apart. Every replica — a browser tab (this package compiled to
// WebAssembly), a node, a CLI — holds a Doc and applies the same Changes, in
// any order and any number of times, and all end byte-identical.
//
// # Contract
//
// The package is a pure state machine, in the manner of etcd's raft: no
// network, disk, clock or random source. Ids and timestamps come in as
// arguments (Doc.Begin takes the physical time), so a seed reproduces any
// run. It imports only the standard library.
//
//   - Local edits: tx := doc.Begin(replica, nowMs); tx.Set(...); ...;
//     change := tx.Commit(). The edit is applied at once; the caller sends
//     the returned Change to its peers and keeps it until acknowledged.
//   - Remote edits: doc.Apply(change). Duplicates are no-ops; a change whose
//     dependencies have not arrived is held and applied when they do.
//   - Sync: doc.Version() says exactly which ops the doc has; Missing and
//     the snapshot functions say what a peer lacks.
//
// # Semantics (see docs/SCHEMA.md for the element kinds)
//
//   - Properties are last-writer-wins registers ordered by Stamp (hybrid
//     logical clock, then replica id). Values are replaced whole.
//   - Delete is a tombstone register: restoring is a later write of false.
//   - Text fields are FugueMax lists: concurrent insertions at one place do
//     not interleave (text.go).
//   - The element tree (mindmap hierarchy, frame containment) uses the move
//     operation of Kleppmann et al. 2021: moves apply in stamp order with
//     undo/redo, and a move that would create a cycle, or put an element
//     deeper than MaxTreeDepth, is skipped (tree.go).
//   - Sibling and z-order are fractional-index keys, ties broken by element
//     id (order.go).
//   - Votes and reactions are per-voter registers, so tallies are exact.
//
// # Causality
//
// A replica's changes apply in counter order, so the version vector is exact.
// Beyond that a change needs only what its ops name: the element (created),
// text origins and delete targets (present), a move's parent (created).
// Such a change is held until then. An op whose dependencies are present but
// that is meaningless — a text origin that belongs to another text — is
// skipped by every replica alike, so the result never depends on arrival
// order; servers refuse such input beforehand with Doc.Check.
package crdt

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// reg is a last-writer-wins register. The stamp comes first: a write
// compares it before it touches the value.
type reg struct {
	s Stamp
	v Value
}

// set writes v if s is newer than the register's stamp.
func (r *reg) set(v Value, s Stamp) bool {
	if !r.s.Less(s) {
		return false
	}
	r.v, r.s = v, s
	return true
}

type prop struct {
	key string
	reg
}

type textField struct {
	key  string
	list *textList
}

type voteKey struct{ key, voter string }

// element is the state of one element. Properties are a small slice
// searched linearly: elements have about ten properties, and a slice costs
// far less memory than a map at a hundred thousand elements.
//
// The fields a property write reads — the kind's stamp (does the element
// exist), the key fingerprints and the property slice — share the struct's
// first cache line: on a board of a hundred thousand elements most writes
// miss the cache, and each line touched is a trip to memory.
type element struct {
	id ElementID
	// pfp[i] is keyFP(props[i].key) for i < 8: the search for a key
	// compares these bytes and reads only the property it finds, instead
	// of the key of every property before it (a cache line each).
	pfp     [8]uint8
	props   []prop
	kind    reg // string; zero stamp: not created yet
	deleted reg // bool
	texts   []textField
	votes   []voteReg // sorted by (key, voter)
}

// keyFP is a one-byte fingerprint of a property key (see element.pfp).
func keyFP(key string) uint8 {
	if key == "" {
		return 0
	}
	return uint8(len(key)) ^ key[0]*3 ^ key[len(key)-1]*7
}

// addProp appends a property register, keeping pfp in step.
func (e *element) addProp(key string, r reg) {
	if i := len(e.props); i < len(e.pfp) {
		e.pfp[i] = keyFP(key)
	}
	e.props = append(e.props, prop{key: key, reg: r})
}

// voteReg is one voter's register. Votes are a sorted slice, not a map: an
// element has a handful of votes, and a map per element cost more memory
// and load time than every vote together.
type voteReg struct {
	k voteKey
	reg
}

func compareVoteKeys(a, b voteKey) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.voter, b.voter)
}

// vote returns the register of k, or nil.
func (e *element) vote(k voteKey) *reg {
	i, ok := slices.BinarySearchFunc(e.votes, k, func(v voteReg, k voteKey) int { return compareVoteKeys(v.k, k) })
	if !ok {
		return nil
	}
	return &e.votes[i].reg
}

// setVote writes k's register if s is newer; it returns the value the
// register held (null if none) and whether it wrote.
func (e *element) setVote(k voteKey, v Value, s Stamp) (Value, bool) {
	i, ok := slices.BinarySearchFunc(e.votes, k, func(v voteReg, k voteKey) int { return compareVoteKeys(v.k, k) })
	if ok {
		old := e.votes[i].v
		return old, e.votes[i].set(v, s)
	}
	e.votes = slices.Insert(e.votes, i, voteReg{k: k, reg: reg{s: s, v: v}})
	return Null(), true
}

func (e *element) prop(key string) *reg {
	props := e.props
	n := min(len(props), len(e.pfp))
	fp := keyFP(key)
	for i := 0; i < n; i++ {
		if e.pfp[i] == fp && props[i].key == key {
			return &props[i].reg
		}
	}
	for i := n; i < len(props); i++ {
		if props[i].key == key {
			return &props[i].reg
		}
	}
	return nil
}

func (e *element) text(key string) *textList {
	for i := range e.texts {
		if e.texts[i].key == key {
			return e.texts[i].list
		}
	}
	return nil
}

func (e *element) textOrNew(key string) *textList {
	if t := e.text(key); t != nil {
		return t
	}
	t := newTextList()
	e.texts = append(e.texts, textField{key, t})
	return t
}

// Doc is one replica's copy of a board. It is not safe for concurrent use:
// one goroutine owns it (the room, on a node).
type Doc struct {
	vv    versions
	clock Clock
	elems map[ElementID]*element
	tree  *tree

	// Held changes, indexed by what they wait for. heldBy holds each
	// change once, keyed by (replica, start), to spot duplicates.
	heldBy      map[OpID]*heldChange
	heldBytes   int                         // sum of HeldSize over heldBy
	heldRep     map[ReplicaID]heldTally     // per replica: count and bytes held
	waitCounter map[ReplicaID][]*heldChange // wait until vv[r] >= need
	waitElement map[ElementID][]*heldChange // wait until the element exists
	createdNow  []ElementID                 // elements created by the change being applied
	advancedNow []ReplicaID                 // replicas advanced by the change being applied
	skipped     int                         // ops skipped as meaningless (for tests and metrics)
	inTx        bool
	opSlab      []Op     // see Tx.push
	appliedBuf  []Change // Apply's result, reused (see Apply)
	decodeBuf   []Op     // ApplyBinary's decoded ops, reused
	lastElem    *element // see elem
	spanBuf     []Span   // scratch for Tx.DeleteText

	// checkWork counts the probes Check makes into what the change it
	// checks inserted before each text op (insertedRuns). Tests bound the
	// cost of an input with it; nothing else reads it.
	checkWork int
	hooks     Hooks
}

// Hooks let the owner of a Doc that is the authority for other replicas —
// a server — follow the vote registers and rule on held changes. Clients
// set none. The package stays pure: a hook is the caller's code, and a
// doc without hooks behaves as before; a Release hook that answers
// differently on two replicas makes them differ, which is the caller's to
// prevent or accept.
type Hooks struct {
	// Release, if set, is asked about a held change when everything it
	// waited for is there, just before it would apply (c as it would
	// apply: without the part the doc has). false drops it, as DropHeld
	// does: nothing of it is applied, and the later changes of its replica
	// wait for its counters, which this doc never gets unless the change
	// comes again.
	Release func(c *Change) bool
	// Vote, if set, is called whenever an applied op writes a vote
	// register, with the value it held (null if none) and the value it
	// holds now. Loading a snapshot calls it for none.
	Vote func(el ElementID, key, voter string, old, new Value)
}

// SetHooks sets the doc's hooks (the zero Hooks: none).
func (d *Doc) SetHooks(h Hooks) { d.hooks = h }

// byReplicaStart orders held changes by replica, then start.
func byReplicaStart(a, b *heldChange) int {
	if c := cmp.Compare(a.c.Replica, b.c.Replica); c != 0 {
		return c
	}
	return cmp.Compare(a.c.Start, b.c.Start)
}

type heldChange struct {
	c    Change
	need uint64 // when waiting on a counter
	size int    // HeldSize(&c), counted in Doc.heldBytes while held
	// What it waits for (the key of its wait list): an element, or
	// else a counter of replica waitRep.
	waitRep ReplicaID
	waitEl  ElementID
}

// heldTally is what one replica has held.
type heldTally struct{ n, bytes int }

// heldChangeOverhead and heldOpOverhead estimate the memory a held change
// takes besides its strings: the Change and map entries, and one Op each.
const (
	heldChangeOverhead = 128
	heldOpOverhead     = int(unsafe.Sizeof(Op{}))
)

// HeldSize estimates the memory a change takes while a Doc holds it: the
// Ops and every string they carry. It is what Doc.HeldBytes adds up, so a
// server can bound held changes in bytes (a wire byte count would let
// 65 536 tiny ops, a few bytes each on the wire, take 13 MB).
func HeldSize(c *Change) int {
	n := heldChangeOverhead + len(c.Ops)*heldOpOverhead
	for i := range c.Ops {
		op := &c.Ops[i]
		n += len(op.Key) + len(op.Text) + len(op.Value.str) + len(op.Pos) + len(op.Voter)
	}
	return n
}

// NewDoc returns an empty board.
func NewDoc() *Doc {
	return &Doc{
		vv:          newVersions(),
		elems:       map[ElementID]*element{},
		tree:        newTree(),
		heldBy:      map[OpID]*heldChange{},
		heldRep:     map[ReplicaID]heldTally{},
		waitCounter: map[ReplicaID][]*heldChange{},
		waitElement: map[ElementID][]*heldChange{},
	}
}

// Version returns a copy of the doc's version vector.
func (d *Doc) Version() VersionVector { return d.vv.vector() }

// VersionOf returns the doc's version vector entry for one replica: the
// highest counter of its ops applied (0 if none). Unlike Version, it copies
// nothing, for hot paths.
//
// Like every method of a Doc, it is not safe for concurrent use, though it
// changes nothing a caller sees: it remembers the replica it looked up.
func (d *Doc) VersionOf(r ReplicaID) uint64 { return d.vv.get(r) }

// Has reports whether the op id has been applied.
func (d *Doc) Has(id OpID) bool { return d.vv.contains(id) }

// Clock returns the doc's HLC reading: the largest timestamp it has issued
// or adopted (Clock.Observe: not one forged past MaxTime). The doc's next
// local change starts after it.
func (d *Doc) Clock() Timestamp { return d.clock.Last() }

// stamps lists the timestamps of the doc's registers and of moves.
func (d *Doc) stamps(moves []move) []Timestamp {
	out := make([]Timestamp, 0, 2*len(d.elems)+len(moves))
	for _, e := range d.elems {
		out = append(out, e.kind.s.TS, e.deleted.s.TS)
		for i := range e.props {
			out = append(out, e.props[i].s.TS)
		}
		for i := range e.votes {
			out = append(out, e.votes[i].s.TS)
		}
	}
	for i := range moves {
		out = append(out, moves[i].Stamp.TS)
	}
	return out
}

// Held returns the number of changes waiting for their dependencies.
func (d *Doc) Held() int { return len(d.heldBy) }

// HeldBytes returns the memory the held changes take, as HeldSize counts it.
func (d *Doc) HeldBytes() int { return d.heldBytes }

// HeldOf returns how many changes of replica r are held, and their HeldSize.
func (d *Doc) HeldOf(r ReplicaID) (n, bytes int) {
	t := d.heldRep[r]
	return t.n, t.bytes
}

// DropHeld forgets the held change of replica r that starts at start, as
// if it had never arrived; false if no such change is held. A server uses
// it to keep what it holds within its limits when it replays a log written
// before them: the change can arrive again, like any change a doc lacks.
func (d *Doc) DropHeld(r ReplicaID, start uint64) bool {
	h, ok := d.heldBy[OpID{r, start}]
	if !ok {
		return false
	}
	d.unhold(h)
	if h.waitEl != Root {
		if list := slices.DeleteFunc(d.waitElement[h.waitEl], func(x *heldChange) bool { return x == h }); len(list) == 0 {
			delete(d.waitElement, h.waitEl)
		} else {
			d.waitElement[h.waitEl] = list
		}
		return true
	}
	if list := slices.DeleteFunc(d.waitCounter[h.waitRep], func(x *heldChange) bool { return x == h }); len(list) == 0 {
		delete(d.waitCounter, h.waitRep)
	} else {
		d.waitCounter[h.waitRep] = list
	}
	return true
}

// DropHeldChange drops what Apply held of c, which is c without the
// counters the doc already had (Apply holds it cut, keyed by where the cut
// starts), and says whether it dropped anything. Call it right after
// Apply (or ApplyBinary) returned Held for c: the doc's version of c's
// replica is then what it was when c was cut. DropHeld(c.Replica, c.Start)
// misses a change that overlapped the doc's counters.
func (d *Doc) DropHeldChange(c *Change) bool {
	return d.DropHeld(c.Replica, max(c.Start, d.vv.get(c.Replica)+1))
}

// DropHeldOf drops every held change of replica r (DropHeld) and returns
// how many it dropped. Not from a Release hook: call it once Apply has
// returned.
func (d *Doc) DropHeldOf(r ReplicaID) int {
	if d.heldRep[r].n == 0 {
		return 0
	}
	var starts []uint64
	for id := range d.heldBy {
		if id.Replica == r {
			starts = append(starts, id.Counter)
		}
	}
	for _, s := range starts {
		d.DropHeld(r, s)
	}
	return len(starts)
}

// TrimHeld drops held changes (DropHeld), the largest first, until at
// most maxN are held taking at most maxBytes; it returns how many it
// dropped. Ties go by replica and start, so every copy drops the same.
func (d *Doc) TrimHeld(maxN, maxBytes int) int {
	if len(d.heldBy) <= maxN && d.heldBytes <= maxBytes {
		return 0
	}
	all := make([]*heldChange, 0, len(d.heldBy))
	for _, h := range d.heldBy {
		all = append(all, h)
	}
	slices.SortFunc(all, func(a, b *heldChange) int {
		if a.size != b.size {
			return b.size - a.size
		}
		return byReplicaStart(a, b)
	})
	n := 0
	for _, h := range all {
		if len(d.heldBy) <= maxN && d.heldBytes <= maxBytes {
			break
		}
		d.DropHeld(h.c.Replica, h.c.Start)
		n++
	}
	return n
}

// unhold removes h from heldBy and its tallies (not from the wait lists).
func (d *Doc) unhold(h *heldChange) {
	delete(d.heldBy, OpID{h.c.Replica, h.c.Start})
	d.heldBytes -= h.size
	t := d.heldRep[h.c.Replica]
	t.n--
	t.bytes -= h.size
	if t.n <= 0 {
		delete(d.heldRep, h.c.Replica)
	} else {
		d.heldRep[h.c.Replica] = t
	}
}

// Skipped returns how many ops were skipped as meaningless so far.
func (d *Doc) Skipped() int { return d.skipped }

// Status says what Apply did with a change.
type Status int

// Apply outcomes.
const (
	Applied   Status = iota // applied now (perhaps after trimming a part already present)
	Held                    // waiting for dependencies
	Duplicate               // already applied, or already held
)

func (s Status) String() string { return [...]string{"applied", "held", "duplicate"}[s] }

// Apply applies a change made by any replica. It returns the status and the
// changes that got applied as a result, in order: c itself when applied,
// followed by held changes it released. Only a structurally invalid change
// is an error (and changes nothing). The returned slice is the doc's own
// and valid until the next Apply: callers copy the Changes out (they are
// values) to keep them. Reusing it saves an allocation per remote change.
func (d *Doc) Apply(c Change) (Status, []Change, error) {
	if d.inTx {
		return 0, nil, fmt.Errorf("crdt: Apply during an open transaction: %w", ErrInvalidOp)
	}
	if err := c.Validate(); err != nil {
		return 0, nil, err
	}
	st, applied := d.apply(c)
	return st, applied, nil
}

// maxDecodeBuf is the most ops ApplyBinary keeps its buffer for: a big
// import (up to MaxOps) would otherwise hold megabytes for good.
const maxDecodeBuf = 1024

// ApplyBinary decodes one change in binary form and applies it: Apply of
// DecodeChange's result, with the change validated once, not twice, and
// its ops decoded into a buffer of the doc's, so applying one change after
// another allocates nothing for them. It returns the decoded change too.
// Its Ops, like those of the applied changes, live in that buffer and are
// valid until the next Apply or ApplyBinary: copy them to keep them. A
// change that does not decode is an error, as for Apply, and changes
// nothing.
//
// Rejected: a mark on a decoded Change that Apply trusts. A caller can
// change a Change's ops after decoding it; Apply could then skip the
// checks on ops that no longer passed them.
func (d *Doc) ApplyBinary(data []byte) (Change, Status, []Change, error) {
	if d.inTx {
		return Change{}, 0, nil, fmt.Errorf("crdt: Apply during an open transaction: %w", ErrInvalidOp)
	}
	c, err := DecodeChangeInto(data, d.decodeBuf)
	if err != nil {
		return Change{}, 0, nil, err
	}
	if cap(c.Ops) <= maxDecodeBuf {
		d.decodeBuf = c.Ops
	}
	st, applied := d.apply(c)
	return c, st, applied, nil
}

// apply is Apply of a valid change.
func (d *Doc) apply(c Change) (Status, []Change) {
	clear(d.appliedBuf) // drop the previous result's ops
	st, applied := d.offer(c, d.appliedBuf[:0])
	if st == Applied {
		applied = d.release(applied)
	}
	d.appliedBuf = applied
	if len(applied) == 0 {
		return st, nil
	}
	return st, applied
}

// offer applies c if it can, holds it otherwise; when applied, c (as
// applied) is appended to out.
func (d *Doc) offer(c Change, out []Change) (Status, []Change) {
	return d.offerAs(c, out, false)
}

// offerHeld is offer for a change that was held: the Release hook rules on
// it before it applies.
func (d *Doc) offerHeld(c Change, out []Change) (Status, []Change) {
	return d.offerAs(c, out, true)
}

// mayRelease asks the Release hook about c (a copy: c itself stays off
// the heap on the path every change takes).
func (d *Doc) mayRelease(c Change) bool { return d.hooks.Release(&c) }

func (d *Doc) offerAs(c Change, out []Change, released bool) (Status, []Change) {
	have := d.vv.get(c.Replica)
	if c.End() <= have {
		return Duplicate, out
	}
	if c.Start <= have {
		c = trimChange(c, have)
	}
	if len(d.heldBy) > 0 {
		if _, ok := d.heldBy[OpID{c.Replica, c.Start}]; ok {
			return Duplicate, out
		}
	}
	if c.Start > have+1 {
		d.hold(&heldChange{c: c, need: c.Start - 1}, c.Replica, Root)
		return Held, out
	}
	if r, need, el, missing := d.missing(&c); missing {
		d.hold(&heldChange{c: c, need: need}, r, el)
		return Held, out
	}
	if released && d.hooks.Release != nil && !d.mayRelease(c) {
		return Duplicate, out // dropped: as if it had never come
	}
	d.applyChange(&c)
	return Applied, append(out, c)
}

func (d *Doc) hold(h *heldChange, r ReplicaID, el ElementID) {
	// The ops may live in a buffer the caller reuses (DecodeChangeInto,
	// BeginInto): a held change keeps a copy of its own.
	h.c.Ops = slices.Clone(h.c.Ops)
	d.heldBy[OpID{h.c.Replica, h.c.Start}] = h
	h.size = HeldSize(&h.c)
	d.heldBytes += h.size
	t := d.heldRep[h.c.Replica]
	t.n++
	t.bytes += h.size
	d.heldRep[h.c.Replica] = t
	h.waitRep, h.waitEl = r, el
	if el != Root {
		d.waitElement[el] = append(d.waitElement[el], h)
	} else {
		d.waitCounter[r] = append(d.waitCounter[r], h)
	}
}

// release applies held changes unblocked by what was just applied, until
// nothing more can go.
func (d *Doc) release(applied []Change) []Change {
	if len(d.heldBy) == 0 {
		// Nothing waits: the common case, kept cheap.
		d.advancedNow, d.createdNow = d.advancedNow[:0], d.createdNow[:0]
		return applied
	}
	for len(d.advancedNow) > 0 || len(d.createdNow) > 0 {
		var ready []*heldChange
		for _, r := range d.advancedNow {
			list := d.waitCounter[r]
			keep := list[:0]
			for _, h := range list {
				if h.need <= d.vv.get(r) {
					ready = append(ready, h)
				} else {
					keep = append(keep, h)
				}
			}
			if len(keep) == 0 {
				delete(d.waitCounter, r)
			} else {
				d.waitCounter[r] = keep
			}
		}
		for _, e := range d.createdNow {
			ready = append(ready, d.waitElement[e]...)
			delete(d.waitElement, e)
		}
		d.advancedNow, d.createdNow = d.advancedNow[:0], d.createdNow[:0]
		// Retry in a deterministic order: by replica, then start.
		slices.SortFunc(ready, byReplicaStart)
		for _, h := range ready {
			d.unhold(h)
			_, applied = d.offerHeld(h.c, applied)
		}
	}
	return applied
}

// trimChange drops the ops of c at counters <= have; an insert that
// straddles the boundary keeps its tail, whose left origin is by definition
// the character just before it.
func trimChange(c Change, have uint64) Change {
	out := Change{Replica: c.Replica}
	ctr := c.Start
	for i := range c.Ops {
		op := c.Ops[i]
		n := op.span()
		if ctr+n-1 <= have {
			ctr += n
			continue
		}
		if ctr <= have {
			skip := int(have - ctr + 1)
			s := op.Text
			for k := 0; k < skip; k++ {
				_, size := utf8.DecodeRuneInString(s)
				s = s[size:]
			}
			op.Text = s
			op.Left = OpID{c.Replica, have}
			ctr = have + 1
		}
		if len(out.Ops) == 0 {
			out.Start = ctr
			out.Time = c.Time + Timestamp(ctr-c.Start)
		}
		out.Ops = append(out.Ops, op)
		ctr += op.span()
	}
	return out
}

// missing reports the first dependency of c that is absent: a counter of a
// replica (need) or an element.
func (d *Doc) missing(c *Change) (r ReplicaID, need uint64, el ElementID, missing bool) {
	// made: the elements created by c.Ops[:i], as a set once the change is
	// big (an import of thousands of elements is one change: a scan of the
	// ops before each one would be quadratic); small changes scan.
	var made map[ElementID]struct{}
	const scanUpTo = 16
	if len(c.Ops) > scanUpTo {
		made = make(map[ElementID]struct{})
	}
	created := func(e ElementID, upto int) bool {
		if x := d.elem(e); x != nil && !x.kind.s.IsZero() {
			return true
		}
		if made != nil {
			_, ok := made[e]
			return ok
		}
		for j := 0; j < upto; j++ {
			if c.Ops[j].Type == OpCreate && c.Ops[j].Element == e {
				return true
			}
		}
		return false
	}
	needID := func(id OpID) bool {
		if id.IsZero() || (id.Replica == c.Replica && id.Counter >= c.Start) {
			return false // none, or made inside this change
		}
		return !d.vv.contains(id)
	}
	for i := range c.Ops {
		op := &c.Ops[i]
		if op.Type != OpCreate && !created(op.Element, i) {
			return 0, 0, op.Element, true
		}
		switch op.Type {
		case OpMove:
			if op.Parent != Root && !created(op.Parent, i) {
				return 0, 0, op.Parent, true
			}
		case OpInsertText:
			for _, id := range [2]OpID{op.Left, op.Right} {
				if needID(id) {
					return id.Replica, id.Counter, Root, true
				}
			}
		case OpDeleteText:
			last := OpID{op.Target.Replica, op.Target.Counter + op.Count - 1}
			if needID(last) {
				return last.Replica, last.Counter, Root, true
			}
		case OpCreate:
			if made != nil {
				made[op.Element] = struct{}{}
			}
		}
	}
	return 0, 0, Root, false
}

// applyChange applies a change whose dependencies are all present.
func (d *Doc) applyChange(c *Change) {
	ctr := c.Start
	for i := range c.Ops {
		op := &c.Ops[i]
		if err := d.applyOp(op, OpID{c.Replica, ctr}, c.stampAt(ctr)); err != nil {
			d.skipped++
		}
		ctr += op.span()
		d.vv.set(c.Replica, ctr-1)
	}
	d.clock.Observe(c.stampAt(ctr - 1).TS)
	d.advancedNow = append(d.advancedNow, c.Replica)
}

// applyOp applies one op whose dependencies are present. An error means the
// op was meaningless and changed nothing.
func (d *Doc) applyOp(op *Op, id OpID, s Stamp) error {
	return d.applyOpTo(d.elem(op.Element), op, id, s)
}

// elem returns the element id, or nil. It remembers the last element it
// returned: runs of ops on one element (typing in a note) skip the map.
// Elements are never removed from the map, so the pointer stays right.
func (d *Doc) elem(id ElementID) *element {
	if e := d.lastElem; e != nil && e.id == id {
		return e
	}
	e := d.elems[id]
	if e != nil {
		d.lastElem = e
	}
	return e
}

// applyOpTo is applyOp with the element already looked up (nil if absent).
func (d *Doc) applyOpTo(e *element, op *Op, id OpID, s Stamp) error {
	if op.Type == OpCreate {
		if e == nil {
			e = &element{id: op.Element}
			d.elems[op.Element] = e
		}
		if e.kind.s.IsZero() {
			d.createdNow = append(d.createdNow, op.Element)
		}
		e.kind.set(String(op.Key), s)
		return nil
	}
	switch op.Type {
	case OpSet:
		if r := e.prop(op.Key); r != nil {
			r.set(op.Value, s)
		} else {
			if e.props == nil {
				// Elements carry about eight properties (geometry, z,
				// colour): start there instead of growing 1, 2, 4, 8.
				e.props = make([]prop, 0, 8)
			}
			e.addProp(op.Key, reg{s: s, v: op.Value})
		}
	case OpDelete:
		e.deleted.set(Bool(op.Deleted), s)
	case OpInsertText:
		t := e.text(op.Key)
		for _, o := range [2]OpID{op.Left, op.Right} {
			if !o.IsZero() && (t == nil || !t.contains(o)) {
				return fmt.Errorf("crdt: insert_text origin %v is not in text %q: %w", o, op.Key, ErrInvalidOp)
			}
		}
		if t == nil {
			t = e.textOrNew(op.Key)
		}
		t.integrate(id, op.Left, op.Right, op.Text)
	case OpDeleteText:
		t := e.text(op.Key)
		if t == nil || !t.containsRange(op.Target, op.Count) {
			return fmt.Errorf("crdt: delete_text target %v+%d is not in text %q: %w", op.Target, op.Count, op.Key, ErrInvalidOp)
		}
		t.remove(op.Target, op.Count)
	case OpMove:
		d.tree.apply(move{Stamp: s, Node: op.Element, Parent: op.Parent, Pos: op.Pos})
	case OpVote:
		k := voteKey{op.Key, op.Voter}
		if old, ok := e.setVote(k, op.Value, s); ok && d.hooks.Vote != nil {
			d.hooks.Vote(op.Element, op.Key, op.Voter, old, op.Value)
		}
	}
	return nil
}

// Check reports whether applying c now would apply every op as written: it
// returns an error wrapping ErrMalformed (structure), ErrMissing (a
// dependency is absent; the change would be held) or ErrInvalidOp (an op
// would be skipped). Servers call it on client input before storing it.
func (d *Doc) Check(c *Change) error {
	if err := c.Validate(); err != nil {
		return err
	}
	have := d.vv.get(c.Replica)
	if c.End() <= have {
		return nil // a duplicate is harmless
	}
	cc := *c
	if cc.Start <= have {
		cc = trimChange(cc, have)
	}
	if cc.Start > have+1 {
		return fmt.Errorf("crdt: change starts at %d but replica %v is at %d: %w", cc.Start, cc.Replica, have, ErrMissing)
	}
	if r, need, el, missing := d.missing(&cc); missing {
		if el != Root {
			return fmt.Errorf("crdt: element %v does not exist: %w", el, ErrMissing)
		}
		return fmt.Errorf("crdt: op %v not present: %w", OpID{r, need}, ErrMissing)
	}
	// Only text ops can be meaningless. Check their origins and targets
	// against the texts, or against the characters inserted by earlier
	// ops of this same change; nothing is copied or modified.
	type fieldKey struct {
		el  ElementID
		key string
	}
	inserted := map[fieldKey]*insertedRuns{}
	ctr := cc.Start
	for i := range cc.Ops {
		op := &cc.Ops[i]
		first := ctr
		ctr += op.span()
		if op.Type != OpInsertText && op.Type != OpDeleteText {
			continue
		}
		k := fieldKey{op.Element, op.Key}
		var t *textList
		if e := d.elems[op.Element]; e != nil {
			t = e.text(op.Key)
		}
		runs := inserted[k]
		has := func(id OpID, n uint64) bool {
			if id.Replica == cc.Replica && id.Counter >= cc.Start {
				return runs.contains(id.Counter, n, &d.checkWork)
			}
			return t != nil && t.containsRange(id, n)
		}
		if op.Type == OpInsertText {
			for _, o := range [2]OpID{op.Left, op.Right} {
				if !o.IsZero() && !has(o, 1) {
					return fmt.Errorf("crdt: op %d: origin %v is not in text %q: %w", i, o, op.Key, ErrInvalidOp)
				}
			}
			if runs == nil {
				runs = &insertedRuns{}
				inserted[k] = runs
			}
			runs.add(first, ctr-1)
		} else if !has(op.Target, op.Count) {
			return fmt.Errorf("crdt: op %d: target %v+%d is not in text %q: %w", i, op.Target, op.Count, op.Key, ErrInvalidOp)
		}
	}
	return nil
}

// insertedRuns are the counters that the ops of one change, checked in
// order, have inserted into one text field so far: runs of consecutive
// counters, ascending (the ops' counters increase) and disjoint, a run
// that starts right after the previous one merged into it.
//
// A lookup is a binary search, so Check costs O(ops × log runs) however
// the change is built: typing, a paste or an import is one run per field,
// found at the first probe. Rejected: a list scanned for each op, which
// made a change of 60 000 chained one-character inserts (one message,
// counted as one change by the rate limits) cost seconds of the room's
// time; and a map of every inserted counter, which costs memory per
// character where runs cost one entry per insert at worst.
type insertedRuns []counterRun

// counterRun is counters from..to.
type counterRun struct{ from, to uint64 }

// add records counters from..to, which come after every run recorded.
func (r *insertedRuns) add(from, to uint64) {
	if n := len(*r); n > 0 && (*r)[n-1].to+1 == from {
		(*r)[n-1].to = to
		return
	}
	*r = append(*r, counterRun{from, to})
}

// contains reports whether counters c .. c+n-1 (n >= 1) are all in one
// run: merged runs are never adjacent, so a range over two runs has a gap.
// work counts the probes (Doc.checkWork).
func (r *insertedRuns) contains(c, n uint64, work *int) bool {
	if r == nil {
		return false
	}
	runs := *r
	// The last run starting at or before c.
	lo, hi := 0, len(runs)
	for lo < hi {
		*work++
		m := int(uint(lo+hi) >> 1)
		if runs[m].from <= c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo > 0 && c+n-1 <= runs[lo-1].to
}

// InsertReach bounds the runs of text that applying client change c's
// insert_text ops may walk, and stops counting past limit. An insert whose
// origins are neighbours when it applies costs a lookup; one whose origins
// have text between them (an insert made while others typed at the same
// place, or origins named far apart on purpose) walks the runs between
// them (integrateSlow), and the runs stay for later inserts to walk again.
// Each insert is counted as the runs between its origins in the doc as it
// is, an origin inserted by c itself standing for the origins of the op
// that inserted it, plus two runs for each earlier insert of c into the
// same text that may lie between them when it applies (not counted for an
// insert that types on from the one before it). Check is not
// repeated: an op it would refuse counts what can be counted.
//
// Rejected: counting the runs actually walked (known only once applied,
// and one change of 65,536 inserts took 44 s); a rule against inserts of
// one change sharing origins (the walks grow across changes all the same).
func (d *Doc) InsertReach(c *Change, limit int) int {
	if c.End() <= d.vv.get(c.Replica) {
		return 0
	}
	cc := *c
	if have := d.vv.get(c.Replica); cc.Start <= have {
		cc = trimChange(cc, have)
	}
	type fieldKey struct {
		el  ElementID
		key string
	}
	type inserted struct {
		start, end  uint64 // counters
		left, right OpID   // the origins it stands for: not of this change
	}
	var mine []inserted // ascending by start
	type field struct {
		others    int    // inserts of c into it that continued none before
		lastEnd   uint64 // the last insert of c into it: its last counter and its right origin
		lastRight OpID
	}
	fields := map[fieldKey]*field{}
	standFor := func(id OpID, left bool) OpID {
		if id.Replica != cc.Replica || id.Counter < cc.Start {
			return id
		}
		i, _ := slices.BinarySearchFunc(mine, id.Counter, func(x inserted, ctr uint64) int {
			switch {
			case x.end < ctr:
				return -1
			case x.start > ctr:
				return 1
			}
			return 0
		})
		if i == len(mine) || mine[i].start > id.Counter {
			return OpID{} // not an insert of this change: Check refuses it
		}
		if left {
			return mine[i].left
		}
		return mine[i].right
	}
	total := 0
	ctr := cc.Start
	for i := range cc.Ops {
		op := &cc.Ops[i]
		first := ctr
		ctr += op.span()
		if op.Type != OpInsertText {
			continue
		}
		k := fieldKey{op.Element, op.Key}
		f := fields[k]
		if f == nil {
			f = &field{}
			fields[k] = f
		}
		left, right := standFor(op.Left, true), standFor(op.Right, false)
		// Typing on from the previous insert (its last character, its
		// right origin) goes right after it: the walk from there meets
		// no other insert of c that could be in the way.
		n := 2
		if cont := f.lastEnd != 0 && op.Left == (OpID{cc.Replica, f.lastEnd}) && op.Right == f.lastRight; !cont {
			n += 2 * f.others
			f.others++
		}
		f.lastEnd, f.lastRight = ctr-1, op.Right
		if e := d.elems[op.Element]; e != nil {
			if t := e.text(op.Key); t != nil {
				if between, ok := t.runsBetween(left, right, limit-total); ok {
					n += between
				}
			}
		}
		mine = append(mine, inserted{first, ctr - 1, left, right})
		if total += n; total > limit {
			return total
		}
	}
	return total
}
