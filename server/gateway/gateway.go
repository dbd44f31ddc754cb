// Package gateway is the WebSocket side of a node: it accepts a board's
// sync connection (GET /v1/boards/{board}/ws, subprotocol corkboard.v1),
// reads the hello, joins the session to its room, then reads the client's
// frames under the connection's limits and writes the session's queue to
// the socket. Who may connect, and with which role, is not its concern:
// the node hands it that (Config.Enter and the other functions of Config).
package gateway

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/limit"
	"github.com/corkboard/corkboard/server/metrics"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Limits bound what one connection may do.
type Limits struct {
	// MaxMessage is the largest WebSocket message accepted (default 1 MiB);
	// larger ones close the connection with 1009.
	MaxMessage int64
	// MaxHello is the largest hello accepted (default 8 MiB, and never
	// less than MaxMessage); a larger one closes the connection with
	// 1009. A hello is mostly its version vector, an entry (some 28
	// bytes) per replica the client has seen, and a board's replicas
	// grow with its writers, who are never forgotten: under MaxMessage,
	// a board that had some 40,000 writers (one address opening guest
	// connections that each made one change could get there in hours)
	// could no longer be joined by a client that had seen them all. A
	// bound of its own lets such boards in for ten times as many
	// writers, while every later message keeps MaxMessage. Rejected: a
	// bound from the board's own vector (the hello is read before the
	// board's room is open, and a room would have to be loaded for
	// every connection that never says hello); dropping entries from
	// the hello (the client would be sent what it has).
	MaxHello int64
	// HelloBudget bounds the bytes of large hellos the node holds at
	// once, every connection together (default 64 MiB, and never less
	// than MaxHello+1): a hello is read in pieces (readHelloMessage), and
	// one that grows past MaxMessage takes its whole buffer from this
	// budget, before the buffer is made, until its session has joined.
	// One past the budget is refused: the connection closed with 4001, a
	// code that has clients reconnect with backoff. Hellos of up to
	// MaxMessage, as every other message, take nothing. See helloBudget.
	HelloBudget int64
	// OpsPerSecond and OpsBurst bound changes per second (default 2000,
	// burst 10000: an offline outbox arrives in bursts).
	OpsPerSecond, OpsBurst float64
	// OpItemsPerSecond and OpItemsBurst bound the ops of those changes,
	// every op of every change (default 50,000 a second, burst 262,144:
	// a frame of protocol.MaxFrameOps passes when the bucket is full).
	// The bound on changes alone let one connection send 2,000 changes of
	// 65,536 ops a second, each op for the room to check and apply.
	OpItemsPerSecond, OpItemsBurst float64
	// FramesPerSecond bounds all frames (default 200, burst 1000).
	FramesPerSecond, FramesBurst float64
	// SendQueue is the per-session queue of outgoing messages (default
	// 512); a session whose queue fills is disconnected with "resync".
	SendQueue int
	// SendQueueBytes bounds the bytes of those messages (default 128 MiB,
	// shared snapshots not counted; room.Session.SetQueueBytes): past it,
	// "resync" too.
	SendQueueBytes int
	// HelloTimeout is how long a new connection may take to say hello
	// (default 10s).
	HelloTimeout time.Duration
	// WriteStall is how long the node waits for a connection to take
	// anything while it has something to send it (default 60s): a peer
	// that reads nothing for that long is disconnected with "resync",
	// and what was queued for it is let go. Without it, a client that
	// never reads held its catch-up (up to 16 MiB) and its socket's
	// buffers for as long as its board stayed quiet.
	WriteStall time.Duration
}

