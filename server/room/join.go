package room

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/farview"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// maxFrame bounds catch-up frames so none nears the message size limit.
const maxFrame = 256 << 10

// maxCatchupBytes bounds the op-log data a join reads into memory: past
// it, the session gets a snapshot (a client missing more; JSON sessions
// too, which otherwise get changes however many), and a stored snapshot
// is made anew rather than sent with a longer log after it. The counts
// alone (Config.SnapshotCatchup changes; SnapshotEvery between stored
// snapshots) let a join read 2,000 changes of up to a message's size
// each: gigabytes in the room, for every join of a board an editor had
// filled with big changes. A snapshot of a board of 100,000 elements
// takes about 17.5 MB.
const maxCatchupBytes = 16 << 20

// maxJSONCatchup bounds the JSON a join of a JSON-format session makes
// of the changes it sends (the ops, or the log after a snapshot): past
// it, the session gets a snapshot, as past maxCatchupBytes of the log,
// and no more is made. The bound on the log's bytes alone let a join
// make far more: an op of a few bytes names its element's UUID and its
// op ids in full in JSON, so 5.2 MB of log made 163 MB of JSON, seconds
// of the room's goroutine during which no other join was answered.
//
// What a join makes past jsonCatchupFree (a frame's worth: a reconnect's
// usual catch-up) is also charged to the board's whole-board reads
// (Config.WholeRead, a unit per 512 bytes made), as a fresh snapshot is:
// once they are spent, a JSON session lacking that much gets a snapshot
// too, so a loop of joins cannot make the room encode the log over and
// over. Rejected: a tighter bound on the log's bytes for JSON sessions
// (how much JSON a byte of log makes ranges from 1 to 50 times, so any
// bound tight enough for the smallest ops refuses ops a client could
// have had for the biggest); sending JSON sessions binary ops (a client
// that asked for JSON may decode nothing else).
const (
	maxJSONCatchup  = 16 << 20
	jsonCatchupFree = maxFrame
)

