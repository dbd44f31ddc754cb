package crdt

// Timestamp is a hybrid logical clock reading: milliseconds of physical time
// in the upper 48 bits and a logical counter in the lower 16. Comparing two
// Timestamps as integers compares them as HLC readings. When the logical part
// overflows it carries into the milliseconds, which keeps the order strict.
//
// Rejected: a separate (wall, logical) pair. One integer compares, encodes
// and stores in 8 bytes, and 48 bits of milliseconds last until year 10889.
type Timestamp uint64

const logicalBits = 16

// MakeTimestamp builds a Timestamp from milliseconds and a logical counter.
func MakeTimestamp(wallMs uint64, logical uint16) Timestamp {
	return Timestamp(wallMs<<logicalBits | uint64(logical))
}

// WallMs returns the physical part in milliseconds since the Unix epoch.
func (t Timestamp) WallMs() uint64 { return uint64(t) >> logicalBits }

// Logical returns the logical part.
func (t Timestamp) Logical() uint16 { return uint16(t) }

// Clock is a hybrid logical clock. The package never reads time itself: the
// caller passes physical time in milliseconds to Next. Tick it with Observe
// for every timestamp received so that local ops always sort after what the
// replica has seen.
type Clock struct {
	last Timestamp
}

// Next returns a timestamp greater than every one issued or observed, and at
// least physMs. span reserves that many consecutive readings (one per
// counter of a change) and Next returns the first of them.
func (c *Clock) Next(physMs int64, span uint64) Timestamp {
	if span == 0 {
		span = 1
	}
	t := c.last + 1
	if physMs > 0 {
		if p := MakeTimestamp(uint64(physMs), 0); p > t {
			t = p
		}
	}
	c.last = t + Timestamp(span) - 1
	return t
}

// Observe records a timestamp seen on a remote op.
func (c *Clock) Observe(t Timestamp) {
	if t > c.last {
		c.last = t
	}
}

// Last returns the largest timestamp issued or observed.
func (c *Clock) Last() Timestamp { return c.last }

// Stamp totally orders ops for last-writer-wins registers and for the tree's
// move log: by HLC timestamp, then by replica id. Two ops never share a
// Stamp: a replica's timestamps strictly increase with its counter.
type Stamp struct {
	TS      Timestamp
	Replica ReplicaID
}

// Compare returns -1, 0 or +1 as a sorts before, equal to, or after b.
func (a Stamp) Compare(b Stamp) int {
	switch {
	case a.TS < b.TS:
		return -1
	case a.TS > b.TS:
		return 1
	case a.Replica < b.Replica:
		return -1
	case a.Replica > b.Replica:
		return 1
	}
	return 0
}

// Less reports whether a sorts before b.
func (a Stamp) Less(b Stamp) bool { return a.Compare(b) < 0 }

// IsZero reports whether s is the zero stamp (no write yet).
func (s Stamp) IsZero() bool { return s.TS == 0 && s.Replica == 0 }
