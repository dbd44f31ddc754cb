package room

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// Outgoing is one WebSocket message for a session: JSON text or binary.
type Outgoing struct {
	Binary bool
	// Shared: Data is sent as is to many sessions and never written to
	// (a board's snapshot, its far view): a connection may keep its
	// encoded form for the next one to send it (gateway's deflateCache).
	Shared bool
	Data   []byte
}

// Session is the room's view of one connected client. The room only ever
// queues without blocking, and a session whose queue holds more than its
// limit is kicked with CloseResync: a slow client never slows the room.
//
// Two ways to take what is queued:
//
//   - a writer set with SetWriter: the session runs it on a goroutine of
//     its own when something is queued (or the session is kicked) and no
//     writer runs; the writer calls Next until Next says to stop, and then
//     returns. An idle connection has no writer goroutine (its stack was
//     half of an idle connection's memory).
//   - without a writer (tests): Ready, then Drain.
//
// Rejected: a buffered channel per session (its slots are allocated up
// front, 16 KiB for 512 messages); a writer goroutine per connection that
// lives as long as the connection (8-10 KiB of stack while idle); a pool
// of writer goroutines shared by all sessions (one slow peer's write
// would hold a pool worker, and the queue order per session would need
// the same bookkeeping as the writer flag below).
type Session struct {
	ID      string
	Replica crdt.ReplicaID
	User    protocol.User
	Format  string // protocol.FormatBinary or FormatJSON
	Color   string
	// OwnColor says Color is the person's choice (their profile's): the
	// room keeps it even when someone present has the same. Otherwise
	// (a guest's pick from its browser) a colour already worn by another
	// session here is swapped for a free one on joining (pickColor).
	OwnColor bool
	// FarView: the hello's "farView" (send the far-view summary ahead of a
	// snapshot on a board of at least this many elements; 0: never).
	FarView int
	// Token, if set, is handed to the client in the welcome (guests).
	Token string
	// Via and Epoch say how the node authenticated the session (its own
	// notes, for re-checking access when it changes; see
	// Manager.Reauthorize).
	Via   string
	Epoch int
	// Cred identifies the credential (a sign-in session's token hash), so
	// that signing out closes the connections it opened.
	Cred string
	// Unattributed: the op-log entries of this session's changes record
	// no author (storage.Record.Author ""), as another node's do. The
	// node's ballot (api/ballot.go) submits each anonymous vote so: its
	// User is the voter, for admission (role, voter id, dots budget),
	// and nothing stored or served names them.
	Unattributed bool

	mu    sync.Mutex
	queue []Outgoing
	limit int
	// bytes is the size of what queue holds but shared messages (a
	// snapshot: one copy for every join that sends it), maxBytes its
	// bound (SetQueueBytes): a queue of 512 messages of up to a megabyte
	// each (a change's delivery) let one slow reader pin half a gigabyte.
	bytes, maxBytes int
	ready           chan struct{} // holds a token while the queue is non-empty
	// writer, if set, is started on a new goroutine when work appears and
	// writing is false; writing stays true until Next tells it to stop.
	// kicked (under mu) mirrors the kick channel; finished is set once a
	// writer has been told of the kick: no writer starts after that.
	writer   func()
	writing  bool
	kicked   bool
	finished bool
	// direct, if set, writes a message straight to the connection without
	// blocking (SetDirect); flush says a direct write left part of a
	// message with the writer, which must run to send it; noLinger says
	// the room writes this session's messages directly (SendDirect), so
	// its writer returns as soon as the queue is empty.
	direct   func(Outgoing) DirectResult
	flush    bool
	noLinger bool

	kick   chan struct{}
	once   sync.Once
	onKick func()
	code   atomic.Int32
	why    atomic.Value // string

	// presence is the session's latest presence data; owned by the room.
	presence []byte
	// presUse is the presence bytes the room broadcast for the session
	// lately (decaying by half every presUseHalfLife), as of presUseAt:
	// the order in which a board's presence budget serves its sessions
	// (Room.flushPresence). Owned by the room.
	presUse   float64
	presUseAt time.Time
	// edits mirrors whether User.Role may make changes (MayEdit), for
	// the connection's reader: the room changes User.Role on its own
	// goroutine.
	edits atomic.Bool
}

// MayEdit reports whether the session's role, as the room last set it, may
// make changes (owner, editor, commenter). Safe from any goroutine.
func (s *Session) MayEdit() bool { return s.edits.Load() }

// setRole gives the session a new role (on the room's goroutine, or before
// it joins).
func (s *Session) setRole(role string) {
	s.User.Role = role
	s.edits.Store(mayEdit(role))
}

// NewSession returns a session whose queue holds at most queue messages
// (0: 512).
func NewSession(id string, replica crdt.ReplicaID, user protocol.User, format string, queue int) *Session {
	if queue <= 0 {
		queue = 512
	}
	if format == "" {
		format = protocol.FormatBinary
	}
	s := &Session{ID: id, Replica: replica, User: user, Format: format, Color: user.Color,
		limit: queue, maxBytes: DefaultQueueBytes, ready: make(chan struct{}, 1), kick: make(chan struct{})}
	s.edits.Store(mayEdit(user.Role))
	return s
}

