// Package farview makes a board's far-view summary: every element the
// web client would draw on the canvas, as the box (or line) and colour its
// far view draws it with when the element is a few pixels on screen
// (webclient/src/lod.ts, drawBoxes), and nothing else. A node sends it to
// a client that asks in its hello ("farView", docs/PROTOCOL.md, the 0x04
// frame) just before the snapshot of a first visit, so that a page can
// draw the whole board while the snapshot is still on its way and being
// loaded into its CRDT (a board of 100,000 elements: about 0.84 MB against
// 17.5 MB of snapshot, and a second or more of decoding in the browser).
//
// It is pure (a doc in, bytes out) and what it writes is numbers and
// schema colours (crdt.ValidColor, or this package's own constants): no
// text a person typed, no ids.
//
// Where the summary is not the client's own drawing:
//   - a mindmap node's box: the client lays each tree out with its measured
//     text (mindmap.ts, d3-flextree); here the text's size is estimated from
//     its length and the tree laid out in plain layers (a subtree takes the
//     height of its children, no compaction). The difference is some tens of
//     board units, under a pixel at the zoom where a page draws the summary
//     (the client draws it only when every element is then under LOD_PX
//     device pixels, else it waits for its CRDT as before);
//   - connectors are straight lines between their ends (the far view's too),
//     centred ends cut at the facing side of the box, fixed anchors at
//     their point (rotation ignored);
//   - frames are their box (fill and outline), without the title.
//
// Rejected: the page making it itself from the snapshot (the snapshot
// arrives about a second after the page starts on a board of 100,000
// elements, and loading it takes another second), a packed snapshot kept
// by the node (that second of loading stays), and a REST endpoint (a
// second request with its own access check; on the socket the summary
// comes from the very doc state the snapshot and its tail bring the
// client to, so it cannot be of another version).
package farview

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
)

// Version is the summary format's version, its first byte.
const Version = 1

// What an item is.
const (
	OpFill    = 0 // a filled rectangle x, y, w, h
	OpOutline = 1 // a rectangle's outline (one device pixel wide)
	OpLine    = 2 // a line from x, y to x+w, y+h
	// OpFrame is a frame: its rectangle filled with the style (none when
	// "transparent") and outlined in grey. A page draws frames whatever
	// their size (the far view does), so their size does not decide
	// whether the summary is drawn.
	OpFrame = 3
)

// MaxBytes bounds a summary: past it, none is made (a client then waits
// for its snapshot, as without one). 100,000 elements take about 0.84 MB.
const MaxBytes = 8 << 20

// limit is MaxBytes (lowered by a test).
var limit = MaxBytes

// MaxStyles bounds the colours of one summary (a decoder refuses more).
const MaxStyles = 4096

// coordinates are clamped to this (the schema allows any number; a
// summary is for drawing, and past this nothing is drawn in sight anyway).
const maxCoord = 1e9

// Colours the far view uses that are not an element's own (webclient
// lod.ts); all are crdt.ValidColor.
const (
	textBar      = "#0000002e" // text: a grey bar (rgba(0,0,0,0.18))
	imageFill    = "#ced4da"
	mindmapEdge  = "#74c0fc"
	otherOutline = "#999999"
)

// Item is one rectangle or line of the summary.
type Item struct {
	Op         byte
	Style      int // index into Summary.Styles
	X, Y, W, H int64
}

// Summary is a decoded far-view summary.
type Summary struct {
	Styles []string
	Items  []Item
}

// Mindmap layout constants (webclient mindmap.ts, model.ts nodeSize).
const (
	levelGap   = 56
	siblingGap = 14
	wrapWidth  = 260
	lineHeight = 1.25
	// charWidth estimates a character's width as a share of the font size
	// (a sans-serif font's average).
	charWidth = 0.55
	maxDepth  = 10000
)

type box struct{ x, y, w, h float64 }

// MaxEndJSON bounds the JSON of a connector's end (from, to) that Encode
// reads: a real one is under a hundred bytes ({"el": id, "anchor": [ax,
// ay]} or {"x", "y"}), while the schema lets an editor store any JSON
// there, up to a message's size. A larger end is not parsed, and its
// connector not drawn: parsing such ends made a summary of a board of a
// hundred connectors take over half a second.
const MaxEndJSON = 1024

// Encode makes the summary of the doc (see the package comment), nil when
// it would pass MaxBytes. Its cost is linear in the doc's elements (plus
// sorting each mindmap node's children) and in the bytes of connector
// ends it reads (EncodeCounted).
func Encode(d *crdt.Doc) []byte {
	b, _ := EncodeCounted(d)
	return b
}

