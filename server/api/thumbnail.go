package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/boardpic"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// A board's thumbnail (GET /v1/boards/{board}/thumbnail.svg): a small SVG
// the node draws from the board's state, for the home page's list.
//
// It is drawn as boxes only: each element's rectangle in its colour (a
// frame's outline, a note's paper, a shape's fill or outline, ink and
// lines as grey boxes), at most boardpic.MaxElements (500) of them, the highest in
// z-order first kept. No text, no pictures: a thumbnail is read at
// 240×150 pixels, where words are noise, and without text the answer's
// size is bounded (about 120 bytes an element, so under 64 KiB) and it
// carries nothing a reader of the list could not guess from the colours.
// Colours are schema colours (crdt.ValidColor: a palette name or #hex), so
// nothing from the board reaches the SVG but numbers and those.
//
// Who may read it: whoever may read the board's state, by the same check
// (srv.enter: a token, a session or a password-board guest cookie, and
// 401/403/404 otherwise, as GET /state answers). The answer is marked
// private (never stored by a shared cache) and served with a Content-
// Security-Policy that forbids scripts and loads, so opened on its own it
// cannot run anything even if a browser sniffed it as a page.
//
// Cached per board by the board's version (the sum of its version
// vector's counters, which only grows): a home page reloaded without a
// change on the board costs the node a version read, not a drawing; the
// ETag is the version's hash, so a browser's If-None-Match gets a 304.
// Last-Modified is the board's clock: when it last changed, for the list.
//
// Rejected: thumbnails uploaded by clients as PNG (any editor could put
// any picture in everyone's list, and the node would have to keep and
// check images), and drawing PNGs on the node (a rasteriser for a 240-pixel
// picture, and a fixed resolution).
const (
	thumbWidth  = 240
	thumbHeight = 150
	// thumbCacheBoards bounds the cache: past it, an entry is dropped.
	thumbCacheBoards = 512
)

type thumbEntry struct {
	seq  uint64
	etag string
	svg  []byte
	// changed is the board's clock (the latest change's time as its
	// writer stamped it), unix ms: sent as Last-Modified.
	changed int64
}

type thumbCache struct {
	mu sync.Mutex
	m  map[storage.BoardID]thumbEntry
}

func (c *thumbCache) get(id storage.BoardID, seq uint64) (thumbEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e, ok && e.seq == seq
}

func (c *thumbCache) put(id storage.BoardID, e thumbEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[storage.BoardID]thumbEntry{}
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= thumbCacheBoards {
		for k := range c.m { // any one: a cache, not a record
			delete(c.m, k)
			break
		}
	}
	c.m[id] = e
}

// drawThumbnail draws the board's thumbnail (see the file comment; the
// drawing is package boardpic's, shared with the printable summary).
func drawThumbnail(d *crdt.Doc) []byte {
	return boardpic.Draw(d, boardpic.Options{Width: thumbWidth, Height: thumbHeight})
}

// boardThumbnail answers GET /v1/boards/{board}/thumbnail.svg.
func (srv *Server) boardThumbnail(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enter(w, r)
	if !ok {
		return
	}
	rm, err := srv.cfg.Rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	var (
		seq  uint64
		vbin []byte
		e    thumbEntry
		hit  bool
	)
	// The version is read alone first: a drawing is a whole-board read
	// (roomtime.go), an unchanged board's cached one is not.
	err = rm.Query(r.Context(), func(d *crdt.Doc) {
		v := d.Version()
		for _, c := range v {
			seq += c
		}
		e, hit = srv.thumbs.get(id, seq)
	})
	if err == nil && !hit {
		err = srv.boardQuery(r.Context(), id, rm, func(d *crdt.Doc) int {
			v := d.Version()
			seq = 0
			for _, c := range v {
				seq += c
			}
			vbin, _ = v.AppendBinary(nil)
			e.svg = drawThumbnail(d)
			e.changed = int64(d.Clock() >> 16)
			return len(e.svg)
		})
	}
	if err != nil {
		writeQueryError(w, err)
		return
	}
	if !hit {
		sum := sha256.Sum256(vbin)
		e.seq, e.etag = seq, `"`+hex.EncodeToString(sum[:12])+`"`
		srv.thumbs.put(id, e)
	}
	h := w.Header()
	h.Set("ETag", e.etag)
	if e.changed > 0 {
		// A writer's clock may run ahead: never later than now.
		h.Set("Last-Modified", time.UnixMilli(min(e.changed, time.Now().UnixMilli())).UTC().Format(http.TimeFormat))
	}
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == e.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "image/svg+xml")
	w.Write(e.svg)
}
