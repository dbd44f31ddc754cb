package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
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
		if kicked {
			cl := w.s.Closing()
			code, why := cl.Code, cl.Reason
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
				w.c.Close(websocket.StatusCode(code), why)
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
		w.g.cfg.Metrics.BytesOut.Add(float64(len(data)))
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
