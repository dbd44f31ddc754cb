package gateway

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/server/metrics"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// enteredWriter signals its first Write.
type enteredWriter struct {
	io.Writer
	once    sync.Once
	entered chan struct{}
}

func (w *enteredWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	return w.Writer.Write(p)
}

// A direct write the socket took in part leaves half a frame on the
// wire. A control frame the library writes before the writer sends the
// rest — the pong to a client's ping, through frameWriter.Write from the
// connection's reader — went out inside that frame: a client that pings
// (many WebSocket libraries do, every few seconds) and reads slowly got
// a corrupt stream. Here the client pings right after the partial write,
// and the writer starts only once the pong's write has begun: every
// message must still arrive whole and in order, and the pong after them.
func TestDirectPartialWriteThenPong(t *testing.T) {
	const size = 3001
	type result struct {
		sent int
		err  string
	}
	partial := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lean := &leanHijacker{ResponseWriter: w}
		c, err := websocket.Accept(lean, r, &websocket.AcceptOptions{})
		if err != nil {
			partial <- result{err: err.Error()}
			return
		}
		defer c.CloseNow()
		ew := &enteredWriter{Writer: lean.fw.conn, entered: make(chan struct{})}
		lean.fw.conn = ew // nothing has been written through it yet
		readerDone := make(chan struct{})
		go func() { // answers pings, and the close handshake at the end
			defer close(readerDone)
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		sess := room.NewSession("s", 1, protocol.User{ID: "u"}, "", 1<<20)
		wctx, abort := context.WithCancel(context.Background())
		defer abort()
		wc := &wsConn{g: &Gateway{cfg: Config{Metrics: metrics.New()}}, c: c, fw: lean.fw, s: sess,
			ctx: wctx, abort: abort, done: make(chan struct{})}
		var res result
		sess.SetDirect(func(m room.Outgoing) room.DirectResult {
			d := wc.direct(m)
			if d == room.DirectRefused {
				res.err = "a direct write was refused before any was partial"
			}
			return d
		})
		// Until the socket takes a message in part (the session has no
		// writer yet: the rest waits).
		for res.err == "" && res.sent < 1<<16 {
			data := make([]byte, size)
			binary.BigEndian.PutUint32(data, uint32(res.sent))
			for i := 4; i < size; i++ {
				data[i] = byte(res.sent + i)
			}
			sess.SendDirect(room.Outgoing{Binary: true, Data: data})
			res.sent++
			if lean.fw.Pending() {
				break
			}
		}
		if res.err == "" && !lean.fw.Pending() {
			res.err = "no direct write was partial"
		}
		partial <- res
		if res.err != "" {
			return
		}
		select {
		case <-ew.entered: // the pong is being written
		case <-time.After(30 * time.Second):
			t.Error("the client's ping got no pong written")
		}
		sess.SetWriter(wc.write) // the writer starts for the rest
		<-readerDone
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	res := <-partial // the peer has read nothing so far
	if res.err != "" {
		t.Fatal(res.err)
	}
	pong := make(chan error, 1)
	go func() { pong <- c.Ping(ctx) }() // answered once this side reads
	for i := 0; i < res.sent; i++ {
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, res.sent, err)
		}
		if typ != websocket.MessageBinary || len(got) != size || binary.BigEndian.Uint32(got) != uint32(i) {
			t.Fatalf("message %d of %d: type %v, %d bytes, number %d", i, res.sent, typ, len(got), binary.BigEndian.Uint32(got))
		}
		for j := 4; j < size; j++ {
			if got[j] != byte(i+j) {
				t.Fatalf("message %d of %d: byte %d differs", i, res.sent, j)
			}
		}
	}
	// The pong comes after them (the reader below handles it).
	go func() { _, _, _ = c.Read(ctx) }()
	if err := <-pong; err != nil {
		t.Fatalf("ping: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}
