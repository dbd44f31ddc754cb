package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// serveWS is the sync endpoint: GET /v1/boards/{board}/ws, subprotocol
// corkboard.v1. The handler upgrades, reads the hello and joins the room;
// then it returns, and the connection lives on in wsConn.read on a fresh
// goroutine of its own, while the writer runs only when something is
// queued (wsConn.write).
//
// Rejected: reading on the handler's goroutine for the connection's
// lifetime. Its stack has grown to 16 KiB by then (the request, the
// storage and the join), and the runtime shrinks a stack only to 4 times
// what is in use: a reader blocked in the WebSocket's Read uses ~3.5 KiB
// under serveWS's frame, ~2.5 KiB on its own. The handler would also keep
// the request and its headers alive.
func (n *Node) serveWS(w http.ResponseWriter, r *http.Request) {
	release, ok := n.wsSlot(w, r) // per address and per node (guard.go)
	if !ok {
		return
	}
	kept := false // the connection keeps the slot until it ends
	defer func() {
		if !kept {
			release()
		}
	}()
	id, m, who, ok := n.enter(w, r)
	if !ok {
		return
	}
	n.mu.Lock()
	draining := n.draining
	if !draining {
		n.conns.Add(1)
	}
	n.mu.Unlock()
	if draining {
		writeError(w, 503, protocol.CodeInternal, "node shutting down; connect to another node")
		return
	}
	lean := &leanHijacker{ResponseWriter: w}
	c, err := websocket.Accept(lean, r, &websocket.AcceptOptions{
		Subprotocols:   []string{protocol.Subprotocol},
		OriginPatterns: n.cfg.AllowedOrigins,
		// permessage-deflate for large messages only (snapshots, big
		// catch-ups; stored snapshots are uncompressed): live ops stay
		// uncompressed, where compression would cost more than it saves.
		CompressionMode:      websocket.CompressionNoContextTakeover,
		CompressionThreshold: 32 << 10,
	})
	if err != nil {
		n.conns.Done()
		return // Accept wrote the response (403 for a bad Origin)
	}
	n.metrics.Connections.Inc()
	wc := n.startConnSafe(c, lean.fw, id, m.Epoch, who)
	if wc == nil {
		c.CloseNow()
		n.metrics.Connections.Dec()
		n.conns.Done()
		return
	}
	wc.release, kept = release, true
	go wc.read()
}

// startConnSafe is startConn that survives a panic: the connection is
// closed with 4001 (the caller then releases it), the panic logged and
// counted; the node goes on.
func (n *Node) startConnSafe(c *websocket.Conn, fw *frameWriter, id storage.BoardID, epoch int, who identity) (wc *wsConn) {
	defer func() {
		if p := recover(); p != nil {
			n.log.Error("panic while opening a connection; connection closed", "panic", p, "board", id.String(),
				"stack", string(debug.Stack()))
			n.metrics.Panic("conn")
			c.Close(protocol.CloseRetry, "internal error")
			wc = nil
		}
	}()
	return n.startConn(c, fw, id, epoch, who)
}

