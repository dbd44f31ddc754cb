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
// writer goroutine drains Out; the room only ever sends without blocking,
// and a session whose queue is full is kicked with CloseResync: a slow
// client never slows the room.
type Session struct {
	ID      string
	Replica crdt.ReplicaID
	User    protocol.User
	Format  string // protocol.FormatBinary or FormatJSON
	Color   string
	// Token, if set, is handed to the client in the welcome (guests).
	Token string

	out  chan Outgoing
	kick chan struct{}
	once sync.Once
	code atomic.Int32
	why  atomic.Value // string

	// presence is the session's latest presence data; owned by the room.
	presence []byte
}

// NewSession returns a session with a send queue of the given length
// (0: 512 messages).
func NewSession(id string, replica crdt.ReplicaID, user protocol.User, format string, queue int) *Session {
	if queue <= 0 {
		queue = 512
	}
	if format == "" {
		format = protocol.FormatBinary
	}
	return &Session{ID: id, Replica: replica, User: user, Format: format, Color: user.Color,
		out: make(chan Outgoing, queue), kick: make(chan struct{})}
}

// Out is the session's send queue.
func (s *Session) Out() <-chan Outgoing { return s.out }

// Kicked is closed when the session must be closed; CloseCode says how.
func (s *Session) Kicked() <-chan struct{} { return s.kick }

// CloseCode returns the close code and reason given to Kick.
func (s *Session) CloseCode() (websocket.StatusCode, string) {
	why, _ := s.why.Load().(string)
	return websocket.StatusCode(s.code.Load()), why
}

// Kick asks the connection to close with code. Only the first call counts.
func (s *Session) Kick(code websocket.StatusCode, reason string) {
	s.once.Do(func() {
		s.code.Store(int32(code))
		s.why.Store(reason)
		close(s.kick)
	})
}

// Send queues a message without blocking; a full queue kicks the session.
func (s *Session) Send(m Outgoing) bool {
	select {
	case s.out <- m:
		return true
	default:
		s.Kick(protocol.CloseResync, "send queue full")
		return false
	}
}

// SendJSON queues a JSON frame.
func (s *Session) SendJSON(v any) bool { return s.Send(Outgoing{Data: protocol.JSON(v)}) }

func (s *Session) peer() protocol.Peer {
	return protocol.Peer{Session: s.ID, Replica: s.Replica, User: s.User.ID, Name: s.User.Name, Color: s.Color, Data: s.presence}
}
