package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

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
		if w.mustClose {
			w.mustClose = false
			w.c.CloseNow() // the reader sees the connection end and leaves
		}
		if kicked {
			cl := w.s.Closing()
			code, why := cl.Code, cl.Reason
			if w.fw.Pending() && (code == protocol.CloseResync || w.failed) {
				// Half a frame is on the wire: no close frame can follow.
				w.failed = true
			}
			// Flush what is queued (an error frame, a shutdown notice)
			// before closing, without waiting long on a slow peer; a
			// session dropped for being slow gets nothing more.
			if code != protocol.CloseResync && !w.failed {
				fctx, cancel := context.WithTimeout(w.ctx, time.Second)
				// Frames written raw take no context: the same second
				// bounds them (Abort closes the connection under a write
				// still stuck then, and leaves it alone otherwise).
				stuck := time.AfterFunc(time.Second, w.fw.Abort)
				w.send(fctx, msgs)
				stuck.Stop()
				cancel()
			}
			if w.failed {
				w.c.CloseNow()
			} else {
				w.c.Close(websocket.StatusCode(code), why)
			}
			close(w.done)
			return
		}
		if !w.failed {
			w.watchStall()
			err := w.send(w.ctx, msgs)
			if w.stall != nil {
				w.sending.Store(false)
				w.stall.Stop()
			}
			if err != nil {
				// The reader sees the connection end and leaves.
				w.failed = true
				w.c.CloseNow()
			}
		}
		clear(msgs)
		batch = msgs[:0]
	}
}

// watchStall arms the connection's stall watch for a send about to
// begin: if the peer takes nothing for Limits.WriteStall meanwhile (each
// piece a write gets onto the socket puts the watch back to the full
// time), stalled drops it. One timer per connection, made on its first
// send and reset after: a send makes no allocation for it.
//
// Rejected: a deadline on the socket (SetWriteDeadline) around each send:
// a direct write of the room's (TryWrite, through the same descriptor)
// would fail once a stale deadline had passed, so every send would have
// to clear it too, two runtime timer changes where this is one.
func (w *wsConn) watchStall() {
	d := w.g.cfg.Limits.WriteStall
	if d <= 0 {
		return // no watch (a Gateway whose Limits were not defaulted)
	}
	if w.stall == nil {
		w.stall = time.AfterFunc(d, w.stalled)
		if w.fw != nil {
			w.fw.setProgress(func() {
				if w.sending.Load() {
					w.stall.Reset(d)
				}
			})
		}
	} else {
		w.stall.Reset(d)
	}
	// After the reset: a watch that fires from before it sees no send.
	w.sending.Store(true)
}

// stalled is the stall watch's end: the peer took nothing for
// Limits.WriteStall while a send waited on it. It is kicked as too slow
// (a full queue's code, "resync"), which aborts the stuck write and closes
// the connection, letting go of everything queued for it.
func (w *wsConn) stalled() {
	if !w.sending.Load() {
		return // the send ended, or a later one has not begun
	}
	if l := w.g.cfg.Log; l != nil {
		l.Debug("connection dropped: it read nothing while the node had something to send", "board", w.board.String(), "session", w.s.ID)
	}
	if m := w.g.cfg.Metrics; m != nil {
		m.Stalled()
	}
	w.s.Kick(protocol.CloseResync, "too slow: nothing read for "+w.g.cfg.Limits.WriteStall.String())
	// The kick above aborts the stuck write only if it is the session's
	// first (a resync); one kicked before with another code (a message too
	// big, access removed) waits on the library's close, which does not
	// close a socket it cannot write to. The socket is closed here
	// whatever the kick did: the write fails, the writer and the reader
	// end, and the connection's slot and queue are let go.
	w.abort()
	if w.fw != nil {
		w.fw.Kill()
	} else {
		w.c.CloseNow()
	}
}

