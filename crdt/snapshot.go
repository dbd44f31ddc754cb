package crdt

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// A snapshot is the doc's whole state — everything needed to merge with
// any other replica later: tombstones, register stamps, the move log and
// held changes — in one canonical byte string. Two docs that applied the
// same set of changes, in any order, have byte-identical snapshots.
//
//	snapshot = 'S' 1 DEFLATE(body)   (Snapshot: to send)
//	         | 'S' 2 body            (SnapshotRaw: to store)
//	body     = vv clock replicas keys elements tree held
//	replicas = n replica(8 bytes LE)*      ascending; stamps name an index
//	keys     = n string*                   ascending; kinds, property, text and vote keys
//	elements = n element*                  ascending by id
//	element  = id(16) kind:key kindstamp flags [delstamp]
//	           nprops (key value stamp)*  nvotes (key voter:string value stamp)*
//	           ntexts (key textstate)*     each group ascending by key (then voter)
//	flags    = bit0: the tombstone register was written; bit1: its value
//	stamp    = uvarint(clock - ts) uvarint(replica index)
//	tree     = see tree.appendState;  held = n (length change)*
//
// Rejected: gob or JSON (not canonical, several times larger), and
// per-element compression (DEFLATE over the whole body finds the
// repetition across elements: the same keys, palettes and nearby times).

const (
	snapshotFormat = 1 // DEFLATE-compressed body
	snapshotRaw    = 2 // uncompressed body
)

type snapEncoder struct {
	b        []byte
	clock    Timestamp
	replicas map[ReplicaID]uint64
	keys     map[string]uint64
	// One-entry caches: consecutive stamps are mostly by one replica and
	// consecutive keys repeat, so most lookups skip the maps.
	lastRep    ReplicaID
	lastRepIdx uint64
	lastKey    string
	lastKeyIdx uint64
}

func (e *snapEncoder) stamp(s Stamp) {
	e.b = appendUvarint(e.b, uint64(e.clock-s.TS))
	if s.Replica != e.lastRep {
		e.lastRep, e.lastRepIdx = s.Replica, e.replicas[s.Replica]
	}
	e.b = appendUvarint(e.b, e.lastRepIdx)
}

func (e *snapEncoder) key(k string) {
	if k != e.lastKey {
		e.lastKey, e.lastKeyIdx = k, e.keys[k]
	}
	e.b = appendUvarint(e.b, e.lastKeyIdx)
}

// Snapshot returns the canonical encoding of the doc's state, compressed:
// the form to send.
func (d *Doc) Snapshot() []byte { return compress(d.snapshotBody()) }

// SnapshotRaw returns the same state uncompressed ('S', 2, body): the form
// to store where the storage compresses its own blocks, and to load
// fastest (no inflate). LoadSnapshot reads both forms.
func (d *Doc) SnapshotRaw() []byte {
	body := d.snapshotBody()
	out := make([]byte, 0, len(body)+2)
	out = append(out, 'S', snapshotRaw)
	return append(out, body...)
}