// EncodeCounted is Encode, and also returns how many bytes of property
// values it copied to read them (connector ends): the part of its cost
// that the doc's element count does not tell, for a caller that
// budgets it.
func EncodeCounted(d *crdt.Doc) (summary []byte, read int) {
	ids := d.Elements()
	e := encoder{styleOf: map[string]int{}}
	boxes := make(map[crdt.ElementID]box, len(ids))
	hidden := make(map[crdt.ElementID]bool)
	// concealed: under a deleted element or a collapsed mindmap node (model.ts).
	var concealed func(p crdt.ElementID, depth int) bool
	concealed = func(p crdt.ElementID, depth int) bool {
		if p == crdt.Root || depth > maxDepth || !d.Exists(p) {
			return false
		}
		if v, ok := hidden[p]; ok {
			return v
		}
		gp, _ := d.Parent(p)
		v := d.IsDeleted(p) || (d.Kind(p) == "mindmap" && boolProp(d, p, "collapsed")) || concealed(gp, depth+1)
		hidden[p] = v
		return v
	}
	visible := func(id crdt.ElementID) bool {
		if d.IsDeleted(id) {
			return false
		}
		p, _ := d.Parent(id)
		return !concealed(p, 0)
	}
	var connectors, roots []crdt.ElementID
	for _, id := range ids {
		if !visible(id) {
			continue
		}
		switch d.Kind(id) {
		case "comment":
			continue
		case "connector":
			connectors = append(connectors, id)
			continue
		case "mindmap":
			if p, _ := d.Parent(id); p != crdt.Root && d.Kind(p) == "mindmap" {
				continue // laid out with its root
			}
			roots = append(roots, id)
			continue
		}
		boxes[id] = box{num(d, id, "x", 0), num(d, id, "y", 0), max(1, num(d, id, "w", 200)), max(1, num(d, id, "h", 200))}
	}
	for _, r := range roots {
		layout(d, r, boxes)
	}
	for _, id := range ids {
		b, ok := boxes[id]
		if !ok {
			continue
		}
		switch d.Kind(id) {
		case "note":
			e.item(OpFill, color(d, id, "color", "yellow"), b)
		case "shape":
			if f := color(d, id, "fill", "transparent"); f != "transparent" {
				e.item(OpFill, f, b)
			} else {
				e.item(OpOutline, color(d, id, "stroke", "#1e1e1e"), b)
			}
		case "mindmap":
			e.item(OpFill, color(d, id, "color", "#e7f5ff"), b)
			e.item(OpOutline, mindmapEdge, b)
		case "stroke":
			e.item(OpOutline, color(d, id, "color", "#1e1e1e"), b)
		case "text":
			if d.TextLen(id, "text") > 0 {
				e.item(OpFill, textBar, box{b.x, b.y + b.h/4, b.w, b.h / 2})
			}
		case "image":
			e.item(OpFill, imageFill, b)
		case "frame":
			e.item(OpFrame, color(d, id, "fill", "transparent"), b)
		default:
			e.item(OpOutline, otherOutline, b)
		}
		if len(e.items) > limit {
			return nil, e.read
		}
	}
	for _, id := range connectors {
		from, okf := e.end(d, id, "from", boxes)
		to, okt := e.end(d, id, "to", boxes)
		if !okf || !okt {
			continue // an end's element is gone: not drawn (connectors.ts)
		}
		from.p = from.cut(to.p)
		to.p = to.cut(from.p)
		e.item(OpLine, color(d, id, "stroke", "#1e1e1e"), box{from.p[0], from.p[1], to.p[0] - from.p[0], to.p[1] - from.p[1]})
		if len(e.items) > limit {
			return nil, e.read
		}
	}
	if len(e.styles) > MaxStyles {
		return nil, e.read // a board of thousands of colours: no summary (decoders refuse it)
	}
	out := make([]byte, 0, len(e.items)+64+16*len(e.styles))
	out = append(out, Version)
	out = binary.AppendUvarint(out, uint64(len(e.styles)))
	for _, s := range e.styles {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	out = binary.AppendUvarint(out, uint64(e.n))
	out = append(out, e.items...)
	if len(out) > limit {
		return nil, e.read
	}
	return out, e.read
}

// encoder writes items: (style<<2 | op) as a uvarint, then x and y as
// zigzag varints of the difference from the previous item's, then w and h
// as zigzag varints, all in whole board units.
type encoder struct {
	styles  []string
	styleOf map[string]int
	items   []byte
	n       int
	px, py  int64
	scratch []byte // a connector end's JSON (end)
	read    int    // bytes copied into scratch
}

func (e *encoder) item(op byte, style string, b box) {
	s, ok := e.styleOf[style]
	if !ok {
		s = len(e.styles)
		e.styles = append(e.styles, style)
		e.styleOf[style] = s
	}
	x, y, w, h := coord(b.x), coord(b.y), coord(b.w), coord(b.h)
	e.items = binary.AppendUvarint(e.items, uint64(s)<<2|uint64(op))
	e.items = binary.AppendVarint(e.items, x-e.px)
	e.items = binary.AppendVarint(e.items, y-e.py)
	e.items = binary.AppendVarint(e.items, w)
	e.items = binary.AppendVarint(e.items, h)
	e.px, e.py = x, y
	e.n++
}

func coord(f float64) int64 {
	if math.IsNaN(f) {
		return 0
	}
	return int64(math.Round(min(maxCoord, max(-maxCoord, f))))
}

func num(d *crdt.Doc, id crdt.ElementID, k string, def float64) float64 {
	v, ok := d.Get(id, k)
	if !ok || v.Kind() != crdt.KindNumber {
		return def
	}
	f := v.AsNumber()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return def
	}
	return f
}

