package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"

	"github.com/coder/websocket"
)

// helloBudget is the node's budget of bytes of large hellos held at once
// (Limits.HelloBudget), every connection together.
//
// Why: a hello may be MaxHello (8 MiB: a returning client's version
// vector), and anyone who may view a public board may open --ws-per-ip
// WebSockets (64) from an address and send each an 8 MiB hello as slowly
// as the hello timeout (10 s) allows: 512 MiB held per address, and
// nothing bounded the addresses (IPv6 /64s are cheap). Only clients of
// boards with tens of thousands of writers ever send a hello past
// MaxMessage, so a bound on the whole node costs honest clients nothing
// unless such hellos come at once.
//
// How: readHelloMessage reads the hello through the library's Reader
// into a buffer it grows itself. Up to MaxMessage the buffer is free, as
// any message's is (the per-connection and per-address bounds cover
// those). A buffer to grow past MaxMessage takes its whole size from the
// budget before it is made (the first MiB included, so the budget bounds
// the whole of every large hello), a bit more at each growth (by half),
// so a hello holds what its client has sent, not what it announces
// (frames of a message come one by one, and the library tells no
// length). The share is given back once the session has joined (or the
// connection ended): the decoded hello, whose version vector is a map at
// least as big as its JSON, lives until the room has used it. A buffer
// the budget cannot grow closes the connection with 4001 (CloseRetry:
// reconnect later, with backoff), not 1009, which tells clients to stop:
// the hello is not too big, the node is busy. Its share is given back
// before the close (whose handshake may wait for the client).
//
// A slow sender keeps its share for as long as it takes to send, at most
// the hello timeout (10 s), then the join; an attacker with enough
// connections can so keep the budget spent, and then clients with large
// hellos are refused and retry (4001) until it frees, while every hello
// of up to MaxMessage (almost all of them) joins as before. That is the
// trade: the node's memory is bounded, the attack's cost falls on the
// few clients of huge boards, as a delay.
//
// Rejected: io.ReadAll and then counting (the memory is held before it is
// counted); waiting for budget instead of refusing (waiting connections
// would pile up, each with what it has read, and an honest client would
// wait behind attackers, where a refusal lets it back off and return); a
// smaller MaxHello (clients of boards with many writers could no longer
// join at all, Limits.MaxHello); a share per address (an attacker has
// many addresses, and people behind one NAT would share it); a minimum
// sending rate (a client on a slow link sends an 8 MiB hello in seconds,
// and the hello timeout bounds the time already); a new close code
// (4001 already says "reconnect later" to every client).
type helloBudget struct {
	max  int64
	held atomic.Int64
}

// take takes n bytes if the budget has them.
func (b *helloBudget) take(n int64) bool {
	for {
		h := b.held.Load()
		if h+n > b.max {
			if f := helloHook.Load(); f != nil {
				(*f)(h, true)
			}
			return false
		}
		if b.held.CompareAndSwap(h, h+n) {
			if f := helloHook.Load(); f != nil {
				(*f)(h+n, false)
			}
			return true
		}
	}
}

// give gives back n bytes taken.
func (b *helloBudget) give(n int64) {
	if n <= 0 {
		return
	}
	h := b.held.Add(-n)
	if f := helloHook.Load(); f != nil {
		(*f)(h, false)
	}
}

// errHelloBudget: the node's hello budget cannot grow the hello's buffer.
var errHelloBudget = errors.New("the node's hello budget is spent")

// helloFirstBuffer is the buffer a hello is first read into; it doubles
// up to MaxMessage, then grows by half (charged).
const helloFirstBuffer = 512

// readHelloMessage reads a message as websocket.Conn.Read does, under the
// read limit set, but into a buffer it grows itself: past MaxMessage each
// growth is taken from the node's hello budget before the buffer is made
// (helloBudget). held is what was taken, for the caller to give back
// (also on an error); errHelloBudget when the budget was short.
func (g *Gateway) readHelloMessage(ctx context.Context, c *websocket.Conn) (typ websocket.MessageType, data []byte, held int64, err error) {
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return 0, nil, 0, err
	}
	free := g.cfg.Limits.MaxMessage
	// The read limit lets one byte past MaxHello through
	// (websocket.Conn.SetReadLimit): a message of MaxHello bytes ends
	// with EOF into a buffer of one more; a longer one is refused by the
	// library (1009) at the next read.
	ceiling := g.cfg.Limits.MaxHello + 1
	buf := make([]byte, 0, min(helloFirstBuffer, free))
	for {
		if len(buf) == cap(buf) {
			size := int64(cap(buf))
			next := min(2*size, free)
			if size >= free {
				next = size + size/2
			}
			next = min(next, ceiling)
			if next == size {
				// Full at the ceiling: this read fails (ErrMessageTooBig,
				// closed with 1009 by the library).
				var one [1]byte
				if _, err := r.Read(one[:]); err != nil {
					return typ, nil, held, err
				}
				return typ, nil, held, websocket.ErrMessageTooBig
			}
			if next > free {
				if !g.hellos.take(next - held) {
					return typ, nil, held, errHelloBudget
				}
				held = next
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return typ, buf, held, nil
		}
		if err != nil {
			return typ, nil, held, err
		}
	}
}

// helloHook, if set, is called with the node's hello bytes held after
// every change, and at every refusal (refused true): a test hook
// (SetHelloHook), unset in production. It is shared by every gateway of
// the process (a test's nodes).
var helloHook atomic.Pointer[func(held int64, refused bool)]

// SetHelloHook sets helloHook (nil: none), for tests that watch the
// hello budget; it returns a function that restores the previous hook.
// Production code never calls it.
func SetHelloHook(f func(held int64, refused bool)) (restore func()) {
	var p *func(int64, bool)
	if f != nil {
		p = &f
	}
	old := helloHook.Swap(p)
	return func() { helloHook.Store(old) }
}

// socketReadHook, if set, is called with the client's address and the
// number of bytes of every read from a WebSocket's socket, once
// upgraded: a test hook (SetSocketReadHook), unset in production, so that
// a test knows when a node has read what it sent.
var socketReadHook atomic.Pointer[func(remote string, n int)]

// SetSocketReadHook sets socketReadHook (nil: none), for tests; it
// returns a function that restores the previous hook. Production code
// never calls it. It applies to connections upgraded after it is set.
func SetSocketReadHook(f func(remote string, n int)) (restore func()) {
	var p *func(string, int)
	if f != nil {
		p = &f
	}
	old := socketReadHook.Swap(p)
	return func() { socketReadHook.Store(old) }
}

// hookedReader tells socketReadHook of every read.
type hookedReader struct {
	net.Conn
	remote string
	hook   func(string, int)
}

func (h hookedReader) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	h.hook(h.remote, n)
	return n, err
}

// socketConn is the connection a hijacked WebSocket reads from: conn
// itself, or conn telling socketReadHook of its reads, and at once of the
// bytes the HTTP server read already (buffered: its background read may
// have taken the first byte a client sent right after the upgrade's
// answer).
func socketConn(conn net.Conn, buffered int) net.Conn {
	f := socketReadHook.Load()
	if f == nil {
		return conn
	}
	h := hookedReader{Conn: conn, remote: conn.RemoteAddr().String(), hook: *f}
	if buffered > 0 {
		h.hook(h.remote, buffered)
	}
	return h
}
