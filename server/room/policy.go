package room

import (
	"context"
	"fmt"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// Policy is what the board's settings say about edits, beyond roles. The
// node computes it from the board's metadata; a room asks for it on load
// (Config.Policy) and is told of changes (Manager.SetPolicy).
type Policy struct {
	// Deadline (unix ms; 0: none): from then on the board is read-only
	// for everyone (code read_only) until the owner moves or clears it.
	Deadline int64
	// Voting rules the "vote" key of vote ops.
	Voting Voting
}

// Voting is the board's dot-voting session.
type Voting struct {
	// State: "" (no session: votes are free), "open" or "closed" (votes
	// refused: the result is frozen).
	State string
	// Dots a person may give in total across the board (0: no limit).
	Dots int
	// Voter maps a user to the voter id its votes must carry: a
	// pseudonym during an anonymous session. nil: the user id.
	Voter func(user string) string
}

func (v Voting) voter(user string) string {
	if v.Voter != nil {
		return v.Voter(user)
	}
	return user
}

// Loaded returns the board's room if it is loaded (nil otherwise).
func (m *Manager) Loaded(board storage.BoardID) *Room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.rooms[board]
}

// SetPolicy changes a loaded room's policy (a room that is not loaded asks
// for it when it loads).
func (m *Manager) SetPolicy(ctx context.Context, board storage.BoardID, p Policy) {
	if r := m.Loaded(board); r != nil {
		r.do(ctx, func() { r.policy = p })
	}
}

// Tell sends a frame to every session of a loaded board on this node (a
// "settings" frame: each node tells its own sessions, as each learns of a
// settings change from the metadata store itself).
func (m *Manager) Tell(ctx context.Context, board storage.BoardID, frame []byte) {
	if r := m.Loaded(board); r != nil {
		r.do(ctx, func() {
			for s := range r.sessions {
				s.Send(Outgoing{Data: frame})
			}
		})
	}
}

// Boards lists the boards whose rooms are loaded.
func (m *Manager) Boards() []storage.BoardID {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]storage.BoardID, 0, len(m.mu.rooms))
	for b := range m.mu.rooms {
		out = append(out, b)
	}
	return out
}

// Reauthorize recomputes the role of every session of a loaded board:
// role(s) returns its new role, or "" to disconnect it (CloseForbidden).
// A session whose role changes is told with a "role" frame. Use it when a
// member's role changes, a member is removed, or links are revoked: it
// takes effect before the next change of that session is admitted.
func (m *Manager) Reauthorize(ctx context.Context, board storage.BoardID, role func(s *Session) string) {
	r := m.Loaded(board)
	if r == nil {
		return
	}
	r.do(ctx, func() {
		for s := range r.sessions {
			r.applyRole(s, role(s))
		}
	})
}

// ReauthorizeSession is Reauthorize for one session of the board (a
// session that just joined, say), if it is still there.
func (m *Manager) ReauthorizeSession(ctx context.Context, board storage.BoardID, s *Session, role func(s *Session) string) {
	r := m.Loaded(board)
	if r == nil {
		return
	}
	r.do(ctx, func() {
		if _, ok := r.sessions[s]; ok {
			r.applyRole(s, role(s))
		}
	})
}

// applyRole gives a session its new role: a "role" frame, or a close
// when the role is none. The others learn the new role with the session's
// next presence frame, sent at once (a demoted presenter's spotlight stops
// being honoured). Called on the room's goroutine.
func (r *Room) applyRole(s *Session, nr string) {
	if _, ok := r.heldUser[s.Replica]; ok {
		r.heldRole[s.Replica] = nr // its held changes are admitted again as nr's (release.go)
	}
	switch {
	case nr == "":
		// No role: until the session has left, nothing it sent is
		// admitted as a role's (release.go).
		s.setRole("")
		s.Finish(protocol.CloseForbidden, "access to this board was removed", protocol.Error{
			Type: "error", Code: protocol.CodeForbidden, Message: "access to this board was removed"})
	case nr != s.User.Role:
		s.setRole(nr)
		s.SendJSON(protocol.RoleFrame{Type: protocol.TypeRole, Role: nr})
		r.dirtyPres[s] = struct{}{}
		r.schedulePresence()
	}
}

