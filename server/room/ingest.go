package room

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// The ingest path: the one way changes enter a board, a client's (Submit)
// or another node's (live ops on the bus, a page of a sync reply, a
// replicate request). Each change is
//
//	applied (crdt.Doc.Apply) → trimmed (to the part the doc lacked) →
//	recorded (an op-log entry, its change encoded once)
//
// and then, once for the whole group, the entries are persisted (fsync),
// and only then the clients answered and the changes fanned out: the
// order the package doc states. What differs by origin is said where it
// differs: a client's changes are admitted first (admit), acked, and
// published on the bus; another node's are never republished, and those
// held past the room's limits are not kept (anti-entropy brings them
// back once they can apply).
//
// Rejected: a path per origin. Two copies of apply → trim → persist had
// drifted apart (each re-trimmed the change Apply had already trimmed,
// and one batch was encoded twice, for the bus and for the fan-out).

// intake is what one pass of the ingest path gathers.
type intake struct {
	now     int64            // acceptance time of the entries, unix ms
	entries []storage.Record // the op-log entries of the new parts, in order
	fresh   [][]byte         // entries[i].Data: each new part, encoded once
	owners  []*Session       // the session that sent entries[i]; nil: another node
	// out and outOwners are what this node's clients get, when it is not
	// fresh (split): a client gets a change only once it applies here,
	// never while it is held (it may still be refused when it could
	// apply: release.go), so a held part is left out, and the held
	// changes an apply released go with it.
	out       [][]byte
	outOwners []*Session
	split     bool
	local     int  // entries sent by this node's clients
	dropped   int  // held changes from other nodes not kept
	refused   int  // held changes refused when they could apply (release.go)
	sync      bool // ask the other nodes for what this node lacks
}

// outcome is what became of one submission.
type outcome struct {
	ack protocol.Ack
	err *protocol.Error
}

// ingest takes a group into the board: client submissions collected for
// one fsync (handle), or one batch from another node (a submit without a
// session, fromOps); never both. It applies, trims and records each
// change as an op-log entry, persists the entries, then answers the clients, publishes their
// changes (or, with AckReplicas, asks the other nodes to store them before
// the answers) and fans out.
func (r *Room) ingest(group []submit) {
	if len(group) == 0 {
		return
	}
	local := group[0].sess != nil
	in := intake{now: r.cfg.Now().UnixMilli()}
	outcomes := make([]outcome, len(group))
	var accepted [][]byte // every accepted client change, duplicates included (AckReplicas)
	for i, sm := range group {
		if sm.sess == nil {
			for _, c := range sm.changes {
				r.take(&in, c, nil) // an invalid change from another node is skipped
			}
			continue
		}
		o := &outcomes[i]
		o.ack = protocol.Ack{Type: protocol.TypeAck, Seq: sm.seq}
		for k := range sm.changes {
			c := sm.changes[k]
			code, err := r.admit(sm.sess, &c)
			if err != nil {
				o.err = &protocol.Error{Type: protocol.TypeError, Code: code, Seq: sm.seq, Accepted: k,
					Message: fmt.Sprintf("change %d of %d refused: %v", k+1, len(sm.changes), err)}
				if h := r.cfg.Hooks.Rejected; h != nil {
					h(code, len(sm.changes)-k)
				}
				break
			}
			st, err := r.take(&in, c, sm.sess)
			if err != nil { // admit validated it; cannot happen
				o.err = &protocol.Error{Type: protocol.TypeError, Code: protocol.CodeInternal, Seq: sm.seq, Message: err.Error()}
				break
			}
			switch st {
			case crdt.Duplicate:
				o.ack.Duplicate++
				if r.cfg.AckReplicas > 0 {
					accepted = append(accepted, c.AppendBinary(nil))
				}
				continue
			case crdt.Held:
				o.ack.Held++
			default:
				o.ack.Applied++
			}
			if r.cfg.AckReplicas > 0 {
				accepted = append(accepted, in.fresh[len(in.fresh)-1])
			}
		}
	}
	if in.dropped > 0 {
		if h := r.cfg.Hooks.HeldDropped; h != nil {
			h(in.dropped)
		}
	}
	if !r.persist(&in) {
		return
	}
	// Encoded once: the bus gets the batch, local sessions the same bytes
	// behind the frame's tag.
	var frame []byte
	if len(in.fresh) > 0 {
		frame = protocol.EncodeOpsOut(in.fresh)
	}
	if local {
		if r.cfg.AckReplicas > 0 && len(accepted) > 0 {
			// The others get the changes with the request to store them,
			// and the answers (acks, refusals) wait for their
			// confirmations.
			var batch []byte
			if len(accepted) == len(in.fresh) { // no duplicates
				batch = frame[1:]
			} else {
				batch = crdt.AppendBatch(nil, accepted)
			}
			r.replicate(group, outcomes, batch)
		} else {
			r.answer(group, outcomes)
			if frame != nil {
				r.publish(frame[1:])
			}
		}
	}
	switch {
	case !in.split && frame != nil:
		r.deliver(in.fresh, in.owners, frame)
	case in.split && len(in.out) > 0:
		r.deliver(in.out, in.outOwners, protocol.EncodeOpsOut(in.out))
	}
	r.maybeSnapshot()
	if in.refused > 0 {
		r.refusedDue = true
	}
	r.snapshotAfterRefusal()
	if in.sync {
		r.requestSync(false)
	}
}