// startConn reads the hello and joins the session to its room; nil if the
// connection ended (it was closed with a reason).
//
// Reads and room calls use context.Background: nothing cancels them but
// the connection's end (a close or a network error ends the read), and a
// cancellable context would cost an allocation per read (the WebSocket
// registers a function on it for every Read).
func (n *Node) startConn(c *websocket.Conn, fw *frameWriter, id storage.BoardID, epoch int, who identity) *wsConn {
	if c.Subprotocol() != protocol.Subprotocol {
		c.Close(protocol.CloseProtocol, "subprotocol "+protocol.Subprotocol+" required")
		return nil
	}
	c.SetReadLimit(n.cfg.Limits.MaxMessage)
	ctx := context.Background()
	hello, closeCode, why := n.readHello(ctx, c)
	if closeCode != 0 {
		c.Close(closeCode, why)
		return nil
	}
	if hello == nil {
		return nil
	}
	if code, why := n.claimReplica(ctx, id, hello.Replica, who.User.ID, false); code != 0 {
		c.Close(code, why)
		return nil
	}
	user := who.User
	if user.Name == "" || user.ID[:min(len(user.ID), 6)] == "guest-" || user.ID[:min(len(user.ID), 5)] == "link-" {
		// Guests and link visitors choose their display name; the user id
		// (unforgeable) stays the node's.
		if hello.Name != "" {
			user.Name = hello.Name
		} else if user.Name == "" {
			user.Name = "Guest"
		}
	}
	user.Color = hello.Color
	n.rememberGuestOn(ctx, id, user)
	sess := room.NewSession(auth.RandomID(9), hello.Replica, user, hello.Format, n.cfg.Limits.SendQueue)
	sess.Via, sess.Epoch, sess.Cred = who.Via, who.Epoch, who.Cred
	if who.Guest {
		// A guest keeps its identity through a signed token handed out in
		// the welcome; without it, a reconnect would be a new user and
		// its own replica id would be refused.
		sess.Token = n.signer.Sign(auth.Claims{Board: id.String(), User: user.ID, Name: user.Name, Role: user.Role,
			Exp: n.cfg.Now().Add(linkTTL).Unix(), Epoch: epoch})
	}
	rm, err := n.rooms.Open(ctx, id)
	if err != nil {
		c.Close(protocol.CloseRetry, "board unavailable")
		return nil
	}
	// Writes run without a per-write deadline (creating one per message
	// was a measurable share of a busy node's CPU): a write stuck on a
	// slow peer is aborted when the session is kicked, and a slow peer is
	// kicked as soon as its queue fills.
	wctx, abortWrites := context.WithCancel(context.Background())
	sess.OnKick(func() {
		code, _ := sess.CloseCode()
		if code == protocol.CloseResync {
			abortWrites() // too slow: stop writing to it at once
		}
	})
	wc := &wsConn{n: n, c: c, fw: fw, s: sess, rm: rm, board: id, user: who.User.ID, via: who.Via,
		ctx: wctx, abort: abortWrites, done: make(chan struct{})}
	sess.SetWriter(wc.write)
	if err := rm.Join(ctx, sess, hello.Version); err != nil {
		sess.Kick(protocol.CloseRetry, "board unavailable")
		<-wc.done
		abortWrites()
		return nil
	}
	n.recheckJoined(ctx, id, sess)
	return wc
}

// wsConn is one joined connection: its reader (read, for as long as the
// connection lives) and its writer (write, only while something is
// queued).
type wsConn struct {
	n     *Node
	c     *websocket.Conn
	fw    *frameWriter
	s     *room.Session
	rm    *room.Room
	board storage.BoardID
	user  string
	via   string
	ctx   context.Context    // of writes; cancelled to abort one stuck on a slow peer
	abort context.CancelFunc // cancels ctx
	done  chan struct{}      // closed by the writer when the connection is closed
	// release gives back the connection's WebSocket slot (wsSlot).
	release func()

	// The writer's own (one write at a time: the session sees to it).
	failed bool // a write failed: the connection is gone
	group  [][]byte
}

// read reads the client's messages until the connection ends, then leaves
// the room and closes.
func (wc *wsConn) read() {
	n := wc.n
	defer n.conns.Done()
	defer wc.release()
	n.readLoop(context.Background(), wc.c, wc.rm, wc.s)
	wc.leave()
}

func (wc *wsConn) leave() {
	n := wc.n
	wc.rm.Leave(wc.s)
	if wc.via == viaSession {
		// The visit ends: what the member saw is the board as it is now
		// (the session received every change up to its departure).
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		var v crdt.VersionVector
		if wc.rm.Query(lctx, func(d *crdt.Doc) { v = d.Version() }) == nil {
			n.recordSeen(lctx, wc.board, wc.user, v)
		}
		lcancel()
	}
	wc.s.Kick(protocol.CloseNormal, "")
	<-wc.done
	wc.abort()
	wc.c.CloseNow()
	n.metrics.Connections.Dec()
}

