package gateway

import (
	"bytes"
	"compress/flate"
	"net/http"
	"strings"
	"sync"
	"weak"

	"github.com/corkboard/corkboard/server/room"
)

// sharedDeflateMin: a shared message (room.Outgoing.Shared) from this size
// on is sent compressed once for all its recipients (deflateCache); smaller
// ones go through the library like any message.
const sharedDeflateMin = 256 << 10

// deflateCacheMax bounds the compressed frames the node keeps: past it the
// oldest are dropped (and made again if sent again).
const deflateCacheMax = 128 << 20

// deflateCache keeps the compressed WebSocket frame of each shared message
// the node sends to more than one connection: a board's snapshot for first
// visits (17.5 MB for 100,000 elements, 7.5 MB compressed) and its far
// view. The WebSocket library compressed such a message anew for every
// connection, 0.15 s of CPU per first visit of that board (on the writer's
// goroutine, but on a 2-core node the visitor's browser, or the other
// boards, wait for it), and the bytes reached the peer only as fast as
// they were compressed. Now the first connection to send it compresses it
// (at the library's level, BestSpeed) and the others that send it
// meanwhile wait for that one result; later ones write the kept frame.
//
// Entries are keyed by the message's identity (a weak pointer to its first
// byte, and its length), not its content: the room shares one slice per
// snapshot and far view and never writes to it, and hashing 17.5 MB would
// cost a tenth of the compression. Weak keys keep no message alive: once
// the room drops a snapshot, its entry is stale and goes at the next
// insert.
//
// Rejected: compressing in the room when the snapshot is made or read
// (the room's goroutine is the board's; a second each for a big board's
// fresh snapshot was why it is sent uncompressed), and the CRDT's own
// packed form (a client's wasm inflates it on the page's thread, 0.25-0.4 s
// longer to load than the raw form; the browser inflates a compressed
// WebSocket message off it).
type deflateCache struct {
	mu      sync.Mutex
	entries map[weakKey]*deflated
	order   []weakKey // oldest first
	size    int
	max     int // the bound on size; 0: deflateCacheMax (tests set less)
}

// weakKey is a message's first byte, held weakly.
type weakKey = weak.Pointer[byte]

type deflated struct {
	n     int           // the message's length
	done  chan struct{} // closed when frame is set
	frame []byte        // the whole WebSocket frame: header and compressed payload
}

var sharedFrames = &deflateCache{entries: map[weakKey]*deflated{}}

// frame returns data's compressed binary frame (RFC 7692: RSV1 set, the
// deflate stream's final empty block's 4 bytes cut), made once for data's
// backing array.
func (c *deflateCache) frame(data []byte) []byte {
	key := weak.Make(&data[0])
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && e.n == len(data) {
		c.mu.Unlock()
		<-e.done
		return e.frame
	}
	e := &deflated{n: len(data), done: make(chan struct{})}
	c.entries[key] = e
	c.order = append(c.order, key)
	c.mu.Unlock()

	e.frame = compressFrame(data)
	close(e.done)

	c.mu.Lock()
	c.size += len(e.frame)
	c.evict()
	c.mu.Unlock()
	return e.frame
}

// evict drops the entries of messages gone, then the oldest while the
// frames kept pass deflateCacheMax; c.mu is held.
func (c *deflateCache) evict() {
	kept := c.order[:0]
	for i, k := range c.order {
		e := c.entries[k]
		if e == nil {
			continue
		}
		ready := e.frame != nil
		if ready && (k.Value() == nil || (c.size > c.bound() && i < len(c.order)-1)) {
			c.size -= len(e.frame)
			delete(c.entries, k)
			continue
		}
		kept = append(kept, k)
	}
	clear(c.order[len(kept):])
	c.order = kept
}

func (c *deflateCache) bound() int {
	if c.max > 0 {
		return c.max
	}
	return deflateCacheMax
}

var sharedFlaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// compressFrame returns one final binary frame carrying data compressed
// per RFC 7692 section 7.2.1: a raw DEFLATE stream of data, flushed, with
// the trailing 0x00 0x00 0xff 0xff removed; each message compressed on its
// own, as the connection's negotiated no-context-takeover asks.
func compressFrame(data []byte) []byte {
	var z bytes.Buffer
	z.Grow(len(data)/2 + 16)
	z.Write(make([]byte, 10)) // room for the header
	w := sharedFlaters.Get().(*flate.Writer)
	w.Reset(&z)
	w.Write(data) // a bytes.Buffer takes everything
	w.Flush()
	sharedFlaters.Put(w)
	out := z.Bytes()
	out = out[:len(out)-4] // the sync flush's empty stored block
	n := len(out) - 10
	var head []byte
	switch {
	case n < 126:
		head = []byte{0xc2, byte(n)}
	case n <= 0xffff:
		head = []byte{0xc2, 126, byte(n >> 8), byte(n)}
	default:
		head = []byte{0xc2, 127, byte(n >> 56), byte(n >> 48), byte(n >> 40), byte(n >> 32), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	start := 10 - len(head)
	copy(out[start:], head)
	return out[start:]
}

// deflateNegotiated says whether the upgrade's answer (its headers)
// accepted permessage-deflate: shared messages may then go compressed
// once for all (sharedFrame).
func deflateNegotiated(h http.Header) bool {
	return strings.Contains(h.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
}

// sharedFrame returns m's kept compressed frame when m is a large shared
// message and the connection compresses (permessage-deflate negotiated);
// nil otherwise.
func (w *wsConn) sharedFrame(m room.Outgoing) []byte {
	if !w.deflate || !m.Shared || !m.Binary || len(m.Data) < sharedDeflateMin {
		return nil
	}
	return sharedFrames.frame(m.Data)
}
