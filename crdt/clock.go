package crdt

import "slices"

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

// MaxTime is the largest timestamp a Clock adopts from what it observes
// as it comes: milliseconds 2^47 − 1 (the year 6429), logical 0xffff. No
// clock reads that far, so a later timestamp was forged or corrupted; a
// clock that adopted one would make every later local change sort after
// it, up to the end of the 64 bits, where the next reading would wrap round
// to small ones that sort before everything (a write made after a forged
// delete would lose to it, and the first change after it would not even be
// valid).
const MaxTime Timestamp = 1<<63 - 1

// maxStep is the most readings one change reserves: MaxOps ops of
// MaxTextLen characters.
const maxStep = Timestamp(MaxOps) * MaxTextLen

// Clock is a hybrid logical clock. The package never reads time itself: the
// caller passes physical time in milliseconds to Next. Tick it with Observe
// for every timestamp received so that local ops always sort after what the
// replica has seen.
//
// A timestamp past MaxTime is adopted only when it is within one change's
// readings (maxStep) of the clock: the next change of a replica whose clock
// is already there, never a jump there. So a forged timestamp near 2^64
// leaves the clock where it was, and the clock never wraps: a later local
// change still sorts after everything else the replica has seen. The
// register the forged op wrote keeps its value against later writes (they
// sort before it); nodes refuse such timestamps from clients beforehand
// (server/room, admitTime). Every replica applies the same ops the same way
// whatever its clock, so this choice changes no replica's state, only the
// stamps of its own later changes.
//
// Rejected: refusing such changes in Validate (boards stored before nodes
// checked times may hold one: their logs must still load and replicate);
// adopting it but saturating at 2^64 − 1 (every later change of every
// replica would share one reading, or be invalid); adopting only up to
// MaxTime (a replica already past MaxTime, after a forged time just below
// it, would see its next change's time ignored by the others, whose
// changes would then sort before the ones they had seen).
type Clock struct {
	last Timestamp // the reading: the largest timestamp issued or adopted
	top  Timestamp // the largest timestamp issued or observed, adopted or not
}

// Next returns a timestamp greater than every one issued or adopted, and at
// least physMs. span reserves that many consecutive readings (one per
// counter of a change) and Next returns the first of them. A physMs past
// MaxTime (a broken clock) is ignored. Next returns 0, which is not a
// timestamp, when fewer than maxStep readings are left below 2^64 or span
// is larger than that: the clock never wraps.
func (c *Clock) Next(physMs int64, span uint64) Timestamp {
	if span == 0 {
		span = 1
	}
	t, ok := c.start(physMs)
	if !ok || span > uint64(maxStep) {
		return 0
	}
	c.issued(t + Timestamp(span) - 1)
	return t
}

// start returns the first reading of a change made at physical time physMs
// (Next without the reservation); false when fewer than maxStep readings
// are left, so that no change it starts can run past 2^64 − 1.
func (c *Clock) start(physMs int64) (Timestamp, bool) {
	if c.last >= ^Timestamp(0)-maxStep {
		return 0, false
	}
	t := c.last + 1
	if physMs > 0 && uint64(physMs) <= MaxTime.WallMs() {
		if p := MakeTimestamp(uint64(physMs), 0); p > t {
			t = p
		}
	}
	return t, true
}

// issued records the last reading of a local change.
func (c *Clock) issued(t Timestamp) {
	c.last = max(c.last, t)
	c.top = max(c.top, t)
}

// Observe records a timestamp seen on a remote op.
func (c *Clock) Observe(t Timestamp) {
	c.top = max(c.top, t)
	if t > c.last && (t <= MaxTime || t-c.last <= maxStep) {
		c.last = t
	}
}

// Last returns the clock's reading: the largest timestamp issued or
// adopted.
func (c *Clock) Last() Timestamp { return c.last }

// settle sets the reading of a clock whose doc was loaded from a
// snapshot whose clock is past MaxTime, from stamps, the timestamps of
// the doc's ops: the largest up to MaxTime, then those above it in
// ascending order while each is within maxStep of the one before. The
// reading is then what Observe would have made of the stamps in that
// order.
func (c *Clock) settle(stamps []Timestamp) {
	var above []Timestamp
	for _, t := range stamps {
		if t <= MaxTime {
			c.last = max(c.last, t)
		} else {
			above = append(above, t)
		}
	}
	slices.Sort(above)
	for _, t := range above {
		if t-c.last > maxStep {
			break
		}
		c.last = max(c.last, t)
	}
}

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
