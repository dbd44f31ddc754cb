package crdt

import (
	"fmt"
	"unicode/utf8"
)

// OpType says what an Op does.
type OpType uint8

// The op types. Each names the fields of Op it uses.
const (
	// OpCreate creates an element. Key is the element kind ("note",
	// "shape", ...; unknown kinds are kept). Creating an existing id again
	// only rewrites the kind register (last writer wins).
	OpCreate OpType = 1 + iota
	// OpSet writes Value to the property register Key (last writer wins).
	OpSet
	// OpDelete writes the element's tombstone register: Deleted=true
	// deletes, Deleted=false restores (undo of a delete).
	OpDelete
	// OpInsertText inserts Text into the text field Key between the
	// characters Left and Right (zero ids: start and end of the text).
	// The i-th rune gets the id (change replica, op counter + i).
	OpInsertText
	// OpDeleteText deletes the Count characters Target.Counter ..
	// Target.Counter+Count-1 of replica Target.Replica from text field Key.
	OpDeleteText
	// OpMove makes the element a child of Parent (an element or Root) at
	// fractional position Pos among its siblings.
	OpMove
	// OpVote writes Value to the per-voter register (Key, Voter) of the
	// element: a vote or a reaction. Null or 0 withdraws it.
	OpVote
	opTypeEnd
)

var opTypeNames = [...]string{"", "create", "set", "delete", "insert_text", "delete_text", "move", "vote"}

func (t OpType) String() string {
	if t == 0 || t >= opTypeEnd {
		return fmt.Sprintf("op(%d)", uint8(t))
	}
	return opTypeNames[t]
}

// Op is one change to a board. The fields used depend on Type (see the
// OpType constants); unused fields must be zero.
type Op struct {
	// Fields are ordered for size (strings and ids first, flags last):
	// ops are the unit of allocation on the hot path.
	Type    OpType
	Deleted bool // delete
	Element ElementID
	Key     string    // create: kind; set/vote: property or vote key; text ops: text field
	Value   Value     // set, vote
	Left    OpID      // insert_text: character before
	Right   OpID      // insert_text: character after
	Text    string    // insert_text
	Target  OpID      // delete_text: first character deleted
	Count   uint64    // delete_text: number of characters (consecutive counters)
	Parent  ElementID // move
	Pos     string    // move: fractional-index key among siblings
	Voter   string    // vote: the user whose register this is
}

// Limits on op fields, enforced by validation and by every decoder.
const (
	MaxKeyLen   = 128     // bytes of a key, kind or voter
	MaxTextLen  = 1 << 16 // bytes of text in one insert
	MaxValueLen = 1 << 20 // bytes of one value's JSON or string
	MaxOps      = 1 << 16 // ops in one change
)

// span is the number of counters the op takes: one per inserted rune for
// insert_text, one otherwise.
func (op *Op) span() uint64 {
	if op.Type == OpInsertText {
		return uint64(utf8.RuneCountInString(op.Text))
	}
	return 1
}

// Fields of Op, as bits, to say which ones an op type uses.
const (
	fKey = 1 << iota
	fValue
	fDeleted
	fLeft
	fRight
	fText
	fTarget
	fCount
	fParent
	fPos
	fVoter
)

// usedFields lists, per op type, the fields it may set; the others must be
// zero, so each op has exactly one encoding.
var usedFields = [opTypeEnd]uint16{
	OpCreate:     fKey,
	OpSet:        fKey | fValue,
	OpDelete:     fDeleted,
	OpInsertText: fKey | fLeft | fRight | fText,
	OpDeleteText: fKey | fTarget | fCount,
	OpMove:       fParent | fPos,
	OpVote:       fKey | fValue | fVoter,
}

func (op *Op) setFields() uint16 {
	var m uint16
	if op.Key != "" {
		m |= fKey
	}
	if op.Value != (Value{}) {
		m |= fValue
	}
	if op.Deleted {
		m |= fDeleted
	}
	if !op.Left.IsZero() {
		m |= fLeft
	}
	if !op.Right.IsZero() {
		m |= fRight
	}
	if op.Text != "" {
		m |= fText
	}
	if !op.Target.IsZero() {
		m |= fTarget
	}
	if op.Count != 0 {
		m |= fCount
	}
	if op.Parent != Root {
		m |= fParent
	}
	if op.Pos != "" {
		m |= fPos
	}
	if op.Voter != "" {
		m |= fVoter
	}
	return m
}

func validKey(s string) bool { return validKeyAs(s, false) }

// validKeyAs is validKey; decoded skips the UTF-8 check, which the
// decoder made (see Op.check).
func validKeyAs(s string, decoded bool) bool {
	return s != "" && len(s) <= MaxKeyLen && (decoded || utf8.ValidString(s))
}

// validate checks the op's structure (not whether it fits a document).
func (op *Op) validate() error { return op.check(false) }