// join registers a session and brings it up to date: the welcome, then the
// changes it lacks (read from the op log, in log order) or, when it lacks
// too much, a snapshot; then "synced"; then live ops.
func (r *Room) join(s *Session, have crdt.VersionVector) error {
	ctx := context.Background()
	// Push what is waiting first, so the others' stream and the newcomer's
	// catch-up do not overlap.
	r.flushFanout()
	version := r.doc.Version()
	var entries []storage.Record // op-log entries to send
	// Snapshots are binary: JSON-format sessions always get ops.
	jsonOnly := s.Format == protocol.FormatJSON
	useSnapshot := len(have) == 0 && r.doc.Len() > 0 && !jsonOnly
	if !useSnapshot {
		lim := Limit{Changes: r.cfg.SnapshotCatchup, Bytes: maxCatchupBytes}
		if jsonOnly {
			// However many changes, but not however many bytes: past
			// maxCatchupBytes, a snapshot, as when the log is trimmed.
			lim = Limit{Bytes: maxCatchupBytes}
		}
		// Up to what the doc applied: a client gets no held change
		// (ingest.go, intake.out).
		got, err := ChangesSince(ctx, r.cfg.Store, r.board, have, version, lim)
		if err != nil {
			return fmt.Errorf("room: catch-up: %w", err)
		}
		entries = got.Entries
		// Too far behind, or the log no longer reaches back to what the
		// client has: the snapshot is the way (for JSON sessions too:
		// nothing else can bring them up to date without reading more
		// than maxCatchupBytes of the log at once).
		useSnapshot = got.More || got.Trimmed
		// If the log was trimmed past what the client has, only a
		// snapshot can bring it up to date.
		for rep, end := range version {
			if !useSnapshot && have[rep] < end && !coversFrom(entries, rep, have[rep]+1) {
				useSnapshot = true
			}
		}
	}
	var jsonOut [][]byte // the JSON ops messages of entries (JSON sessions)
	if !useSnapshot && jsonOnly {
		var ok, busy bool
		if jsonOut, ok, busy = r.jsonCatchup(entries); busy {
			return errJoinBusy
		} else if !ok {
			useSnapshot, entries = true, nil
		}
	}
	r.pickColor(s)
	w := protocol.Welcome{Type: protocol.TypeWelcome, Node: r.cfg.Node, Board: r.board.String(), Session: s.ID,
		User: s.User, Version: version, Catchup: "ops", Token: s.Token, Now: r.cfg.Now().UnixMilli()}
	w.Peers = []protocol.Peer{}
	for o := range r.sessions {
		w.Peers = append(w.Peers, o.peer())
	}
	slices.SortFunc(w.Peers, func(a, b protocol.Peer) int { return cmp.Compare(a.Session, b.Session) })
	var snap []byte
	stored := false
	if useSnapshot {
		w.Catchup = "snapshot"
		snap, entries, stored = r.joinSnapshot(ctx)
		if !stored {
			snap, entries, stored = r.staleSnapshot(ctx, version)
		}
		if stored && jsonOnly {
			// The log after the snapshot, in JSON, within the same
			// bound; past it, a fresh snapshot, which has none.
			var ok, busy bool
			if jsonOut, ok, busy = r.jsonCatchup(entries); busy {
				return errJoinBusy
			} else if !ok {
				snap, entries, stored = nil, nil, false
			}
		}
	}
	w.Changes = len(entries)
	if !s.SendJSON(w) {
		return nil
	}
	if useSnapshot && !jsonOnly && s.FarView > 0 && r.doc.Len() >= s.FarView {
		// The far view of this very state (what the snapshot and its tail
		// bring the client to), ahead of the snapshot: server/farview.
		if fv := r.farView(version); fv != nil && !s.Send(Outgoing{Binary: true, Shared: true, Data: fv}) {
			return nil
		}
	}
	if useSnapshot && !stored {
		// Made after the welcome and the far view are on their way: on a
		// big board it takes a second, which the client spends drawing.
		snap = r.freshSnapshot(ctx, version)
	}
	// snap is a 0x03 frame shared by the joins that send it (never
	// written to): a copy per join cost the room a copy of the board, and
	// each slow reader's queue one more.
	if snap != nil && !s.Send(Outgoing{Binary: true, Shared: true, Data: snap}) {
		return nil
	}
	// The entries come cut to what the client lacks (ChangesSince); after
	// a snapshot the client's doc is the snapshot, and the tail goes whole.
	for _, m := range jsonOut {
		if !s.Send(Outgoing{Data: m}) {
			return nil
		}
	}
	if jsonOnly {
		entries = nil // sent as jsonOut
	}
	var batch [][]byte
	size := 0
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		ok := s.Send(Outgoing{Binary: true, Data: protocol.EncodeOpsOut(batch)})
		batch, size = batch[:0], 0
		return ok
	}
	for _, e := range entries {
		batch = append(batch, e.Data)
		if size += len(e.Data); size > maxFrame {
			if !flush() {
				return nil
			}
		}
	}
	if !flush() {
		return nil
	}
	s.SendJSON(protocol.Synced{Type: protocol.TypeSynced, Version: version})
	r.sessions[s] = struct{}{}
	// Tell the others.
	p := s.peer()
	r.broadcastPresence(s, protocol.JSON(protocol.Presence{Type: protocol.TypePresence, Peer: &p}))
	return nil
}