// DefaultQueueBytes is a session's bound on the bytes of its queued
// messages, unless SetQueueBytes says otherwise.
// Well above what a join queues besides a shared snapshot (a catch-up
// reads at most 16 MiB of the log; a JSON session gets it as text).
const DefaultQueueBytes = 128 << 20

// SetQueueBytes bounds the bytes of the messages queued for the session
// (n <= 0: DefaultQueueBytes), shared messages (Outgoing.Shared) not
// counted: a message that would take it past n kicks
// the session as a full queue does, unless the queue is empty (a snapshot
// bigger than n still goes out alone). Set it before the session joins a
// room.
func (s *Session) SetQueueBytes(n int) {
	if n <= 0 {
		n = DefaultQueueBytes
	}
	s.mu.Lock()
	s.maxBytes = n
	s.mu.Unlock()
}

// Ready receives a value when messages are queued: call Drain then.
func (s *Session) Ready() <-chan struct{} { return s.ready }

// Drain appends the queued messages to dst, oldest first, and empties the
// queue.
func (s *Session) Drain(dst []Outgoing) []Outgoing {
	s.mu.Lock()
	dst = s.takeLocked(dst)
	s.mu.Unlock()
	return dst
}

func (s *Session) takeLocked(dst []Outgoing) []Outgoing {
	s.bytes = 0
	if dst == nil && len(s.queue) > 0 {
		// Hand the queue itself over: no copy, and an idle session
		// keeps no slice.
		dst, s.queue = s.queue, nil
		return dst
	}
	dst = append(dst, s.queue...)
	clear(s.queue)
	if cap(s.queue) > 64 {
		s.queue = nil // give a burst's memory back
	} else {
		s.queue = s.queue[:0]
	}
	return dst
}

// Queued returns the number of messages waiting.
func (s *Session) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Kicked is closed when the session must be closed; Closing says how.
func (s *Session) Kicked() <-chan struct{} { return s.kick }

// Closing returns the close code and reason given to Kick.
func (s *Session) Closing() protocol.Close {
	why, _ := s.why.Load().(string)
	return protocol.Close{Code: protocol.CloseCode(s.code.Load()), Reason: why}
}

// OnKick sets a function called once, on the first Kick (before anything
// else may be queued): the connection uses it to abort a write stuck on a
// slow peer. Set it before the session joins a room.
func (s *Session) OnKick(f func()) { s.onKick = f }

// Kick asks the connection to close with code. Only the first call counts.
func (s *Session) Kick(code protocol.CloseCode, reason string) {
	s.once.Do(func() {
		s.code.Store(int32(code))
		s.why.Store(reason)
		close(s.kick)
		if s.onKick != nil {
			s.onKick()
		}
		s.mu.Lock()
		s.kicked = true
		s.wakeLocked()
		s.mu.Unlock()
	})
}

// SetWriter makes the session run w on a new goroutine whenever messages
// are queued, or the session is kicked, and no writer runs. w must call
// Next until it returns false, and return then; when Next reports the
// kick, w sends what it got (or not: CloseCode says why it was kicked),
// closes the connection and returns without calling Next again. At most
// one writer runs at a time, so the messages go out in order. Set it
// before the session joins a room; anything already queued starts it.
func (s *Session) SetWriter(w func()) {
	s.mu.Lock()
	s.writer = w
	s.wakeLocked()
	s.mu.Unlock()
}

// wakeLocked starts the writer if there is work for it and none runs.
func (s *Session) wakeLocked() {
	if s.writer == nil || s.writing || s.finished || (len(s.queue) == 0 && !s.kicked && !s.flush) {
		return
	}
	s.writing = true
	go s.writer()
}

// Next is the writer's loop step: it appends the queued messages to dst
// (oldest first) and empties the queue. more is false when nothing is
// queued and the session was not kicked: the writer must return then (the
// next message starts a new one). kicked is true once, when the session
// has been kicked: the writer sends dst as CloseCode allows, closes the
// connection and returns.
func (s *Session) Next(dst []Outgoing) (out []Outgoing, more, kicked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		s.writing = false
		return dst, false, false
	}
	if len(s.queue) == 0 && !s.kicked && !s.flush {
		s.writing = false
		s.queue = nil // an idle session keeps no slice
		return dst, false, false
	}
	s.flush = false // the writer sends what a direct write left first
	dst = s.takeLocked(dst)
	if s.kicked {
		s.finished = true
		return dst, true, true
	}
	return dst, true, false
}

