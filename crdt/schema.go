package crdt

import (
	"fmt"
	"strings"
)

// The schema names the element kinds this version knows, their properties
// and text fields. It is advisory for the CRDT — a doc applies any kind and
// any property, and keeps what it does not know so that a newer client's
// elements pass through an older node intact — and binding for servers,
// which call Doc.CheckSchema on client input to refuse ops that make no
// sense for the element (text typed into an image, a note moved under a
// note). docs/SCHEMA.md is this table in prose; keep them in step.

// PropType is the type a known property must have.
type PropType uint8

// Property types.
const (
	TNumber PropType = iota + 1
	TString
	TBool
	TJSON  // an array or object
	TKey   // a fractional-index key (string)
	TColor // a string: "#rrggbb", "#rrggbbaa" or a palette name
)

func (t PropType) String() string {
	return [...]string{"", "number", "string", "bool", "json", "key", "color"}[t]
}

// PropSpec describes one property of a kind.
type PropSpec struct {
	Type    PropType
	Default Value
	Doc     string
}

// KindSpec describes one element kind.
type KindSpec struct {
	Doc        string
	Props      map[string]PropSpec
	TextFields []string // fields edited as collaborative text
	// Parents lists the kinds this kind may be moved under ("" = the board).
	Parents []string
}

var (
	geom = map[string]PropSpec{
		"x":   {TNumber, Number(0), "left edge, board units"},
		"y":   {TNumber, Number(0), "top edge, board units"},
		"w":   {TNumber, Number(200), "width"},
		"h":   {TNumber, Number(200), "height"},
		"rot": {TNumber, Number(0), "rotation in degrees, clockwise, about the centre"},
		"z":   {TKey, String(""), "z-order key (fractional index; ties by element id)"},
	}
	anyParent = []string{"", "frame"}
)