// send writes msgs in order. Messages under rawMax are framed here and
// gathered into one buffer written with one syscall (frameWriter.WriteRaw):
// a delivery and an ack queued together, or a backlog, cost one write,
// and no per-message work inside the WebSocket library (its write lock,
// message writer reset, timeout hook and bufio flush were a third of a
// busy node's write path). Larger messages (snapshots, catch-ups) go
// through the library, which compresses them.
//
// Server frames are unmasked, so framing is a header of 2, 4 or 10 bytes;
// with no context takeover, an uncompressed message between compressed
// ones is valid. Frames never interleave: the library writes only control
// frames meanwhile (pongs, from the reader), each one whole Write under
// frameWriter's lock.
//
// Rejected: writev of the headers and payloads in place (a net.Buffers per
// batch, and a copy of under rawMax bytes is cheaper than an iovec each).
// The room writes to an idle connection itself only without blocking
// (direct, below); a blocking write from it would stall the board on a
// full socket.
func (w *wsConn) send(ctx context.Context, msgs []room.Outgoing) error {
	if w.fw.Pending() {
		// The end of a frame a direct write began goes before anything
		// (unless a control frame of the reader's took it along).
		if err := w.fw.WriteRaw(nil); err != nil {
			return err
		}
	}
	var out *[]byte // pooled: an idle connection holds no buffer
	defer func() {
		if out != nil {
			putRawBuf(out)
		}
	}()
	flush := func() error {
		if out == nil || len(*out) == 0 {
			return nil
		}
		err := w.fw.WriteRaw(*out)
		*out = (*out)[:0]
		return err
	}
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
		if len(data) < rawMax {
			if out == nil {
				out = getRawBuf()
			}
			*out = appendFrame(*out, typ, data)
			if len(*out) >= rawFlush {
				if err := flush(); err != nil {
					return err
				}
			}
		} else {
			if err := flush(); err != nil {
				return err
			}
			if z := w.sharedFrame(m); z != nil {
				// Compressed once for every connection that sends it (deflate.go).
				if err := w.fw.WriteRaw(z); err != nil {
					return err
				}
			} else {
				if err := w.c.Write(ctx, typ, data); err != nil {
					return err
				}
				if err := w.fw.Commit(); err != nil {
					return err
				}
			}
		}
		w.g.cfg.Metrics.BytesOut.Add(float64(len(data)))
		i = j
	}
	return flush()
}

// direct writes one message straight to the socket from the caller's
// goroutine (the room's), without blocking: room.Session.SendDirect calls
// it while no writer runs and nothing is queued. It frames the message as
// send does and makes one non-blocking write (frameWriter.TryWrite). What
// the socket does not take at all is refused (the session queues it for
// the writer); a frame the socket took in part is finished by the
// writer, which the session starts for it (frameWriter.rest). A write error marks
// the connection failed; the writer closes it.
//
// Rejected: a writer goroutine woken for each message (what the session
// does otherwise: on a small board every message is such a wake-up, a
// goroutine hand-off and a park); net.Conn.Write from the room (it waits
// for a full socket, and a slow peer would stall its board).
func (w *wsConn) direct(m room.Outgoing) room.DirectResult {
	if w.failed || len(m.Data) >= rawMax {
		return room.DirectRefused
	}
	typ := websocket.MessageText
	if m.Binary {
		typ = websocket.MessageBinary
	}
	out := getRawBuf()
	defer putRawBuf(out)
	*out = appendFrame(*out, typ, m.Data)
	n, err, tried := w.fw.TryWrite(*out)
	switch {
	case !tried || (n == 0 && err == nil):
		return room.DirectRefused
	case err != nil:
		// The peer is gone: the writer (started for a "partial" write)
		// closes the connection; nothing more is written to it.
		w.failed, w.mustClose = true, true
		return room.DirectPartial
	}
	w.g.cfg.Metrics.BytesOut.Add(float64(len(m.Data)))
	if n < len(*out) {
		return room.DirectPartial // frameWriter.rest keeps the end
	}
	return room.DirectWritten
}

const (
	// rawMax: messages from this size on go through the WebSocket
	// library (its compression threshold, ServeHTTP).
	rawMax = 32 << 10
	// rawFlush: a gathered buffer this large is written before more is
	// added.
	rawFlush = 64 << 10
)

var rawBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getRawBuf() *[]byte { return rawBufs.Get().(*[]byte) }

func putRawBuf(b *[]byte) {
	if cap(*b) > 2*rawFlush {
		return // a rare big batch: let it go
	}
	*b = (*b)[:0]
	rawBufs.Put(b)
}

