package gateway

import (
	"bytes"
	"compress/flate"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/server/metrics"
	"github.com/corkboard/corkboard/server/room"
)

// compressible returns n bytes that compress like a snapshot does (words
// from a small set, random order).
func compressible(rng *rand.Rand, n int) []byte {
	words := []string{"note", "shape", "x", "y", "w", "h", "yellow", "#e8590c", "idea", "ship", "\x00\x01", "\xff"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(byte(rng.IntN(256)))
	}
	return b.Bytes()[:n]
}

// compressFrame makes one final binary frame with RSV1 set whose length
// field is its payload's, at each of the header's three length forms, and
// whose payload with the RFC 7692 tail put back inflates to the message.
func TestCompressFrame(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, n := range []int{1, 50, 300, 20000, 200000, 3 << 20} {
		data := compressible(rng, n)
		if n >= 20000 {
			// Some incompressible stretches too.
			for i := 0; i < n/10; i++ {
				data[rng.IntN(n)] = byte(rng.IntN(256))
			}
		}
		f := compressFrame(data)
		if f[0] != 0xc2 {
			t.Fatalf("%d bytes: first header byte %#x, want FIN|RSV1|binary (0xc2)", n, f[0])
		}
		var size, head int
		switch l := int(f[1]); {
		case l < 126:
			size, head = l, 2
		case l == 126:
			size, head = int(f[2])<<8|int(f[3]), 4
			if size < 126 {
				t.Fatalf("%d bytes: 16-bit length %d for a short payload", n, size)
			}
		default:
			for _, c := range f[2:10] {
				size = size<<8 | int(c)
			}
			head = 10
			if size <= 0xffff {
				t.Fatalf("%d bytes: 64-bit length %d for a payload under 64 KiB", n, size)
			}
		}
		if size != len(f)-head {
			t.Fatalf("%d bytes: length field %d, payload %d", n, size, len(f)-head)
		}
		payload := append(bytes.Clone(f[head:]), 0x00, 0x00, 0xff, 0xff)
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(payload)))
		if err != nil && err != io.ErrUnexpectedEOF {
			t.Fatalf("%d bytes: inflate: %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: inflated to %d bytes, not the message", n, len(got))
		}
	}
}

// A shared message (a board's snapshot or far view) goes to every
// connection that negotiated compression as the one frame compressed
// once, and arrives whole, in order with the messages around it, through
// a real WebSocket client that inflates it; a connection without
// compression gets it uncompressed. A message that is not shared, or is
// small, is not kept.
func TestSharedFrameCompressedOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	shared := append([]byte{0x03}, compressible(rng, 900<<10)...)
	other := append([]byte{0x03}, compressible(rng, 400<<10)...)
	small := append([]byte{0x04}, compressible(rng, 100<<10)...) // shared, under sharedDeflateMin
	batch := []room.Outgoing{
		{Data: []byte(`{"type":"welcome"}`)},
		{Binary: true, Shared: true, Data: small},
		{Binary: true, Shared: true, Data: shared},
		{Binary: true, Data: other},
		{Data: []byte(`{"type":"synced"}`)},
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lean := &leanHijacker{ResponseWriter: w}
		c, err := websocket.Accept(lean, r, &websocket.AcceptOptions{
			CompressionMode: websocket.CompressionNoContextTakeover, CompressionThreshold: rawMax})
		if err != nil {
			return
		}
		go func() {
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		wc := &wsConn{g: &Gateway{cfg: Config{Metrics: metrics.New()}}, c: c, fw: lean.fw, deflate: deflateNegotiated(w.Header())}
		wc.send(context.Background(), batch)
	}))
	defer srv.Close()

	read := func(mode websocket.CompressionMode) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{CompressionMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadLimit(4 << 20)
		for i, want := range batch {
			typ, got, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("compression %v, message %d: %v", mode, i, err)
			}
			if (typ == websocket.MessageBinary) != want.Binary || !bytes.Equal(got, want.Data) {
				t.Fatalf("compression %v, message %d: got %d bytes of type %v, not the %d sent", mode, i, len(got), typ, len(want.Data))
			}
		}
	}
	kept := func(data []byte) *deflated {
		sharedFrames.mu.Lock()
		defer sharedFrames.mu.Unlock()
		for k, e := range sharedFrames.entries {
			if k.Value() == &data[0] {
				return e
			}
		}
		return nil
	}

	read(websocket.CompressionDisabled)
	if kept(shared) != nil {
		t.Fatal("a connection without compression made a compressed frame")
	}
	read(websocket.CompressionNoContextTakeover)
	first := kept(shared)
	if first == nil {
		t.Fatal("the shared message's compressed frame was not kept")
	}
	if kept(other) != nil || kept(small) != nil {
		t.Fatal("a message not shared, or under sharedDeflateMin, was kept")
	}
	read(websocket.CompressionNoContextTakeover)
	if e := kept(shared); e != first || &e.frame[0] != &first.frame[0] {
		t.Fatal("the second connection compressed the shared message again")
	}
	runtime.KeepAlive(shared)
}

// The cache keeps no message alive: once a message is gone, its entry
// goes at the next insert, and the bytes kept go down with it.
func TestSharedFramesDropGoneMessages(t *testing.T) {
	c := &deflateCache{entries: map[weakKey]*deflated{}}
	rng := rand.New(rand.NewPCG(1, 1))
	func() {
		gone := compressible(rng, 300<<10)
		c.frame(gone)
	}()
	runtime.GC()
	runtime.GC()
	live := compressible(rng, 300<<10)
	f := c.frame(live)
	c.mu.Lock()
	n, size := len(c.entries), c.size
	c.mu.Unlock()
	if n != 1 || size != len(f) {
		t.Fatalf("%d entries holding %d bytes after the first message was collected; want 1 holding %d", n, size, len(f))
	}
	runtime.KeepAlive(live)
}

// The worst a visitor can do is open board after board, each sending a
// big shared snapshot: the frames kept stay within the bound (past it, the
// oldest go), however many boards.
func TestSharedFramesBounded(t *testing.T) {
	c := &deflateCache{entries: map[weakKey]*deflated{}, max: 1 << 20}
	rng := rand.New(rand.NewPCG(2, 2))
	var live [][]byte // every message stays alive: only the bound drops entries
	largest := 0
	for range 40 {
		m := compressible(rng, 300<<10)
		live = append(live, m)
		largest = max(largest, len(c.frame(m)))
		c.mu.Lock()
		size, n := c.size, len(c.entries)
		c.mu.Unlock()
		if size > c.max+largest {
			t.Fatalf("%d bytes kept in %d entries, bound %d", size, n, c.max)
		}
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n >= 40 {
		t.Fatalf("all %d frames kept", n)
	}
	runtime.KeepAlive(live)
}