// joinSnapshot returns what brings a client up to date by snapshot: the
// stored snapshot (its 0x03 frame) and the log after it, which costs a
// read, not an encoding of the whole board on the room's goroutine
// (stored: true); or, for a board without a stored snapshot (a young one,
// usually small, but a board filled by a few big REST batches has none
// either), nothing: the caller sends freshSnapshot, and no tail.
//
// A log after the stored snapshot of more than maxCatchupBytes is not
// read whole: a snapshot is stored anew (writeSnapshot, as every
// Config.SnapshotEvery changes), and sent with no tail. That costs an
// encoding of the board at most once per maxCatchupBytes written to it,
// however many join.
//
// The stored snapshot's frame is read once and kept (storedFrame) until
// the next is stored: a loop of reconnecting clients (there is no bound
// on connections a second) read the whole snapshot from the store at
// every join, 17.5 MB for 100,000 elements, 7-20 ms of the room's
// goroutine each. The cost is one snapshot in memory per loaded board
// that had a first visit since its last snapshot, as freshSnapshot keeps
// one for a board without a stored snapshot.
func (r *Room) joinSnapshot(ctx context.Context) ([]byte, []storage.Record, bool) {
	// One that holds held changes is not for clients: they would apply
	// them when they get what they wait for, even where this node then
	// refuses them (release.go).
	for try := 0; r.snapSeq > 0 && !r.storedHeld && try < 2; try++ {
		seq, data := r.storedSeq, r.storedFrame
		if data == nil || seq != r.snapSeq {
			var err error
			seq, data, err = r.cfg.Store.LatestSnapshot(ctx, r.board)
			if err != nil || seq != r.snapSeq {
				break
			}
			data = append([]byte{protocol.TagSnapshot}, data...)
			r.storedFrame, r.storedSeq = data, seq
		}
		if r.lastSeq == seq {
			// Nothing logged since: no tail to read. The room is the
			// log's one writer once the board is open, so lastSeq is
			// its end. An empty scan took the room 17-90 ms on the
			// benchmark's board of 100,000 elements (10-20 ms alone),
			// before the welcome went out.
			return data, nil, true
		}
		var tail []storage.Record
		size := 0
		err := r.cfg.Store.ScanOps(ctx, r.board, seq+1, func(e storage.Record) error {
			if size += len(e.Data); size > maxCatchupBytes {
				return errScanDone
			}
			if e.End > r.doc.VersionOf(crdt.ReplicaID(e.Replica)) {
				return nil // held here: a client gets it once it applies
			}
			tail = append(tail, e)
			return nil
		})
		if err == nil {
			return data, tail, true
		}
		if err != errScanDone {
			break
		}
		r.writeSnapshot() // then read anew: no tail
	}
	return nil, nil, false
}

// jsonCatchup returns the JSON ops messages of a JSON session's catch-up
// entries, or false when they make more than maxJSONCatchup bytes of JSON
// or, past jsonCatchupFree, the board's whole-board reads are spent or
// another whole-board read of the board is under way (Config.WholeRead
// never waits; see maxJSONCatchup).
//
// busy: the whole-board reads were spent. The join is then refused
// (errJoinBusy: the client reconnects later) rather than sent a fresh
// snapshot, which a spent budget has the room store uncharged: JSON joins
// over a busy board's tail had it write the whole board at every 256 KiB
// of JSON the tail grew.
func (r *Room) jsonCatchup(entries []storage.Record) (out [][]byte, ok, busy bool) {
	out, _, ok = jsonFrames(entries, jsonCatchupFree)
	if ok {
		return out, true, false
	}
	if !r.wholeRead(func() int {
		var made int
		out, made, ok = jsonFrames(entries, maxJSONCatchup)
		return made / 512
	}) {
		return nil, false, true
	}
	return out, ok, false
}

// errJoinBusy refuses a join whose catch-up needs a whole-board read while
// the board's are spent; the session is closed with CloseRetry.
var errJoinBusy = errors.New("room: the board is read in full too often; connect again in a moment")

// jsonFrames encodes op-log entries as JSON ops messages (the bytes
// jsonOps makes) of about maxFrame each, counting the bytes made as it
// goes: false, and the bytes made so far, once they pass limit.
func jsonFrames(entries []storage.Record, limit int) (frames [][]byte, made int, ok bool) {
	const head, tail = `{"type":"ops","changes":[`, "]}"
	var cur []byte // the message being made, without its tail
	for _, e := range entries {
		c, err := crdt.DecodeChange(e.Data)
		if err != nil {
			continue // as jsonOps
		}
		if cur == nil {
			cur = append(make([]byte, 0, 1024), head...)
		} else {
			cur = append(cur, ',')
		}
		if cur, ok = c.AppendJSON(cur, limit-made-len(tail)); !ok {
			return nil, made + len(cur), false
		}
		if len(cur) > maxFrame {
			cur = append(cur, tail...)
			frames, made, cur = append(frames, cur), made+len(cur), nil
		}
	}
	if cur != nil {
		cur = append(cur, tail...)
		frames, made = append(frames, cur), made+len(cur)
	}
	return frames, made, made <= limit
}

// staleSnapshot returns, for a board whose stored snapshot holds held
// changes (which a client may not get: storedHeld), the last fresh
// snapshot made for a join and the changes applied since, cut to what it
// lacks, when they are within maxCatchupBytes (ok); else nothing, and the
// caller makes a fresh one. Without it, every join of such a board over
// its whole-board budget (a change held for good keeps the board's
// stored snapshots unfit) would encode the board anew.
func (r *Room) staleSnapshot(ctx context.Context, version crdt.VersionVector) ([]byte, []storage.Record, bool) {
	if !r.storedHeld || r.snapFrame == nil {
		return nil, nil, false
	}
	if maps.Equal(r.snapAt, version) {
		return r.snapFrame, nil, true
	}
	got, err := ChangesSince(ctx, r.cfg.Store, r.board, r.snapAt, version, Limit{Bytes: maxCatchupBytes})
	if err != nil || got.More || got.Trimmed {
		return nil, nil, false
	}
	return r.snapFrame, got.Entries, true
}