func props(base map[string]PropSpec, extra map[string]PropSpec) map[string]PropSpec {
	out := map[string]PropSpec{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// Kinds is the schema: every element kind this version knows.
var Kinds = map[string]KindSpec{
	"note": {
		Doc: "sticky note",
		Props: props(geom, map[string]PropSpec{
			"color":    {TColor, String("yellow"), "paper colour"},
			"fontSize": {TNumber, Number(20), "text size in board units"},
			"author":   {TString, String(""), "user id of the creator (set by the server)"},
		}),
		TextFields: []string{"text"},
		Parents:    anyParent,
	},
	"shape": {
		Doc: "geometric shape with an optional label",
		Props: props(geom, map[string]PropSpec{
			"shape":       {TString, String("rectangle"), "rectangle, ellipse, diamond, triangle, hexagon, star, cloud, arrow"},
			"fill":        {TColor, String("transparent"), "fill colour"},
			"stroke":      {TColor, String("#1e1e1e"), "outline colour"},
			"strokeWidth": {TNumber, Number(2), "outline width"},
			"fontSize":    {TNumber, Number(20), "label size"},
		}),
		TextFields: []string{"text"},
		Parents:    anyParent,
	},
	"text": {
		Doc: "free text",
		Props: props(geom, map[string]PropSpec{
			"color":    {TColor, String("#1e1e1e"), "text colour"},
			"fontSize": {TNumber, Number(24), "text size"},
			"align":    {TString, String("left"), "left, center or right"},
		}),
		TextFields: []string{"text"},
		Parents:    anyParent,
	},
	"stroke": {
		Doc: "freehand stroke",
		Props: props(geom, map[string]PropSpec{
			"points": {TJSON, Null(), "[x0,y0,p0, x1,y1,p1, ...] relative to x,y; p = pressure 0..1"},
			"color":  {TColor, String("#1e1e1e"), "ink colour"},
			"width":  {TNumber, Number(4), "nominal width"},
		}),
		Parents: anyParent,
	},
	"connector": {
		Doc: "line or arrow between two elements or points",
		Props: props(geom, map[string]PropSpec{
			"from":       {TJSON, Null(), `{"el": "<element id>", "anchor": [ax, ay]} bound end (anchor in 0..1 of the element's box), or {"x": .., "y": ..} free end`},
			"to":         {TJSON, Null(), "the other end, same form as from"},
			"route":      {TString, String("straight"), "straight, elbow or curve"},
			"stroke":     {TColor, String("#1e1e1e"), "line colour"},
			"width":      {TNumber, Number(2), "line width"},
			"startArrow": {TBool, Bool(false), "arrowhead at from"},
			"endArrow":   {TBool, Bool(true), "arrowhead at to"},
		}),
		TextFields: []string{"label"},
		Parents:    anyParent,
	},
	"image": {
		Doc: "image stored as a blob by the server",
		Props: props(geom, map[string]PropSpec{
			"blob": {TString, String(""), "blob id returned by the upload API"},
			"alt":  {TString, String(""), "alternative text"},
		}),
		Parents: anyParent,
	},
	"frame": {
		Doc: "frame: a titled area that contains elements (its children in the tree)",
		Props: props(geom, map[string]PropSpec{
			"fill": {TColor, String("transparent"), "background"},
		}),
		TextFields: []string{"title"},
		Parents:    anyParent,
	},
	"mindmap": {
		Doc: "mindmap node; its children in the tree are its subtopics, ordered by position key",
		Props: map[string]PropSpec{
			"x":         {TNumber, Number(0), "position of a root node (children are laid out)"},
			"y":         {TNumber, Number(0), "position of a root node"},
			"z":         {TKey, String(""), "z-order key of a root node"},
			"color":     {TColor, String("#e7f5ff"), "node colour"},
			"collapsed": {TBool, Bool(false), "children hidden"},
		},
		TextFields: []string{"text"},
		Parents:    []string{"", "frame", "mindmap"},
	},
	"comment": {
		Doc: "comment; a thread's first comment is pinned to an element or a point, replies are its children",
		Props: map[string]PropSpec{
			"target":   {TString, String(""), "element id the thread is pinned to (first comment only)"},
			"x":        {TNumber, Number(0), "pinned point when there is no target"},
			"y":        {TNumber, Number(0), "pinned point when there is no target"},
			"author":   {TString, String(""), "user id of the author (set by the server)"},
			"resolved": {TBool, Bool(false), "thread resolved (first comment only)"},
		},
		TextFields: []string{"text"},
		Parents:    []string{"", "comment"},
	},
}

func (t PropType) accepts(v Value) bool {
	if v.IsNull() {
		return true // null resets to the default
	}
	switch t {
	case TNumber:
		return v.Kind() == KindNumber
	case TString:
		return v.Kind() == KindString
	case TColor:
		return v.Kind() == KindString && ValidColor(v.AsString())
	case TBool:
		return v.Kind() == KindBool
	case TJSON:
		return v.Kind() == KindJSON
	case TKey:
		return v.Kind() == KindString && (v.AsString() == "" || ValidKey(v.AsString()) == nil)
	}
	return false
}

// Palette is the named colours of docs/SCHEMA.md (clients paint them).
var Palette = []string{"yellow", "pink", "green", "blue", "orange", "purple", "gray"}

// ValidColor reports whether s is a colour as docs/SCHEMA.md defines one:
// "#rrggbb", "#rrggbbaa" (hex digits of either case), "transparent" or a
// Palette name. Anything else — CSS names, "rgb(...)", url(...), a
// megabyte of text — is refused, so every client can paint every board.
func ValidColor(s string) bool {
	switch len(s) {
	case 7, 9:
		if s[0] != '#' {
			break
		}
		for i := 1; i < len(s); i++ {
			c := s[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		return true
	}
	if s == "transparent" {
		return true
	}
	for _, p := range Palette {
		if s == p {
			return true
		}
	}
	return false
}

// ErrSchema marks an op that does not fit its element's kind.
var ErrSchema = fmt.Errorf("crdt: op does not fit the element's kind: %w", ErrInvalidOp)

// CheckSchema checks every op of c against the kind of its element (as it
// is in d, or as created earlier in c). Ops on kinds or properties this
// version does not know pass, so newer clients keep working.
func (d *Doc) CheckSchema(c *Change) error {
	kinds := map[ElementID]string{}
	kindOf := func(id ElementID) string {
		if k, ok := kinds[id]; ok {
			return k
		}
		return d.Kind(id)
	}
	for i := range c.Ops {
		op := &c.Ops[i]
		if op.Type == OpCreate {
			if old := d.Kind(op.Element); old != "" && old != op.Key {
				return fmt.Errorf("op %d: element %v is a %s, cannot re-create it as a %s: %w", i, op.Element, old, op.Key, ErrSchema)
			}
			kinds[op.Element] = op.Key
			continue
		}
		spec, known := Kinds[kindOf(op.Element)]
		if !known {
			continue
		}
		switch op.Type {
		case OpSet:
			if p, ok := spec.Props[op.Key]; ok && !p.Type.accepts(op.Value) {
				if p.Type == TColor && op.Value.Kind() == KindString {
					return fmt.Errorf("op %d: property %q of a %s must be a colour: \"#rrggbb\", \"#rrggbbaa\", \"transparent\" or one of %s (got %.40q): %w",
						i, op.Key, kindOf(op.Element), strings.Join(Palette, ", "), op.Value.AsString(), ErrSchema)
				}
				return fmt.Errorf("op %d: property %q of a %s must be a %s: %w", i, op.Key, kindOf(op.Element), p.Type, ErrSchema)
			}
		case OpInsertText, OpDeleteText:
			ok := false
			for _, f := range spec.TextFields {
				ok = ok || f == op.Key
			}
			if !ok {
				return fmt.Errorf("op %d: a %s has no text field %q (fields: %s): %w", i, kindOf(op.Element), op.Key, strings.Join(spec.TextFields, ", "), ErrSchema)
			}
		case OpMove:
			pk := ""
			if op.Parent != Root {
				pk = kindOf(op.Parent)
			}
			if _, knownParent := Kinds[pk]; pk != "" && !knownParent {
				continue
			}
			ok := false
			for _, p := range spec.Parents {
				ok = ok || p == pk
			}
			if !ok {
				return fmt.Errorf("op %d: a %s cannot be placed under a %s: %w", i, kindOf(op.Element), nameOr(pk, "board"), ErrSchema)
			}
		}
	}
	return nil
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
