package room

import (
	"context"
	"fmt"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// A held change is admitted again when it applies.
//
// A change that waits for a dependency (held) was admitted when it came,
// under its author's role and the board's policy then. It applies later:
// a moment later when another node has what it waits for, or much later
// when it names an op nobody has made yet (an editor can send a change
// that waits for the owner's next counter, and deletes a note). By then
// its author may have been removed or demoted, the deadline passed, the
// voting closed, or the voter spent the dots since. So just before the doc
// applies a held change (crdt.Hooks.Release), the room admits it again as
// a change of its author would be admitted now: the role (allowed), votes
// under the author's own voter id (ownedBy), the policy (checkPolicy,
// with the dots tally as it is then). A change that fails is refused:
//
//   - it is not applied, and the held changes of its replica after it,
//     which wait for its counters, are dropped with it;
//   - this node no longer offers them in catch-up (logVersion);
//   - a session of that replica here is closed with 4104 after an error
//     frame saying why: its client starts over with a new replica, as
//     after any refused change (its later changes would wait for ever);
//   - it is logged and counted (Hooks.HeldRefused), and a snapshot
//     follows (at most one every refusedSnapEvery), so that loading the
//     board does not replay the release from the log.
//
// The author, in this order: a session of the change's replica in this
// room (its role now; "" once closed for lost access); Config.AuthorRole
// (the node: whose the replica's claim is, and the role the board gives
// that user now); the user of this room's session that sent it, with the
// role the room last gave that session. A change whose author none of
// them knows (another node's, on a room without AuthorRole) was ruled on
// by the node that took it, and applies.
//
// Chosen over dropping a session's held changes when its role is lowered
// or it is removed: that misses an author who is not connected when it
// happens (Reauthorize reaches sessions only), a board unloaded
// meanwhile, the copies of other nodes, and every change of policy (a
// deadline that passes, voting that closes, dots spent meanwhile: a held
// vote weighed against the tally when it came adds to what was spent
// since). Rejected as well: refusing to hold a client's changes (a node
// that lags behind the others needs to, PROTOCOL.md 5.5), and keeping
// them from the other copies until they apply (a held change is stored
// and passed on when it is held; each copy applies it by itself).
//
// Clients get a change only once it applies here (ingest.go, intake.out;
// join.go: catch-up up to the doc's version, snapshots without held
// changes): a client holding a change this node may still refuse would
// apply it when its own next change releases it (a change waiting for the
// owner's next op is released by the owner's own page), and its view would
// differ from the board's for good. Rejected: telling clients to drop a
// refused change (the owner's page has released it by the time the node
// hears of the owner's edit).
//
// Known limits. Each node rules on its own copy when it releases it, with
// what it knows then; a node that applied it (a removal had not reached it
// yet) passes it to the others by anti-entropy, where it comes with its
// dependencies and is not held, so not ruled on again. The op log keeps a
// refused change (it was stored when held): the board's history, and an
// export of it, replay it. A crash between a refusal and its snapshot
// brings the change back at the next load. A refused change that comes
// again from a node that applied it (with what it waited for, in a sync
// reply) is applied, as it must be for the copies to converge (one copy
// applied it), and stored again: its counters overlap the log's
// entry of it, the append fails, and the room is dropped; it loads again
// from the log, with the change (the log's entry replays), and stays.
// Tracking the logged counters in the room was tried and taken back
// (lost at a reload; a resent change then made no part of the batch). Closing these takes a refusal
// record in the op log, written in the batch of the change whose apply
// refused it and before it (so that a replay drops the held change before
// that change releases it), which every reader of the log honours; or
// taking the refused change's entries out of the log (a storage call that
// drops a replica's records from a counter on, with its index and overlap
// bookkeeping), so that it is stored anew, after the snapshot, when it
// comes again.

// refusedSnapEvery bounds the snapshots written after refusals: a client
// that can make its own held changes fail (votes over its budget) could
// otherwise have the room write the whole board for each.
const refusedSnapEvery = 10 * time.Second

// author is who sent a held change, as far as the room can tell.
type author struct {
	user, role string
	known      bool
}

// refusal is a held change refused when it could apply.
type refusal struct {
	rep        crdt.ReplicaID
	start, end uint64
	user       string
	code       protocol.Code
	err        error
}

// mayRelease is the doc's Release hook.
func (r *Room) mayRelease(c *crdt.Change) bool {
	a := r.authorOf(c.Replica)
	if !a.known {
		return true
	}
	code, err := r.admitAgain(a, c)
	if err == nil {
		return true
	}
	r.refused = append(r.refused, refusal{rep: c.Replica, start: c.Start, end: c.End(), user: a.user, code: code, err: err})
	return false
}

// admitAgain is what admit checks that can change while a change is held:
// the author's role, whose votes it casts, the policy.
func (r *Room) admitAgain(a author, c *crdt.Change) (protocol.Code, error) {
	if err := allowed(a.role, a.user, c, r.doc); err != nil {
		return protocol.CodeForbidden, err
	}
	// A conversion's vote moves, as admit finds them: a conversion is never
	// held where it is admitted, but one from another node can be held
	// here, and its moves cast other people's dots.
	moves := voteMoves(r.doc, c)
	if err := ownedBy(a.user, r.policy.Voting.voter(a.user), c, moves); err != nil {
		return protocol.CodeForbidden, err
	}
	// The text work it does: counted when it was held, its origins or
	// targets may have been missing then (and counted as nothing).
	if code, err := r.admitTextDeletes(c); err != nil {
		return code, err
	}
	if code, err := r.admitInsertReach(c); err != nil {
		return code, err
	}
	return r.checkPolicy(a.user, c, moves)
}

// authorOf finds the author of replica rep's changes, once per Apply
// (take clears r.authors).
func (r *Room) authorOf(rep crdt.ReplicaID) author {
	if a, ok := r.authors[rep]; ok {
		return a
	}
	a := r.findAuthor(rep)
	if r.authors == nil {
		r.authors = map[crdt.ReplicaID]author{}
	}
	r.authors[rep] = a
	return a
}

func (r *Room) findAuthor(rep crdt.ReplicaID) author {
	for s := range r.sessions {
		if s.Replica == rep {
			return author{user: s.User.ID, role: s.User.Role, known: true}
		}
	}
	if f := r.cfg.AuthorRole; f != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second) // on the room's goroutine: short
		user, role, ok := f(ctx, r.board, rep)
		cancel()
		if ok {
			return author{user: user, role: role, known: true}
		}
	}
	if role, ok := r.heldRole[rep]; ok {
		return author{user: r.heldUser[rep], role: role, known: true}
	}
	return author{}
}

