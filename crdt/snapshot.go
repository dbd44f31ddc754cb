package crdt

import (
	"bytes"
	"compress/flate"
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
func (d *Doc) Snapshot() []byte { return compress(d.snapshotBody(true)) }

// SnapshotRaw returns the same state uncompressed ('S', 2, body): the form
// to store where the storage compresses its own blocks, and to load
// fastest (no inflate). LoadSnapshot reads both forms.
func (d *Doc) SnapshotRaw() []byte { return rawForm(d.snapshotBody(true)) }

// SnapshotRawApplied is SnapshotRaw without the held changes: the state
// of what the doc applied, for a client, which is to get a change only
// once its server applies it (a held change can still be refused there).
func (d *Doc) SnapshotRawApplied() []byte { return rawForm(d.snapshotBody(false)) }

func rawForm(body []byte) []byte {
	out := make([]byte, 0, len(body)+2)
	out = append(out, 'S', snapshotRaw)
	return append(out, body...)
}

// snapshotBody encodes the doc's state; withHeld: its held changes too
// (else none).
func (d *Doc) snapshotBody(withHeld bool) []byte {
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

	enc := &snapEncoder{clock: d.clock.top, replicas: make(map[ReplicaID]uint64, len(reps)), keys: make(map[string]uint64, len(keys))}
	enc.b, _ = d.vv.vector().AppendBinary(enc.b)
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
		if withHeld {
			held = append(held, h)
		}
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