// appendFrame appends one unfragmented, unmasked WebSocket frame (RFC 6455
// section 5.2) carrying a whole message of the type.
func appendFrame(dst []byte, typ websocket.MessageType, data []byte) []byte {
	op := byte(0x1) // text
	if typ == websocket.MessageBinary {
		op = 0x2
	}
	n := len(data)
	switch {
	case n < 126:
		dst = append(dst, 0x80|op, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|op, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|op, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, data...)
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
	l.fw = newFrameWriter(conn)
	// (The WebSocket reads from the conn returned, through r's buffer.)
	return socketConn(conn, r.Buffered()), bufio.NewReadWriter(r, bufio.NewWriterSize(l.fw, wsWriteBuffer)), nil
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
	conn io.Writer       // the hijacked connection (writev through net.Buffers)
	raw  syscall.RawConn // of conn when it is a plain socket (TryWrite), else nil
	mu   sync.Mutex
	held *[wsWriteBuffer]byte // non-nil while a full buffer is held

	// rest is the end of a frame a TryWrite left unwritten (under mu):
	// every later write sends it first. Kept here rather than by the
	// connection's writer, so that a control frame the library writes
	// meanwhile (the reader's pong or close, through Write) cannot land
	// inside that frame on the wire.
	rest    []byte
	pending atomic.Bool // rest != nil, read without mu (Pending)

	amu     sync.Mutex // guards the two below (Abort does not wait for mu)
	writing bool       // a WriteRaw is in progress
	aborted bool       // Abort was called

	// TryWrite's one write(2), under mu: the callback is bound once
	// (rawWrite) and its input and results live here, so that a direct
	// write allocates nothing. A closure per call moved its captured
	// results to the heap: 4 to 5 allocations per write, five writes per
	// change on a small board.
	tryFn  func(fd uintptr) bool
	tryP   []byte
	tryN   int
	tryErr error

	// progress, if set (before any write), is called after each piece
	// of at most stallChunk bytes a blocking write got onto the socket:
	// the connection's stall watch (wsConn.write).
	progress func()

	// The pongs the library answers a client's pings with (under mu):
	// at most pongBurst at once and pongsPerSecond after that. Past it
	// a pong is not written and onPingFlood (set by the connection) is
	// called once: the connection is closed. The library answers every
	// ping, one write(2) each from the connection's reader, and pings
	// are not messages, so no message bound saw them: a client sending
	// nothing but 6-byte pings had the node make a syscall for each.
	pongTokens  float64
	pongAt      time.Time
	pingFlooded bool
	onPingFlood func()
}

// A client's pings answered: a burst, then a few a second. Clients ping
// to keep a connection alive or to measure it (every few seconds);
// browsers do not ping at all.
const (
	pongBurst      = 30
	pongsPerSecond = 5
)

// isPong reports whether p, a write of the library's, is one whole pong
// frame as the library writes it (unmasked, at most 125 bytes of
// payload, flushed alone from the small buffer). Only a write that starts
// a frame can be one: the end of a frame larger than the buffer comes as
// a write of its own after the held full buffer (f.held), and its bytes
// are the payload's, which may look like a pong (allowPong's caller
// checks f.held).
func isPong(p []byte) bool {
	return len(p) >= 2 && p[0] == 0x8a && p[1] <= 125 && len(p) == 2+int(p[1])
}

// allowPong takes a pong from the budget; false when it is spent. f.mu
// is held; flood is onPingFlood the first time the budget is spent (the
// caller calls it once f.mu is let go), else nil.
func (f *frameWriter) allowPong(now time.Time) (ok bool, flood func()) {
	if f.pongAt.IsZero() {
		f.pongTokens = pongBurst
	} else if d := now.Sub(f.pongAt); d > 0 {
		f.pongTokens = min(pongBurst, f.pongTokens+d.Seconds()*pongsPerSecond)
	}
	f.pongAt = now
	ok = f.pongTokens >= 1
	if ok {
		f.pongTokens--
	}
	if !ok && !f.pingFlooded && f.onPingFlood != nil {
		f.pingFlooded = true
		flood = f.onPingFlood
	}
	return ok, flood
}

// setOnPingFlood sets onPingFlood (under mu: the reader may be writing a
// pong).
func (f *frameWriter) setOnPingFlood(fn func()) {
	f.mu.Lock()
	f.onPingFlood = fn
	f.mu.Unlock()
}

// stallChunk is the most a blocking write hands the socket at once (a
// link of half a kilobyte a second still shows progress within a minute), so
// that a slow peer still taking bytes shows progress to the stall watch
// within a big frame (a snapshot, a catch-up).
const stallChunk = 32 << 10

// writeChunks writes p in pieces of at most stallChunk bytes, telling
// progress after each; f.mu is held.
func (f *frameWriter) writeChunks(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		k := min(len(p), stallChunk)
		n, err := f.conn.Write(p[:k])
		total += n
		if err != nil {
			return total, err
		}
		if f.progress != nil {
			f.progress()
		}
		p = p[k:]
	}
	return total, nil
}

// newFrameWriter writes to conn; TryWrite works when conn is a plain
// socket.
func newFrameWriter(conn net.Conn) *frameWriter {
	f := &frameWriter{conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			f.raw = raw
			f.tryFn = f.rawWrite
		}
	}
	return f
}

// rawWrite is tryFn: one write(2) of tryP, never a wait for room.
func (f *frameWriter) rawWrite(fd uintptr) bool {
	f.tryN, f.tryErr = syscall.Write(int(fd), f.tryP)
	return true
}