// freshSnapshot returns the doc's snapshot at version (the doc's own, as
// a 0x03 frame), made once per version and kept until the next is made:
// first visits of a board in a row (a link opened by a meeting) share it.
// Uncompressed, as stored snapshots are: the connection compresses big
// messages anyway (permessage-deflate, at its fastest level, on the
// session's writer goroutine), so compressing it here too took the room's
// goroutine twice as long (1.0 s against 0.55 s for 100,000 elements) and
// the page's wasm longer to load it (0.99 s against 0.82 s). Rejected:
// storing it (a write of the whole board on a join).
//
// Each one made is charged to the board's whole-board reads
// (Config.WholeRead): a client reconnecting after every change (its own,
// or anyone's on a busy board) would otherwise have the room encode the
// whole board for each visit. Once the budget is spent, the snapshot is
// stored instead, as every Config.SnapshotEvery changes (writeSnapshot),
// and the join gets it (with no tail: it is of the doc); later joins read
// the stored one and the log after it (joinSnapshot), so a board makes at
// most one such write before no join encodes it any more. A store that
// fails leaves the fresh one, made anyway.
func (r *Room) freshSnapshot(ctx context.Context, version crdt.VersionVector) []byte {
	// Of what the doc applied: no held change (a client gets one only
	// once it applies here).
	if r.snapFrame != nil && maps.Equal(r.snapAt, version) {
		return r.snapFrame
	}
	made := func() int {
		r.snapFrame, r.snapAt = append([]byte{protocol.TagSnapshot}, r.doc.SnapshotRawApplied()...), version.Clone()
		return r.doc.Len() + len(r.snapFrame)/512
	}
	if !r.wholeRead(made) {
		if r.doc.Held() > 0 {
			made() // a snapshot stored now would hold them too: no use to joins
			return r.snapFrame
		}
		r.writeSnapshot()
		// Stored at the doc's version: no tail (the welcome said none).
		if snap, entries, ok := r.joinSnapshot(ctx); ok && len(entries) == 0 {
			return snap
		}
		made()
	}
	return r.snapFrame
}

// wholeRead runs read within the board's whole-board reads
// (Config.WholeRead); false, with read not run, when they are spent.
func (r *Room) wholeRead(read func() int) bool {
	if r.cfg.WholeRead == nil {
		read()
		return true
	}
	return r.cfg.WholeRead(r.board, read)
}

// farView returns the 0x04 frame of the doc's far-view summary at version
// (the doc's own), made once per version: first visits of one board in a
// row (a meeting's link opened by many) share it. It is made on the room's
// goroutine, as every read of the doc is; its cost is linear in the
// board's elements (0.13 s for 100,000, farview.BenchmarkEncode100k), less
// than the snapshot a board that large needs next. Nil when the summary
// would pass farview.MaxBytes or MaxStyles, or when the board's
// whole-board reads are spent (Config.WholeRead): the client then waits
// for the snapshot, as without a far view, and a reconnect loop cannot
// make the room encode the board for every change.
func (r *Room) farView(version crdt.VersionVector) []byte {
	if r.farFrame != nil && maps.Equal(r.farAt, version) {
		return r.farFrame
	}
	var body []byte
	if !r.wholeRead(func() int {
		var read int
		body, read = farview.EncodeCounted(r.doc)
		return r.doc.Len() + (len(body)+read)/512
	}) {
		return nil
	}
	if body == nil {
		r.farFrame, r.farAt = nil, nil
		return nil
	}
	r.farFrame = append([]byte{protocol.TagFarView}, body...)
	r.farAt = version.Clone()
	return r.farFrame
}

// coversFrom reports whether the op-log entries hold replica rep's changes
// from counter from on (that is, the log has not been trimmed below it).
func coversFrom(entries []storage.Record, rep crdt.ReplicaID, from uint64) bool {
	for _, r := range entries {
		if crdt.ReplicaID(r.Replica) == rep && r.Start <= from && r.End >= from {
			return true
		}
	}
	return false
}

