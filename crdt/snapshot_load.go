package crdt

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
)

// LoadSnapshot decodes a snapshot made by Snapshot into a new doc. It
// validates everything and never panics on bad input.
func LoadSnapshot(data []byte) (*Doc, error) {
	return LoadSnapshotMax(data, maxSnapshotBody)
}

// LoadSnapshotMax is LoadSnapshot with the snapshot's body bounded to
// maxBody bytes once inflated (at most the 1 GiB LoadSnapshot allows):
// for a snapshot from outside the cluster (an imported file), where
// LoadSnapshot's bound lets a megabyte of DEFLATE grow into a gigabyte.
func LoadSnapshotMax(data []byte, maxBody int) (*Doc, error) {
	l := newSnapshotLoader(data, true)
	l.maxBody = min(max(maxBody, 0), maxSnapshotBody)
	for {
		done, err := l.Step(0)
		if err != nil {
			return nil, err
		}
		if done {
			return l.d, nil
		}
	}
}

// A SnapshotLoader loads a snapshot a step at a time, for a caller with
// one thread that must keep doing other work meanwhile: the web page,
// which draws and takes input between steps while a board of 100,000
// elements loads (a second of work in one call would freeze it). The steps
// are the very code of LoadSnapshot, which runs them all in one call, so
// the doc and the error are the same as LoadSnapshot's whatever the
// budgets (TestSnapshotLoaderSteps, FuzzLoadSnapshot).
//
// Nothing is shared with a doc until the last step: a loader given up
// halfway leaves nothing behind but garbage.
//
// Rejected: loading in a Web Worker instead. The page calls its doc
// synchronously from every feature (an edit returns its change at once);
// a doc in a worker would make each of those calls asynchronous, and a
// second doc loaded in a worker cannot be handed over (the Go heap stays
// in its instance). Loading in steps costs the page nothing but the
// yields between them.
type SnapshotLoader struct {
	data  []byte
	stage int
	err   error
	d     *Doc

	inflate  io.ReadCloser
	limited  io.Reader
	out      bytes.Buffer
	inflated int // bytes of body inflated so far (Step's budget: with r.off, the work done)
	maxBody  int // the body's bound, inflated (maxSnapshotBody unless LoadSnapshotMax says less)

	r      reader
	clock  uint64
	reps   []ReplicaID
	keys   []string
	nel    int
	texts  *textPool
	waited bool // texts.wait was called
	inline bool // the element map is filled as elements are read
	el     elementLoader
}

const (
	stageInflate = iota
	stageHeader
	stageElements
	stageTree
	stageHeld
	stageDone
)

// NewSnapshotLoader starts loading data; no work is done until Step.
// Texts are decoded on the calling goroutine.
func NewSnapshotLoader(data []byte) *SnapshotLoader {
	return newSnapshotLoader(data, false)
}

func newSnapshotLoader(data []byte, workers bool) *SnapshotLoader {
	l := &SnapshotLoader{data: data, texts: newTextPool(), maxBody: maxSnapshotBody}
	if !workers {
		l.texts.workers = 0
	}
	return l
}

// Step does about budget bytes' worth of the load (budget <= 0: all of
// it) and says whether the load is done. After an error, or once done,
// Step returns the same again.
func (l *SnapshotLoader) Step(budget int) (done bool, err error) {
	if l.stage == stageDone {
		return true, l.err
	}
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	for {
		start := l.inflated + l.r.off
		var err error
		switch l.stage {
		case stageInflate:
			err = l.stepInflate(budget)
		case stageHeader:
			err = l.header()
		case stageElements:
			err = l.elements(budget)
		case stageTree:
			err = l.tree()
		case stageHeld:
			err = l.held()
		}
		if err != nil {
			l.stage, l.err, l.d = stageDone, err, nil
			return true, err
		}
		if l.stage == stageDone {
			return true, nil
		}
		budget -= l.inflated + l.r.off - start
		if budget <= 0 {
			return false, nil
		}
	}
}

// Doc is the loaded doc, once Step said done without an error.
func (l *SnapshotLoader) Doc() *Doc {
	if l.stage != stageDone {
		return nil
	}
	return l.d
}