func (n *Node) readHello(ctx context.Context, c *websocket.Conn) (*protocol.Hello, websocket.StatusCode, string) {
	// A timer, not a read deadline: cancelling a read tears the connection
	// down without a close frame, and the client must learn why (4002).
	timer := time.AfterFunc(n.cfg.Limits.HelloTimeout, func() {
		c.Close(protocol.CloseIdle, "no hello in time")
	})
	defer timer.Stop()
	typ, data, err := c.Read(ctx)
	if err != nil {
		return nil, 0, "" // closed (by the timer, or by the peer)
	}
	if h := readHook.Load(); h != nil {
		(*h)(data)
	}
	n.metrics.BytesIn.Add(float64(len(data)))
	if typ != websocket.MessageText {
		return nil, protocol.CloseProtocol, "the first message must be a JSON hello"
	}
	f, err := protocol.DecodeClientText(data)
	if err != nil || f.Hello == nil {
		return nil, protocol.CloseProtocol, "the first message must be a valid hello"
	}
	return f.Hello, 0, ""
}

// claimReplica refuses a replica id that belongs to another user: nobody
// can send changes under another person's replica. With claim, an
// unclaimed id becomes the user's. A connection only checks its replica
// when it opens, and claims it with its first changes: a claim is a record
// kept for good and copied to every node, so a visitor who only looks
// leaves none behind.
func (n *Node) claimReplica(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, user string, claim bool) (websocket.StatusCode, string) {
	key := claimKey(board, rep)
	owner := func(b []byte) (websocket.StatusCode, string) {
		if decodeClaim(b).User != user {
			return protocol.CloseReplica, "replica id belongs to another user"
		}
		return 0, ""
	}
	cur, err := n.meta.Get(ctx, meta.NSClaim, key)
	switch {
	case err == nil:
		return owner(cur)
	case !errors.Is(err, storage.ErrNotFound):
		return protocol.CloseRetry, "storage error"
	case !claim:
		return 0, ""
	}
	// Created once in the claims bucket: of two people connecting at the
	// same moment, on any nodes, with the same new replica id, one gets it.
	c := replicaClaim{Board: board.String(), Replica: rep, User: user, At: n.cfg.Now().UnixMilli()}
	b, _ := json.Marshal(c)
	switch err := n.meta.Create(ctx, meta.NSClaim, key, b); {
	case err == nil:
		return 0, ""
	case errors.Is(err, meta.ErrExists):
		if cur, err := n.meta.Latest(ctx, meta.NSClaim, key); err == nil {
			return owner(cur)
		}
	}
	return protocol.CloseRetry, "storage error"
}

// writerLinger is how long a connection's writer goroutine waits for the
// next message before it exits (room.Session.NextWait).
const writerLinger = 2 * time.Second

// maxMerge bounds a merged ops message.
const maxMerge = 256 << 10

// write is the session's writer (room.Session.SetWriter): it runs on a
// goroutine only while something is queued, takes the whole queue at once
// and merges consecutive binary ops messages into one WebSocket message, so
// that under load a session's backlog costs one write, not one per change.
func (w *wsConn) write() {
	var batch []room.Outgoing
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		// A nil batch takes the session's queue over without a copy.
		msgs, more, kicked := w.s.NextWait(batch, linger, writerLinger)
		if !more {
			return
		}
		if kicked {
			code, why := w.s.CloseCode()
			// Flush what is queued (an error frame, a shutdown notice)
			// before closing, without waiting long on a slow peer; a
			// session dropped for being slow gets nothing more.
			if code != protocol.CloseResync && !w.failed {
				fctx, cancel := context.WithTimeout(w.ctx, time.Second)
				w.send(fctx, msgs)
				cancel()
			}
			if w.failed {
				w.c.CloseNow()
			} else {
				w.c.Close(code, why)
			}
			close(w.done)
			return
		}
		if !w.failed {
			if err := w.send(w.ctx, msgs); err != nil {
				// The reader sees the connection end and leaves.
				w.failed = true
				w.c.CloseNow()
			}
		}
		clear(msgs)
		batch = msgs[:0]
	}
}

