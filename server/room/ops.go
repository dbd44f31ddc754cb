package room

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// load builds the doc from the latest snapshot plus the log after it.
func (r *Room) load() error {
	ctx := context.Background()
	st := r.cfg.Store
	r.doc = crdt.NewDoc()
	if r.cfg.Policy != nil {
		r.policy = r.cfg.Policy(ctx, r.board)
	}
	seq, snap, err := st.LatestSnapshot(ctx, r.board)
	dropped := 0
	switch {
	case err == nil:
		d, err := crdt.LoadSnapshot(snap)
		if err != nil {
			return fmt.Errorf("room: board %v: snapshot at %d: %w", r.board, seq, err)
		}
		r.doc, r.snapSeq, r.lastSeq = d, seq, seq
		r.storedHeld = d.Held() > 0
		// A snapshot written before the held limits may hold more.
		dropped += r.doc.TrimHeld(r.cfg.MaxHeld, r.cfg.MaxHeldBytes)
	case errors.Is(err, storage.ErrNotFound):
	default:
		return fmt.Errorf("room: board %v: %w", r.board, err)
	}
	err = st.ScanOps(ctx, r.board, r.snapSeq+1, func(e storage.Record) error {
		// ApplyBinary decodes into the doc's own buffer and validates
		// once; c's ops are the doc's until the next entry.
		c, status, _, err := r.doc.ApplyBinary(e.Data)
		if err != nil {
			return fmt.Errorf("op-log entry %d: %w", e.Seq, err)
		}
		r.lastSeq = e.Seq
		r.sinceSnap++
		if status == crdt.Held && r.overHeld(c.Replica) {
			// A log written before the held limits (or by a node with
			// larger ones): keep memory within them. The entry stays
			// in the log; the change is lacked like any other.
			r.doc.DropHeldChange(&c)
			dropped++
			return nil
		}
		if status == crdt.Held && e.Author != "" {
			r.heldUser[c.Replica] = e.Author // its author's role is asked again when it applies (release.go)
		}
		r.noteReplica(c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("room: board %v: replay: %w", r.board, err)
	}
	if dropped > 0 {
		r.log.Warn("held changes over the limits not loaded", "dropped", dropped,
			"held", r.doc.Held(), "held_bytes", r.doc.HeldBytes())
		if h := r.cfg.Hooks.HeldDropped; h != nil {
			h(dropped)
		}
	}
	if r.doc.Held() > 0 && r.snapSeq > 0 {
		// The snapshot holds changes still waiting for dependencies; their
		// op-log entries lie before it, where noteReplica did not see them. Without
		// their replicas, catch-up would skip them, and a client that joins
		// now would never get them: releasing them later fans out only the
		// change that released them. Rare, so a scan of the log is fine.
		// Only replicas that have changes held: a change refused when it
		// could apply (release.go) left an entry past its replica's
		// version that must not be offered.
		version := r.doc.Version()
		err := st.ScanOps(ctx, r.board, 1, func(e storage.Record) error {
			if e.Seq > r.snapSeq {
				return errScanDone
			}
			rep := crdt.ReplicaID(e.Replica)
			if n, _ := r.doc.HeldOf(rep); n == 0 || e.End <= version[rep] {
				return nil
			}
			r.replicas[rep] = max(r.replicas[rep], e.End)
			if e.Author != "" {
				r.heldUser[rep] = e.Author
			}
			return nil
		})
		if err != nil && err != errScanDone {
			return fmt.Errorf("room: board %v: held changes: %w", r.board, err)
		}
	}
	// From here on, held changes are admitted again when they apply, and
	// the dots tally follows the votes (release.go, policy.go). Not while
	// replaying: the log is replayed as it was applied (a change refused
	// when it could apply lies behind the snapshot written after that).
	r.doc.SetHooks(crdt.Hooks{Release: r.mayRelease, Vote: r.voteWritten})
	r.sizeLog()
	return nil
}

// sizeLog reads the board's op-log size from the store (Config.MaxLogBytes).
func (r *Room) sizeLog() {
	if r.cfg.MaxLogBytes <= 0 {
		return
	}
	sizer, ok := r.cfg.Store.(storage.LogSizer)
	if !ok {
		return
	}
	n, err := sizer.LogBytes(context.Background(), r.board)
	if err != nil {
		r.log.Warn("the op log's size could not be read", "err", err)
		return
	}
	r.logBytes = n
}

// logFull refuses a client's change c that would grow a board whose op
// log is at Config.MaxLogBytes; a change the board has already is no
// growth (it is acked as a duplicate).
func (r *Room) logFull(c *crdt.Change) error {
	if r.cfg.MaxLogBytes <= 0 || r.logBytes < r.cfg.MaxLogBytes || c.End() <= r.doc.VersionOf(c.Replica) {
		return nil
	}
	// With a retention period, history older than it may go: a snapshot
	// now lets it (at most one a minute: a full board's every change would
	// otherwise write the whole board).
	if now := r.cfg.Now(); r.cfg.Retention > 0 && now.Sub(r.fullSnap) >= time.Minute {
		r.fullSnap = now
		if r.sinceSnap > 0 {
			r.writeSnapshot() // and the retention after it
		} else {
			r.applyRetention() // the last snapshot covers the whole log
		}
		if r.logBytes < r.cfg.MaxLogBytes {
			return nil
		}
	}
	return fmt.Errorf("this board's history takes %d MiB, the most this node keeps for one board: it takes no more changes; its owner may export it and import it as a new board", r.logBytes>>20)
}

// ErrSpaceLow refuses a client's change while the node's disk is below
// its free-space reserve (Config.SpaceLow).
var ErrSpaceLow = errors.New("this node's disk is nearly full: it takes no new changes until space is freed; keep the change and send it again later")

var errScanDone = errors.New("room: scan done")

// overHeld reports whether what the doc holds is past the room's held
// limits, for the board or for replica rep.
func (r *Room) overHeld(rep crdt.ReplicaID) bool {
	n, b := r.doc.HeldOf(rep)
	return r.doc.Held() > r.cfg.MaxHeld || r.doc.HeldBytes() > r.cfg.MaxHeldBytes ||
		n > r.cfg.MaxHeldReplica || b > r.cfg.MaxHeldReplicaBytes
}

// admitHeld checks that holding c, a change of session s with a missing
// dependency, keeps the board, c's replica and s's user within the held
// limits (Config.MaxHeldBytes). The user's share is the sum over the
// replicas it sent held changes from while the room was loaded.
func (r *Room) admitHeld(s *Session, c *crdt.Change) error {
	size := crdt.HeldSize(c)
	n, b := r.doc.HeldOf(c.Replica)
	switch {
	case r.doc.Held()+1 > r.cfg.MaxHeld:
		return fmt.Errorf("the board holds %d changes waiting for dependencies, the most it may", r.doc.Held())
	case r.doc.HeldBytes()+size > r.cfg.MaxHeldBytes:
		return fmt.Errorf("the board holds %d bytes of changes waiting for dependencies; this one (%d) would pass the limit of %d", r.doc.HeldBytes(), size, r.cfg.MaxHeldBytes)
	case n+1 > r.cfg.MaxHeldReplica:
		return fmt.Errorf("replica %v has %d changes waiting for dependencies, the most one replica may", c.Replica, n)
	case b+size > r.cfg.MaxHeldReplicaBytes:
		return fmt.Errorf("replica %v has %d bytes of changes waiting for dependencies; this one (%d) would pass the limit of %d", c.Replica, b, size, r.cfg.MaxHeldReplicaBytes)
	}
	mine := 0
	for rep, user := range r.heldUser {
		k, bytes := r.doc.HeldOf(rep)
		if k == 0 {
			delete(r.heldUser, rep) // released since
			delete(r.heldRole, rep)
			continue
		}
		if user == s.User.ID && rep != c.Replica {
			mine += bytes
		}
	}
	if mine+b+size > r.cfg.MaxHeldReplicaBytes {
		return fmt.Errorf("your changes waiting for dependencies take %d bytes; this one (%d) would pass the limit of %d", mine+b, size, r.cfg.MaxHeldReplicaBytes)
	}
	return nil
}

// noteReplica remembers how far a replica's stored changes run past the
// doc's version (held changes), so catch-up includes them (logVersion).
func (r *Room) noteReplica(c crdt.Change) {
	if end := c.End(); end > r.doc.VersionOf(c.Replica) {
		r.replicas[c.Replica] = max(r.replicas[c.Replica], end)
	}
}

func (r *Room) handle(msg any) {
	switch m := msg.(type) {
	case submit:
		group := []submit{m}
		// Group commit: take what else is already waiting, so one fsync
		// serves them all.
	collect:
		for len(group) < r.cfg.MaxGroup {
			select {
			case next := <-r.inbox:
				r.took(next)
				if s, ok := next.(submit); ok {
					group = append(group, s)
					continue
				}
				r.ingest(group)
				group = group[:0]
				r.handle(next)
				if r.dead {
					return
				}
			default:
				break collect
			}
		}
		if len(group) > 0 {
			r.ingest(group)
		}
	case join:
		m.err <- r.join(m.sess, m.version)
	case leave:
		r.leave(m.sess)
	case presence:
		if _, ok := r.sessions[m.sess]; ok {
			m.sess.presence = m.data
			r.dirtyPres[m.sess] = struct{}{}
			r.schedulePresence()
		}
	case remote:
		switch m.kind {
		case bus.KindOps:
			r.fromOps(m.data)
		case bus.KindPresence:
			r.relayPresence(m.data)
		case bus.KindSyncReply:
			r.fromSyncReply(m.data)
		case bus.KindReplicated:
			r.fromReplicated(m.node, m.data)
		}
	case replicateReq:
		r.storeReplica(m)
	case replTimeout:
		r.replicationTimedOut(uint64(m))
	case syncRequest:
		r.answerSync(m)
	case syncNow:
		r.requestSync(true)
	case func():
		m()
	}
}

// admit checks one change from a session: its replica, the session's
// role, the schema, and that it applies as written.
func (r *Room) admit(s *Session, c *crdt.Change) (protocol.Code, error) {
	if c.Replica != s.Replica {
		return protocol.CodeWrongReplica, fmt.Errorf("change of replica %v on a session of replica %v", c.Replica, s.Replica)
	}
	if err := r.logFull(c); err != nil {
		return protocol.CodeTooLarge, err
	}
	if r.cfg.SpaceLow != nil && c.End() > r.doc.VersionOf(c.Replica) && r.cfg.SpaceLow() {
		return protocol.CodeUnavailable, ErrSpaceLow
	}
	if err := allowed(s.User.Role, s.User.ID, c, r.doc); err != nil {
		return protocol.CodeForbidden, err
	}
	moves := voteMoves(r.doc, c) // a conversion's votes (policy.go)
	if err := ownedBy(s.User.ID, r.policy.Voting.voter(s.User.ID), c, moves); err != nil {
		return protocol.CodeForbidden, err
	}
	if code, err := r.checkPolicy(s.User.ID, c, moves); err != nil {
		return code, err
	}
	// The text work is charged once the role and the policy allow the
	// change (a commenter's deletions spent the board's budget before),
	// and before Check walks the text for it.
	if code, err := r.admitTextDeletes(c); err != nil {
		return code, err
	}
	if code, err := r.admitInsertReach(c); err != nil {
		return code, err
	}
	if err := r.doc.Check(c); err != nil {
		switch {
		case errors.Is(err, crdt.ErrMissing) && moves != nil:
			return protocol.CodeRateLimited, fmt.Errorf("a conversion moving votes is checked against the board it applies to, never held (%w): resend it once the node has what it depends on", err)
		case errors.Is(err, crdt.ErrMissing):
			if herr := r.admitHeld(s, c); herr != nil {
				return protocol.CodeRateLimited, fmt.Errorf("%v (%w); not stored: resend it later, once the node has what it needs", herr, err)
			}
		case errors.Is(err, crdt.ErrMalformed):
			return protocol.CodeMalformed, err
		default:
			return protocol.CodeInvalidOp, err
		}
	}
	if err := r.doc.CheckSchema(c); err != nil {
		return protocol.CodeSchema, err
	}
	if err := r.admitTime(c); err != nil {
		return protocol.CodeClockAhead, err
	}
	if reach := r.doc.MoveReach(c); reach > 0 {
		return r.admitMoveReach(reach)
	}
	return "", nil
}

// admitTime refuses a change whose timestamps run more than
// Config.MaxClockAhead past the node's clock, unless it starts right after
// the board's clock or the board has it already.
func (r *Room) admitTime(c *crdt.Change) error {
	if c.Time-1 <= r.doc.Clock() || c.End() <= r.doc.VersionOf(c.Replica) {
		return nil
	}
	last := c.Time + crdt.Timestamp(c.End()-c.Start)
	now := r.cfg.Now()
	limit := now.Add(r.cfg.MaxClockAhead).UnixMilli()
	if limit < 0 || last.WallMs() <= uint64(limit) {
		return nil
	}
	ahead := "more than a century"
	if ms := last.WallMs() - uint64(now.UnixMilli()); ms < 100*365*24*3600*1000 {
		ahead = (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
	}
	return fmt.Errorf("its time is %s ahead of this node's clock, more than the %v a change may be; stamp changes with the node's clock (the welcome's now) and send this one again once the node's clock is there",
		ahead, r.cfg.MaxClockAhead)
}

// admitMoveReach refuses a change whose moves reach back over more of the
// board's moves than Config.MaxMoveReach, or than the board's budget of
// such work has left (Config.MoveWorkPerSecond).
func (r *Room) admitMoveReach(reach int) (protocol.Code, error) {
	if reach > r.cfg.MaxMoveReach {
		return protocol.CodeInvalidOp, fmt.Errorf("its moves reach back over %d later moves of the board, more than the %d a change may reorder: make them again", reach, r.cfg.MaxMoveReach)
	}
	if !r.moveWork.take(r.cfg.Now(), float64(reach), r.cfg.MoveWorkPerSecond, float64(2*r.cfg.MaxMoveReach)) {
		return protocol.CodeRateLimited, fmt.Errorf("too many late moves on this board right now; resend this batch later")
	}
	return "", nil
}

// admitTextDeletes charges the characters c's delete_text ops name to the
// board's budget for them (Config.MaxTextDeletes, TextDeletesPerSecond),
// before anything walks the text for them.
func (r *Room) admitTextDeletes(c *crdt.Change) (protocol.Code, error) {
	var n uint64
	for i := range c.Ops {
		if c.Ops[i].Type == crdt.OpDeleteText {
			n += c.Ops[i].Count
		}
	}
	if n == 0 {
		return "", nil
	}
	if n > uint64(r.cfg.MaxTextDeletes) {
		return protocol.CodeInvalidOp, fmt.Errorf("its text deletions name %d characters, more than the %d a change may: split it", n, r.cfg.MaxTextDeletes)
	}
	if !r.textWork.take(r.cfg.Now(), float64(n), r.cfg.TextDeletesPerSecond, float64(r.cfg.MaxTextDeletes)) {
		return protocol.CodeRateLimited, fmt.Errorf("too many text deletions on this board right now; resend this batch later")
	}
	return "", nil
}

// admitInsertReach charges the runs c's inserts may walk as they apply
// (crdt.Doc.InsertReach) to the board's budget for them
// (Config.MaxInsertReach, InsertReachPerSecond).
func (r *Room) admitInsertReach(c *crdt.Change) (protocol.Code, error) {
	n := r.doc.InsertReach(c, r.cfg.MaxInsertReach)
	if n == 0 {
		return "", nil
	}
	if n > r.cfg.MaxInsertReach {
		return protocol.CodeInvalidOp, fmt.Errorf("its text inserts would walk over %d runs of text, more than the %d a change may: insert where the text is, or split it", r.cfg.MaxInsertReach, r.cfg.MaxInsertReach)
	}
	if !r.insertWork.take(r.cfg.Now(), float64(n), r.cfg.InsertReachPerSecond, float64(r.cfg.MaxInsertReach)) {
		return protocol.CodeRateLimited, fmt.Errorf("too many text inserts on this board right now; resend this batch later")
	}
	return "", nil
}

// refill brings b to now, at rate a second up to burst (full when first
// used).
func (b *workBudget) refill(now time.Time, rate, burst float64) {
	if b.at.IsZero() {
		b.left = burst
	} else {
		b.left = min(burst, b.left+now.Sub(b.at).Seconds()*rate)
	}
	b.at = now
}

// workBudget is a budget of work refilled at a rate up to a burst (full
// when first used), spent by take.
type workBudget struct {
	left float64
	at   time.Time // when left was last refilled; zero: never used
}

// take spends n at now if the budget, refilled at rate a second up to
// burst, has it; otherwise it spends nothing and says no.
func (b *workBudget) take(now time.Time, n, rate, burst float64) bool {
	if b.refill(now, rate, burst); b.left < n {
		return false
	}
	b.left -= n
	return true
}

// Roles, from most to least powerful (package protocol names them).
const (
	RoleOwner     = protocol.RoleOwner
	RoleEditor    = protocol.RoleEditor
	RoleCommenter = protocol.RoleCommenter
	RoleViewer    = protocol.RoleViewer
)

// mayEdit reports whether a role may make any change at all.
func mayEdit(role string) bool {
	return role == RoleOwner || role == RoleEditor || role == RoleCommenter
}

// allowed enforces roles on every op: viewers edit nothing; commenters may
// write comments (create, text, resolve, reply) and vote; editors and
// owners may do anything else. A comment is its author's: only its author
// (or the board's owner, who moderates) may edit, move or delete it;
// anyone who may comment may resolve a thread or react to it.
func allowed(role, user string, c *crdt.Change, d *crdt.Doc) error {
	if !mayEdit(role) {
		return fmt.Errorf("role %q may not edit this board", role)
	}
	created := map[crdt.ElementID]string{}
	for i := range c.Ops {
		op := &c.Ops[i]
		if op.Type == crdt.OpCreate && d.Kind(op.Element) == "" {
			// New in this change: the sender's own. Creating an element
			// that exists (even as the same kind) does not make it theirs.
			created[op.Element] = op.Key
		}
		if op.Type == crdt.OpVote {
			continue
		}
		kind, fresh := created[op.Element]
		if !fresh {
			kind = d.Kind(op.Element)
		}
		if role == RoleCommenter && kind != "comment" {
			return fmt.Errorf("a commenter may only vote and write comments (op %d is a %s on a %s)", i, op.Type, kind)
		}
		if kind != "comment" || fresh || role == RoleOwner || (op.Type == crdt.OpSet && op.Key == "resolved") {
			continue
		}
		author, _ := d.Get(op.Element, "author")
		switch a := author.AsString(); {
		case a == user:
		case a == "" && role == RoleEditor:
			// A comment that names no author (older clients): editors
			// keep the rights they had.
		default:
			return fmt.Errorf("op %d: only its author or the board's owner may change a comment", i)
		}
	}
	return nil
}

// ownedBy refuses changes that speak for someone else: a vote must be the
// sender's own unless it is a conversion's move of an existing vote
// (moves, policy.go), and an "author" property names the sender.
func ownedBy(user, voter string, c *crdt.Change, moves moved) error {
	for i := range c.Ops {
		op := &c.Ops[i]
		switch {
		case op.Type == crdt.OpVote && op.Voter != user && op.Voter != voter && !moves.has(i):
			return fmt.Errorf("op %d: a vote must be the sender's own (voter %q, sender %q); another's vote moves only with the conversion of the element holding it, exactly as it is there", i, op.Voter, user)
		case op.Type == crdt.OpSet && op.Key == "author" && op.Value.AsString() != user:
			return fmt.Errorf("op %d: author must be the sender (%q)", i, user)
		}
	}
	return nil
}

func (r *Room) maybeSnapshot() {
	if r.sinceSnap >= r.cfg.SnapshotEvery {
		r.writeSnapshot()
	}
}

func (r *Room) writeSnapshot() {
	if r.sinceSnap == 0 || r.doc == nil {
		return
	}
	// Stored uncompressed: Pebble compresses its blocks, and opening the
	// board skips the inflate (the larger part of loading a big board).
	if err := r.cfg.Store.PutSnapshot(context.Background(), r.board, r.lastSeq, r.doc.SnapshotRaw()); err != nil {
		r.log.Warn("snapshot failed", "err", err)
		return
	}
	r.snapSeq, r.sinceSnap, r.storedHeld = r.lastSeq, 0, r.doc.Held() > 0
	// Joins read the new one when they need it; a fresh one made for
	// joins is of no more use.
	r.storedFrame = nil
	if !r.storedHeld {
		r.snapFrame = nil // else joins still share it (staleSnapshot)
	}
	r.applyRetention()
}

// applyRetention drops op-log entries older than Config.Retention, never
// past the snapshot just written. The scan stops at the first entry young
// enough to keep, so its cost is the number of entries dropped.
func (r *Room) applyRetention() {
	if r.cfg.Retention <= 0 {
		return
	}
	cutoff := r.cfg.Now().Add(-r.cfg.Retention).UnixMilli()
	var before uint64
	var dropped int64
	err := r.cfg.Store.ScanOps(context.Background(), r.board, 1, func(e storage.Record) error {
		if e.Accepted >= cutoff || e.Seq > r.snapSeq {
			return errScanDone
		}
		before = e.Seq + 1
		dropped += int64(len(e.Data))
		return nil
	})
	if (err != nil && err != errScanDone) || before == 0 {
		return
	}
	if err := r.cfg.Store.TrimOps(context.Background(), r.board, before); err != nil {
		r.log.Warn("retention: trim failed", "err", err)
		return
	}
	// What was dropped, counted as appended: the store's estimate still
	// counts it until its tables are compacted, and a board counted full
	// after a trim would take nothing more.
	r.logBytes = max(r.logBytes-dropped, 0)
}