// Defaults fills the zero limits with the stated defaults.
func (l *Limits) Defaults() {
	if l.MaxMessage <= 0 {
		l.MaxMessage = 1 << 20
	}
	if l.MaxHello <= 0 {
		l.MaxHello = 8 << 20
	}
	l.MaxHello = max(l.MaxHello, l.MaxMessage)
	if l.HelloBudget <= 0 {
		l.HelloBudget = 64 << 20
	}
	l.HelloBudget = max(l.HelloBudget, l.MaxHello+1) // one hello of MaxHello always fits (readHelloMessage)
	if l.OpsPerSecond <= 0 {
		l.OpsPerSecond = 2000
	}
	if l.OpsBurst <= 0 {
		l.OpsBurst = 10000
	}
	if l.OpItemsPerSecond <= 0 {
		l.OpItemsPerSecond = 50000
	}
	if l.OpItemsBurst <= 0 {
		l.OpItemsBurst = 2 * protocol.MaxFrameOps
	}
	if l.FramesPerSecond <= 0 {
		l.FramesPerSecond = 200
	}
	if l.FramesBurst <= 0 {
		l.FramesBurst = 1000
	}
	if l.SendQueue <= 0 {
		l.SendQueue = 512
	}
	if l.HelloTimeout <= 0 {
		l.HelloTimeout = 10 * time.Second
	}
	if l.WriteStall <= 0 {
		l.WriteStall = time.Minute
	}
}

// Visitor is who a connection is for, as the node's access check found
// (Config.Enter).
type Visitor struct {
	Board storage.BoardID
	User  protocol.User
	Guest bool   // no credentials at all: a visitor of a public board
	Via   string // how the identity was established (the session's Via)
	Epoch int    // of the board token (the session's Epoch)
	Cred  string // the session token's hash, to close it on sign-out
	// BoardEpoch is the board's settings epoch when it entered (a guest
	// token carries it).
	BoardEpoch int
	// Member: a person whose visits the node keeps (api.KeepsVisits: a
	// signed-in member, or the owner through the owner token); what it saw is recorded when it leaves
	// (Config.Left).
	Member bool
}

// Config is what the gateway needs from the node: its limits, the rooms,
// and the node's decisions as functions. Every function is required.
type Config struct {
	Limits         Limits
	AllowedOrigins []string // extra Origin host patterns (websocket.AcceptOptions)
	// WebSocketsPerIP and MaxWebSockets bound the open WebSockets of one
	// client address and of the node (<= 0: no limit).
	WebSocketsPerIP, MaxWebSockets int
	// WebSocketOpensPerIP bounds the WebSockets one client address may
	// open per minute, closed or not (<= 0: no limit), counted in Opens,
	// the node's limiter (wsSlot).
	WebSocketOpensPerIP int
	Opens               *limit.Limiter
	Now                 func() time.Time
	Log                 *slog.Logger
	Metrics             *metrics.Metrics
	Rooms               *room.Manager

	// ClientIP is the address a request's limits are counted under.
	ClientIP func(r *http.Request) string
	// Enter decides who the request is on its board; when it cannot
	// enter, Enter has written the refusal and returns false.
	Enter func(w http.ResponseWriter, r *http.Request) (Visitor, bool)
	// ClaimReplica checks that the replica id is the user's, and with
	// claim takes an unclaimed one; a non-zero code refuses it.
	ClaimReplica func(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, user string, claim bool) (protocol.CloseCode, string)
	// AllowClaim, if set, is asked before a connection's first changes
	// claim its replica id, with the client's address: false (the
	// address claimed as many new replica ids of the board as it may)
	// refuses the batch with "rate_limited", and nothing is claimed. A
	// replica id already claimed is always allowed.
	AllowClaim func(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, ip string) bool
	// AllowChangeBytes, if set, counts an ops frame's bytes against the
	// day's bytes of changes of its sender: the session's signed-in
	// person, or else the client's address (api.Server.ChangeBytesAllowed);
	// false refuses the batch with "rate_limited", the message refusal,
	// and retry, how long until the day that refused it ends, as the
	// frame's retryAfter.
	AllowChangeBytes func(ip string, s *room.Session, n int) (ok bool, refusal string, retry time.Duration)
	// RefundChangeBytes gives back what AllowChangeBytes counted for a
	// batch then refused before the room took it (too many new replica
	// ids, the board's queue full).
	RefundChangeBytes func(ip string, s *room.Session, n int)
	// SpaceLow says whether the node's disk is below its free-space
	// reserve: the room then refuses clients' new changes
	// ("unavailable"), and their bytes are not counted (a client sends
	// such a batch again every few seconds until there is space).
	SpaceLow func() bool
	// Joining is told who is about to join, with the display name the
	// hello chose (guests are remembered by name).
	Joining func(ctx context.Context, board storage.BoardID, u protocol.User)
	// GuestToken is the token handed to a guest in the welcome, so a
	// reconnect keeps its identity.
	GuestToken func(who Visitor, u protocol.User) string
	// Join decides the session's role again and, unless it has none (then
	// it kicks the session and returns an error), runs join, which joins
	// it to its room.
	Join func(ctx context.Context, board storage.BoardID, s *room.Session, join func() error) error
	// Left records what a member saw when its visit ends.
	Left func(ctx context.Context, board storage.BoardID, user string, v crdt.VersionVector)
}

