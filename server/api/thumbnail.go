package api

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// A board's thumbnail (GET /v1/boards/{board}/thumbnail.svg): a small SVG
// the node draws from the board's state, for the home page's list.
//
// It is drawn as boxes only: each element's rectangle in its colour (a
// frame's outline, a note's paper, a shape's fill or outline, ink and
// lines as grey boxes), at most thumbMaxElements of them, the highest in
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
	thumbMaxElements = 500
	thumbWidth       = 240
	thumbHeight      = 150
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

// thumbPalette paints the schema's palette names (as the web client does, ids.ts).
var thumbPalette = map[string]string{
	"yellow": "#fff176", "orange": "#ffcc80", "pink": "#f8bbd0", "purple": "#d1c4e9",
	"blue": "#b3e5fc", "green": "#c5e1a5", "gray": "#e0e0e0",
}

func thumbColor(v crdt.Value, ok bool, fallback string) string {
	s := v.AsString()
	if !ok || v.IsNull() || !crdt.ValidColor(s) {
		s = fallback
	}
	if p, ok := thumbPalette[s]; ok {
		return p
	}
	if s == "transparent" {
		return "none"
	}
	return s
}

type thumbBox struct {
	x, y, w, h float64
	z          string
	id         crdt.ElementID
	fill       string
	stroke     string
}

// drawThumbnail draws the board's thumbnail (see the file comment).
func drawThumbnail(d *crdt.Doc) []byte {
	var boxes []thumbBox
	num := func(id crdt.ElementID, k string, def float64) float64 {
		v, ok := d.Get(id, k)
		if !ok || v.Kind() != crdt.KindNumber {
			return def
		}
		f := v.AsNumber()
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e9 {
			return def
		}
		return f
	}
	for _, id := range d.Elements() {
		if d.IsDeleted(id) {
			continue
		}
		kind := d.Kind(id)
		b := thumbBox{id: id, x: num(id, "x", 0), y: num(id, "y", 0), w: num(id, "w", 200), h: num(id, "h", 200)}
		if z, ok := d.Get(id, "z"); ok {
			b.z = z.AsString()
		}
		get := func(k string) (crdt.Value, bool) { return d.Get(id, k) }
		switch kind {
		case "note":
			v, ok := get("color")
			b.fill, b.stroke = thumbColor(v, ok, "yellow"), "none"
		case "shape":
			f, fok := get("fill")
			s, sok := get("stroke")
			b.fill, b.stroke = thumbColor(f, fok, "transparent"), thumbColor(s, sok, "#1e1e1e")
		case "frame":
			f, ok := get("fill")
			b.fill, b.stroke = thumbColor(f, ok, "transparent"), "#868e96"
		case "text", "stroke", "connector", "image":
			b.fill, b.stroke = "#dee2e6", "none"
		case "mindmap":
			if p, _ := d.Parent(id); p != (crdt.ElementID{}) && d.Kind(p) == "mindmap" {
				continue // laid out by clients: only roots have a place
			}
			v, ok := get("color")
			b.w, b.h = 160, 48
			b.fill, b.stroke = thumbColor(v, ok, "#e7f5ff"), "#1c7ed6"
		default:
			continue // comments, and kinds this node does not know
		}
		if b.w <= 0 || b.h <= 0 {
			continue
		}
		boxes = append(boxes, b)
	}
	// Paint order: z-order key, ties by id (as clients paint).
	slices.SortFunc(boxes, func(a, b thumbBox) int {
		if c := cmp.Compare(a.z, b.z); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	if len(boxes) > thumbMaxElements {
		boxes = boxes[len(boxes)-thumbMaxElements:] // the topmost
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="`, thumbWidth, thumbHeight)
	if len(boxes) == 0 {
		fmt.Fprintf(&buf, `0 0 %d %d"><rect width="100%%" height="100%%" fill="#f7f7f5"/></svg>`, thumbWidth, thumbHeight)
		return buf.Bytes()
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, b := range boxes {
		minX, minY = min(minX, b.x), min(minY, b.y)
		maxX, maxY = max(maxX, b.x+b.w), max(maxY, b.y+b.h)
	}
	pad := max(maxX-minX, maxY-minY) * 0.05
	minX, minY, maxX, maxY = minX-pad, minY-pad, maxX+pad, maxY+pad
	sw := max(maxX-minX, maxY-minY) / 200 // a line about one pixel wide
	fmt.Fprintf(&buf, `%s %s %s %s" preserveAspectRatio="xMidYMid meet"><rect x="%s" y="%s" width="%s" height="%s" fill="#f7f7f5"/>`,
		thumbNum(minX), thumbNum(minY), thumbNum(maxX-minX), thumbNum(maxY-minY), thumbNum(minX), thumbNum(minY), thumbNum(maxX-minX), thumbNum(maxY-minY))
	for _, b := range boxes {
		fmt.Fprintf(&buf, `<rect x="%s" y="%s" width="%s" height="%s" rx="%s" fill="%s" stroke="%s" stroke-width="%s"/>`,
			thumbNum(b.x), thumbNum(b.y), thumbNum(b.w), thumbNum(b.h), thumbNum(min(b.w, b.h)/20), b.fill, b.stroke, thumbNum(sw))
	}
	buf.WriteString(`</svg>`)
	return buf.Bytes()
}

// thumbNum writes a coordinate with at most one decimal.
func thumbNum(f float64) string { return fmt.Sprintf("%.1f", math.Round(f*10)/10) }

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
	err = rm.Query(r.Context(), func(d *crdt.Doc) {
		v := d.Version()
		for _, c := range v {
			seq += c
		}
		if e, hit = srv.thumbs.get(id, seq); hit {
			return
		}
		vbin, _ = v.AppendBinary(nil)
		e.svg = drawThumbnail(d)
		e.changed = int64(d.Clock() >> 16)
	})
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, "board unavailable, retry")
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
