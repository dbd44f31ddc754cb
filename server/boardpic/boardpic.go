// Package boardpic draws a board's picture from its state as an SVG of
// boxes: each element's rectangle in its colour (a frame's outline, a
// note's paper, a shape's fill or outline, ink and lines as grey boxes,
// mindmap roots), at most MaxElements of them, the highest in z-order
// first kept. It is pure: a doc in, bytes out.
//
// It draws no text and no pictures from the board: colours are schema
// colours (crdt.ValidColor: a palette name or #hex) and the rest are
// numbers, so nothing a person typed reaches the SVG, and its size is
// bounded (about 120 bytes an element). The only text it writes is the
// caller's labels, which are integers (the summary's idea numbers).
//
// Two pictures use it: the home page's thumbnail (server/api, 240×150, no
// labels) and the picture at the top of the printable summary
// (server/activity, 800×500, each idea's number on its box). It lives in
// its own package because api and activity both need it and neither
// should import the other for it. Rejected: drawing the summary's picture
// with text (user text in an SVG is a second place to get escaping right,
// and the browser client has its own full-fidelity export for that).
package boardpic

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/corkboard/corkboard/crdt"
)

// MaxElements bounds the boxes drawn: past it, the topmost are kept.
const MaxElements = 500

// Options says how large the picture is and what is written on it.
type Options struct {
	Width, Height int // the SVG's size in pixels
	// Labels are numbers drawn on the boxes of these elements (a dark
	// disc with white digits at the box's top-left corner). Elements not
	// drawn (deleted, mindmap subtopics, past MaxElements) get none.
	Labels map[crdt.ElementID]int
	// Fit sizes the SVG to the drawing's proportions within Width×Height
	// (no empty bands when it is shown at a page's width), and draws
	// nothing (nil) for a board without boxes. Without Fit the SVG is
	// exactly Width×Height, as a list of thumbnails wants.
	Fit bool
}

// palette paints the schema's palette names (as the web client does, ids.ts).
var palette = map[string]string{
	"yellow": "#fff176", "orange": "#ffcc80", "pink": "#f8bbd0", "purple": "#d1c4e9",
	"blue": "#b3e5fc", "green": "#c5e1a5", "gray": "#e0e0e0",
}

func color(v crdt.Value, ok bool, fallback string) string {
	s := v.AsString()
	if !ok || v.IsNull() || !crdt.ValidColor(s) {
		s = fallback
	}
	if p, ok := palette[s]; ok {
		return p
	}
	if s == "transparent" {
		return "none"
	}
	return s
}

type box struct {
	x, y, w, h float64
	z          string
	id         crdt.ElementID
	fill       string
	stroke     string
}

// Draw draws the board's picture (see the package comment).
func Draw(d *crdt.Doc, o Options) []byte {
	var boxes []box
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
		b := box{id: id, x: num(id, "x", 0), y: num(id, "y", 0), w: num(id, "w", 200), h: num(id, "h", 200)}
		if z, ok := d.Get(id, "z"); ok {
			b.z = z.AsString()
		}
		get := func(k string) (crdt.Value, bool) { return d.Get(id, k) }
		switch kind {
		case "note":
			v, ok := get("color")
			b.fill, b.stroke = color(v, ok, "yellow"), "none"
		case "shape":
			f, fok := get("fill")
			s, sok := get("stroke")
			b.fill, b.stroke = color(f, fok, "transparent"), color(s, sok, "#1e1e1e")
		case "frame":
			f, ok := get("fill")
			b.fill, b.stroke = color(f, ok, "transparent"), "#868e96"
		case "text", "stroke", "connector", "image":
			b.fill, b.stroke = "#dee2e6", "none"
		case "mindmap":
			if p, _ := d.Parent(id); p != (crdt.ElementID{}) && d.Kind(p) == "mindmap" {
				continue // laid out by clients: only roots have a place
			}
			v, ok := get("color")
			b.w, b.h = 160, 48
			b.fill, b.stroke = color(v, ok, "#e7f5ff"), "#1c7ed6"
		default:
			continue // comments, and kinds this node does not know
		}
		if b.w <= 0 || b.h <= 0 {
			continue
		}
		boxes = append(boxes, b)
	}
	// Paint order: z-order key, ties by id (as clients paint).
	slices.SortFunc(boxes, func(a, b box) int {
		if c := cmp.Compare(a.z, b.z); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	if len(boxes) > MaxElements {
		boxes = boxes[len(boxes)-MaxElements:] // the topmost
	}
	var buf bytes.Buffer
	if len(boxes) == 0 {
		if o.Fit {
			return nil
		}
		fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="`, o.Width, o.Height)
		fmt.Fprintf(&buf, `0 0 %d %d"><rect width="100%%" height="100%%" fill="#f7f7f5"/></svg>`, o.Width, o.Height)
		return buf.Bytes()
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, b := range boxes {
		minX, minY = min(minX, b.x), min(minY, b.y)
		maxX, maxY = max(maxX, b.x+b.w), max(maxY, b.y+b.h)
	}
	pad := max(maxX-minX, maxY-minY) * 0.05
	minX, minY, maxX, maxY = minX-pad, minY-pad, maxX+pad, maxY+pad
	width, height := o.Width, o.Height
	if o.Fit {
		scale := min(float64(width)/(maxX-minX), float64(height)/(maxY-minY))
		width, height = max(int(math.Round((maxX-minX)*scale)), 1), max(int(math.Round((maxY-minY)*scale)), 1)
	}
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="`, width, height)
	sw := max(maxX-minX, maxY-minY) / 200 // a line about one pixel wide
	fmt.Fprintf(&buf, `%s %s %s %s" preserveAspectRatio="xMidYMid meet"><rect x="%s" y="%s" width="%s" height="%s" fill="#f7f7f5"/>`,
		Num(minX), Num(minY), Num(maxX-minX), Num(maxY-minY), Num(minX), Num(minY), Num(maxX-minX), Num(maxY-minY))
	for _, b := range boxes {
		fmt.Fprintf(&buf, `<rect x="%s" y="%s" width="%s" height="%s" rx="%s" fill="%s" stroke="%s" stroke-width="%s"/>`,
			Num(b.x), Num(b.y), Num(b.w), Num(b.h), Num(min(b.w, b.h)/20), b.fill, b.stroke, Num(sw))
	}
	if len(o.Labels) > 0 {
		// A label is about 22 pixels across whatever the board's extent:
		// one pixel is this many board units (the viewBox is fitted, "meet").
		px := max((maxX-minX)/float64(width), (maxY-minY)/float64(height))
		r := 11 * px
		buf.WriteString(`<g font-family="sans-serif" font-weight="bold" text-anchor="middle" fill="#fff">`)
		for _, b := range boxes { // over the boxes, so none hides a number
			n, ok := o.Labels[b.id]
			if !ok {
				continue
			}
			cx, cy := b.x+min(r*1.2, b.w/2), b.y+min(r*1.2, b.h/2)
			fmt.Fprintf(&buf, `<circle cx="%s" cy="%s" r="%s" fill="#1e1e1e"/><text x="%s" y="%s" font-size="%s">%s</text>`,
				Num(cx), Num(cy), Num(r), Num(cx), Num(cy+4.5*px), Num(13*px), strconv.Itoa(n))
		}
		buf.WriteString(`</g>`)
	}
	buf.WriteString(`</svg>`)
	return buf.Bytes()
}

// Num writes a coordinate with at most one decimal.
func Num(f float64) string { return fmt.Sprintf("%.1f", math.Round(f*10)/10) }