// stepInflate decompresses up to budget bytes of the body.
func (l *SnapshotLoader) stepInflate(budget int) error {
	if l.inflate == nil {
		data := l.data
		if len(data) < 2 || data[0] != 'S' {
			return malformed("snapshot: bad magic")
		}
		if data[1] == snapshotRaw {
			if len(data)-2 > l.maxBody {
				return malformed("snapshot: larger than %d bytes", l.maxBody)
			}
			l.r = reader{b: data[2:]}
			l.stage = stageHeader
			return nil
		}
		if data[1] != snapshotFormat {
			return malformed("snapshot: unknown format version %d", data[1])
		}
		l.inflate = flate.NewReader(bytes.NewReader(data[2:]))
		l.limited = io.LimitReader(l.inflate, int64(l.maxBody)+1)
		l.out.Grow(min(len(data)*4, l.maxBody+1))
	}
	n, err := io.CopyN(&l.out, l.limited, int64(budget))
	l.inflated += int(n)
	if err == nil {
		return nil // more to come
	}
	l.inflate.Close()
	if err != io.EOF {
		return malformed("snapshot: inflate: %v", err)
	}
	if l.out.Len() > l.maxBody {
		return malformed("snapshot: larger than %d bytes", l.maxBody)
	}
	body := l.out.Bytes()
	l.out = bytes.Buffer{}
	l.r = reader{b: body}
	l.stage = stageHeader
	return nil
}

// header reads everything before the elements: the version vector, the
// clock and the replica and key tables.
func (l *SnapshotLoader) header() error {
	r := &l.r
	d := NewDoc()
	var err error
	vv, err := r.versionVector()
	if err != nil {
		return err
	}
	d.vv = versionsOf(vv)
	if l.clock, err = r.uvarint(); err != nil {
		return err
	}
	d.clock.Observe(Timestamp(l.clock))
	nrep, err := r.count(8)
	if err != nil {
		return err
	}
	l.reps = make([]ReplicaID, nrep)
	for i := range l.reps {
		v, err := r.u64()
		if err != nil {
			return err
		}
		l.reps[i] = ReplicaID(v)
		if v == 0 || (i > 0 && l.reps[i] <= l.reps[i-1]) {
			return malformed("snapshot: replica table not strictly ascending")
		}
	}
	nkeys, err := r.count(1)
	if err != nil {
		return err
	}
	l.keys = make([]string, nkeys)
	for i := range l.keys {
		if l.keys[i], err = r.string(); err != nil {
			return err
		}
		if l.keys[i] == "" || len(l.keys[i]) > MaxKeyLen || (i > 0 && l.keys[i] <= l.keys[i-1]) {
			return malformed("snapshot: key table not strictly ascending")
		}
	}
	if l.nel, err = r.count(20); err != nil {
		return err
	}
	l.el.list = make([]*element, 0, l.nel)
	d.elems = make(map[ElementID]*element, l.nel)
	d.lastElem = nil
	l.d = d
	// With a spare processor, the element map is filled alongside the
	// tree's decoding, which does not need it (tree); else as the
	// elements are read.
	l.inline = !(l.texts.workers > 0 && l.nel >= 4096)
	l.stage = stageElements
	return nil
}

func (l *SnapshotLoader) key() (string, error) {
	i, err := l.r.uvarint()
	if err != nil {
		return "", err
	}
	if i >= uint64(len(l.keys)) {
		return "", malformed("snapshot: key index %d out of range", i)
	}
	return l.keys[i], nil
}

func (l *SnapshotLoader) stamp() (Stamp, error) {
	delta, err := l.r.uvarint()
	if err != nil {
		return Stamp{}, err
	}
	i, err := l.r.uvarint()
	if err != nil {
		return Stamp{}, err
	}
	if delta >= l.clock || i >= uint64(len(l.reps)) {
		return Stamp{}, malformed("snapshot: bad stamp")
	}
	return Stamp{TS: Timestamp(l.clock - delta), Replica: l.reps[i]}, nil
}

// elements reads elements until budget bytes are read or none is left.
func (l *SnapshotLoader) elements(budget int) error {
	end := l.r.off + budget
	if end < l.r.off {
		end = int(^uint(0) >> 1)
	}
	for len(l.el.list) < l.nel && l.r.off < end {
		e, err := l.element()
		if err != nil {
			// A bad text before the bad element is the first error.
			if terr := l.waitTexts(); terr != nil {
				return terr
			}
			return err
		}
		l.el.list = append(l.el.list, e)
		if l.inline {
			l.d.elems[e.id] = e
		}
	}
	if len(l.el.list) == l.nel {
		l.stage = stageTree
	}
	return nil
}

func (l *SnapshotLoader) waitTexts() error {
	if l.waited {
		return nil
	}
	l.waited = true
	return l.texts.wait()
}

// tree reads the move tree and checks it against the elements; the texts
// are decoded by then.
func (l *SnapshotLoader) tree() error {
	d := l.d
	var filled chan struct{}
	if !l.inline {
		filled = make(chan struct{})
		go func() {
			for _, e := range l.el.list {
				d.elems[e.id] = e
			}
			close(filled)
		}()
	}
	var err error
	d.tree, err = decodeTreeState(&l.r)
	if filled != nil {
		<-filled
	}
	if err != nil {
		l.waitTexts()
		return err
	}
	if err := l.waitTexts(); err != nil {
		return err
	}
	l.el = elementLoader{}
	moves := d.tree.moves()
	for _, m := range moves {
		if !d.exists(m.Node) || (m.Parent != Root && !d.exists(m.Parent)) {
			return malformed("snapshot: move of an unknown element")
		}
	}
	if Timestamp(l.clock) > MaxTime {
		// A clock past MaxTime was not adopted (header): the reading
		// comes from the stamps, as Observe would have taken them.
		d.clock.settle(d.stamps(moves))
	}
	l.stage = stageHeld
	return nil
}

