package gateway

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// ServeHTTP is the sync endpoint: GET /v1/boards/{board}/ws, subprotocol
// corkboard.v1. The handler upgrades, reads the hello and joins the room;
// then it returns, and the connection lives on in wsConn.read on a fresh
// goroutine of its own, while the writer runs only when something is
// queued (wsConn.write).
//
// Rejected: reading on the handler's goroutine for the connection's
// lifetime. Its stack has grown to 16 KiB by then (the request, the
// storage and the join), and the runtime shrinks a stack only to 4 times
// what is in use: a reader blocked in the WebSocket's Read uses ~3.5 KiB
// under ServeHTTP's frame, ~2.5 KiB on its own. The handler would also keep
// the request and its headers alive.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	release, ok := g.wsSlot(w, r) // per address and per node
	if !ok {
		return
	}
	kept := false // the connection keeps the slot until it ends
	defer func() {
		if !kept {
			release()
		}
	}()
	who, ok := g.cfg.Enter(w, r)
	if !ok {
		return
	}
	g.mu.Lock()
	draining := g.draining
	if !draining {
		g.conns.Add(1)
	}
	g.mu.Unlock()
	if draining {
		reply.Error(w, 503, protocol.CodeInternal, "node shutting down; connect to another node")
		return
	}
	lean := &leanHijacker{ResponseWriter: w}
	c, err := websocket.Accept(lean, r, &websocket.AcceptOptions{
		Subprotocols:   []string{protocol.Subprotocol},
		OriginPatterns: g.cfg.AllowedOrigins,
		// permessage-deflate for large messages only (snapshots, big
		// catch-ups; stored snapshots are uncompressed): live ops stay
		// uncompressed, where compression would cost more than it saves.
		CompressionMode:      websocket.CompressionNoContextTakeover,
		CompressionThreshold: 32 << 10,
	})
	if err != nil {
		g.conns.Done()
		return // Accept wrote the response (403 for a bad Origin)
	}
	g.cfg.Metrics.Connections.Inc()
	wc := g.startConnSafe(c, lean.fw, who, deflateNegotiated(w.Header()))
	if wc == nil {
		c.CloseNow()
		g.cfg.Metrics.Connections.Dec()
		g.conns.Done()
		return
	}
	wc.release, wc.ip, kept = release, g.cfg.ClientIP(r), true
	go wc.read()
}

// startConnSafe is startConn that survives a panic: the connection is
// closed with 4001 (the caller then releases it), the panic logged and
// counted; the node goes on.
func (g *Gateway) startConnSafe(c *websocket.Conn, fw *frameWriter, who Visitor, deflate bool) (wc *wsConn) {
	defer func() {
		if p := recover(); p != nil {
			g.cfg.Log.Error("panic while opening a connection; connection closed", "panic", p, "board", who.Board.String(),
				"stack", string(debug.Stack()))
			g.cfg.Metrics.Panic("conn")
			c.Close(websocket.StatusCode(protocol.CloseRetry), "internal error")
			wc = nil
		}
	}()
	return g.startConn(c, fw, who, deflate)
}