// take applies one change and, when any of it was new to the doc, adds
// that part to in as an op-log entry. from is the session that sent it,
// nil for another node's change.
func (r *Room) take(in *intake, c crdt.Change, from *Session) (crdt.Status, error) {
	before := r.doc.VersionOf(c.Replica)
	clear(r.authors)
	st, applied, err := r.doc.Apply(c)
	if len(r.refused) > 0 {
		in.refused += r.settleRefused()
	}
	if err != nil || st == crdt.Duplicate {
		return st, err
	}
	var part crdt.Change
	if st == crdt.Applied {
		// Apply trimmed it to what the doc lacked; the changes after it
		// are held ones it released, stored when they were held.
		part = applied[0]
	} else {
		switch {
		case from != nil:
			// Admitted within the held limits (admitHeld), and again
			// when it applies (release.go).
			r.heldUser[c.Replica] = from.User.ID
			r.heldRole[c.Replica] = from.User.Role
			// It names something this node lacks: perhaps another node
			// has it.
			in.sync = true
		case r.overHeld(c.Replica):
			// Not kept, not stored: anti-entropy offers it again, and it
			// is taken once it can apply (no sync is asked for it now, or
			// every answer would ask again).
			r.doc.DropHeldChange(&c)
			in.dropped++
			return st, nil
		case c.Start > before+1:
			in.sync = true // a change of this replica never reached us
		}
		// The doc holds it cut as Apply cut it; Apply returns only what
		// it applied.
		part, _ = c.After(before)
	}
	r.noteReplica(part)
	data := part.AppendBinary(nil)
	e := storage.Record{Replica: uint64(part.Replica), Start: part.Start, End: part.End(), Accepted: in.now, Data: data}
	if from != nil {
		if !from.Unattributed {
			e.Author = from.User.ID
		}
		in.local++
	}
	in.entries = append(in.entries, e)
	in.fresh = append(in.fresh, data)
	in.owners = append(in.owners, from)
	if st == crdt.Applied && len(applied) == 1 && !in.split {
		return st, nil // the common case: out is fresh
	}
	if !in.split {
		in.split = true
		in.out = append(in.out, in.fresh[:len(in.fresh)-1]...)
		in.outOwners = append(in.outOwners, in.owners[:len(in.owners)-1]...)
	}
	if st == crdt.Applied {
		in.out = append(in.out, data)
		in.outOwners = append(in.outOwners, from)
		for _, rel := range applied[1:] {
			in.out = append(in.out, rel.AppendBinary(nil))
			in.outOwners = append(in.outOwners, r.sessionOf(rel.Replica))
		}
	}
	return st, nil
}