func (d *Doc) snapshotBody() []byte {
	ids := d.Elements()
	// Tables of replicas and keys, so stamps and keys take a byte or two.
	repSet := map[ReplicaID]struct{}{}
	keySet := map[string]struct{}{}
	for _, id := range ids {
		e := d.elems[id]
		repSet[e.kind.s.Replica] = struct{}{}
		keySet[e.kind.v.AsString()] = struct{}{}
		if !e.deleted.s.IsZero() {
			repSet[e.deleted.s.Replica] = struct{}{}
		}
		for _, p := range e.props {
			repSet[p.s.Replica] = struct{}{}
			keySet[p.key] = struct{}{}
		}
		for _, t := range e.texts {
			keySet[t.key] = struct{}{}
		}
		for _, vr := range e.votes {
			repSet[vr.s.Replica] = struct{}{}
			keySet[vr.k.key] = struct{}{}
		}
	}
	reps := make([]ReplicaID, 0, len(repSet))
	for r := range repSet {
		reps = append(reps, r)
	}
	slices.Sort(reps)
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	enc := &snapEncoder{clock: d.clock.Last(), replicas: make(map[ReplicaID]uint64, len(reps)), keys: make(map[string]uint64, len(keys))}
	enc.b, _ = d.vv.AppendBinary(enc.b)
	enc.b = appendUvarint(enc.b, uint64(enc.clock))
	enc.b = appendUvarint(enc.b, uint64(len(reps)))
	for i, r := range reps {
		enc.replicas[r] = uint64(i)
		enc.b = appendU64(enc.b, uint64(r))
	}
	enc.b = appendUvarint(enc.b, uint64(len(keys)))
	for i, k := range keys {
		enc.keys[k] = uint64(i)
		enc.b = appendString(enc.b, k)
	}
	enc.b = appendUvarint(enc.b, uint64(len(ids)))
	var props []prop
	var texts []textField
	for _, id := range ids {
		e := d.elems[id]
		enc.b = append(enc.b, id[:]...)
		enc.key(e.kind.v.AsString())
		enc.stamp(e.kind.s)
		var flags byte
		if !e.deleted.s.IsZero() {
			flags |= 1
			if e.deleted.v.AsBool() {
				flags |= 2
			}
		}
		enc.b = append(enc.b, flags)
		if flags&1 != 0 {
			enc.stamp(e.deleted.s)
		}
		props = append(props[:0], e.props...)
		if !slices.IsSortedFunc(props, compareProps) {
			slices.SortFunc(props, compareProps)
		}
		enc.b = appendUvarint(enc.b, uint64(len(props)))
		for _, p := range props {
			enc.key(p.key)
			enc.b = appendValue(enc.b, p.v)
			enc.stamp(p.s)
		}
		enc.b = appendUvarint(enc.b, uint64(len(e.votes)))
		for _, v := range e.votes { // kept sorted by key, then voter
			enc.key(v.k.key)
			enc.b = appendString(enc.b, v.k.voter)
			enc.b = appendValue(enc.b, v.v)
			enc.stamp(v.s)
		}
		texts = append(texts[:0], e.texts...)
		slices.SortFunc(texts, func(a, b textField) int { return strings.Compare(a.key, b.key) })
		enc.b = appendUvarint(enc.b, uint64(len(texts)))
		for _, t := range texts {
			enc.key(t.key)
			enc.b = t.list.appendState(enc.b)
		}
	}
	enc.b = d.tree.appendState(enc.b)
	held := make([]*heldChange, 0, len(d.heldBy))
	for _, h := range d.heldBy {
		held = append(held, h)
	}
	slices.SortFunc(held, func(a, b *heldChange) int {
		if a.c.Replica != b.c.Replica {
			if a.c.Replica < b.c.Replica {
				return -1
			}
			return 1
		}
		if a.c.Start < b.c.Start {
			return -1
		}
		return 1
	})
	enc.b = appendUvarint(enc.b, uint64(len(held)))
	var tmp []byte
	for _, h := range held {
		tmp = h.c.AppendBinary(tmp[:0])
		enc.b = appendUvarint(enc.b, uint64(len(tmp)))
		enc.b = append(enc.b, tmp...)
	}
	return enc.b
}

// BestSpeed: a node snapshots a 50,000-element board in its room's
// goroutine, where every millisecond stalls the board; the fastest level
// takes a fraction of the default's time for somewhat more bytes (still
// well under the size targets, see bench/README.md).
func compareProps(a, b prop) int { return strings.Compare(a.key, b.key) }

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

func compress(body []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(body)/3 + 16)
	out.WriteByte('S')
	out.WriteByte(snapshotFormat)
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&out)
	w.Write(body)
	w.Close()
	flateWriters.Put(w)
	return out.Bytes()
}