// checkPolicy refuses what the board's policy forbids in a change from
// user: anything after the deadline; votes outside an open session, over
// the dots budget, or not under the user's voter id. The vote ops that
// moves marks (a conversion, voteMoves) move dots that exist: they are
// admitted whatever the session's state and leave every budget as it was.
//
// The budget is weighed op by op, as the change would apply to the board
// now (crdt.Doc.VoteChanges): each op replaces its register (element,
// voter) with what the change's earlier ops left there, not with what the
// board held before the change, and an op older than its register's last
// write changes nothing. The voter's total before the change is the
// room's tally (dotsOf), kept as registers change: the check costs the
// change's ops, not the board's elements.
func (r *Room) checkPolicy(user string, c *crdt.Change, moves moved) (protocol.Code, error) {
	p := r.policy
	if p.Deadline != 0 && r.cfg.Now().UnixMilli() >= p.Deadline {
		return protocol.CodeReadOnly, fmt.Errorf("the board closed at its deadline")
	}
	v := p.Voting
	if v.State == "" {
		return "", nil
	}
	voter := v.voter(user)
	var (
		code    protocol.Code
		err     error
		spent   float64
		counted bool // spent holds the voter's total
	)
	r.doc.VoteChanges(c, "vote", func(i int, op *crdt.Op, before, after crdt.Value) bool {
		switch {
		case moves.has(i):
			return true
		case v.State != "open":
			code, err = protocol.CodeReadOnly, fmt.Errorf("op %d: voting is closed", i)
		case op.Voter != voter:
			code, err = protocol.CodeForbidden, fmt.Errorf("op %d: votes in this session are cast as %q", i, voter)
		case v.Dots <= 0:
			return true
		default:
			if _, ok := crdt.Dots(op.Value); !ok {
				code, err = protocol.CodeInvalidOp, fmt.Errorf("op %d: a dot vote is a whole number of dots", i)
				break
			}
			if !counted {
				spent, counted = r.dotsOf(voter), true
			}
			was, _ := crdt.Dots(before)
			now, _ := crdt.Dots(after)
			spent += now - was
			if spent > float64(v.Dots) {
				code, err = protocol.CodeForbidden, fmt.Errorf("op %d: %d dots per person in this session", i, v.Dots)
			}
		}
		return err == nil
	})
	return code, err
}

// Conversion: a sticky note becomes a mindmap node or back
// (webclient/src/convert.ts). An element's kind is fixed at creation, so a
// conversion is one change that creates the new element B, copies text
// and colour, deletes the old element A — and moves A's votes (dots and
// reactions) to B. A vote op is written under its voter and the node
// admits only one's own (ownedBy), so the votes of other people on A need
// a rule of their own, which voteMoves is: in ONE change, a vote op under
// any voter is a move when
//
//   - the change deletes exactly one live note or mindmap node, A (the
//     source), and creates exactly one new element, or restores exactly
//     one deleted one, B (the target), of the other of those two kinds;
//     neither is created again over an existing id (a kind rewrite);
//   - it writes that voter's register (key, voter) on B exactly once, with
//     exactly the value A holds in that register now (a live vote: never
//     more dots, never a vote A does not hold), B holding no live vote
//     there; and it withdraws the same register on A (null) exactly once.
//
// Both halves must be there: the dots leave A as they reach B, so a voter's
// total over the board (the budget counts deleted elements too, dotsOf)
// stays the same, restoring A later brings back nothing, and the tally,
// summary and export, which read live elements, count them once. The
// inverse of a conversion, which the client's undo makes (restore A,
// write the dots back on A, withdraw them on B, delete B), is the same
// shape with A and B swapped, and so is its redo: both are admitted by the
// same rule, checked against the board as it is when the change arrives.
// An undo after a voter changed their vote on B is refused: it would give
// them back dots they took away.
//
// A move does not cast: it is admitted while voting is closed (a
// facilitator turns the top-voted notes into a mindmap after the vote; the
// result, dots per idea, stays as it was) and is not counted against a
// budget (it leaves every voter's total unchanged). The result frozen at
// the close (GET /voting) keeps naming A, with the text and dots it had:
// the same idea, under its old id. The deadline still refuses everything. The text of B is not compared with A's: an editor may
// already rewrite a voted note's text in place.
//
// Admission is where the session is connected (DESIGN.md, "Cluster"):
// other nodes apply an admitted change as it is. A conversion is never
// held for a missing dependency (admit refuses it as rate_limited, to be
// sent again), as the check would then not be the state it applies to.
// Known limits: as for the dots budget, two conversions of one note
// admitted at the same moment on two nodes, before either reached the
// other, would both carry its dots; and a conversion sent again after its
// first copy was applied (a lost ack) is refused, as A is gone by then (the
// web client sends nothing the welcome's version shows the node has,
// sync.ts; a client that does reloads the board, which holds it).
//
// Rejected: an op that changes an element's kind (a protocol change
// every replica and the conformance vectors would have to learn, and a
// note and a node have different properties); a node endpoint POST
// /convert where the node writes the change (the change would not be the
// client's, so its undo stack could not take it back, and an offline
// client could not convert); trusting the client's word that a change is
// a conversion (anyone could then cast anyone's dots).
type moved []bool

// has reports whether op i of the change is a vote move.
func (m moved) has(i int) bool { return i < len(m) && m[i] }