// startConn reads the hello and joins the session to its room; nil if the
// connection ended (it was closed with a reason).
//
// Reads and room calls use context.Background: nothing cancels them but
// the connection's end (a close or a network error ends the read), and a
// cancellable context would cost an allocation per read (the WebSocket
// registers a function on it for every Read).
func (g *Gateway) startConn(c *websocket.Conn, fw *frameWriter, who Visitor, deflate bool) *wsConn {
	id := who.Board
	if c.Subprotocol() != protocol.Subprotocol {
		c.Close(websocket.StatusCode(protocol.CloseProtocol), "subprotocol "+protocol.Subprotocol+" required")
		return nil
	}
	c.SetReadLimit(g.cfg.Limits.MaxHello) // a hello of its own bound (Limits.MaxHello)
	ctx := context.Background()
	hello, held, closeCode, why := g.readHello(ctx, c)
	// A large hello's share of the node's hello budget is kept until the
	// session has joined: its version vector lives until the room has
	// used it (helloBudget).
	defer g.hellos.give(held)
	if closeCode != 0 {
		c.Close(websocket.StatusCode(closeCode), why)
		return nil
	}
	if hello == nil {
		return nil
	}
	c.SetReadLimit(g.cfg.Limits.MaxMessage)
	if code, why := g.cfg.ClaimReplica(ctx, id, hello.Replica, who.User.ID, false); code != 0 {
		c.Close(websocket.StatusCode(code), why)
		return nil
	}
	user := who.User
	if user.Name == "" || user.ID[:min(len(user.ID), 6)] == "guest-" || user.ID[:min(len(user.ID), 5)] == "link-" {
		// Guests and link visitors choose their display name; the user id
		// (unforgeable) stays the node's. The name is shown in other
		// people's presence labels, so it passes the account names' rule
		// (account.CheckName: no control characters, no text-direction
		// marks), the same as a password join's name; one that fails
		// closes the connection with 4103 rather than being stripped (the
		// guest would be shown a name other than the one typed).
		// Surrounding spaces are dropped, and a blank name is none.
		if name := strings.TrimSpace(hello.Name); name != "" {
			if account.CheckName(name) != nil {
				c.Close(websocket.StatusCode(protocol.CloseProtocol), "hello: the name has control or text-direction characters")
				return nil
			}
			user.Name = name
		} else if user.Name == "" || account.CheckName(user.Name) != nil {
			// (A guest token signed before names were checked may carry
			// any name.)
			user.Name = "Guest"
		}
	}
	// A signed-in person's colour is the one of their profile (who.User
	// carries it); the hello's colour is a guest's own pick, which the
	// room may change to one nobody present has (room.Session.OwnColor).
	// It is shown in other people's pages (avatars, cursors, member
	// lists), so it must be a colour as profiles have them (#rrggbb); any
	// other is dropped and the room picks one.
	ownColor := user.Color != ""
	if !ownColor && account.CheckColor(hello.Color) == nil {
		user.Color = hello.Color
	}
	g.cfg.Joining(ctx, id, user)
	sess := room.NewSession(auth.RandomID(9), hello.Replica, user, hello.Format, g.cfg.Limits.SendQueue)
	sess.SetQueueBytes(g.cfg.Limits.SendQueueBytes)
	sess.OwnColor = ownColor
	sess.FarView = hello.FarView
	sess.Via, sess.Epoch, sess.Cred = who.Via, who.Epoch, who.Cred
	if who.Guest {
		// A guest keeps its identity through a signed token handed out in
		// the welcome; without it, a reconnect would be a new user and
		// its own replica id would be refused.
		sess.Token = g.cfg.GuestToken(who, user)
	}
	rm, err := g.cfg.Rooms.Open(ctx, id)
	if err != nil {
		c.Close(websocket.StatusCode(protocol.CloseRetry), "board unavailable")
		return nil
	}
	// Writes run without a per-write deadline (creating one per message
	// was a measurable share of a busy node's CPU): a write stuck on a
	// slow peer is aborted when the session is kicked, and a slow peer is
	// kicked as soon as its queue fills.
	wctx, abortWrites := context.WithCancel(context.Background())
	sess.OnKick(func() {
		code := sess.Closing().Code
		if code == protocol.CloseResync {
			abortWrites() // too slow: stop writing to it at once
			if fw != nil {
				fw.Abort() // (frames written by wsConn.send take no context)
			}
		}
	})
	wc := &wsConn{g: g, c: c, fw: fw, s: sess, rm: rm, board: id, user: who.User.ID, member: who.Member,
		ctx: wctx, abort: abortWrites, done: make(chan struct{}), deflate: deflate}
	if fw != nil {
		// A client pinging past the pong budget (frameWriter.allowPong)
		// is closed; its pongs stop at once.
		fw.setOnPingFlood(func() { sess.Kick(protocol.ClosePolicy, "too many pings") })
	}
	sess.SetWriter(wc.write)
	sess.SetDirect(wc.direct)
	join := func() error { return rm.Join(ctx, sess, hello.Version) }
	if g.cfg.Join != nil {
		err = g.cfg.Join(ctx, id, sess, join)
	} else {
		err = join()
	}
	if err != nil {
		sess.Kick(protocol.CloseRetry, "board unavailable") // unless kicked already
		<-wc.done
		abortWrites()
		return nil
	}
	return wc
}