func boolProp(d *crdt.Doc, id crdt.ElementID, k string) bool {
	v, ok := d.Get(id, k)
	return ok && v.AsBool()
}

// color is a colour property as the client reads it (ids.ts cssColor): a
// valid schema colour, else the fallback.
func color(d *crdt.Doc, id crdt.ElementID, k, fallback string) string {
	v, ok := d.Get(id, k)
	if !ok || v.Kind() != crdt.KindString || v.AsString() == "" || !crdt.ValidColor(v.AsString()) {
		return fallback
	}
	return v.AsString()
}

// nodeSize estimates a mindmap node's box (model.ts nodeSize, with the
// text's width estimated from its length).
func nodeSize(d *crdt.Doc, id crdt.ElementID, root bool) (float64, float64) {
	fs := 16.0
	minW, minH := 80.0, 38.0
	if root {
		fs, minW, minH = 20, 120, 48
	}
	n := d.TextLen(id, "text")
	if n == 0 {
		n = 1 // measured as "M"
	}
	w := float64(n) * fs * charWidth
	lines := 1.0
	if w > wrapWidth {
		lines = math.Ceil(w / wrapWidth)
		w = wrapWidth
	}
	return max(minW, math.Ceil(w)+28), max(minH, math.Ceil(lines*fs*lineHeight)+18)
}

// layout places the visible nodes of the mindmap tree under root: the root
// at its stored x, y; children to the right at levelGap, stacked in
// sibling order, each subtree as tall as its children's, a parent centred
// on its children (flextree's result for trees without overhangs).
func layout(d *crdt.Doc, root crdt.ElementID, boxes map[crdt.ElementID]box) {
	type node struct {
		id     crdt.ElementID
		w, h   float64
		extent float64
		kids   []*node
	}
	seen := map[crdt.ElementID]bool{}
	var build func(id crdt.ElementID, isRoot bool, depth int) *node
	build = func(id crdt.ElementID, isRoot bool, depth int) *node {
		seen[id] = true
		n := &node{id: id}
		n.w, n.h = nodeSize(d, id, isRoot)
		if depth < maxDepth && !boolProp(d, id, "collapsed") {
			for _, c := range d.Children(id) {
				if seen[c] || d.IsDeleted(c) || d.Kind(c) != "mindmap" {
					continue
				}
				n.kids = append(n.kids, build(c, false, depth+1))
			}
		}
		var sum float64
		for _, k := range n.kids {
			sum += k.extent
		}
		n.extent = max(n.h+siblingGap, sum)
		return n
	}
	top := build(root, true, 0)
	// place: the node's subtree spans [y0, y0+extent); the node is centred in it.
	var place func(n *node, x, y0 float64)
	place = func(n *node, x, y0 float64) {
		mid := y0 + n.extent/2
		boxes[n.id] = box{x, mid - n.h/2, n.w, n.h}
		var sum float64
		for _, k := range n.kids {
			sum += k.extent
		}
		y := mid - sum/2
		for _, k := range n.kids {
			place(k, x+n.w+levelGap, y)
			y += k.extent
		}
	}
	rx, ry := num(d, root, "x", 0), num(d, root, "y", 0)
	place(top, rx, ry+top.h/2-top.extent/2)
}

type point [2]float64

// endPt is one end of a connector: its point and, bound to an element with
// the centre anchor, the box whose side it is cut at.
type endPt struct {
	p   point
	box *box
}

