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
	// OpsPerSecond and OpsBurst bound changes per second (default 2000,
	// burst 10000: an offline outbox arrives in bursts).
	OpsPerSecond, OpsBurst float64
	// FramesPerSecond bounds all frames (default 200, burst 1000).
	FramesPerSecond, FramesBurst float64
	// SendQueue is the per-session queue of outgoing messages (default
	// 512); a session whose queue fills is disconnected with "resync".
	SendQueue int
	// HelloTimeout is how long a new connection may take to say hello
	// (default 10s).
	HelloTimeout time.Duration
}

// Defaults fills the zero limits with the stated defaults.
func (l *Limits) Defaults() {
	if l.MaxMessage <= 0 {
		l.MaxMessage = 1 << 20
	}
	if l.OpsPerSecond <= 0 {
		l.OpsPerSecond = 2000
	}
	if l.OpsBurst <= 0 {
		l.OpsBurst = 10000
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
	// open per minute, closed or not (wsCounter; <= 0: no limit).
	WebSocketOpensPerIP int
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
	// Joining is told who is about to join, with the display name the
	// hello chose (guests are remembered by name).
	Joining func(ctx context.Context, board storage.BoardID, u protocol.User)
	// GuestToken is the token handed to a guest in the welcome, so a
	// reconnect keeps its identity.
	GuestToken func(who Visitor, u protocol.User) string
	// Joined decides the session's role again once it has joined.
	Joined func(ctx context.Context, board storage.BoardID, s *room.Session)
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
}

// New makes a gateway; cfg.Limits takes its defaults.
func New(cfg Config) *Gateway {
	cfg.Limits.Defaults()
	return &Gateway{cfg: cfg, ws: wsCounter{byIP: map[string]int{}, opens: map[string]*openBucket{}}}
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

// wsCounter counts open WebSockets per client address and in all, and
// the opens of each address per minute.
//
// The opens are bounded as well as the open ones: every join and leave
// of a board is told to each of its sessions, and a join may make the
// room send a snapshot, so one address reconnecting in a loop (64
// connections, each closed and opened again at once) made a board of
// 1,000 people carry thousands of presence frames a second. A token
// bucket per address: opensPerMin at once, then opensPerMin a minute.
// Rejected: a bound per board (a stranger could then keep the board's
// own people from reconnecting); counting only refused hellos (the cost
// is in every join).
type wsCounter struct {
	mu    sync.Mutex
	byIP  map[string]int
	total int
	opens map[string]*openBucket
	// pruneAt is the bucket count at which the next new address prunes
	// (pruneOpens sets it), so that a flood of new addresses costs one
	// scan per opensKept/4 of them, not one per open.
	pruneAt int
}

// openBucket is an address's opens left (tokens) as of at.
type openBucket struct {
	tokens float64
	at     time.Time
}

// opensKept bounds the open buckets kept: past it, the full ones (an
// address that has not opened for a minute) are dropped, and past twice
// as many, all of them (a flood of addresses gets the burst again, as a
// fresh address would).
const opensKept = 4096

// acquire takes a WebSocket slot for ip at now, or says why not: 429
// (this address has perIP open, or opened opensPerMin in the last
// minute: retry says when the next is allowed) or 503 (the node has max
// open). perIP, opensPerMin or max <= 0: no such limit.
func (c *wsCounter) acquire(ip string, perIP, opensPerMin, max int, now time.Time) (release func(), status int, retry time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max > 0 && c.total >= max {
		return nil, http.StatusServiceUnavailable, 0
	}
	if perIP > 0 && c.byIP[ip] >= perIP {
		return nil, http.StatusTooManyRequests, 0
	}
	if opensPerMin > 0 {
		burst, rate := float64(opensPerMin), float64(opensPerMin)/60 // tokens, tokens a second
		b := c.opens[ip]
		if b == nil {
			if len(c.opens) >= opensKept && len(c.opens) >= c.pruneAt {
				c.pruneOpens(now, burst, rate)
			}
			b = &openBucket{tokens: burst, at: now}
			c.opens[ip] = b
		}
		if dt := now.Sub(b.at).Seconds(); dt > 0 {
			b.tokens = min(burst, b.tokens+dt*rate)
		}
		b.at = now
		if b.tokens < 1 {
			return nil, http.StatusTooManyRequests, time.Duration((1 - b.tokens) / rate * float64(time.Second))
		}
		b.tokens--
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
	}, 0, 0
}

// pruneOpens drops the buckets that are full again at now, and every
// bucket when that leaves too many.
func (c *wsCounter) pruneOpens(now time.Time, burst, rate float64) {
	for ip, b := range c.opens {
		if b.tokens+now.Sub(b.at).Seconds()*rate >= burst {
			delete(c.opens, ip)
		}
	}
	if len(c.opens) >= 2*opensKept {
		clear(c.opens)
	}
	c.pruneAt = len(c.opens) + opensKept/4
}

// wsSlot takes a WebSocket slot for the request's client, writing the 429
// or 503 itself when there is none.
func (g *Gateway) wsSlot(w http.ResponseWriter, r *http.Request) (func(), bool) {
	release, status, retry := g.ws.acquire(g.cfg.ClientIP(r), g.cfg.WebSocketsPerIP, g.cfg.WebSocketOpensPerIP, g.cfg.MaxWebSockets, g.cfg.Now())
	switch {
	case status == http.StatusTooManyRequests && retry > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		reply.Error(w, status, protocol.CodeRateLimited, "too many new connections from your address (at most "+strconv.Itoa(g.cfg.WebSocketOpensPerIP)+" a minute); retry later")
		return nil, false
	case status == http.StatusTooManyRequests:
		reply.Error(w, status, protocol.CodeRateLimited, "too many open connections from your address (at most "+strconv.Itoa(g.cfg.WebSocketsPerIP)+")")
		return nil, false
	case status == http.StatusServiceUnavailable:
		reply.Error(w, status, protocol.CodeUnavailable, "this node has as many connections as it takes; connect to another node or retry later")
		return nil, false
	}
	return release, true
}