// held reads the changes held for their dependencies and applies them.
func (l *SnapshotLoader) held() error {
	r, d := &l.r, l.d
	nh, err := r.count(8)
	if err != nil {
		return err
	}
	held := make([]Change, nh)
	for i := range held {
		n, err := r.uvarint()
		if err != nil {
			return err
		}
		b, err := r.bytes(int(min(n, uint64(r.len()+1))))
		if err != nil {
			return err
		}
		if held[i], err = DecodeChange(b); err != nil {
			return fmt.Errorf("snapshot: held change %d: %w", i, err)
		}
	}
	if r.len() != 0 {
		return malformed("snapshot: %d trailing bytes", r.len())
	}
	for _, c := range held {
		if _, _, err := d.Apply(c); err != nil {
			return err
		}
	}
	l.stage = stageDone
	return nil
}

// elementLoader holds the element section's state between steps. The
// doc's parts come from slabs: a few allocations for thousands of
// elements, properties and texts instead of one each.
type elementLoader struct {
	list   []*element
	elems  slab[element]
	props  slab[prop]
	votes  slab[voteReg]
	fields slab[textField]
	prev   ElementID
}

// element reads the next element of the element section (in id order);
// its text states go to the text pool.
func (l *SnapshotLoader) element() (*element, error) {
	r, s := &l.r, &l.el
	id, err := r.elementID()
	if err != nil {
		return nil, err
	}
	if id == Root || (len(s.list) > 0 && bytes.Compare(id[:], s.prev[:]) <= 0) {
		return nil, malformed("snapshot: element ids not strictly ascending")
	}
	s.prev = id
	e := &s.elems.take(1, true)[0]
	e.id = id
	kind, err := l.key()
	if err != nil {
		return nil, err
	}
	if e.kind.s, err = l.stamp(); err != nil {
		return nil, err
	}
	e.kind.v = String(kind)
	flags, err := r.byte()
	if err != nil {
		return nil, err
	}
	if flags&^3 != 0 || flags == 2 {
		return nil, malformed("snapshot: bad element flags %#x", flags)
	}
	if flags&1 != 0 {
		if e.deleted.s, err = l.stamp(); err != nil {
			return nil, err
		}
		e.deleted.v = Bool(flags&2 != 0)
	}
	np, err := r.count(4)
	if err != nil {
		return nil, err
	}
	e.props = s.props.take(np, true)
	for j := range e.props {
		p := &e.props[j]
		if p.key, err = l.key(); err != nil {
			return nil, err
		}
		if j > 0 && p.key <= e.props[j-1].key {
			return nil, malformed("snapshot: property keys not ascending")
		}
		if p.v, err = r.value(); err != nil {
			return nil, err
		}
		if p.s, err = l.stamp(); err != nil {
			return nil, err
		}
		if j < len(e.pfp) {
			e.pfp[j] = keyFP(p.key)
		}
	}
	nv, err := r.count(5)
	if err != nil {
		return nil, err
	}
	var pk voteKey
	for j := 0; j < nv; j++ {
		var k voteKey
		var vr reg
		if k.key, err = l.key(); err != nil {
			return nil, err
		}
		if k.voter, err = r.string(); err != nil {
			return nil, err
		}
		if k.voter == "" || len(k.voter) > MaxKeyLen || (j > 0 && (k.key < pk.key || k.key == pk.key && k.voter <= pk.voter)) {
			return nil, malformed("snapshot: votes not ascending")
		}
		pk = k
		if vr.v, err = r.value(); err != nil {
			return nil, err
		}
		if vr.s, err = l.stamp(); err != nil {
			return nil, err
		}
		if e.votes == nil {
			e.votes = s.votes.take(nv, true)[:0]
		}
		e.votes = append(e.votes, voteReg{k, vr})
	}
	nt, err := r.count(2)
	if err != nil {
		return nil, err
	}
	if nt > 0 {
		e.texts = s.fields.take(nt, true)[:0]
	}
	for j := 0; j < nt; j++ {
		k, err := l.key()
		if err != nil {
			return nil, err
		}
		if j > 0 && k <= e.texts[j-1].key {
			return nil, malformed("snapshot: text fields not ascending")
		}
		b, err := skipTextState(r)
		if err != nil {
			return nil, fmt.Errorf("snapshot: text %q: %w", k, err)
		}
		// e.texts has its final capacity: the slot stays put.
		e.texts = append(e.texts, textField{key: k})
		l.texts.add(b, &e.texts[j])
	}
	return e, nil
}
