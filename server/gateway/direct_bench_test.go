package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/server/metrics"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// BenchmarkDirectWrite: the room's direct write of a small message (an
// ack, a change) to a connection whose peer reads everything.
func BenchmarkDirectWrite(b *testing.B) {
	type side struct {
		wc   *wsConn
		stop func()
	}
	ready := make(chan side, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lean := &leanHijacker{ResponseWriter: w}
		c, err := websocket.Accept(lean, r, &websocket.AcceptOptions{})
		if err != nil {
			b.Error(err)
			return
		}
		sess := room.NewSession("s", 1, protocol.User{ID: "u"}, "", 1<<20)
		wctx, abort := context.WithCancel(context.Background())
		wc := &wsConn{g: &Gateway{cfg: Config{Metrics: metrics.New()}}, c: c, fw: lean.fw, s: sess,
			ctx: wctx, abort: abort, done: make(chan struct{})}
		done := make(chan struct{})
		ready <- side{wc: wc, stop: func() { close(done) }}
		<-done
		abort()
		c.CloseNow()
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	s := <-ready
	defer s.stop()
	msg := room.Outgoing{Binary: true, Data: make([]byte, 100)}
	got := make(chan int, 1)
	go func() {
		n := 0
		for {
			if _, _, err := c.Read(ctx); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	refused := 0
	b.ResetTimer()
	for range b.N {
		if s.wc.direct(msg) != room.DirectWritten {
			refused++
			for s.wc.fw.Pending() { // the rest of a frame: the writer's job
				if err := s.wc.fw.WriteRaw(nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(refused)/float64(b.N), "notwritten/op")
}
