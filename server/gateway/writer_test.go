package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// recorder is the far end of a frameWriter: what reached the connection.
type recorder struct{ bytes.Buffer }

// frameWriter holds a full buffer (the start of a frame larger than the
// buffer) until the rest comes, and sends everything else at once.
func TestFrameWriterHoldsOnlyFullBuffers(t *testing.T) {
	var rec recorder
	fw := &frameWriter{conn: &rec}
	bw := bufio.NewWriterSize(fw, wsWriteBuffer)
	frame := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(n + i)
		}
		return b
	}
	var want []byte
	check := func(what string, sent int) {
		t.Helper()
		if got := rec.Len(); got != sent {
			t.Fatalf("%s: %d bytes reached the connection, want %d", what, got, sent)
		}
		if !bytes.Equal(rec.Bytes(), want[:sent]) {
			t.Fatalf("%s: wrong bytes on the connection", what)
		}
	}

	small := frame(10)
	bw.Write(small)
	want = append(want, small...)
	check("small frame before flush", 0)
	bw.Flush()
	check("small frame", len(want))

	// A frame larger than the buffer, written as the WebSocket does (its
	// header, then the payload): the first full buffer is held, then sent
	// with the rest.
	mid := frame(300)
	bw.Write(mid[:2])
	bw.Write(mid[2:])
	want = append(want, mid...)
	check("300 bytes before flush", len(want)-300)
	bw.Flush()
	check("300 bytes", len(want))

	// The rest larger than the buffer goes out within the payload's
	// write, after the held part.
	big := frame(10000)
	bw.Write(big[:5])
	bw.Write(big[5:])
	want = append(want, big...)
	check("10,000 bytes before flush", len(want))
	bw.Flush()
	check("10,000 bytes", len(want))

	// Exactly one full buffer at the flush: held until Commit.
	exact := frame(wsWriteBuffer)
	bw.Write(exact)
	bw.Flush()
	want = append(want, exact...)
	check("a full buffer before Commit", len(want)-wsWriteBuffer)
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	check("a full buffer after Commit", len(want))
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	check("a second Commit", len(want))

	// A held chunk goes out before whatever is written next (a pong
	// from the reader, say).
	bw.Write(exact)
	bw.Flush()
	pong := frame(7)
	bw.Write(pong)
	bw.Flush()
	want = append(append(want, exact...), pong...)
	check("held chunk then a control frame", len(want))
}

// A real WebSocket over TCP with the lean buffers: messages of every size
// around the buffer sizes, and larger, come back intact while pings (the
// reader's pongs go through the same frameWriter) run alongside.
func TestLeanWebSocketRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lean := &leanHijacker{ResponseWriter: w}
		c, err := websocket.Accept(lean, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := context.Background()
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
			if err := lean.fw.Commit(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)

	var sizes []int
	for n := 0; n <= 700; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 1000, 4095, 4096, 4097, 65535, 65536, 300000)
	rng := rand.New(rand.NewPCG(1, 2))

	// Pings need a reader on this side: the loop below reads, and pings
	// run from their own goroutine until it ends.
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
	for _, n := range sizes {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
			t.Fatalf("write %d bytes: %v", n, err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read the echo of %d bytes: %v", n, err)
		}
		if typ != websocket.MessageBinary || !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d bytes: got %d bytes of type %v, not the same", n, len(got), typ)
		}
	}
	close(stop)
	c.Close(websocket.StatusNormalClosure, "")
	pings.Wait()
}

