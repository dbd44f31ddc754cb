package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

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
// they read: a test hook (SetReadHook), unset in production.
var readHook atomic.Pointer[func(data []byte)]

// SetReadHook sets the hook every connection's reader calls with each
// message it reads (nil: none), for tests that inject a panic; it returns
// a function that restores the previous hook. Production code never sets
// it.
func SetReadHook(f func(data []byte)) (restore func()) {
	var p *func([]byte)
	if f != nil {
		p = &f
	}
	old := readHook.Swap(p)
	return func() { readHook.Store(old) }
}

// readLoop reads and dispatches the client's messages. A panic while
// handling one (a bug a message trips) ends this connection only: it is
// logged, counted, and the client told to reconnect (4001), while the
// node and the other connections go on.
func (g *Gateway) readLoop(ctx context.Context, c *websocket.Conn, rm *room.Room, s *room.Session, ip string) {
	defer func() {
		if p := recover(); p != nil {
			g.cfg.Log.Error("panic in a connection's reader; connection closed", "panic", p, "board", rm.Board().String(),
				"session", s.ID, "stack", string(debug.Stack()))
			g.cfg.Metrics.Panic("conn")
			s.Kick(protocol.CloseRetry, "internal error")
		}
	}()
	l := g.cfg.Limits
	frames := bucket{rate: l.FramesPerSecond, burst: l.FramesBurst}
	// The frames refused for the frame rate: each is answered (an error
	// frame, a write), so a client sending 6-byte frames past the limit
	// without slowing down had every one answered with some 90 bytes, as
	// pings were answered with pongs. A second frame limit's worth is
	// answered; past it the connection is closed (1008).
	refused := bucket{rate: l.FramesPerSecond, burst: l.FramesBurst}
	ops := bucket{rate: l.OpsPerSecond, burst: l.OpsBurst}
	items := bucket{rate: l.OpItemsPerSecond, burst: l.OpItemsBurst}
	claimed := false // the session's replica id is claimed (Config.ClaimReplica)
	refuse := func(code protocol.Code, seq uint64, msg string) {
		g.cfg.Metrics.Rejected(code)
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
		g.cfg.Metrics.BytesIn.Add(float64(len(data)))
		if h := readHook.Load(); h != nil {
			(*h)(data)
		}
		now := g.cfg.Now() // the configured clock, so rate limits can be tested
		if !frames.take(now, 1) {
			if !refused.take(now, 1) {
				s.Kick(protocol.ClosePolicy, "too many frames")
				return
			}
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
		n := 0
		for i := range changes {
			n += len(changes[i].Ops)
		}
		if !items.take(now, float64(n)) {
			ops.tokens += float64(len(changes)) // the batch was not taken: its changes count for nothing
			refuse(protocol.CodeRateLimited, seq, "too many ops per second; resend this batch later")
			continue
		}
		if len(changes) > 0 && !s.MayEdit() {
			// Refused here, so that it claims nothing: a claim is kept
			// for good, and one made by a session that may not edit (a
			// viewer saying hello with the replica id of someone who
			// has not edited yet, seen in presence) would close that
			// person's first edit with 4104. The room refuses the same.
			refuse(protocol.CodeForbidden, seq, fmt.Sprintf("change 1 of %d refused: your role on this board may not edit it", len(changes)))
			continue
		}
		// The batch's bytes count against the day's bytes of changes of
		// its sender (AllowChangeBytes), unless the disk is below its reserve,
		// where the room refuses what is new in it, to be sent again; a
		// batch refused here before the room takes it gives them back.
		charged := 0
		refund := func() {
			if charged > 0 && g.cfg.RefundChangeBytes != nil {
				g.cfg.RefundChangeBytes(ip, s, charged)
			}
		}
		if len(changes) > 0 && g.cfg.AllowChangeBytes != nil && (g.cfg.SpaceLow == nil || !g.cfg.SpaceLow()) {
			if ok, why, retry := g.cfg.AllowChangeBytes(ip, s, len(data)); !ok {
				ops.tokens += float64(len(changes)) // not taken: the rates are not spent
				items.tokens += float64(n)
				g.cfg.Metrics.Rejected(protocol.CodeRateLimited)
				s.SendJSON(protocol.Error{Type: protocol.TypeError, Code: protocol.CodeRateLimited, Seq: seq, Message: why,
					RetryAfter: protocol.RetryAfterSeconds(retry)})
				continue
			}
			charged = len(data)
		}
		if !claimed && len(changes) > 0 {
			if g.cfg.AllowClaim != nil && !g.cfg.AllowClaim(ctx, rm.Board(), s.Replica, ip) {
				refund()
				refuse(protocol.CodeRateLimited, seq, "too many new replica ids on this board from your address; resend this batch later")
				continue
			}
			if code, why := g.cfg.ClaimReplica(ctx, rm.Board(), s.Replica, s.User.ID, true); code != 0 {
				s.Kick(code, why)
				return
			}
			claimed = true
		}
		if err := rm.Submit(ctx, s, seq, changes); err != nil {
			if errors.Is(err, room.ErrBusy) {
				refund()
				refuse(protocol.CodeRateLimited, seq, "the board has too much waiting to be applied; resend this batch later")
				continue
			}
			s.Kick(protocol.CloseRetry, "board unavailable")
			return
		}
	}
}