// maxSnapshotBody bounds the decompressed size of a snapshot, so a small
// hostile input cannot inflate into gigabytes.
const maxSnapshotBody = 1 << 30

func decompress(data []byte) ([]byte, error) {
	if len(data) < 2 || data[0] != 'S' {
		return nil, malformed("snapshot: bad magic")
	}
	if data[1] == snapshotRaw {
		if len(data)-2 > maxSnapshotBody {
			return nil, malformed("snapshot: larger than %d bytes", maxSnapshotBody)
		}
		return data[2:], nil
	}
	if data[1] != snapshotFormat {
		return nil, malformed("snapshot: unknown format version %d", data[1])
	}
	fr := flate.NewReader(bytes.NewReader(data[2:]))
	defer fr.Close()
	var buf bytes.Buffer
	buf.Grow(len(data) * 4)
	n, err := io.Copy(&buf, io.LimitReader(fr, maxSnapshotBody+1))
	if err != nil {
		return nil, malformed("snapshot: inflate: %v", err)
	}
	if n > maxSnapshotBody {
		return nil, malformed("snapshot: larger than %d bytes", maxSnapshotBody)
	}
	return buf.Bytes(), nil
}

// LoadSnapshot decodes a snapshot made by Snapshot into a new doc. It
// validates everything and never panics on bad input.
func LoadSnapshot(data []byte) (*Doc, error) {
	body, err := decompress(data)
	if err != nil {
		return nil, err
	}
	r := &reader{b: body}
	d := NewDoc()
	if d.vv, err = r.versionVector(); err != nil {
		return nil, err
	}
	clock, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	d.clock.Observe(Timestamp(clock))
	nrep, err := r.count(8)
	if err != nil {
		return nil, err
	}
	reps := make([]ReplicaID, nrep)
	for i := range reps {
		v, err := r.u64()
		if err != nil {
			return nil, err
		}
		reps[i] = ReplicaID(v)
		if v == 0 || (i > 0 && reps[i] <= reps[i-1]) {
			return nil, malformed("snapshot: replica table not strictly ascending")
		}
	}
	nkeys, err := r.count(1)
	if err != nil {
		return nil, err
	}
	keys := make([]string, nkeys)
	for i := range keys {
		if keys[i], err = r.string(); err != nil {
			return nil, err
		}
		if keys[i] == "" || len(keys[i]) > MaxKeyLen || (i > 0 && keys[i] <= keys[i-1]) {
			return nil, malformed("snapshot: key table not strictly ascending")
		}
	}
	key := func() (string, error) {
		i, err := r.uvarint()
		if err != nil {
			return "", err
		}
		if i >= uint64(len(keys)) {
			return "", malformed("snapshot: key index %d out of range", i)
		}
		return keys[i], nil
	}
	stamp := func() (Stamp, error) {
		delta, err := r.uvarint()
		if err != nil {
			return Stamp{}, err
		}
		i, err := r.uvarint()
		if err != nil {
			return Stamp{}, err
		}
		if delta >= clock || i >= uint64(len(reps)) {
			return Stamp{}, malformed("snapshot: bad stamp")
		}
		return Stamp{TS: Timestamp(clock - delta), Replica: reps[i]}, nil
	}
	nel, err := r.count(20)
	if err != nil {
		return nil, err
	}
	texts := newTextPool()
	elems, err := loadElements(r, nel, key, stamp, texts)
	if err != nil {
		// A bad text before the bad element is the first error.
		if terr := texts.wait(); terr != nil {
			return nil, terr
		}
		return nil, err
	}
	// The element map is filled alongside the tree's decoding, which does
	// not need it, when there is a spare processor.
	d.elems = make(map[ElementID]*element, nel)
	d.lastElem = nil
	fill := func() {
		for _, e := range elems {
			d.elems[e.id] = e
		}
	}
	var filled chan struct{}
	if texts.workers > 0 && nel >= 4096 {
		filled = make(chan struct{})
		go func() { fill(); close(filled) }()
	} else {
		fill()
	}
	d.tree, err = decodeTreeState(r)
	if filled != nil {
		<-filled
	}
	if err != nil {
		texts.wait()
		return nil, err
	}
	// The texts are decoded by now, or are being decoded alongside.
	if err := texts.wait(); err != nil {
		return nil, err
	}
	for _, m := range d.tree.moves() {
		if !d.exists(m.Node) || (m.Parent != Root && !d.exists(m.Parent)) {
			return nil, malformed("snapshot: move of an unknown element")
		}
	}
	nh, err := r.count(8)
	if err != nil {
		return nil, err
	}
	held := make([]Change, nh)
	for i := range held {
		l, err := r.uvarint()
		if err != nil {
			return nil, err
		}
		b, err := r.bytes(int(min(l, uint64(r.len()+1))))
		if err != nil {
			return nil, err
		}
		if held[i], err = DecodeChange(b); err != nil {
			return nil, fmt.Errorf("snapshot: held change %d: %w", i, err)
		}
	}
	if r.len() != 0 {
		return nil, malformed("snapshot: %d trailing bytes", r.len())
	}
	for _, c := range held {
		if _, _, err := d.Apply(c); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// loadElements reads the element section of a snapshot, in id order; the
// text states go to texts.
func loadElements(r *reader, nel int, key func() (string, error), stamp func() (Stamp, error), texts *textPool) ([]*element, error) {
	list := make([]*element, 0, nel)
	// The doc's parts come from slabs: a few allocations for thousands of
	// elements, properties and texts instead of one each.
	var (
		elems  slab[element]
		props  slab[prop]
		votes  slab[voteReg]
		fields slab[textField]
	)
	var prev ElementID
	for i := 0; i < nel; i++ {
		id, err := r.elementID()
		if err != nil {
			return nil, err
		}
		if id == Root || (i > 0 && bytes.Compare(id[:], prev[:]) <= 0) {
			return nil, malformed("snapshot: element ids not strictly ascending")
		}
		prev = id
		e := &elems.take(1, true)[0]
		e.id = id
		kind, err := key()
		if err != nil {
			return nil, err
		}
		if e.kind.s, err = stamp(); err != nil {
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
			if e.deleted.s, err = stamp(); err != nil {
				return nil, err
			}
			e.deleted.v = Bool(flags&2 != 0)
		}
		np, err := r.count(4)
		if err != nil {
			return nil, err
		}
		e.props = props.take(np, true)
		for j := range e.props {
			p := &e.props[j]
			if p.key, err = key(); err != nil {
				return nil, err
			}
			if j > 0 && p.key <= e.props[j-1].key {
				return nil, malformed("snapshot: property keys not ascending")
			}
			if p.v, err = r.value(); err != nil {
				return nil, err
			}
			if p.s, err = stamp(); err != nil {
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
			if k.key, err = key(); err != nil {
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
			if vr.s, err = stamp(); err != nil {
				return nil, err
			}
			if e.votes == nil {
				e.votes = votes.take(nv, true)[:0]
			}
			e.votes = append(e.votes, voteReg{k, vr})
		}
		nt, err := r.count(2)
		if err != nil {
			return nil, err
		}
		if nt > 0 {
			e.texts = fields.take(nt, true)[:0]
		}
		for j := 0; j < nt; j++ {
			k, err := key()
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
			texts.add(b, &e.texts[j])
		}
		list = append(list, e)
	}
	return list, nil
}

// Missing returns the part of a log of changes that a peer at version have
// lacks, in log order; changes it has in part are trimmed to what it lacks.
// A log in the order a replica applied it is in causal order, and so is the
// result.
func Missing(log []Change, have VersionVector) []Change {
	var out []Change
	for i := range log {
		if c, ok := log[i].After(have[log[i].Replica]); ok {
			out = append(out, c)
		}
	}
	return out
}