// persist appends in's entries to the board's op log; AppendOps returns
// once they are fsynced. On failure the doc is ahead of the disk and
// nothing may be acked: the room is dropped (clients reconnect and resend
// their outboxes; other nodes' changes come back by anti-entropy) and
// persist returns false.
func (r *Room) persist(in *intake) bool {
	if len(in.entries) == 0 {
		return true
	}
	start := time.Now()
	if err := r.cfg.Store.AppendOps(context.Background(), r.board, in.entries); err != nil {
		r.log.Error("persist failed; unloading board", "err", err, "from_clients", in.local, "from_nodes", len(in.entries)-in.local)
		r.kill(protocol.CloseRetry, "storage error")
		return false
	}
	r.lastSeq = in.entries[len(in.entries)-1].Seq
	r.sinceSnap += len(in.entries)
	for i := range in.entries {
		r.logBytes += int64(len(in.entries[i].Data))
	}
	if in.local > 0 {
		if h := r.cfg.Hooks.Commit; h != nil {
			h(time.Since(start))
		}
		if h := r.cfg.Hooks.Accepted; h != nil {
			h(in.local)
		}
		if f := r.cfg.Accepted; f != nil {
			f(r.board, in.entries, r.doc) // a client group: every entry is a client's
		}
	}
	if n := len(in.entries) - in.local; n > 0 {
		if h := r.cfg.Hooks.Remote; h != nil {
			h(n)
		}
	}
	return true
}

// answer acks (or refuses) every submission of a group.
func (r *Room) answer(group []submit, outcomes []outcome) {
	direct := r.direct()
	for i, sm := range group {
		if outcomes[i].err != nil {
			// The error says how many changes before the refused one
			// were accepted (and are durable); no ack follows.
			sm.sess.SendJSON(outcomes[i].err)
			continue
		}
		m := Outgoing{Data: protocol.MarshalAck(outcomes[i].ack)}
		if direct {
			sm.sess.SendDirect(m)
		} else {
			sm.sess.sendQueued(m)
		}
	}
}

// direct says whether the room writes to its idle sessions' sockets
// itself (Config.DirectWrites, Session.SendDirect).
func (r *Room) direct() bool {
	return r.cfg.DirectWrites > 0 && len(r.sessions) <= r.cfg.DirectWrites
}

// publish sends a batch of client changes to the other nodes (never
// delayed).
func (r *Room) publish(batch []byte) {
	if err := r.cfg.Bus.Publish(r.board, bus.KindOps, batch); err != nil {
		if h := r.cfg.Hooks.BusErrors; h != nil {
			h()
		}
	}
}

// deliver pushes changes to the local sessions now, or after FanoutDelay
// together with what else is accepted meanwhile. frame is their binary ops
// frame, reused when they go out alone.
func (r *Room) deliver(fresh [][]byte, owners []*Session, frame []byte) {
	if r.cfg.FanoutDelay <= 0 {
		r.fanout(fresh, owners, frame)
		return
	}
	if len(r.pendFresh) == 0 {
		r.pendFrame = frame
	} else {
		r.pendFrame = nil // frames of two batches: one is encoded for both
	}
	r.pendFresh = append(r.pendFresh, fresh...)
	r.pendOwners = append(r.pendOwners, owners...)
	if r.fanTimer == nil {
		r.fanTimer = time.NewTimer(r.cfg.FanoutDelay)
	}
}

// flushFanout pushes what deliver gathered.
func (r *Room) flushFanout() {
	if r.fanTimer != nil {
		r.fanTimer.Stop()
		r.fanTimer = nil
	}
	if len(r.pendFresh) == 0 {
		return
	}
	fresh, owners, frame := r.pendFresh, r.pendOwners, r.pendFrame
	r.pendFresh, r.pendOwners, r.pendFrame = nil, nil, nil
	r.fanout(fresh, owners, frame)
}

