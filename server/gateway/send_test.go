package gateway

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/server/metrics"
	"github.com/corkboard/corkboard/server/room"
)

// wsConn.send frames small messages itself and writes a batch in one go:
// over a real WebSocket (compression negotiated, as ServeHTTP does) every
// message arrives whole, in order, with its type, whatever its size
// around the frame header's length steps and the library's threshold,
// while the client's pings (pongs through the same frameWriter) run
// alongside.
func TestSendKeepsOrderAndBoundaries(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	sizes := []int{0, 1, 124, 125, 126, 127, 255, 256, 257, 1000, 65535, 65536, 65537, rawMax - 1, rawMax, rawMax + 1, 200000}
	var batches [][]room.Outgoing
	for b := 0; b < 40; b++ {
		var batch []room.Outgoing
		for n := 1 + rng.IntN(12); n > 0; n-- {
			size := sizes[rng.IntN(len(sizes))]
			if rng.IntN(3) > 0 {
				size = rng.IntN(600)
			}
			m := room.Outgoing{Binary: rng.IntN(2) == 0, Data: make([]byte, size)}
			for i := range m.Data {
				m.Data[i] = 'a' + byte(rng.IntN(26))
			}
			if m.Binary && size > 0 {
				m.Data[0] = 0x7f // not an ops message: never merged
			}
			batch = append(batch, m)
		}
		batches = append(batches, batch)
	}

	sent := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lean := &leanHijacker{ResponseWriter: w}
		c, err := websocket.Accept(lean, r, &websocket.AcceptOptions{
			CompressionMode: websocket.CompressionNoContextTakeover, CompressionThreshold: rawMax})
		if err != nil {
			sent <- err
			return
		}
		// The reader answers pings while the batches go out.
		go func() {
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		wc := &wsConn{g: &Gateway{cfg: Config{Metrics: metrics.New()}}, c: c, fw: lean.fw}
		for _, b := range batches {
			if err := wc.send(context.Background(), b); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
		CompressionMode: websocket.CompressionNoContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)

	// Pings need this side's reader: they run until the reads are done.
	stop := make(chan struct{})
	var pings sync.WaitGroup
	pings.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		}
	})
	n := 0
	for bi, b := range batches {
		for mi, want := range b {
			typ, got, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("batch %d message %d: %v", bi, mi, err)
			}
			wantTyp := websocket.MessageText
			if want.Binary {
				wantTyp = websocket.MessageBinary
			}
			if typ != wantTyp || !bytes.Equal(got, want.Data) {
				t.Fatalf("batch %d message %d (%d bytes, binary %v): got %d bytes of type %v, not the same",
					bi, mi, len(want.Data), want.Binary, len(got), typ)
			}
			n++
		}
	}
	close(stop)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	pings.Wait()
	t.Logf("%d messages in %d batches", n, len(batches))
}

// Abort cuts a raw write stuck on a peer that does not read (a slow
// consumer being kicked) and refuses later ones, while a connection with
// no write in progress stays open for the library's close frame.
func TestFrameWriterAbort(t *testing.T) {
	// Stuck: nobody reads the other end of the pipe.
	a, b := net.Pipe()
	defer b.Close()
	fw := &frameWriter{conn: a}
	done := make(chan error, 1)
	go func() { done <- fw.WriteRaw(make([]byte, 1<<16)) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fw.amu.Lock()
		writing := fw.writing
		fw.amu.Unlock()
		if writing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the write did not start")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	fw.Abort()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a write aborted mid-way reported success")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Abort did not end the stuck write")
	}

	// Idle: the connection stays usable for the library, raw writes stop.
	a2, b2 := net.Pipe()
	defer a2.Close()
	defer b2.Close()
	fw2 := &frameWriter{conn: a2}
	fw2.Abort()
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 16)
		n, _ := b2.Read(buf)
		got <- buf[:n]
	}()
	if _, err := fw2.Write([]byte{0x88, 0x02, 0x03, 0xe8}); err != nil {
		t.Fatalf("a close frame after Abort with no write in progress: %v", err)
	}
	if g := <-got; !bytes.Equal(g, []byte{0x88, 0x02, 0x03, 0xe8}) {
		t.Fatalf("the peer read %x", g)
	}
	if err := fw2.WriteRaw([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteRaw after Abort: %v, want net.ErrClosed", err)
	}
}