func (e endPt) cut(other point) point {
	if e.box == nil {
		return e.p
	}
	b := e.box
	cx, cy := b.x+b.w/2, b.y+b.h/2
	dx, dy := other[0]-cx, other[1]-cy
	if dx == 0 && dy == 0 {
		return point{cx, cy}
	}
	t := 1.0
	if dx != 0 {
		t = min(t, b.w/2/math.Abs(dx))
	}
	if dy != 0 {
		t = min(t, b.h/2/math.Abs(dy))
	}
	return point{cx + dx*t, cy + dy*t}
}

func (e *encoder) end(d *crdt.Doc, id crdt.ElementID, k string, boxes map[crdt.ElementID]box) (endPt, bool) {
	v, ok := d.Get(id, k)
	if !ok || v.Kind() != crdt.KindJSON {
		return endPt{}, false
	}
	e.scratch = v.AppendJSON(e.scratch[:0])
	e.read += len(e.scratch)
	if len(e.scratch) > MaxEndJSON {
		return endPt{}, false
	}
	var o struct {
		El     *string   `json:"el"`
		Anchor []float64 `json:"anchor"`
		X      *float64  `json:"x"`
		Y      *float64  `json:"y"`
	}
	if json.Unmarshal(e.scratch, &o) != nil {
		return endPt{}, false
	}
	if o.El != nil {
		eid, err := crdt.ParseElementID(*o.El)
		if err != nil {
			return endPt{}, false
		}
		b, ok := boxes[eid]
		if !ok {
			return endPt{}, false
		}
		ax, ay := 0.5, 0.5
		if len(o.Anchor) == 2 {
			ax, ay = o.Anchor[0], o.Anchor[1]
		}
		p := endPt{p: point{b.x + ax*b.w, b.y + ay*b.h}}
		if math.Abs(ax-0.5) < 1e-6 && math.Abs(ay-0.5) < 1e-6 {
			p.box = &b
		}
		return p, true
	}
	if o.X != nil && o.Y != nil {
		return endPt{p: point{*o.X, *o.Y}}, true
	}
	return endPt{}, false
}

// Decode reads a summary (for tests and Go clients; the web client has its
// own, webclient/src/farsummary.ts). Every malformed input is an error.
func Decode(b []byte) (*Summary, error) {
	if len(b) == 0 || b[0] != Version {
		return nil, errors.New("farview: unknown version")
	}
	if len(b) > MaxBytes {
		return nil, errors.New("farview: too large")
	}
	r := reader{b: b[1:]}
	ns := r.uvarint()
	if r.err != nil || ns > MaxStyles {
		return nil, errors.New("farview: bad style count")
	}
	s := &Summary{Styles: make([]string, 0, ns)}
	for range ns {
		l := r.uvarint()
		if r.err != nil || l > 16 || l > uint64(len(r.b)) {
			return nil, errors.New("farview: bad style")
		}
		st := string(r.b[:l])
		r.b = r.b[l:]
		if !utf8.ValidString(st) || !crdt.ValidColor(st) {
			return nil, fmt.Errorf("farview: bad colour %q", st)
		}
		s.Styles = append(s.Styles, st)
	}
	n := r.uvarint()
	// An item takes at least 5 bytes.
	if r.err != nil || n > uint64(len(r.b))/5 {
		return nil, errors.New("farview: bad item count")
	}
	s.Items = make([]Item, 0, n)
	var x, y int64
	for range n {
		head := r.uvarint()
		dx, dy, w, h := r.varint(), r.varint(), r.varint(), r.varint()
		if r.err != nil {
			return nil, r.err
		}
		op, style := byte(head&3), head>>2
		if style >= uint64(len(s.Styles)) {
			return nil, errors.New("farview: bad item")
		}
		if !within(dx, 2*maxCoord) || !within(dy, 2*maxCoord) || !within(w, 2*maxCoord) || !within(h, 2*maxCoord) {
			return nil, errors.New("farview: coordinate out of range")
		}
		x, y = x+dx, y+dy
		if !within(x, maxCoord) || !within(y, maxCoord) {
			return nil, errors.New("farview: coordinate out of range")
		}
		s.Items = append(s.Items, Item{Op: op, Style: int(style), X: x, Y: y, W: w, H: h})
	}
	if len(r.b) != 0 {
		return nil, errors.New("farview: trailing bytes")
	}
	return s, nil
}

func within(v int64, lim float64) bool { return v >= -int64(lim) && v <= int64(lim) }

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("farview: truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("farview: truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}