// Gateway accepts and serves the node's WebSocket connections.
type Gateway struct {
	cfg Config

	conns    sync.WaitGroup
	mu       sync.Mutex
	draining bool
	ws       wsCounter // open WebSockets per client address
	hellos   helloBudget
}

// New makes a gateway; cfg.Limits takes its defaults.
func New(cfg Config) *Gateway {
	cfg.Limits.Defaults()
	return &Gateway{cfg: cfg, ws: wsCounter{byIP: map[string]int{}}, hellos: helloBudget{max: cfg.Limits.HelloBudget}}
}

// Drain refuses new connections from now on (503).
func (g *Gateway) Drain() {
	g.mu.Lock()
	g.draining = true
	g.mu.Unlock()
}

// Wait waits until every connection has ended, or ctx is done.
func (g *Gateway) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ---- WebSockets per address ----

// wsCounter counts open WebSockets per client address and in all.
type wsCounter struct {
	mu    sync.Mutex
	byIP  map[string]int
	total int
}

// acquire takes a WebSocket slot for ip, or says why not: 429 (this
// address has perIP open) or 503 (the node has max open). perIP or max
// <= 0: no such limit.
func (c *wsCounter) acquire(ip string, perIP, max int) (release func(), status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max > 0 && c.total >= max {
		return nil, http.StatusServiceUnavailable
	}
	if perIP > 0 && c.byIP[ip] >= perIP {
		return nil, http.StatusTooManyRequests
	}
	c.byIP[ip]++
	c.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.total--
			if c.byIP[ip]--; c.byIP[ip] <= 0 {
				delete(c.byIP, ip)
			}
		})
	}, 0
}

// wsSlot takes a WebSocket slot for the request's client, writing the 429
// or 503 itself when there is none.
func (g *Gateway) wsSlot(w http.ResponseWriter, r *http.Request) (func(), bool) {
	ip := g.cfg.ClientIP(r)
	// The opens are bounded as well as the open ones: every join and
	// leave of a board is told to each of its sessions (and a join may
	// send a snapshot), so one address reconnecting in a loop made a
	// board of 1,000 people carry thousands of presence frames a second.
	// A key of the node's limiter, as every rate limit of the node is.
	// Rejected: a bound per board (a stranger could keep the board's own
	// people from reconnecting).
	if n := g.cfg.WebSocketOpensPerIP; n > 0 && g.cfg.Opens != nil && !g.cfg.Opens.Allow("ws-open:"+ip, n, time.Minute) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(g.cfg.Opens.Retry("ws-open:"+ip, time.Minute).Seconds())))))
		reply.Error(w, http.StatusTooManyRequests, protocol.CodeRateLimited, "too many new connections from your address (at most "+strconv.Itoa(n)+" a minute); retry later")
		return nil, false
	}
	release, status := g.ws.acquire(ip, g.cfg.WebSocketsPerIP, g.cfg.MaxWebSockets)
	switch status {
	case http.StatusTooManyRequests:
		reply.Error(w, status, protocol.CodeRateLimited, "too many open connections from your address (at most "+strconv.Itoa(g.cfg.WebSocketsPerIP)+")")
		return nil, false
	case http.StatusServiceUnavailable:
		reply.Error(w, status, protocol.CodeUnavailable, "this node has as many connections as it takes; connect to another node or retry later")
		return nil, false
	}
	return release, true
}
