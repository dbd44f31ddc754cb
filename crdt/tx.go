package crdt

import (
	"fmt"
	"unicode/utf8"
)

// Tx builds one local change. Each op is applied to the doc at once — the
// user sees their edit immediately — and Commit returns the Change to send
// to peers. A Tx cannot be rolled back (use an UndoManager for that), and
// the doc must not Apply remote changes while a Tx is open.
type Tx struct {
	d    *Doc
	c    Change
	next uint64
	done bool
	// blocked: the replica has changes of its own held for missing
	// dependencies; numbering a new change after the version vector would
	// reuse their counters, so every op is refused until they apply.
	blocked bool
	// spent: the doc's clock has no readings left for a change (Clock.Next;
	// only forged timestamps could get it there): every op is refused
	// rather than stamped with a reading that wraps round.
	spent bool

	// Set by UndoManager: where to record inverses, and for whom.
	undo     *UndoManager
	undoKind int // 0 edit, 1 undo, 2 redo
	capture  *[]inverse
}

// Begin opens a transaction for replica r at physical time nowMs
// (milliseconds since the Unix epoch, read by the caller). The Tx is a
// value, so the hot path of one small change allocates nothing for it.
func (d *Doc) Begin(r ReplicaID, nowMs int64) Tx { return d.begin(r, nowMs, nil) }

func (d *Doc) begin(r ReplicaID, nowMs int64, ops []Op) Tx {
	if d.inTx {
		panic("crdt: Begin while another transaction is open")
	}
	if r == 0 {
		panic("crdt: Begin with replica id 0")
	}
	d.inTx = true
	start := d.vv.get(r) + 1
	blocked := false
	if len(d.heldBy) > 0 {
		_, blocked = d.heldRep[r]
	}
	t, ok := d.clock.start(nowMs)
	return Tx{d: d, c: Change{Replica: r, Start: start, Time: t, Ops: ops}, next: start, blocked: blocked, spent: !ok}
}

// BeginInto is Begin for a caller that is done with each change before it
// begins the next, as one that encodes a change the moment it commits it:
// the change's ops are stored in ops[:0] (growing it if it is too small),
// so the returned Change's Ops alias ops' array, and reusing one buffer
// makes a local edit allocate nothing for its ops. With a nil or
// zero-capacity ops it is Begin.
//
// Rejected: recycling Begin's own op slab on the next Begin. Callers keep
// changes until their peers acknowledge them (Begin's contract), and a
// recycled slab would rewrite them underneath; the reuse has to be the
// caller's explicit choice.
func (d *Doc) BeginInto(r ReplicaID, nowMs int64, ops []Op) Tx {
	if cap(ops) == 0 {
		ops = nil // push carves from the slab
	}
	// The ops past the new change's end keep their strings until
	// overwritten: a few stale strings, not worth clearing per change.
	return d.begin(r, nowMs, ops[:0])
}

// push appends an op to the change. A change's first op is carved from a
// shared slab (capacity 1, so a later append copies out instead of
// overwriting a neighbour): most changes hold one op, and this saves an
// allocation per change.
func (tx *Tx) push(op Op) {
	if tx.c.Ops == nil {
		d := tx.d
		if len(d.opSlab) == 0 {
			d.opSlab = make([]Op, 128) // 24 KiB: a small-object size class
		}
		tx.c.Ops = d.opSlab[:0:1]
		d.opSlab = d.opSlab[1:]
	}
	tx.c.Ops = append(tx.c.Ops, op)
}