// convertible says which kinds a conversion turns into each other.
func convertible(kind string) bool { return kind == "note" || kind == "mindmap" }

// voteMoves returns which of c's vote ops move a vote from a converted
// element to its replacement (see moved); nil when it moves none.
func voteMoves(d *crdt.Doc, c *crdt.Change) moved {
	votes := false
	for i := range c.Ops {
		if c.Ops[i].Type == crdt.OpVote {
			votes = true
			break
		}
	}
	if !votes {
		return nil
	}
	tomb := map[crdt.ElementID]bool{}      // the tombstone the change leaves, where it writes one
	created := map[crdt.ElementID]string{} // new elements: their kind
	again := map[crdt.ElementID]bool{}     // existing elements created again
	for i := range c.Ops {
		switch op := &c.Ops[i]; op.Type {
		case crdt.OpDelete:
			tomb[op.Element] = op.Deleted
		case crdt.OpCreate:
			if d.Kind(op.Element) == "" {
				created[op.Element] = op.Key
			} else {
				again[op.Element] = true
			}
		}
	}
	var src, dst []crdt.ElementID
	for el, del := range tomb {
		switch {
		case again[el] || !convertible(d.Kind(el)):
		case del && !d.IsDeleted(el):
			src = append(src, el)
		case !del && d.IsDeleted(el):
			dst = append(dst, el)
		}
	}
	for el, kind := range created {
		if convertible(kind) && !tomb[el] {
			dst = append(dst, el)
		}
	}
	if len(src) != 1 || len(dst) != 1 {
		return nil
	}
	a, b := src[0], dst[0]
	kb := created[b]
	if kb == "" {
		kb = d.Kind(b)
	}
	if kb == d.Kind(a) {
		return nil
	}
	type reg struct{ key, voter string }
	onA, onB := map[reg][]int{}, map[reg][]int{}
	for i := range c.Ops {
		op := &c.Ops[i]
		if op.Type != crdt.OpVote {
			continue
		}
		k := reg{op.Key, op.Voter}
		switch op.Element {
		case a:
			onA[k] = append(onA[k], i)
		case b:
			onB[k] = append(onB[k], i)
		}
	}
	out, found := make(moved, len(c.Ops)), false
	for k, w := range onB {
		n := onA[k]
		if len(w) != 1 || len(n) != 1 || !c.Ops[n[0]].Value.Equal(crdt.Null()) {
			continue
		}
		held, ok := liveVote(d, a, k.key, k.voter)
		if !ok || !held.Equal(c.Ops[w[0]].Value) {
			continue
		}
		if _, ok := liveVote(d, b, k.key, k.voter); ok {
			continue
		}
		out[w[0]], out[n[0]], found = true, true, true
	}
	if !found {
		return nil
	}
	return out
}

// liveVote returns the voter's live vote under key on the element.
func liveVote(d *crdt.Doc, el crdt.ElementID, key, voter string) (crdt.Value, bool) {
	for _, v := range d.Votes(el, key) {
		if v.Voter == voter {
			return v.Value, true
		}
	}
	return crdt.Value{}, false
}

// The dots tally: each voter's dots over the board (Dots of every register
// under "vote", on every element, deleted ones too), which the budget of
// every session counts. It is summed once, the first time a budget needs
// it (a board that never votes under a budget never pays for it), then
// kept by the doc's Vote hook (voteWritten) as registers change, whatever
// changed them: a client's change, another node's, catch-up, a held
// change released. A new session needs no reset: the budget reads the
// same registers (an anonymous session's pseudonyms are new voter ids).
//
// Rejected: summing the voter's registers over the board for each change
// that votes (the board's elements per change: 200 one-vote changes on a
// board of 20 000 elements took the room seconds); a tally per session
// (the budget counts the dots a voter still has on the board, whichever
// session cast them).

// dotsOf returns a voter's dots over the board (the tally).
func (r *Room) dotsOf(voter string) float64 {
	if r.dots == nil {
		r.dots = map[string]float64{}
		r.doc.EachVote("vote", func(_ crdt.ElementID, voter string, v crdt.Value) {
			if n, _ := crdt.Dots(v); n != 0 {
				r.dots[voter] += n
			}
		})
	}
	return r.dots[voter]
}

// voteWritten is the doc's Vote hook: it keeps the tally, once summed.
func (r *Room) voteWritten(_ crdt.ElementID, key, voter string, old, now crdt.Value) {
	if r.dots == nil || key != "vote" {
		return
	}
	was, _ := crdt.Dots(old)
	is, _ := crdt.Dots(now)
	if was == is {
		return
	}
	if n := r.dots[voter] + is - was; n != 0 {
		r.dots[voter] = n
	} else {
		delete(r.dots, voter)
	}
}