// NextWait is Next, except that when nothing is queued it first waits up
// to linger for a message or a kick (t is the writer's own timer, reused).
// A connection that keeps receiving — every few milliseconds on a busy
// board, every second or so on a quiet one — then keeps its writer
// goroutine and its grown stack, instead of starting one per message,
// which doubled the tail latency of a 500-client board; a connection idle
// for longer than linger still has no writer.
func (s *Session) NextWait(dst []Outgoing, t *time.Timer, linger time.Duration) (out []Outgoing, more, kicked bool) {
	s.mu.Lock()
	idle := !s.finished && len(s.queue) == 0 && !s.kicked && !s.flush
	if s.noLinger {
		linger = 0 // the next message is written directly (SendDirect)
	}
	s.mu.Unlock()
	if idle && linger > 0 {
		t.Reset(linger)
		select {
		case <-s.ready: // a message was queued (the token is the writer's to take)
		case <-s.kick:
		case <-t.C:
		}
		t.Stop()
	}
	return s.Next(dst)
}

// Send queues a message without blocking; a full queue kicks the session.
func (s *Session) Send(m Outgoing) bool {
	s.mu.Lock()
	return s.queueLocked(m)
}

// sendQueued is Send for the room's acks and fan-out on a board too big
// for direct writes: the session's writer lingers again between messages
// (NextWait). The reader's answers (pongs, refusals) use Send and leave
// that choice as the room made it.
func (s *Session) sendQueued(m Outgoing) bool {
	s.mu.Lock()
	s.noLinger = false
	return s.queueLocked(m)
}

// queueLocked is Send with s.mu held; it unlocks it.
func (s *Session) queueLocked(m Outgoing) bool {
	n := len(m.Data)
	if m.Shared {
		n = 0
	}
	if len(s.queue) >= s.limit || (len(s.queue) > 0 && s.bytes+n > s.maxBytes) {
		s.mu.Unlock()
		s.Kick(protocol.CloseResync, "send queue full")
		return false
	}
	s.bytes += n
	s.queue = append(s.queue, m)
	s.wakeLocked()
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return true
}

// DirectResult is what a direct write (SetDirect) did with a message.
type DirectResult int8

const (
	// DirectRefused: nothing of it was written (the socket is full, the
	// message too large to write whole, the connection not a plain
	// socket); the session queues it for the writer.
	DirectRefused DirectResult = iota
	// DirectWritten: all of it is on the socket.
	DirectWritten
	// DirectPartial: the socket took part of it; the writer keeps the
	// rest and sends it first (the session starts the writer for it).
	DirectPartial
)

// SetDirect lets SendDirect write a message straight to the connection,
// on the caller's goroutine, when the session is idle. f must never
// block: one non-blocking attempt, then DirectRefused or DirectPartial
// when the socket has no room. f and the writer never run at the same
// time. Set it before the session joins a room.
func (s *Session) SetDirect(f func(Outgoing) DirectResult) {
	s.mu.Lock()
	s.direct = f
	s.mu.Unlock()
}

// SendDirect is Send, except that when no writer runs and nothing is
// queued, the message is first offered to the direct write (SetDirect)
// on the caller's goroutine: a write that the socket takes at once costs
// no wake-up of a writer goroutine. What the socket does not take goes
// to the writer as with Send, so a slow reader still fills its queue and
// is kicked, and the caller never waits on a socket.
//
// The room uses it on small boards (Config.DirectWrites), where each
// session receives a message every so often and its writer goroutine
// would be started (or woken) for every one: the goroutine hand-offs and
// the writer's start were a fifth of a node's CPU on many small boards.
// Rejected: writing directly on a big board (a thousand writes per change
// on the room's one goroutine, where a thousand writers spread them over
// every core); lingering writers on small boards (a writer waiting for
// the next message makes every message a hand-off).
func (s *Session) SendDirect(m Outgoing) bool {
	s.mu.Lock()
	s.noLinger = true
	if s.direct == nil || s.writing || s.finished || s.kicked || len(s.queue) > 0 {
		return s.queueLocked(m)
	}
	s.writing = true // the direct write holds the connection, as a writer would
	s.mu.Unlock()
	res := s.direct(m)
	s.mu.Lock()
	s.writing = false
	switch res {
	case DirectWritten:
		// Something queued meanwhile (the reader's answers) or a kick
		// starts the writer.
		s.wakeLocked()
		s.mu.Unlock()
		return true
	case DirectPartial:
		s.flush = true
		s.wakeLocked()
		s.mu.Unlock()
		return true
	}
	return s.queueLocked(m)
}

// Finish queues a last frame — even past the queue's limit — and then
// kicks the session with code: the writer sends the frame, then closes.
func (s *Session) Finish(code protocol.CloseCode, reason string, last any) {
	s.mu.Lock()
	s.queue = append(s.queue, Outgoing{Data: protocol.JSON(last)})
	s.wakeLocked()
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	s.Kick(code, reason)
}

// SendJSON queues a JSON frame.
func (s *Session) SendJSON(v any) bool { return s.Send(Outgoing{Data: protocol.JSON(v)}) }

func (s *Session) peer() protocol.Peer {
	return protocol.Peer{Session: s.ID, Replica: s.Replica, User: s.User.ID, Name: s.User.Name, Color: s.Color, Role: s.User.Role, Data: s.presence}
}
