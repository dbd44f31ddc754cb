package gateway

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/server/metrics"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// The room's direct writes (wsConn.direct through Session.SendDirect)
// never wait on a peer that does not read: once its socket is full they
// are refused (or leave a frame's end to the writer), the session queues
// the rest for its writer, and when the peer reads again every message
// arrives whole and in order, the frame split by a partial write
// included.
func TestDirectWriteNeverBlocks(t *testing.T) {
	const size = 3000
	type result struct {
		sent   int
		counts [3]int // by room.DirectResult
		err    error
	}
	done := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lean := &leanHijacker{ResponseWriter: w}
		c, err := websocket.Accept(lean, r, &websocket.AcceptOptions{})
		if err != nil {
			done <- result{err: err}
			return
		}
		go func() { // answers the close handshake at the end
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		sess := room.NewSession("s", 1, protocol.User{ID: "u"}, "", 1<<20)
		wctx, abort := context.WithCancel(context.Background())
		wc := &wsConn{g: &Gateway{cfg: Config{Metrics: metrics.New()}}, c: c, fw: lean.fw, s: sess,
			ctx: wctx, abort: abort, done: make(chan struct{})}
		var res result
		sess.SetWriter(wc.write)
		sess.SetDirect(func(m room.Outgoing) room.DirectResult {
			d := wc.direct(m)
			res.counts[d]++
			return d
		})
		// Until the socket is full, then as much again: all of it on this
		// goroutine, which must never wait.
		full := 0
		for res.sent < 1<<16 && (full == 0 || res.sent < 2*full) {
			data := make([]byte, size)
			binary.BigEndian.PutUint32(data, uint32(res.sent))
			for i := 4; i < size; i++ {
				data[i] = byte(res.sent + i)
			}
			sess.SendDirect(room.Outgoing{Binary: true, Data: data})
			res.sent++
			if full == 0 && res.counts[room.DirectWritten] < res.sent {
				full = res.sent
			}
		}
		done <- res // the writer goes on sending the queue as the peer reads
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	res := <-done // the peer has read nothing so far
	if res.err != nil {
		t.Fatal(res.err)
	}
	t.Logf("%d messages: %d written directly, %d partly, %d refused", res.sent, res.counts[room.DirectWritten], res.counts[room.DirectPartial], res.counts[room.DirectRefused])
	if res.counts[room.DirectWritten] == 0 || res.counts[room.DirectWritten] == res.sent {
		t.Fatalf("direct writes: %v of %d; want some written, and the rest left to the writer once the socket is full", res.counts, res.sent)
	}
	for i := 0; i < res.sent; i++ {
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != websocket.MessageBinary || len(got) != size || binary.BigEndian.Uint32(got) != uint32(i) {
			t.Fatalf("message %d: type %v, %d bytes, number %d", i, typ, len(got), binary.BigEndian.Uint32(got))
		}
		for j := 4; j < size; j++ {
			if got[j] != byte(i+j) {
				t.Fatalf("message %d: byte %d differs", i, j)
			}
		}
	}
}