// add validates op, applies it and records it. On error nothing changed.
func (tx *Tx) add(op Op) error {
	if tx.done {
		return fmt.Errorf("crdt: transaction already committed: %w", ErrInvalidOp)
	}
	if err := tx.stuck(); err != nil {
		return err
	}
	if len(tx.c.Ops) >= MaxOps {
		return fmt.Errorf("crdt: transaction holds %d ops already: %w", MaxOps, ErrInvalidOp)
	}
	if err := op.validate(); err != nil {
		return err
	}
	d := tx.d
	e := d.elem(op.Element)
	if op.Type != OpCreate && (e == nil || e.kind.s.IsZero()) {
		return fmt.Errorf("crdt: %s: element %v does not exist: %w", op.Type, op.Element, ErrInvalidOp)
	}
	id := OpID{tx.c.Replica, tx.next}
	if op.Type == OpDeleteText {
		// Checked here so that nothing is captured for a bad op.
		if t := e.text(op.Key); t == nil || !t.containsRange(op.Target, op.Count) {
			return fmt.Errorf("crdt: delete_text target %v+%d is not in text %q: %w", op.Target, op.Count, op.Key, ErrInvalidOp)
		}
	}
	if tx.capture != nil {
		tx.captureBefore(&op, id)
	}
	if err := d.applyOpTo(e, &op, id, tx.c.stampAt(tx.next)); err != nil {
		if tx.capture != nil {
			*tx.capture = (*tx.capture)[:len(*tx.capture)-1]
		}
		return err
	}
	tx.push(op)
	tx.next += op.span()
	d.vv.set(tx.c.Replica, tx.next-1)
	return nil
}

// Commit closes the transaction and returns the change, or false when no op
// was added.
func (tx *Tx) Commit() (Change, bool) {
	d := tx.d
	if tx.done {
		return Change{}, false
	}
	tx.done = true
	d.inTx = false
	if len(tx.c.Ops) == 0 {
		d.createdNow = d.createdNow[:0]
		return Change{}, false
	}
	d.clock.issued(tx.c.stampAt(tx.next - 1).TS)
	d.advancedNow = append(d.advancedNow, tx.c.Replica)
	d.release(nil)
	if tx.undo != nil {
		tx.undo.committed(tx)
	}
	return tx.c, true
}

// Len returns the number of ops added so far.
func (tx *Tx) Len() int { return len(tx.c.Ops) }

// Create creates an element of the given kind (see docs/SCHEMA.md).
func (tx *Tx) Create(id ElementID, kind string) error {
	return tx.add(Op{Type: OpCreate, Element: id, Key: kind})
}

// Set writes a property.
func (tx *Tx) Set(id ElementID, key string, v Value) error {
	return tx.add(Op{Type: OpSet, Element: id, Key: key, Value: v})
}

// Delete deletes the element (a tombstone: Restore brings it back).
func (tx *Tx) Delete(id ElementID) error {
	return tx.add(Op{Type: OpDelete, Element: id, Deleted: true})
}

// Restore undeletes the element.
func (tx *Tx) Restore(id ElementID) error {
	return tx.add(Op{Type: OpDelete, Element: id, Deleted: false})
}

// Vote writes voter's register key on the element (a vote or a reaction);
// Null() or 0 withdraws it.
func (tx *Tx) Vote(id ElementID, key, voter string, v Value) error {
	return tx.add(Op{Type: OpVote, Element: id, Key: key, Voter: voter, Value: v})
}

// InsertText inserts s at rune position pos of the text field.
func (tx *Tx) InsertText(id ElementID, field string, pos int, s string) error {
	if s == "" {
		return nil
	}
	e := tx.d.elem(id)
	n := 0
	if e != nil {
		if t := e.text(field); t != nil {
			n = t.Len()
		}
	}
	if pos < 0 || pos > n {
		return fmt.Errorf("crdt: insert at %d of a text of %d runes: %w", pos, n, ErrInvalidOp)
	}
	op := Op{Type: OpInsertText, Element: id, Key: field, Text: s}
	// What op.validate checks of an op built here, without its general
	// field checks; validate words the error.
	if id.IsRoot() || !validKey(field) || len(s) > MaxTextLen || !utf8.ValidString(s) {
		if err := op.validate(); err != nil {
			return err
		}
	}
	if e == nil || e.kind.s.IsZero() {
		return fmt.Errorf("crdt: insert_text: element %v does not exist: %w", id, ErrInvalidOp)
	}
	if tx.done {
		return fmt.Errorf("crdt: transaction already committed: %w", ErrInvalidOp)
	}
	if err := tx.stuck(); err != nil {
		return err
	}
	// Local fast path: the list picks the origins and integrates at once.
	t := e.textOrNew(field)
	cid := OpID{tx.c.Replica, tx.next}
	if tx.capture != nil {
		tx.captureBefore(&op, cid)
	}
	op.Left, op.Right = t.localInsert(cid, pos, s)
	tx.push(op)
	tx.next += op.span()
	tx.d.vv.set(tx.c.Replica, tx.next-1)
	return nil
}