// wsConn is one joined connection: its reader (read, for as long as the
// connection lives) and its writer (write, only while something is
// queued).
type wsConn struct {
	g      *Gateway
	c      *websocket.Conn
	fw     *frameWriter
	s      *room.Session
	rm     *room.Room
	board  storage.BoardID
	user   string
	member bool               // Visitor.Member
	ctx    context.Context    // of writes; cancelled to abort one stuck on a slow peer
	abort  context.CancelFunc // cancels ctx
	// The stall watch (watchStall): a timer made on the first send, and
	// whether a send is under way (read by the timer's goroutine).
	stall   *time.Timer
	sending atomic.Bool
	done    chan struct{} // closed by the writer when the connection is closed
	// release gives back the connection's WebSocket slot (wsSlot).
	release func()
	ip      string // the client's address (Config.ClientIP)

	// The writer's own (one write at a time: the session sees to it;
	// wsConn.direct is a writer too).
	failed    bool // a write failed: the connection is gone
	mustClose bool // a direct write failed: the writer closes the connection
	group     [][]byte
	// deflate: the connection negotiated permessage-deflate (with no
	// context takeover, ServeHTTP): sharedFrame may send compressed frames.
	deflate bool
}

// read reads the client's messages until the connection ends, then leaves
// the room and closes.
func (wc *wsConn) read() {
	g := wc.g
	defer g.conns.Done()
	defer wc.release()
	g.readLoop(context.Background(), wc.c, wc.rm, wc.s, wc.ip)
	wc.leave()
}

func (wc *wsConn) leave() {
	g := wc.g
	wc.rm.Leave(wc.s)
	if wc.member {
		// The visit ends: what the member saw is the board as it is now
		// (the session received every change up to its departure). The
		// room only copies its version; Left records it here, on the
		// connection's goroutine, while the connection keeps its
		// WebSocket slot (the node's Left, api.recordSeen, says what
		// bounds it).
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		var v crdt.VersionVector
		if wc.rm.Query(lctx, func(d *crdt.Doc) { v = d.Version() }) == nil {
			g.cfg.Left(lctx, wc.board, wc.user, v)
		}
		lcancel()
	}
	wc.s.Kick(protocol.CloseNormal, "")
	<-wc.done
	wc.abort()
	wc.c.CloseNow()
	g.cfg.Metrics.Connections.Dec()
}

// readHello reads and decodes the hello. held is what it took of the
// node's hello budget, for the caller to give back (helloBudget); a hello
// the budget could not take is refused with 4001, its share given back.
func (g *Gateway) readHello(ctx context.Context, c *websocket.Conn) (hello *protocol.Hello, held int64, code protocol.CloseCode, why string) {
	// A timer, not a read deadline: cancelling a read tears the connection
	// down without a close frame, and the client must learn why (4002).
	timer := time.AfterFunc(g.cfg.Limits.HelloTimeout, func() {
		c.Close(websocket.StatusCode(protocol.CloseIdle), "no hello in time")
	})
	defer timer.Stop()
	typ, data, held, err := g.readHelloMessage(ctx, c)
	if errors.Is(err, errHelloBudget) {
		g.hellos.give(held)
		g.cfg.Metrics.HelloRefused()
		return nil, 0, protocol.CloseRetry, "the node is busy reading other large hellos; reconnect later"
	}
	if err != nil {
		return nil, held, 0, "" // closed (by the timer, or by the peer)
	}
	if h := readHook.Load(); h != nil {
		(*h)(data)
	}
	g.cfg.Metrics.BytesIn.Add(float64(len(data)))
	if typ != websocket.MessageText {
		return nil, held, protocol.CloseProtocol, "the first message must be a JSON hello"
	}
	f, err := protocol.DecodeClientText(data)
	if err != nil || f.Hello == nil {
		return nil, held, protocol.CloseProtocol, "the first message must be a valid hello"
	}
	return f.Hello, held, 0, ""
}
