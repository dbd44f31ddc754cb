// Package room owns the open boards of a node. A Room is the single writer
// of one board: one goroutine holds its crdt.Doc and serialises everything
// that touches it — client submissions, ops from other nodes, joins,
// presence and queries. No lock guards CRDT state.
//
// The life of a submitted batch, in order (as raft's doc.go says "persist
// before send"):
//
//  1. validate: the changes are the session's replica's, the session's role
//     allows them, they fit the schema, and they apply as written;
//  2. apply to the doc (duplicates are dropped, missing dependencies held),
//     and make an op-log entry of the part of each change that was new;
//  3. persist the entries to the board's op log (fsync; one append per
//     group of submissions collected while the previous one was written);
//  4. ack the sender — an acked op survives kill -9;
//  5. fan out: push to the other local sessions through their bounded
//     queues (a full queue disconnects that session with "resync"), and
//     publish on the bus for the other nodes.
//
// Ops from other nodes take steps 2, 3 and 5 (never republished), on the
// same path (ingest.go). A room with no session for IdleTimeout writes a
// snapshot and unloads, so memory does not grow with the number of boards
// ever opened.
//
// Where things are: room.go the Manager and the room's loop; config.go
// its settings and metric hooks; ingest.go the path of changes; ops.go
// loading, admission and snapshots; join.go a client's catch-up and
// presence; since.go the one scan of an op log by version vector
// (ChangesSince); route.go the cluster requests the Manager takes for
// boards loaded or not; sync.go catch-up between nodes; confirm.go acks
// after replication; policy.go a board's deadline and voting rules;
// release.go held changes admitted again when they apply; session.go a
// client's queue.
package room

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// ErrClosed: the room closed (unloaded, dropped, or the manager closed)
// before it could do what was asked.
var ErrClosed = errors.New("room: closed")

// ErrBusy is Submit's refusal while the room's inbox holds
// Config.MaxQueuedOps ops already: the client should resend later.
var ErrBusy = errors.New("room: busy")

// Manager opens rooms on first use and forgets them when they unload.
type Manager struct {
	cfg Config
	mu  struct {
		sync.Mutex
		rooms  map[storage.BoardID]*Room
		closed bool
	}
	wg sync.WaitGroup
}

// NewManager returns a manager.
func NewManager(cfg Config) *Manager {
	cfg.defaults()
	m := &Manager{cfg: cfg}
	m.mu.rooms = map[storage.BoardID]*Room{}
	return m
}

// Open returns the board's room, loading it if needed. Callers check that
// the board exists (metadata) before opening it.
func (m *Manager) Open(ctx context.Context, board storage.BoardID) (*Room, error) {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	r := m.mu.rooms[board]
	if r == nil {
		r = newRoom(m, board)
		m.mu.rooms[board] = r
		m.wg.Add(1)
		go r.run()
	}
	m.mu.Unlock()
	select {
	case <-r.loaded:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.loadErr != nil {
		return nil, r.loadErr
	}
	return r, nil
}

// SyncAll makes every loaded room ask the other nodes for what it lacks
// (after the bus reconnects, say).
func (m *Manager) SyncAll() {
	m.mu.Lock()
	rooms := make([]*Room, 0, len(m.mu.rooms))
	for _, r := range m.mu.rooms {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	for _, r := range rooms {
		r.Sync()
	}
}

// Rooms returns the number of loaded rooms.
func (m *Manager) Rooms() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mu.rooms)
}

func (m *Manager) forget(r *Room) {
	m.mu.Lock()
	if m.mu.rooms[r.board] == r {
		delete(m.mu.rooms, r.board)
	}
	m.mu.Unlock()
}

