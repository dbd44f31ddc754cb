package crdt

// UndoManager gives one replica undo and redo of its own changes, and only
// of its own: undoing never reverts what someone else wrote since.
//
//   - A property, vote or tombstone write is reverted only while the
//     register still holds this replica's write; if another replica wrote
//     after it, their write stands and the undo leaves it alone.
//   - Inserted text is undone by deleting exactly the characters inserted
//     (their ids, wherever they are now); deleted text is undone by
//     inserting the same content again where it was.
//   - A move is reverted only while it is still the move that places the
//     node.
//
// Undo and redo make ordinary changes that the caller sends like any other.
// Rejected: "undo as the inverse op applied at the original stamp", which
// would need every replica to keep undo state, and would revert other
// people's later writes.
type UndoManager struct {
	d          *Doc
	replica    ReplicaID
	undo, redo [][]inverse
	// Limit bounds the undo history (0: 1000 steps).
	Limit int
}

// inverse is what it takes to revert one op.
type inverse struct {
	op      Op    // the op as applied
	mine    Stamp // the stamp it was applied with
	prev    Value // set, vote, delete: the register's value before
	existed bool  // set, vote, delete: the register had been written before
	prevS   Stamp // set, vote, delete: the stamp of the register's write before
	// move: where the node was before.
	prevParent ElementID
	prevPos    string
	// insert_text: the ids inserted; delete_text: the content removed.
	first   OpID
	count   uint64
	content string
}

// NewUndoManager returns an undo manager for replica r's edits on d.
func NewUndoManager(d *Doc, r ReplicaID) *UndoManager {
	return &UndoManager{d: d, replica: r}
}

// Begin opens a transaction whose ops become one undo step at Commit.
func (u *UndoManager) Begin(nowMs int64) Tx {
	tx := u.d.Begin(u.replica, nowMs)
	tx.undo = u
	tx.capture = &[]inverse{}
	return tx
}

// CanUndo and CanRedo report whether a step is available.
func (u *UndoManager) CanUndo() bool { return len(u.undo) > 0 }
func (u *UndoManager) CanRedo() bool { return len(u.redo) > 0 }

func (u *UndoManager) push(stack *[][]inverse, step []inverse) {
	limit := u.Limit
	if limit <= 0 {
		limit = 1000
	}
	*stack = append(*stack, step)
	if len(*stack) > limit {
		*stack = append((*stack)[:0], (*stack)[len(*stack)-limit:]...)
	}
}

// committed is called by Tx.Commit for transactions opened by Begin, Undo
// or Redo.
func (u *UndoManager) committed(tx *Tx) {
	step := *tx.capture
	if len(step) == 0 {
		return
	}
	switch tx.undoKind {
	case 0: // a new edit
		u.push(&u.undo, step)
		u.redo = u.redo[:0]
	case 1: // an undo
		u.push(&u.redo, step)
	case 2: // a redo
		u.push(&u.undo, step)
	}
}

// Undo reverts the latest step. It returns the change to send, or false if
// there was nothing to undo or nothing of it was still this replica's.
func (u *UndoManager) Undo(nowMs int64) (Change, bool) {
	return u.replay(&u.undo, 1, nowMs)
}

// Redo re-applies the latest undone step.
func (u *UndoManager) Redo(nowMs int64) (Change, bool) {
	return u.replay(&u.redo, 2, nowMs)
}

func (u *UndoManager) replay(stack *[][]inverse, kind int, nowMs int64) (Change, bool) {
	for len(*stack) > 0 {
		step := (*stack)[len(*stack)-1]
		*stack = (*stack)[:len(*stack)-1]
		tx := u.d.Begin(u.replica, nowMs)
		tx.undo = u
		tx.undoKind = kind
		tx.capture = &[]inverse{}
		for i := len(step) - 1; i >= 0; i-- {
			u.revert(&tx, &step[i])
		}
		made := tx.capture
		if c, ok := tx.Commit(); ok {
			u.restamp(step, *made)
			return c, true
		}
		// Nothing of this step was still ours: try the one before.
	}
	return Change{}, false
}

// restamp follows the registers an undo or redo (made, reverting step)
// gave back their earlier values: such a value is now held under the new
// write's stamp, so every step that wrote it (its inverse's mine is the
// stamp the reverted op replaced) is told the new stamp, and it still
// counts as this replica's write. Without it, undoing two steps that wrote
// one register reverted only the later (the earlier's stamp was gone) and
// went on to the step before.
func (u *UndoManager) restamp(step, made []inverse) {
	replaced := map[Stamp]Stamp{} // the reverted op's stamp → the stamp it had replaced
	for i := range step {
		if in := &step[i]; in.existed {
			replaced[in.mine] = in.prevS
		}
	}
	re := map[Stamp]Stamp{} // the stamp a value was written with → the new write of it
	for i := range made {
		switch m := &made[i]; m.op.Type {
		case OpSet, OpVote, OpDelete:
			if was, ok := replaced[m.prevS]; ok && m.existed {
				re[was] = m.mine
			}
		}
	}
	if len(re) == 0 {
		return
	}
	for _, stack := range [][][]inverse{u.undo, u.redo} {
		for _, st := range stack {
			for i := range st {
				switch in := &st[i]; in.op.Type {
				case OpSet, OpVote, OpDelete:
					if n, ok := re[in.mine]; ok {
						in.mine = n
					}
				}
			}
		}
	}
}