// A direct write (TryWrite) on a real socket makes one write(2) and
// allocates nothing: the room makes five of them per change on a small
// board. A closure per call used to move its results to the heap.
func TestTryWriteAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	defer peer.Close()
	got := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, peer)
		got <- int(n)
	}()

	fw := newFrameWriter(c)
	msg := []byte{0x82, 0x03, 1, 2, 3}
	const runs = 200
	var short int
	allocs := testing.AllocsPerRun(runs, func() {
		n, err, tried := fw.TryWrite(msg)
		if err != nil || !tried {
			t.Fatalf("TryWrite: n=%d err=%v tried=%v", n, err, tried)
		}
		if n != len(msg) {
			short++
		}
	})
	if allocs != 0 {
		t.Errorf("TryWrite allocates %.1f objects per call, want 0", allocs)
	}
	if short != 0 {
		t.Fatalf("%d writes were cut short on an idle socket", short)
	}
	c.Close()
	// AllocsPerRun makes one warm-up call more than runs.
	if n, want := <-got, (runs+1)*len(msg); n != want {
		t.Fatalf("the peer read %d bytes, want %d", n, want)
	}
}

// sizes records the size of each write that reached it.
type sizes struct {
	bytes.Buffer
	writes []int
}

func (s *sizes) Write(p []byte) (int, error) {
	s.writes = append(s.writes, len(p))
	return s.Buffer.Write(p)
}

// A big frame reaches the socket in pieces of at most stallChunk bytes, the
// stall watch told after each (a slow peer that still reads is not taken
// for a stalled one), through the library's path (Write, with and without
// a held chunk) and the raw one (WriteRaw); the bytes arrive whole, in
// order.
func TestFrameWriterTellsProgressPerPiece(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(fw *frameWriter, p []byte) error
	}{
		{"Write", func(fw *frameWriter, p []byte) error { _, err := fw.Write(p); return err }},
		{"Write after a held chunk", func(fw *frameWriter, p []byte) error {
			if _, err := fw.Write(make([]byte, wsWriteBuffer)); err != nil {
				return err
			}
			_, err := fw.Write(p)
			return err
		}},
		{"WriteRaw", func(fw *frameWriter, p []byte) error { return fw.WriteRaw(p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec sizes
			fw := &frameWriter{conn: &rec}
			told := 0
			fw.setProgress(func() { told++ })
			p := make([]byte, 3*stallChunk+1000)
			for i := range p {
				p[i] = byte(i * 7)
			}
			if err := tc.write(fw, p); err != nil {
				t.Fatal(err)
			}
			got := rec.Bytes()
			if !bytes.Equal(got[len(got)-len(p):], p) {
				t.Fatal("the frame did not arrive whole and in order")
			}
			for i, n := range rec.writes {
				if n > stallChunk+wsWriteBuffer {
					t.Fatalf("write %d took %d bytes at once, more than a piece", i, n)
				}
			}
			if told < 4 {
				t.Fatalf("progress told %d times for 4 pieces", told)
			}
		})
	}
}

// TestFrameTailLikeAPong: the end of a library frame larger than the
// buffer reaches the frameWriter as a write of its own, after the held
// full buffer; payload bytes that look like a pong frame there (0x8a, then
// the length of the rest) were taken for the reader's pong, counted
// against the pong budget and not sent: the frame lost its end, and the
// peer its stream. The message here is uncompressed (an echo); on a node
// the library writes messages of 32 KiB and more, compressed for browsers:
// one that deflates to 254 to 379 bytes ends in such a write, and a change
// whose compressed form has those two bytes (an editor can search for
// one) broke the stream of everyone on the board it was sent to.
func TestFrameTailLikeAPong(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lean := &leanHijacker{ResponseWriter: w}
		c, err := websocket.Accept(lean, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if c.Write(ctx, typ, data) != nil || lean.fw.Commit() != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// A 300-byte payload: a 4-byte header and 252 bytes fill the buffer
	// (held), and the last 48 bytes are a write of their own, starting
	// 0x8a 46: a pong of 46 bytes to the eye.
	for range pongBurst + 2 {
		msg := bytes.Repeat([]byte{'x'}, 300)
		msg[252], msg[253] = 0x8a, 46
		if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		typ, got, err := c.Read(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("the echo of a message whose end looks like a pong: %v", err)
		}
		if typ != websocket.MessageBinary || !bytes.Equal(got, msg) {
			t.Fatalf("the echo: %d bytes, not the message sent", len(got))
		}
	}
}