func (w *wsConn) send(ctx context.Context, msgs []room.Outgoing) error {
	for i := 0; i < len(msgs); {
		m := msgs[i]
		data, typ := m.Data, websocket.MessageText
		if m.Binary {
			typ = websocket.MessageBinary
		}
		j := i + 1
		if m.Binary && len(m.Data) > 0 && m.Data[0] == protocol.TagOpsOut {
			size := len(m.Data)
			for j < len(msgs) && msgs[j].Binary && len(msgs[j].Data) > 0 && msgs[j].Data[0] == protocol.TagOpsOut && size+len(msgs[j].Data) <= maxMerge {
				size += len(msgs[j].Data)
				j++
			}
			if j > i+1 {
				w.group = w.group[:0]
				for _, g := range msgs[i:j] {
					w.group = append(w.group, g.Data)
				}
				if merged, err := protocol.MergeOpsOut(w.group); err == nil {
					data = merged
				} else {
					j = i + 1
				}
				clear(w.group)
			}
		}
		if err := w.c.Write(ctx, typ, data); err != nil {
			return err
		}
		if err := w.fw.Commit(); err != nil {
			return err
		}
		w.n.metrics.BytesOut.Add(float64(len(data)))
		i = j
	}
	return nil
}

// leanHijacker hands the WebSocket small buffers of its own instead of the
// HTTP server's (4 KiB each way, kept for the connection's lifetime).
// Reads: client messages are small, and a read larger than the buffer
// goes straight to the socket. Writes: see frameWriter.
type leanHijacker struct {
	http.ResponseWriter
	fw *frameWriter // set by Hijack
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (l *leanHijacker) Unwrap() http.ResponseWriter { return l.ResponseWriter }

const (
	wsReadBuffer  = 512
	wsWriteBuffer = 256 // > 2+125: a control frame is never a full buffer
)

func (l *leanHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(l.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	r := brw.Reader
	if r.Buffered() == 0 {
		// Bytes the client sent before the upgrade's answer (none, from
		// a well-behaved client) stay in the server's reader; otherwise
		// a small one is enough.
		r = bufio.NewReaderSize(conn, wsReadBuffer)
	}
	l.fw = &frameWriter{conn: conn}
	return conn, bufio.NewReadWriter(r, bufio.NewWriterSize(l.fw, wsWriteBuffer)), nil
}

// frameWriter is what the WebSocket's small bufio.Writer (wsWriteBuffer)
// writes to; it keeps a frame in one syscall, as a 4 KiB buffer would for
// most frames. A bufio.Writer hands over a full buffer only when more of
// the same write follows (a frame larger than the buffer: its header and
// first bytes, then the rest): frameWriter holds such a chunk and sends it
// with the next write in one writev. Anything else is a flush and goes out
// at once, after what is held. The one ambiguous case, a frame that ends
// exactly at a full buffer, is sent by Commit, which the writer calls
// after each message (a control frame, at most 127 bytes, never fills the
// buffer, so the reader's pongs need no Commit).
//
// Rejected: a larger buffer (4 KiB per connection while idle) or a small
// one alone (two syscalls, hence often two TCP segments, for every frame
// larger than it: the header and the payload).
type frameWriter struct {
	conn io.Writer // the hijacked connection (writev through net.Buffers)
	mu   sync.Mutex
	held *[wsWriteBuffer]byte // non-nil while a full buffer is held
}

var heldPool = sync.Pool{New: func() any { return new([wsWriteBuffer]byte) }}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		if len(p) == wsWriteBuffer {
			f.held = heldPool.Get().(*[wsWriteBuffer]byte)
			copy(f.held[:], p)
			return len(p), nil
		}
		return f.conn.Write(p)
	}
	bufs := net.Buffers{f.held[:], p}
	n, err := bufs.WriteTo(f.conn)
	f.release()
	n -= wsWriteBuffer
	if n < 0 {
		n = 0
	}
	if err == nil && int(n) < len(p) {
		err = io.ErrShortWrite
	}
	return int(n), err
}

