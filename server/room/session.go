package room

import (
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// Outgoing is one WebSocket message for a session: JSON text or binary.
type Outgoing struct {
	Binary bool
	Data   []byte
}

// Session is the room's view of one connected client. The connection's
// writer goroutine takes what is queued (Ready, then Drain); the room only
// ever queues without blocking, and a session whose queue holds more than
// its limit is kicked with CloseResync: a slow client never slows the room.
//
// Rejected: a buffered channel per session. Its slots are allocated up
// front (16 KiB for 512 messages), which dominated the memory of an idle
// connection; the queue below costs nothing until used, and lets the
// writer take a burst in one go.
type Session struct {
	ID      string
	Replica crdt.ReplicaID
	User    protocol.User
	Format  string // protocol.FormatBinary or FormatJSON
	Color   string
	// Token, if set, is handed to the client in the welcome (guests).
	Token string
	// Via and Epoch say how the node authenticated the session (its own
	// notes, for re-checking access when it changes; see
	// Manager.Reauthorize).
	Via   string
	Epoch int

	mu    sync.Mutex
	queue []Outgoing
	limit int
	ready chan struct{} // holds a token while the queue is non-empty

	kick   chan struct{}
	once   sync.Once
	onKick func()
	code   atomic.Int32
	why    atomic.Value // string

	// presence is the session's latest presence data; owned by the room.
	presence []byte
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
	return &Session{ID: id, Replica: replica, User: user, Format: format, Color: user.Color,
		limit: queue, ready: make(chan struct{}, 1), kick: make(chan struct{})}
}

// Ready receives a value when messages are queued: call Drain then.
func (s *Session) Ready() <-chan struct{} { return s.ready }

// Drain appends the queued messages to dst, oldest first, and empties the
// queue.
func (s *Session) Drain(dst []Outgoing) []Outgoing {
	s.mu.Lock()
	dst = append(dst, s.queue...)
	clear(s.queue)
	if cap(s.queue) > 64 {
		s.queue = nil // give a burst's memory back
	} else {
		s.queue = s.queue[:0]
	}
	s.mu.Unlock()
	return dst
}

// Queued returns the number of messages waiting.
func (s *Session) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Kicked is closed when the session must be closed; CloseCode says how.
func (s *Session) Kicked() <-chan struct{} { return s.kick }

// CloseCode returns the close code and reason given to Kick.
func (s *Session) CloseCode() (websocket.StatusCode, string) {
	why, _ := s.why.Load().(string)
	return websocket.StatusCode(s.code.Load()), why
}

// OnKick sets a function called once, on the first Kick (before anything
// else may be queued): the connection uses it to abort a write stuck on a
// slow peer. Set it before the session joins a room.
func (s *Session) OnKick(f func()) { s.onKick = f }

// Kick asks the connection to close with code. Only the first call counts.
func (s *Session) Kick(code websocket.StatusCode, reason string) {
	s.once.Do(func() {
		s.code.Store(int32(code))
		s.why.Store(reason)
		close(s.kick)
		if s.onKick != nil {
			s.onKick()
		}
	})
}

// Send queues a message without blocking; a full queue kicks the session.
func (s *Session) Send(m Outgoing) bool {
	s.mu.Lock()
	if len(s.queue) >= s.limit {
		s.mu.Unlock()
		s.Kick(protocol.CloseResync, "send queue full")
		return false
	}
	s.queue = append(s.queue, m)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return true
}

// Finish queues a last frame — even past the queue's limit — and then
// kicks the session with code: the writer sends the frame, then closes.
func (s *Session) Finish(code websocket.StatusCode, reason string, last any) {
	s.mu.Lock()
	s.queue = append(s.queue, Outgoing{Data: protocol.JSON(last)})
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
	return protocol.Peer{Session: s.ID, Replica: s.Replica, User: s.User.ID, Name: s.User.Name, Color: s.Color, Data: s.presence}
}