func (r *Room) leave(s *Session) {
	if _, ok := r.sessions[s]; !ok {
		return
	}
	r.dropSession(s)
}

// dropSession removes a session and tells the others it left.
func (r *Room) dropSession(s *Session) {
	delete(r.sessions, s)
	delete(r.dirtyPres, s)
	delete(r.lastPres, s)
	r.broadcastPresence(s, protocol.JSON(protocol.Leave{Type: protocol.TypeLeave, Session: s.ID}))
}

// broadcastPresence sends a presence frame to every local session but the
// subject, and to the other nodes.
func (r *Room) broadcastPresence(subject *Session, frame []byte) {
	for o := range r.sessions {
		if o != subject {
			o.Send(Outgoing{Data: frame})
		}
	}
	r.cfg.Bus.Publish(r.board, bus.KindPresence, frame)
}

// schedulePresence arms the coalescing timer.
func (r *Room) schedulePresence() {
	if r.presTimer != nil {
		return
	}
	wait := r.cfg.PresenceInterval
	now := time.Now()
	for s := range r.dirtyPres {
		if d := r.cfg.PresenceInterval - now.Sub(r.lastPres[s]); d < wait {
			wait = max(d, 0)
		}
	}
	r.presTimer = time.NewTimer(max(wait, r.presWait))
}

// presUseHalfLife is how fast a session's recent presence bytes
// (Session.presUse) are forgotten.
const presUseHalfLife = time.Second

// flushPresence broadcasts the sessions whose presence changed and whose
// last broadcast is old enough, within the board's presence budget
// (Config.PresenceBytesPerSecond), those with the fewest bytes broadcast
// lately first; the rest wait for the next tick.
func (r *Room) flushPresence() {
	now := time.Now()
	rate := float64(r.cfg.PresenceBytesPerSecond)
	r.presBudget.refill(now, rate, rate)
	r.presWait = 0
	use := func(s *Session) float64 {
		return s.presUse * math.Exp2(-now.Sub(s.presUseAt).Seconds()/presUseHalfLife.Seconds())
	}
	var ready []*Session
	for s := range r.dirtyPres {
		if now.Sub(r.lastPres[s]) >= r.cfg.PresenceInterval {
			ready = append(ready, s)
		}
	}
	slices.SortFunc(ready, func(a, b *Session) int { return cmp.Or(cmp.Compare(use(a), use(b)), cmp.Compare(a.ID, b.ID)) })
	for _, s := range ready {
		p := s.peer()
		frame := protocol.JSON(protocol.Presence{Type: protocol.TypePresence, Peer: &p})
		n := float64(len(frame))
		if n > r.presBudget.left && r.presBudget.left < rate { // (a frame over the whole budget goes when it is full)
			r.presWait = max(time.Millisecond, time.Duration((n-r.presBudget.left)/rate*float64(time.Second)))
			break
		}
		r.presBudget.left -= n
		s.presUse, s.presUseAt = use(s)+n, now
		delete(r.dirtyPres, s)
		r.lastPres[s] = now
		r.broadcastPresence(s, frame)
	}
	if len(r.dirtyPres) > 0 {
		r.schedulePresence()
	}
}

// CursorColors are the colours a guest gets when the one its browser
// asked for is worn by someone present (the web client's own palette).
var CursorColors = []string{"#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#e03131", "#5f3dc4"}

// pickColor gives a joining guest a colour nobody else present wears,
// when its own is taken and a free one is left (else it keeps its own).
// The welcome carries the result, and the web client keeps it for its
// next visits, so a guest's colour stays stable unless it collides.
//
// Rejected: colours derived from the user id (two ids can still map to
// one colour, and a guest could not keep the colour it had), and leaving
// it to the client (it learns of the others only from the welcome, and
// its hello has gone by then: changing colour would need a new frame).
func (r *Room) pickColor(s *Session) {
	if s.OwnColor {
		return
	}
	used := make(map[string]bool, len(r.sessions))
	for o := range r.sessions {
		if o != s {
			used[strings.ToLower(o.Color)] = true
		}
	}
	if s.Color != "" && !used[strings.ToLower(s.Color)] {
		return
	}
	for _, c := range CursorColors {
		if !used[c] {
			s.Color, s.User.Color = c, c
			return
		}
	}
}