// Commit sends a held chunk, if any.
func (f *frameWriter) Commit() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		return nil
	}
	_, err := f.conn.Write(f.held[:])
	f.release()
	return err
}

func (f *frameWriter) release() {
	heldPool.Put(f.held)
	f.held = nil
}

// bucket is a token bucket for rate limits.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) take(now time.Time, n float64) bool {
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// readHook, if set, is called by readHello and readLoop with every message
// they read: a test hook (export_test.go), unset in production.
var readHook atomic.Pointer[func(data []byte)]

// readLoop reads and dispatches the client's messages. A panic while
// handling one (a bug a message trips) ends this connection only: it is
// logged, counted, and the client told to reconnect (4001), while the
// node and the other connections go on.
func (n *Node) readLoop(ctx context.Context, c *websocket.Conn, rm *room.Room, s *room.Session) {
	defer func() {
		if p := recover(); p != nil {
			n.log.Error("panic in a connection's reader; connection closed", "panic", p, "board", rm.Board().String(),
				"session", s.ID, "stack", string(debug.Stack()))
			n.metrics.Panic("conn")
			s.Kick(protocol.CloseRetry, "internal error")
		}
	}()
	l := n.cfg.Limits
	frames := bucket{rate: l.FramesPerSecond, burst: l.FramesBurst}
	ops := bucket{rate: l.OpsPerSecond, burst: l.OpsBurst}
	claimed := false // the session's replica id is claimed (claimReplica)
	refuse := func(code protocol.Code, seq uint64, msg string) {
		n.metrics.Rejected(code)
		s.SendJSON(protocol.Error{Type: protocol.TypeError, Code: code, Seq: seq, Message: msg})
	}
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
				return
			}
			if websocket.CloseStatus(err) == -1 && errors.Is(err, websocket.ErrMessageTooBig) {
				s.Kick(protocol.CloseTooBig, "message too big")
			}
			return
		}
		n.metrics.BytesIn.Add(float64(len(data)))
		if h := readHook.Load(); h != nil {
			(*h)(data)
		}
		now := n.cfg.Now() // the configured clock, so rate limits can be tested
		if !frames.take(now, 1) {
			refuse(protocol.CodeRateLimited, 0, "too many frames; slow down")
			continue
		}
		var seq uint64
		var changes []crdt.Change
		if typ == websocket.MessageBinary {
			seq, changes, err = protocol.DecodeOpsFrame(data)
			if err != nil {
				refuse(protocol.CodeMalformed, seq, err.Error()) // seq is known unless the header was bad
				continue
			}
		} else {
			f, err := protocol.DecodeClientText(data)
			if err != nil {
				refuse(protocol.CodeMalformed, 0, err.Error())
				continue
			}
			switch {
			case f.Ops != nil:
				seq, changes = f.Ops.Seq, f.Ops.Changes
			case f.Presence != nil:
				if rm.Presence(ctx, s, f.Presence.Data) != nil {
					return
				}
				continue
			case f.Ping != nil:
				s.SendJSON(protocol.Ping{Type: protocol.TypePong, N: f.Ping.N})
				continue
			case f.Hello != nil:
				refuse(protocol.CodeMalformed, 0, "hello was already said")
				continue
			}
		}
		if !ops.take(now, float64(len(changes))) {
			refuse(protocol.CodeRateLimited, seq, "too many changes per second; resend this batch later")
			continue
		}
		if !claimed && len(changes) > 0 {
			if code, why := n.claimReplica(ctx, rm.Board(), s.Replica, s.User.ID, true); code != 0 {
				s.Kick(code, why)
				return
			}
			claimed = true
		}
		if err := rm.Submit(ctx, s, seq, changes); err != nil {
			s.Kick(protocol.CloseRetry, "board unavailable")
			return
		}
	}
}