// insertTextBefore inserts s into the text field right before character
// before (visible or deleted) in the list's full order: undo's way of
// giving deleted text back where it was (undo.go). The field must hold
// before; the caller checked it.
func (tx *Tx) insertTextBefore(id ElementID, field string, before OpID, s string) {
	e := tx.d.elems[id]
	if s == "" || e == nil || tx.done || tx.blocked || tx.spent {
		return
	}
	t := e.text(field)
	if t == nil || !t.contains(before) {
		return
	}
	op := Op{Type: OpInsertText, Element: id, Key: field, Text: s}
	if op.validate() != nil {
		return
	}
	cid := OpID{tx.c.Replica, tx.next}
	if tx.capture != nil {
		tx.captureBefore(&op, cid)
	}
	op.Left, op.Right = t.originsBefore(before)
	t.integrate(cid, op.Left, op.Right, s)
	tx.push(op)
	tx.next += op.span()
	tx.d.vv.set(tx.c.Replica, tx.next-1)
}

// DeleteText deletes n runes from rune position pos of the text field.
func (tx *Tx) DeleteText(id ElementID, field string, pos, n int) error {
	if n == 0 {
		return nil
	}
	e := tx.d.elem(id)
	var t *textList
	if e != nil {
		t = e.text(field)
	}
	if t == nil || pos < 0 || n < 0 || pos+n > t.Len() {
		return fmt.Errorf("crdt: delete %d runes at %d: out of range: %w", n, pos, ErrInvalidOp)
	}
	tx.d.spanBuf = t.appendIDsAt(tx.d.spanBuf[:0], pos, n)
	// The spans are visible characters of t, found just now: an op on one
	// needs none of add's checks but the transaction's own and validate's
	// bounds, so it is applied directly (remove, as applyOpTo does), unless
	// the undo manager captures it or a check fails (add then says why).
	direct := tx.capture == nil && !tx.done && !tx.blocked && !tx.spent && !e.kind.s.IsZero() && !id.IsRoot() && validKey(field)
	for _, sp := range tx.d.spanBuf {
		op := Op{Type: OpDeleteText, Element: id, Key: field,
			Target: OpID{sp.Replica, sp.From}, Count: sp.To - sp.From + 1}
		if !direct || op.Count > MaxTextLen || len(tx.c.Ops) >= MaxOps {
			if err := tx.add(op); err != nil {
				return err
			}
			continue
		}
		t.remove(op.Target, op.Count)
		tx.push(op)
		tx.next++
		tx.d.vv.set(tx.c.Replica, tx.next-1)
	}
	return nil
}

// Move makes the element a child of parent (Root for the board) at the
// fractional position pos among its siblings ("" sorts first). A move that
// would put an element under itself, or an element of its subtree deeper
// than MaxTreeDepth, is refused.
func (tx *Tx) Move(id, parent ElementID, pos string) error {
	if parent != Root {
		if !tx.d.exists(parent) {
			return fmt.Errorf("crdt: move: parent %v does not exist: %w", parent, ErrInvalidOp)
		}
		if parent == id || tx.d.tree.isAncestor(id, parent) {
			return fmt.Errorf("crdt: move: %v would become its own ancestor: %w", id, ErrInvalidOp)
		}
		if !tx.d.tree.allows(id, parent) {
			return fmt.Errorf("crdt: move: %v would put an element deeper than %d levels: %w", id, MaxTreeDepth, ErrInvalidOp)
		}
	}
	return tx.add(Op{Type: OpMove, Element: id, Parent: parent, Pos: pos})
}

// stuck says why no op may be added: the replica's own changes are held
// (blocked), or the clock is spent; nil when ops may be added.
func (tx *Tx) stuck() error {
	switch {
	case tx.blocked:
		return errBlocked(tx.c.Replica)
	case tx.spent:
		return fmt.Errorf("crdt: the doc's clock is at %d, too close to 2^64 for another change: %w", tx.d.clock.Last(), ErrInvalidOp)
	}
	return nil
}

func errBlocked(r ReplicaID) error {
	return fmt.Errorf("crdt: replica %v has changes of its own waiting for dependencies; edit once they apply: %w", r, ErrMissing)
}

func (d *Doc) exists(id ElementID) bool {
	e := d.elem(id)
	return e != nil && !e.kind.s.IsZero()
}