// revert adds to tx the ops that undo one inverse, where it is still ours.
func (u *UndoManager) revert(tx *Tx, in *inverse) {
	d := u.d
	op := &in.op
	e := d.elems[op.Element]
	if e == nil {
		return
	}
	prevOrNull := func() Value {
		if in.existed {
			return in.prev
		}
		return Null()
	}
	switch op.Type {
	case OpCreate:
		if !e.deleted.v.AsBool() {
			tx.Delete(op.Element)
		}
	case OpSet:
		if r := e.prop(op.Key); r != nil && r.s == in.mine {
			tx.Set(op.Element, op.Key, prevOrNull())
		}
	case OpDelete:
		if e.deleted.s == in.mine {
			tx.add(Op{Type: OpDelete, Element: op.Element, Deleted: in.existed && in.prev.AsBool()})
		}
	case OpVote:
		if r := e.vote(voteKey{op.Key, op.Voter}); r != nil && r.s == in.mine {
			tx.Vote(op.Element, op.Key, op.Voter, prevOrNull())
		}
	case OpMove:
		if s, ok := d.tree.lastMoveBy(op.Element); ok && s == in.mine {
			if in.prevParent == Root || (d.exists(in.prevParent) && !d.tree.isAncestor(op.Element, in.prevParent) && in.prevParent != op.Element) {
				tx.Move(op.Element, in.prevParent, in.prevPos)
			}
		}
	case OpInsertText:
		if t := e.text(op.Key); t != nil && t.containsRange(in.first, in.count) {
			// Delete only what is still visible, span by span, so the op
			// says what it removed.
			for _, sp := range liveSpans(t, in.first, in.count) {
				tx.add(Op{Type: OpDeleteText, Element: op.Element, Key: op.Key,
					Target: OpID{sp.Replica, sp.From}, Count: sp.To - sp.From + 1})
			}
		}
	case OpDeleteText:
		// Given back as new characters right before the first one deleted
		// (in the full order, tombstones included), not at its visible
		// position: a visible position is ambiguous among tombstones, and
		// text of one's own anchored to the deleted characters (an insert
		// redone after this) must land on the same side of it as before.
		if t := e.text(op.Key); t != nil && in.content != "" && t.contains(in.first) {
			tx.insertTextBefore(op.Element, op.Key, in.first, in.content)
		}
	}
}

// liveSpans returns the visible characters among first..first+n-1.
func liveSpans(t *textList, first OpID, n uint64) []Span {
	var out []Span
	for i := uint64(0); i < n; i++ {
		id := OpID{first.Replica, first.Counter + i}
		if _, vis := t.posOf(id); !vis {
			continue
		}
		if k := len(out); k > 0 && out[k-1].To+1 == id.Counter {
			out[k-1].To++
		} else {
			out = append(out, Span{first.Replica, id.Counter, id.Counter})
		}
	}
	return out
}

// captureBefore records, before op is applied by tx, what reverting it
// takes.
func (tx *Tx) captureBefore(op *Op, id OpID) {
	d := tx.d
	in := inverse{op: *op, mine: tx.c.stampAt(id.Counter)}
	e := d.elems[op.Element]
	switch op.Type {
	case OpSet:
		if e != nil {
			if r := e.prop(op.Key); r != nil {
				in.prev, in.existed, in.prevS = r.v, true, r.s
			}
		}
	case OpDelete:
		if e != nil && !e.deleted.s.IsZero() {
			in.prev, in.existed, in.prevS = e.deleted.v, true, e.deleted.s
		}
	case OpVote:
		if e != nil {
			if r := e.vote(voteKey{op.Key, op.Voter}); r != nil {
				in.prev, in.existed, in.prevS = r.v, true, r.s
			}
		}
	case OpMove:
		in.prevParent, in.prevPos, _ = d.tree.parentOf(op.Element)
	case OpDeleteText:
		t := e.text(op.Key)
		in.first = op.Target
		// Only what this op makes invisible can be given back.
		var b []rune
		var all []rune
		for i := uint64(0); i < op.Count; i++ {
			c := OpID{op.Target.Replica, op.Target.Counter + i}
			if pos, vis := t.posOf(c); vis {
				if all == nil {
					all = []rune(t.String())
				}
				b = append(b, all[pos])
			}
		}
		in.content = string(b)
	case OpInsertText:
		in.first, in.count = id, op.span()
	}
	*tx.capture = append(*tx.capture, in)
}
