package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// serveWS is the sync endpoint: GET /v1/boards/{board}/ws, subprotocol
// corkboard.v1. One reader (this goroutine) and one writer goroutine per
// connection; the writer drains the session's bounded queue.
func (n *Node) serveWS(w http.ResponseWriter, r *http.Request) {
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
	defer n.conns.Done()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{protocol.Subprotocol},
		OriginPatterns: n.cfg.AllowedOrigins,
		// permessage-deflate for large messages only (snapshots, big
		// catch-ups; stored snapshots are uncompressed): live ops stay
		// uncompressed, where compression would cost more than it saves.
		CompressionMode:      websocket.CompressionNoContextTakeover,
		CompressionThreshold: 32 << 10,
	})
	if err != nil {
		return // Accept wrote the response (403 for a bad Origin)
	}
	defer c.CloseNow()
	if c.Subprotocol() != protocol.Subprotocol {
		c.Close(protocol.CloseProtocol, "subprotocol "+protocol.Subprotocol+" required")
		return
	}
	c.SetReadLimit(n.cfg.Limits.MaxMessage)
	n.metrics.Connections.Inc()
	defer n.metrics.Connections.Dec()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	hello, closeCode, why := n.readHello(ctx, c)
	if closeCode != 0 {
		c.Close(closeCode, why)
		return
	}
	if hello == nil {
		return
	}
	if code, why := n.claimReplica(ctx, id, hello.Replica, who.User.ID); code != 0 {
		c.Close(code, why)
		return
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
	n.rememberGuest(ctx, user)
	sess := room.NewSession(auth.RandomID(9), hello.Replica, user, hello.Format, n.cfg.Limits.SendQueue)
	sess.Via, sess.Epoch = who.Via, who.Epoch
	if who.Guest {
		// A guest keeps its identity through a signed token handed out in
		// the welcome; without it, a reconnect would be a new user and
		// its own replica id would be refused.
		sess.Token = n.signer.Sign(auth.Claims{Board: id.String(), User: user.ID, Name: user.Name, Role: user.Role,
			Exp: n.cfg.Now().Add(linkTTL).Unix(), Epoch: m.Epoch})
	}
	rm, err := n.rooms.Open(ctx, id)
	if err != nil {
		c.Close(protocol.CloseRetry, "board unavailable")
		return
	}
	// Writes run without a per-write deadline (creating one per message
	// was a measurable share of a busy node's CPU): a write stuck on a
	// slow peer is aborted when the session is kicked, and a slow peer is
	// kicked as soon as its queue fills.
	wctx, abortWrites := context.WithCancel(ctx)
	defer abortWrites()
	sess.OnKick(func() {
		code, _ := sess.CloseCode()
		if code == protocol.CloseResync {
			abortWrites() // too slow: stop writing to it at once
		}
	})
	writerDone := make(chan struct{})
	go n.writeLoop(wctx, c, sess, writerDone)
	if err := rm.Join(ctx, sess, hello.Version); err != nil {
		sess.Kick(protocol.CloseRetry, "board unavailable")
		<-writerDone
		return
	}
	n.readLoop(ctx, c, rm, sess)
	rm.Leave(sess)
	if who.Via == viaSession {
		// The visit ends: what the member saw is the board as it is now
		// (the session received every change up to its departure).
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		var v crdt.VersionVector
		if rm.Query(lctx, func(d *crdt.Doc) { v = d.Version() }) == nil {
			n.recordSeen(lctx, id, who.User.ID, v)
		}
		lcancel()
	}
	sess.Kick(protocol.CloseNormal, "")
	<-writerDone
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

// claimReplica binds a replica id to the user on first use, and refuses it
// to anyone else: nobody can send changes under another person's replica.
func (n *Node) claimReplica(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, user string) (websocket.StatusCode, string) {
	// Read-then-write under one lock, so two people connecting at the same
	// moment with the same new replica id cannot both get it.
	n.claimMu.Lock()
	defer n.claimMu.Unlock()
	key := claimKey(board, rep)
	cur, err := n.store.GetMeta(ctx, "replica", key)
	switch {
	case err == nil:
		if decodeClaim(cur).User != user {
			return protocol.CloseReplica, "replica id belongs to another user"
		}
		return 0, ""
	case errors.Is(err, storage.ErrNotFound):
		c := replicaClaim{Board: board.String(), Replica: rep, User: user, At: n.cfg.Now().UnixMilli()}
		b, _ := json.Marshal(c)
		if err := n.store.PutMeta(ctx, "replica", key, b); err != nil {
			return protocol.CloseRetry, "storage error"
		}
		n.bus.PublishCluster(bus.KindClaim, b) // every node learns who owns it
		return 0, ""
	}
	return protocol.CloseRetry, "storage error"
}

// maxMerge bounds a merged ops message.
const maxMerge = 256 << 10

// writeLoop sends what the room queues for the session. It takes the whole
// queue at once and merges consecutive binary ops messages into one
// WebSocket message: under load a session's backlog costs one write, not
// one per change.
func (n *Node) writeLoop(ctx context.Context, c *websocket.Conn, s *room.Session, done chan<- struct{}) {
	defer close(done)
	var batch []room.Outgoing
	var group [][]byte
	send := func(wctx context.Context, msgs []room.Outgoing) error {
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
					group = group[:0]
					for _, g := range msgs[i:j] {
						group = append(group, g.Data)
					}
					if merged, err := protocol.MergeOpsOut(group); err == nil {
						data = merged
					} else {
						j = i + 1
					}
				}
			}
			if err := c.Write(wctx, typ, data); err != nil {
				return err
			}
			n.metrics.BytesOut.Add(float64(len(data)))
			i = j
		}
		return nil
	}
	for {
		select {
		case <-s.Ready():
			batch = s.Drain(batch[:0])
			if err := send(ctx, batch); err != nil {
				c.CloseNow()
				return
			}
			clear(batch)
		case <-s.Kicked():
			code, why := s.CloseCode()
			// Flush what is queued (an error frame, a shutdown notice)
			// before closing, without waiting long on a slow peer; a
			// session dropped for being slow gets nothing more.
			if code != protocol.CloseResync {
				fctx, cancel := context.WithTimeout(ctx, time.Second)
				send(fctx, s.Drain(batch[:0]))
				cancel()
			}
			c.Close(code, why)
			return
		case <-ctx.Done():
			return
		}
	}
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

func (n *Node) readLoop(ctx context.Context, c *websocket.Conn, rm *room.Room, s *room.Session) {
	l := n.cfg.Limits
	frames := bucket{rate: l.FramesPerSecond, burst: l.FramesBurst}
	ops := bucket{rate: l.OpsPerSecond, burst: l.OpsBurst}
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
		if err := rm.Submit(ctx, s, seq, changes); err != nil {
			s.Kick(protocol.CloseRetry, "board unavailable")
			return
		}
	}
}
