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
	switch {
	case nr == "":
		s.Finish(protocol.CloseForbidden, "access to this board was removed", protocol.Error{
			Type: "error", Code: protocol.CodeForbidden, Message: "access to this board was removed"})
	case nr != s.User.Role:
		s.User.Role = nr
		s.SendJSON(protocol.RoleFrame{Type: protocol.TypeRole, Role: nr})
		r.dirtyPres[s] = struct{}{}
		r.schedulePresence()
	}
}

// checkPolicy refuses what the board's policy forbids in a change from
// user: anything after the deadline; votes outside an open session, over
// the dots budget, or not under the user's voter id.
func (r *Room) checkPolicy(user string, c *crdt.Change) (protocol.Code, error) {
	p := r.policy
	if p.Deadline != 0 && r.cfg.Now().UnixMilli() >= p.Deadline {
		return protocol.CodeReadOnly, fmt.Errorf("the board closed at its deadline")
	}
	v := p.Voting
	if v.State == "" {
		return "", nil
	}
	voter := v.voter(user)
	spent := -1.0 // computed on the first dot vote
	for i := range c.Ops {
		op := &c.Ops[i]
		if op.Type != crdt.OpVote || op.Key != "vote" {
			continue
		}
		if v.State != "open" {
			return protocol.CodeReadOnly, fmt.Errorf("op %d: voting is closed", i)
		}
		if op.Voter != voter {
			return protocol.CodeForbidden, fmt.Errorf("op %d: votes in this session are cast as %q", i, voter)
		}
		if v.Dots <= 0 {
			continue
		}
		if spent < 0 {
			spent = r.dotsOf(voter)
		}
		// This op replaces the voter's register on that element.
		old := 0.0
		for _, vt := range r.doc.Votes(op.Element, "vote") {
			if vt.Voter == voter {
				old, _ = crdt.Dots(vt.Value)
			}
		}
		n, ok := crdt.Dots(op.Value)
		if !ok {
			return protocol.CodeInvalidOp, fmt.Errorf("op %d: a dot vote is a whole number of dots", i)
		}
		spent += n - old
		if spent > float64(v.Dots) {
			return protocol.CodeForbidden, fmt.Errorf("op %d: %d dots per person in this session", i, v.Dots)
		}
	}
	return "", nil
}

// dotsOf sums a voter's dots across the live elements.
func (r *Room) dotsOf(voter string) float64 {
	sum := 0.0
	for _, id := range r.doc.Elements() {
		for _, vt := range r.doc.Votes(id, "vote") {
			if vt.Voter == voter {
				n, _ := crdt.Dots(vt.Value)
				sum += n
			}
		}
	}
	return sum
}