// settleRefused finishes, once Apply has returned, what mayRelease
// refused during it; it returns how many held changes were dropped.
func (r *Room) settleRefused() int {
	n := 0
	for _, f := range r.refused {
		n += 1 + r.doc.DropHeldOf(f.rep)
		delete(r.replicas, f.rep)
		delete(r.heldUser, f.rep)
		delete(r.heldRole, f.rep)
		r.log.Warn("held change refused when it could apply", "replica", f.rep.String(), "start", f.start, "end", f.end,
			"user", f.user, "code", f.code, "err", f.err)
		msg := fmt.Sprintf("change %d-%d of this replica, held for a missing dependency, was refused when it could apply: %v; start over with a new replica", f.start, f.end, f.err)
		for s := range r.sessions {
			if s.Replica == f.rep {
				s.Finish(protocol.CloseReplica, "a held change was refused: start over with a new replica",
					protocol.Error{Type: protocol.TypeError, Code: f.code, Message: msg})
			}
		}
	}
	clear(r.refused)
	r.refused = r.refused[:0]
	if h := r.cfg.Hooks.HeldRefused; h != nil && n > 0 {
		h(n)
	}
	return n
}

// snapshotAfterRefusal writes the snapshot a refusal asks for, unless one
// was written for a refusal less than refusedSnapEvery ago (then the next
// ingest after that writes it, or the unload).
func (r *Room) snapshotAfterRefusal() {
	if !r.refusedDue {
		return
	}
	now := r.cfg.Now()
	if now.Sub(r.refusedSnap) < refusedSnapEvery {
		return
	}
	r.refusedDue, r.refusedSnap = false, now
	r.writeSnapshot()
}