// check is validate. decoded says the op comes from this package's binary
// decoder, which sets only the fields of the op's type, reads only UTF-8
// strings and only valid values (change_codec.go): those checks are then
// skipped, as a node decodes every change it applies. Every other check
// runs either way, so a decoder that missed one is still caught here.
func (op *Op) check(decoded bool) error {
	if op.Type == 0 || op.Type >= opTypeEnd {
		return malformed("unknown op type %d", op.Type)
	}
	if op.Element.IsRoot() {
		return malformed("%s op: element id is zero (the board root)", op.Type)
	}
	if !decoded && op.setFields()&^usedFields[op.Type] != 0 {
		return malformed("%s op: field set that this op type does not use", op.Type)
	}
	if usedFields[op.Type]&fKey != 0 && !validKeyAs(op.Key, decoded) {
		return malformed("%s op: bad key %q", op.Type, op.Key)
	}
	switch op.Type {
	case OpSet:
		if !decoded {
			if err := op.Value.valid(); err != nil {
				return err
			}
		}
		if len(op.Value.str) > MaxValueLen {
			return malformed("set op: value longer than %d bytes", MaxValueLen)
		}
	case OpInsertText:
		if op.Text == "" || len(op.Text) > MaxTextLen || !decoded && !utf8.ValidString(op.Text) {
			return malformed("insert_text op: text empty, too long or not UTF-8")
		}
		if (op.Left.Counter == 0) != (op.Left.Replica == 0) || (op.Right.Counter == 0) != (op.Right.Replica == 0) {
			return malformed("insert_text op: half-zero origin id")
		}
	case OpDeleteText:
		if op.Target.Replica == 0 || op.Target.Counter == 0 || op.Count == 0 || op.Count > MaxTextLen ||
			op.Target.Counter+op.Count < op.Target.Counter {
			return malformed("delete_text op: bad target range")
		}
	case OpMove:
		if op.Pos != "" {
			if err := ValidKey(op.Pos); err != nil {
				return err
			}
		}
		if op.Parent == op.Element {
			return malformed("move op: element cannot be its own parent")
		}
	case OpVote:
		if !validKeyAs(op.Voter, decoded) {
			return malformed("vote op: bad voter %q", op.Voter)
		}
		if k := op.Value.Kind(); k != KindNull && k != KindNumber && k != KindBool && k != KindString {
			return malformed("vote op: value must be null, a bool, a number or a string")
		}
		if !decoded {
			if err := op.Value.valid(); err != nil {
				return err
			}
		}
		if len(op.Value.str) > MaxKeyLen {
			return malformed("vote op: value longer than %d bytes", MaxKeyLen)
		}
	}
	return nil
}

// Change is a batch of ops made by one replica in one go (one user action:
// create a note with its text and position, say). Its ops take consecutive
// counters from Start, and consecutive HLC readings from Time: the op with
// counter c has Stamp{Time + (c - Start), Replica}. A change is applied all
// or nothing.
//
// A change names no causal dependencies explicitly: its ops carry their own
// (text origins and targets, the element they touch, a move's parent), and a
// replica's changes apply in counter order. Rejected: a per-change list of
// dependencies (a frontier, as Automerge and Loro keep), which costs bytes on
// every keystroke and holds back ops that do not need anything they name.
type Change struct {
	Replica ReplicaID
	Start   uint64    // counter of the first op, >= 1
	Time    Timestamp // HLC reading of the first op, >= 1
	Ops     []Op
}

// Span returns the number of counters the change takes.
func (c *Change) Span() uint64 {
	var n uint64
	for i := range c.Ops {
		n += c.Ops[i].span()
	}
	return n
}

// End returns the counter of the change's last op (or last character).
func (c *Change) End() uint64 { return c.Start + c.Span() - 1 }

// After returns the part of c whose op counters come after have (a version
// vector's entry for c's replica): c itself when it starts after have; c
// trimmed when it starts at or before have (an insert that straddles the
// boundary keeps its tail); false when c ends at or before have.
func (c *Change) After(have uint64) (Change, bool) {
	switch {
	case c.End() <= have:
		return Change{}, false
	case c.Start <= have:
		return trimChange(*c, have), true
	}
	return *c, true
}

// LastID returns the id of the change's last counter.
func (c *Change) LastID() OpID { return OpID{c.Replica, c.End()} }

// Validate checks the change's structure without a document: ids, counters,
// limits and every op. Apply calls it; servers call it on input first.
func (c *Change) Validate() error { return c.check(false) }

// check is Validate; decoded is as for Op.check.
func (c *Change) check(decoded bool) error {
	if c.Replica == 0 {
		return malformed("change: replica id is zero")
	}
	if c.Start == 0 || c.Time == 0 {
		return malformed("change: start counter and time must be >= 1")
	}
	if len(c.Ops) == 0 || len(c.Ops) > MaxOps {
		return malformed("change: %d ops (want 1..%d)", len(c.Ops), MaxOps)
	}
	span := uint64(0)
	for i := range c.Ops {
		if err := c.Ops[i].check(decoded); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
		span += c.Ops[i].span()
	}
	if c.Start+span < c.Start || uint64(c.Time)+span < uint64(c.Time) {
		return malformed("change: counters overflow")
	}
	return nil
}

// stampAt returns the stamp of the op at counter ctr of this change.
func (c *Change) stampAt(ctr uint64) Stamp {
	return Stamp{TS: c.Time + Timestamp(ctr-c.Start), Replica: c.Replica}
}