var heldPool = sync.Pool{New: func() any { return new([wsWriteBuffer]byte) }}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	if f.held == nil && isPong(p) {
		if ok, flood := f.allowPong(time.Now()); !ok {
			f.mu.Unlock()
			if flood != nil {
				flood()
			}
			return len(p), nil // not sent (RFC 6455 lets an endpoint leave earlier pings unanswered)
		}
	}
	defer f.mu.Unlock()
	if err := f.writeRest(); err != nil {
		return 0, err
	}
	if f.held == nil {
		if len(p) == wsWriteBuffer {
			f.held = heldPool.Get().(*[wsWriteBuffer]byte)
			copy(f.held[:], p)
			return len(p), nil
		}
		return f.writeChunks(p)
	}
	first := p[:min(len(p), stallChunk)]
	bufs := net.Buffers{f.held[:], first}
	n, err := bufs.WriteTo(f.conn)
	f.release()
	n -= wsWriteBuffer
	if n < 0 {
		n = 0
	}
	if err == nil && int(n) < len(first) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return int(n), err
	}
	if f.progress != nil {
		f.progress()
	}
	if len(first) == len(p) {
		return int(n), nil
	}
	m, err := f.writeChunks(p[len(first):])
	return int(n) + m, err
}

// WriteRaw writes whole frames framed by the caller (wsConn.send), after
// the rest of a frame a TryWrite began, and after a held chunk if any (none in practice: the writer commits each library
// write), in one write. After Abort it writes nothing.
func (f *frameWriter) WriteRaw(p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.amu.Lock()
	if f.aborted {
		f.amu.Unlock()
		return net.ErrClosed
	}
	f.writing = true
	f.amu.Unlock()
	err := f.writeRest()
	switch {
	case err != nil:
	case f.held != nil:
		bufs := net.Buffers{f.held[:], p}
		_, err = bufs.WriteTo(f.conn)
		f.release()
	case len(p) > 0:
		_, err = f.writeChunks(p)
	}
	f.amu.Lock()
	f.writing = false
	f.amu.Unlock()
	return err
}

// setProgress sets progress (under mu: a write of the reader's may be
// under way).
func (f *frameWriter) setProgress(fn func()) {
	f.mu.Lock()
	f.progress = fn
	f.mu.Unlock()
}

// Abort stops raw writes to a peer too slow to keep up: one in progress
// (stuck on a full socket) by closing the connection under it, later ones
// by refusing them. A connection with no raw write in progress stays open,
// so that the library can still send it its close frame.
func (f *frameWriter) Abort() {
	f.amu.Lock()
	f.aborted = true
	writing := f.writing
	f.amu.Unlock()
	if c, ok := f.conn.(io.Closer); ok && writing {
		c.Close()
	}
}

// Kill closes the connection under whatever write is in progress, and
// refuses later writes: for a peer that took nothing for the stall time.
func (f *frameWriter) Kill() {
	f.amu.Lock()
	f.aborted = true
	f.amu.Unlock()
	if c, ok := f.conn.(io.Closer); ok {
		c.Close()
	}
}

// TryWrite writes p to the socket with one non-blocking write(2): tried
// is false when it was not attempted (another write holds the writer, a
// chunk or the end of a frame is held, Abort was called, or the
// connection is not a plain socket), and n says how much of p the socket
// took (0 with a nil error: the socket is full); the rest of a frame it
// took in part is written first by the next write of any kind. It never
// waits.
func (f *frameWriter) TryWrite(p []byte) (n int, err error, tried bool) {
	if f.raw == nil || !f.mu.TryLock() {
		return 0, nil, false
	}
	defer f.mu.Unlock()
	f.amu.Lock()
	aborted := f.aborted
	f.amu.Unlock()
	if aborted || f.held != nil || f.rest != nil {
		return 0, nil, false
	}
	// The callback returns true: one attempt, never a wait for room. No
	// other write holds the descriptor's write lock: every write to the
	// connection goes through f, under f.mu.
	f.tryP, f.tryN, f.tryErr = p, 0, nil
	err = f.raw.Write(f.tryFn)
	n, werr := f.tryN, f.tryErr
	f.tryP = nil // not kept past the call
	if err != nil {
		return 0, err, true
	}
	if n < 0 {
		n = 0
	}
	if werr == syscall.EAGAIN || werr == syscall.EINTR {
		werr = nil
	}
	if werr == nil && n > 0 && n < len(p) {
		f.rest = append([]byte(nil), p[n:]...)
		f.pending.Store(true)
	}
	return n, werr, true
}

// Pending says a TryWrite left the end of a frame unwritten (rest). It
// does not wait for a write in progress (the reader's pong may be stuck
// writing rest to a full socket).
func (f *frameWriter) Pending() bool { return f.pending.Load() }

// writeRest writes rest, if any; f.mu is held. After an error nothing
// more may be written (half a frame is on the wire): rest is dropped and
// the connection is closed by its writer.
func (f *frameWriter) writeRest() error {
	if f.rest == nil {
		return nil
	}
	_, err := f.conn.Write(f.rest)
	f.rest = nil
	f.pending.Store(false)
	return err
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