// Close shuts every room down (each tells its sessions to reconnect
// elsewhere and writes a final snapshot) and waits for them.
func (m *Manager) Close(reason string) {
	m.mu.Lock()
	m.mu.closed = true
	rooms := make([]*Room, 0, len(m.mu.rooms))
	for _, r := range m.mu.rooms {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	for _, r := range rooms {
		r.shutdown(reason)
	}
	m.wg.Wait()
}

// DeleteBoard unloads the board's room (closing its sessions) and removes
// its log. Metadata is the caller's.
func (m *Manager) DeleteBoard(ctx context.Context, board storage.BoardID) error {
	m.mu.Lock()
	r := m.mu.rooms[board]
	m.mu.Unlock()
	if r != nil {
		r.do(ctx, func() { r.kill(protocol.CloseUnknownBoard, "board deleted") })
		<-r.done
	}
	return m.cfg.Store.DeleteBoard(ctx, board)
}

// ---- the room ----

// submit is a client's batch (Submit). Inside the room, a submit without
// a session is a batch from another node on its way through the ingest
// path (fromOps); such a one never waits in the inbox.
type submit struct {
	sess    *Session
	seq     uint64
	changes []crdt.Change
	ops     int64 // of the changes, counted in queuedOps while in the inbox
}

type remote struct {
	kind bus.Kind
	node string // the sending node
	data []byte
}

// Room is one loaded board. Its exported methods may be called from any
// goroutine; they hand work to the room's goroutine.
type Room struct {
	m     *Manager
	cfg   *Config
	board storage.BoardID
	log   *slog.Logger

	inbox chan any // submit, join, leave, presence, remote, func()
	// queuedOps counts the ops of the submissions in inbox (Submit adds,
	// took takes off): Config.MaxQueuedOps bounds it.
	queuedOps atomic.Int64
	loaded    chan struct{}
	loadErr   error
	done      chan struct{}
	stop      chan string

	// Owned by the room goroutine.
	doc       *crdt.Doc
	lastSeq   uint64
	sinceSnap int
	// logBytes is the board's op log as this room counts it
	// (Config.MaxLogBytes): read at load and after a trim, plus what the
	// room appended since.
	logBytes int64
	fullSnap time.Time // when a full log last asked for a snapshot (retention may free it)
	snapSeq  uint64
	// farFrame is the last far-view frame made (join.go farView), of the
	// doc at version farAt.
	farFrame []byte
	farAt    crdt.VersionVector
	// snapFrame is the last fresh snapshot made for a join (join.go
	// freshSnapshot), of what the doc applied at version snapAt.
	snapFrame []byte
	snapAt    crdt.VersionVector
	// storedFrame is the 0x03 frame of the stored snapshot at storedSeq
	// (join.go joinSnapshot), nil until a join reads it.
	storedFrame []byte
	storedSeq   uint64
	// storedHeld: the latest stored snapshot holds held changes, so joins
	// do not get it (joinSnapshot).
	storedHeld  bool
	sessions    map[*Session]struct{}
	replicas    map[crdt.ReplicaID]uint64 // the last counter stored of replicas with changes beyond the doc's version (held)
	heldUser    map[crdt.ReplicaID]string // the user who sent a replica's held changes (MaxHeldReplicaBytes per user)
	heldRole    map[crdt.ReplicaID]string // that user's role as this room last knew it (release.go)
	authors     map[crdt.ReplicaID]author // authors looked up during one Apply (release.go)
	refused     []refusal                 // held changes refused during one Apply (release.go)
	refusedSnap time.Time                 // when a snapshot was last written after a refusal
	refusedDue  bool                      // a refusal waits for that snapshot
	dots        map[string]float64        // each voter's dots over the board, once summed (policy.go)
	moveWork    workBudget                // reach the board's clients may still spend (MoveWorkPerSecond)
	textWork    workBudget                // characters the board's clients may still delete (TextDeletesPerSecond)
	insertWork  workBudget                // runs the board's clients' inserts may still walk (InsertReachPerSecond)
	dirtyPres   map[*Session]struct{}
	lastPres    map[*Session]time.Time
	presTimer   *time.Timer
	// The presence budget (Config.PresenceBytesPerSecond), in bytes;
	// presWait, how long the next in line must wait for it.
	presBudget workBudget
	presWait   time.Duration
	// Changes accepted but not yet pushed to local sessions (FanoutDelay).
	pendFresh  [][]byte
	pendOwners []*Session
	pendFrame  []byte // the binary frame of pendFresh, when one batch alone
	fanTimer   *time.Timer
	lastSync   time.Time // when this room last asked the others (debounce)
	// Submissions waiting for other nodes to confirm (AckReplicas).
	replSeq     uint64
	pendingRepl map[uint64]*pendingRepl
	unsub       func()
	dead        bool
	policy      Policy
}

func newRoom(m *Manager, board storage.BoardID) *Room {
	return &Room{
		m: m, cfg: &m.cfg, board: board,
		log:       m.cfg.Log.With("board", board.String()),
		inbox:     make(chan any, 256),
		loaded:    make(chan struct{}),
		done:      make(chan struct{}),
		stop:      make(chan string, 1),
		sessions:  map[*Session]struct{}{},
		replicas:  map[crdt.ReplicaID]uint64{},
		heldUser:  map[crdt.ReplicaID]string{},
		heldRole:  map[crdt.ReplicaID]string{},
		dirtyPres: map[*Session]struct{}{},
		lastPres:  map[*Session]time.Time{},
	}
}

// Board returns the room's board id.
func (r *Room) Board() storage.BoardID { return r.board }

// send hands a message to the room, or fails when it has closed.
func (r *Room) send(ctx context.Context, msg any) error {
	select {
	case r.inbox <- msg:
		return nil
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// do runs fn on the room's goroutine and waits for it.
func (r *Room) do(ctx context.Context, fn func()) error {
	ch := make(chan struct{})
	if err := r.send(ctx, func() { fn(); close(ch) }); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Query runs fn with the room's doc on the room's goroutine. fn must not
// keep the doc.
func (r *Room) Query(ctx context.Context, fn func(d *crdt.Doc)) error {
	return r.do(ctx, func() { fn(r.doc) })
}

type join struct {
	sess    *Session
	version crdt.VersionVector
	err     chan error
}

// Join adds a session: the room sends it the welcome, the changes it lacks
// (or a snapshot), then live ops.
func (r *Room) Join(ctx context.Context, s *Session, version crdt.VersionVector) error {
	j := join{sess: s, version: version, err: make(chan error, 1)}
	if err := r.send(ctx, j); err != nil {
		return err
	}
	select {
	case err := <-j.err:
		return err
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

type leave struct{ sess *Session }

// Leave removes a session.
func (r *Room) Leave(s *Session) {
	select {
	case r.inbox <- leave{s}:
	case <-r.done:
	}
}

// Submit hands a client's batch to the room; the answer (ack or error)
// goes to the session's queue. It blocks while the room's inbox is full,
// which pushes back on that client's reader.
//
// It refuses with ErrBusy a submission of more than smallSubmit ops while
// the inbox holds Config.MaxQueuedOps ops of other submissions: decoded ops are two hundred bytes each, and a
// message count alone let a room that fell behind hold gigabytes.
// Rejected: waiting for room (a reader blocked on a full inbox already
// pushes back; blocking on ops too would hold every reader of a busy
// board, each with a decoded frame in hand).
func (r *Room) Submit(ctx context.Context, s *Session, seq uint64, changes []crdt.Change) error {
	var n int64
	for i := range changes {
		n += int64(len(changes[i].Ops))
	}
	if q := r.queuedOps.Add(n); q > int64(r.cfg.MaxQueuedOps) && q > n && n > smallSubmit {
		r.queuedOps.Add(-n)
		return ErrBusy
	}
	if err := r.send(ctx, submit{s, seq, changes, n}); err != nil {
		r.queuedOps.Add(-n)
		return err
	}
	return nil
}

// smallSubmit is the most ops a submission may have to pass the queued-ops
// bound whatever is waiting: a few connections sending their ops burst
// could otherwise keep every other person's edits refused for as long as
// they went on. The inbox's 256 messages bound what such small ones add
// (256 × 1,024 ops, some 50 MB decoded).
const smallSubmit = 1024

// took is called with each message taken from the inbox.
func (r *Room) took(msg any) {
	if s, ok := msg.(submit); ok {
		r.queuedOps.Add(-s.ops)
	}
}

type presence struct {
	sess *Session
	data []byte
}

// Presence sets a session's presence data (coalesced, never stored).
func (r *Room) Presence(ctx context.Context, s *Session, data []byte) error {
	return r.send(ctx, presence{s, data})
}

func (r *Room) shutdown(reason string) {
	select {
	case r.stop <- reason:
	default:
	}
	<-r.done
}

func (r *Room) run() {
	defer r.m.wg.Done()
	defer close(r.done)
	if err := r.safeLoad(); err != nil {
		r.loadErr = err
		r.m.forget(r)
		close(r.loaded)
		return
	}
	// Subscribe before anyone can use the room, so no op published by
	// another node after Open returns is missed.
	cancel, err := r.cfg.Bus.Subscribe(r.board, r.fromBus)
	if err != nil {
		r.log.Warn("bus subscribe failed; other nodes' ops arrive by catch-up only", "err", err)
	} else {
		r.unsub = cancel
	}
	close(r.loaded)
	if h := r.cfg.Hooks.Rooms; h != nil {
		h(1)
		defer h(-1)
	}
	idle := time.NewTimer(r.cfg.IdleTimeout)
	defer idle.Stop()
	// Ask the other nodes for what this node missed while the board was
	// not loaded here, then again every SyncInterval.
	r.requestSync(true)
	syncTick := time.NewTicker(r.cfg.SyncInterval)
	defer syncTick.Stop()
	r.serve(idle, syncTick)
}

// safeLoad is load, with a panic (a bug, or a stored entry that trips
// one) turned into a load error: the node stays up, and Open fails.
func (r *Room) safeLoad() (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("panic while loading the board", "panic", p, "stack", string(debug.Stack()))
			if h := r.cfg.Hooks.Panics; h != nil {
				h()
			}
			err = fmt.Errorf("room: board %v: load failed: %v", r.board, p)
		}
	}()
	return r.load()
}

// serve is the room's loop. A panic in it drops the room (crash): its
// sessions reconnect and the next Open loads the board afresh from the
// store, which holds everything acked. One defer for the whole loop, so
// the recovery costs nothing per message.
//
// Rejected: recovering per message and carrying on. The panic may have
// left the doc half-applied, or ahead of the store; only the store is
// known to be right.
func (r *Room) serve(idle *time.Timer, syncTick *time.Ticker) {
	defer func() {
		if p := recover(); p != nil {
			r.crash(p)
		}
	}()
	var presC, fanC <-chan time.Time
	for !r.dead {
		presC, fanC = nil, nil
		if r.presTimer != nil {
			presC = r.presTimer.C
		}
		if r.fanTimer != nil {
			fanC = r.fanTimer.C
		}
		select {
		case <-fanC:
			r.fanTimer = nil
			r.flushFanout()
		case <-syncTick.C:
			// Not while a catch-up is under way (its pages ask on their
			// own): a second request would have every page sent twice.
			if time.Since(r.lastSync) >= r.cfg.SyncInterval {
				r.requestSync(true)
			}
		case msg := <-r.inbox:
			r.took(msg)
			had := len(r.sessions)
			if h := r.cfg.BeforeHandle; h != nil {
				h(r.board)
			}
			r.handle(msg)
			// The idle clock starts when the last session leaves: traffic
			// from other nodes (live ops, catch-up requests) does not keep
			// a board nobody here uses in memory.
			if had > 0 && len(r.sessions) == 0 {
				idle.Reset(r.cfg.IdleTimeout)
			}
		case <-presC:
			r.presTimer = nil
			r.flushPresence()
		case <-idle.C:
			if len(r.sessions) == 0 {
				r.close("idle")
			}
		case reason := <-r.stop:
			r.kill(protocol.CloseGoingAway, reason)
		}
	}
}

// crash drops the room after a panic on its goroutine: it is forgotten
// first (the next Open loads the board from the store), its sessions are
// kicked with CloseRetry (they reconnect and resend what was not acked),
// and nothing of its memory is written: no snapshot, no pending fanout.
// Callers waiting on the room get ErrClosed.
func (r *Room) crash(p any) {
	r.log.Error("panic in the board's room; board dropped, it reloads on next use", "panic", p, "stack", string(debug.Stack()))
	if h := r.cfg.Hooks.Panics; h != nil {
		h()
	}
	r.m.forget(r)
	r.dead = true
	if r.unsub != nil {
		r.unsub()
	}
	for s := range r.sessions {
		s.Kick(protocol.CloseRetry, "board unavailable")
	}
	r.sessions = map[*Session]struct{}{}
	r.pendFresh, r.pendOwners, r.pendFrame = nil, nil, nil
	if r.fanTimer != nil {
		r.fanTimer.Stop()
	}
	if r.presTimer != nil {
		r.presTimer.Stop()
	}
	for _, p := range r.pendingRepl {
		p.timer.Stop()
		for _, sm := range p.group {
			sm.sess.Kick(protocol.CloseRetry, "board unavailable")
		}
	}
	r.pendingRepl = nil
	// Answer what is queued without touching the doc: closing done (run's
	// defer) releases whoever waits for a func to run.
	r.drainInbox("board unavailable", false)
}

// drainInbox answers what is queued so that no caller waits in vain:
// joins fail, submissions are refused (the client reconnects) with why,
// and queued funcs run only with runFuncs (never after a panic: the doc
// may be broken).
func (r *Room) drainInbox(why string, runFuncs bool) {
	for {
		select {
		case msg := <-r.inbox:
			r.took(msg)
			switch m := msg.(type) {
			case join:
				m.err <- ErrClosed
			case submit:
				m.sess.Kick(protocol.CloseRetry, why)
			case func():
				if runFuncs {
					m()
				}
			}
		default:
			return
		}
	}
}

// close unloads the room: final snapshot, forget, drain.
func (r *Room) close(reason string) {
	r.flushFanout()
	r.m.forget(r)
	if r.unsub != nil {
		r.unsub()
	}
	r.writeSnapshot()
	r.dead = true
	r.drainInbox("board unloading", true)
	r.log.Debug("room closed", "reason", reason)
}

// kill closes every session with code, then unloads.
func (r *Room) kill(code protocol.CloseCode, reason string) {
	r.flushFanout()
	for s := range r.sessions {
		s.Finish(code, reason, protocol.Shutdown{Type: protocol.TypeShutdown, Reason: reason})
	}
	r.sessions = map[*Session]struct{}{}
	r.close(reason)
}
