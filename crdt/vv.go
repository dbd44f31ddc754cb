package crdt

import (
	"slices"
)

// VersionVector maps each replica to the highest counter of its ops that a
// replica has applied. Because a replica's ops are applied in counter order
// (see Doc.Apply), the vector says exactly which ops are present: op (r, c)
// is present if and only if c <= v[r]. A missing entry is 0.
type VersionVector map[ReplicaID]uint64

// Get returns v[r], 0 when absent.
func (v VersionVector) Get(r ReplicaID) uint64 { return v[r] }

// Contains reports whether the op id is covered by v.
func (v VersionVector) Contains(id OpID) bool { return id.Counter <= v[id.Replica] }

// Clone returns a copy of v.
func (v VersionVector) Clone() VersionVector {
	out := make(VersionVector, len(v))
	for r, c := range v {
		out[r] = c
	}
	return out
}

// Merge raises v to cover everything other covers.
func (v VersionVector) Merge(other VersionVector) {
	for r, c := range other {
		if c > v[r] {
			v[r] = c
		}
	}
}

// Ordering is the result of comparing two version vectors.
type Ordering int

// Orderings of version vectors.
const (
	Equal      Ordering = iota // both cover the same ops
	Before                     // a covers strictly less than b
	After                      // a covers strictly more than b
	Concurrent                 // each covers an op the other lacks
)

func (o Ordering) String() string {
	return [...]string{"equal", "before", "after", "concurrent"}[o]
}

// Compare tells how a relates to b.
func (v VersionVector) Compare(b VersionVector) Ordering {
	less, more := false, false
	for r, c := range v {
		if c > b[r] {
			more = true
		} else if c < b[r] {
			less = true
		}
	}
	for r, c := range b {
		if _, ok := v[r]; !ok && c > 0 {
			less = true
		}
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// Span is a run of one replica's counters, From..To inclusive.
type Span struct {
	Replica  ReplicaID
	From, To uint64
}

// Missing lists, replica by replica in ascending id order, the spans of ops
// that v covers and have does not: what a peer at version have lacks.
func (v VersionVector) Missing(have VersionVector) []Span {
	var out []Span
	for _, r := range v.Replicas() {
		if c, h := v[r], have[r]; c > h {
			out = append(out, Span{Replica: r, From: h + 1, To: c})
		}
	}
	return out
}

// Replicas returns the replicas of v in ascending order.
func (v VersionVector) Replicas() []ReplicaID {
	rs := make([]ReplicaID, 0, len(v))
	for r, c := range v {
		if c > 0 {
			rs = append(rs, r)
		}
	}
	slices.Sort(rs)
	return rs
}

// AppendBinary appends the canonical binary form: uvarint n, then n pairs of
// (replica as 8 bytes little-endian, counter as uvarint), replicas ascending,
// zero entries left out.
func (v VersionVector) AppendBinary(b []byte) ([]byte, error) {
	rs := v.Replicas()
	b = appendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = appendU64(b, uint64(r))
		b = appendUvarint(b, v[r])
	}
	return b, nil
}

// MarshalBinary returns the canonical binary form.
func (v VersionVector) MarshalBinary() ([]byte, error) { return v.AppendBinary(nil) }

// UnmarshalBinary decodes the form written by MarshalBinary. Replicas must be
// strictly ascending and counters non-zero, so each vector has one encoding.
func (v *VersionVector) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	out, err := r.versionVector()
	if err != nil {
		return err
	}
	if r.len() != 0 {
		return malformed("version vector: %d trailing bytes", r.len())
	}
	*v = out
	return nil
}

// versions is a Doc's version vector, shaped for the apply path: each
// replica's counter sits behind a pointer and the last replica looked up
// is remembered, so a run of changes from one replica (someone typing)
// reads and advances its counter without hashing its id. Rejected: a
// VersionVector with a cache beside it, which every write would have to
// keep in step.
type versions struct {
	m     map[ReplicaID]*uint64
	lastR ReplicaID
	last  *uint64
}

func newVersions() versions { return versions{m: map[ReplicaID]*uint64{}} }

// versionsOf returns versions holding v's entries.
func versionsOf(v VersionVector) versions {
	out := versions{m: make(map[ReplicaID]*uint64, len(v))}
	for r, c := range v {
		n := c
		out.m[r] = &n
	}
	return out
}

// get returns r's counter, 0 when absent.
func (v *versions) get(r ReplicaID) uint64 {
	if v.last != nil && r == v.lastR {
		return *v.last
	}
	p := v.m[r]
	if p == nil {
		return 0
	}
	v.lastR, v.last = r, p
	return *p
}

// set makes r's counter n.
func (v *versions) set(r ReplicaID, n uint64) {
	if v.last == nil || r != v.lastR {
		p := v.m[r]
		if p == nil {
			p = new(uint64)
			v.m[r] = p
		}
		v.lastR, v.last = r, p
	}
	*v.last = n
}

// contains is VersionVector.Contains.
func (v *versions) contains(id OpID) bool { return id.Counter <= v.get(id.Replica) }

// vector returns a copy as a VersionVector.
func (v *versions) vector() VersionVector {
	out := make(VersionVector, len(v.m))
	for r, p := range v.m {
		out[r] = *p
	}
	return out
}