// fanout pushes encoded changes to local sessions, each session but the
// author of a change getting it (owners[i] authored fresh[i]; nil: another
// node's change). bin is the binary frame of all of fresh, or nil.
func (r *Room) fanout(fresh [][]byte, owners []*Session, bin []byte) {
	start := time.Now()
	var js []byte
	deliveries := 0
	var mine []bool // scratch: which changes the session authored
	direct := r.direct()
	for s := range r.sessions {
		authored := 0
		for _, o := range owners {
			if o == s {
				authored++
			}
		}
		var frame []byte
		if authored == 0 {
			// The common case: one shared frame for everyone.
			if s.Format == protocol.FormatJSON {
				if js == nil {
					js = jsonOps(fresh)
				}
				frame = js
			} else {
				if bin == nil {
					bin = protocol.EncodeOpsOut(fresh)
				}
				frame = bin
			}
		} else {
			mine = mine[:0]
			for _, o := range owners {
				mine = append(mine, o == s)
			}
			rest := make([][]byte, 0, len(fresh)-authored)
			for i, f := range fresh {
				if !mine[i] {
					rest = append(rest, f)
				}
			}
			if len(rest) == 0 {
				continue
			}
			if s.Format == protocol.FormatJSON {
				frame = jsonOps(rest)
			} else {
				frame = protocol.EncodeOpsOut(rest)
			}
		}
		m := Outgoing{Binary: s.Format != protocol.FormatJSON, Data: frame}
		var queued bool
		if direct {
			queued = s.SendDirect(m)
		} else {
			queued = s.sendQueued(m)
		}
		if !queued {
			if h := r.cfg.Hooks.SlowConsumers; h != nil {
				h()
			}
			r.dropSession(s)
			continue
		}
		deliveries++
	}
	if h := r.cfg.Hooks.Deliveries; h != nil {
		h(deliveries)
	}
	if h := r.cfg.Hooks.Fanout; h != nil {
		h(time.Since(start))
	}
}

func jsonOps(encoded [][]byte) []byte {
	out := protocol.OpsJSON{Type: protocol.TypeOps, Changes: make([]crdt.Change, 0, len(encoded))}
	for _, e := range encoded {
		c, err := crdt.DecodeChange(e)
		if err == nil {
			out.Changes = append(out.Changes, c)
		}
	}
	return protocol.JSON(out)
}

// fromBus runs on the bus's goroutine: hand over without blocking. A full
// inbox drops the message; catch-up repairs the gap.
func (r *Room) fromBus(m bus.Message) {
	if m.Kind == bus.KindSync || m.Kind == bus.KindReplicate {
		return // handled by the Manager (Route), loaded or not
	}
	select {
	case r.inbox <- remote{kind: m.Kind, node: m.Node, data: m.Data}:
	default:
		if h := r.cfg.Hooks.BusErrors; h != nil {
			h()
		}
	}
}

// fromOps takes a batch of changes from another node into the board. It
// reports false when the batch does not decode (nothing of it is taken).
func (r *Room) fromOps(batch []byte) bool {
	changes, err := crdt.DecodeBatch(batch)
	if err != nil {
		r.log.Warn("bad ops from another node", "err", err)
		return false
	}
	if len(changes) > 0 {
		r.ingest([]submit{{changes: changes}})
	}
	return true
}

// relayPresence passes another node's presence frame to the local
// sessions.
func (r *Room) relayPresence(frame []byte) {
	if !utf8.Valid(frame) {
		return // never relay what makes browsers drop the connection
	}
	for s := range r.sessions {
		s.Send(Outgoing{Data: frame})
	}
}

// sessionOf is this room's session of replica rep, nil if none.
func (r *Room) sessionOf(rep crdt.ReplicaID) *Session {
	for s := range r.sessions {
		if s.Replica == rep {
			return s
		}
	}
	return nil
}
