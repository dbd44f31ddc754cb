package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/corkboard/corkboard/crdt"
	"github.com/google/uuid"
)

// The tldraw importer (importers.go): a tldraw file or store snapshot
// made into write-API actions.

type tlRecord struct {
	ID       string          `json:"id"`
	TypeName string          `json:"typeName"`
	Type     string          `json:"type"`
	X        float64         `json:"x"`
	Y        float64         `json:"y"`
	Rotation float64         `json:"rotation"`
	ParentID string          `json:"parentId"`
	Props    json.RawMessage `json:"props"`
	FromID   string          `json:"fromId"`
	ToID     string          `json:"toId"`
}

type tlProps struct {
	W        float64         `json:"w"`
	H        float64         `json:"h"`
	Geo      string          `json:"geo"`
	Color    string          `json:"color"`
	Fill     string          `json:"fill"`
	Size     string          `json:"size"`
	Text     string          `json:"text"`
	RichText json.RawMessage `json:"richText"`
	Name     string          `json:"name"`
	AssetID  string          `json:"assetId"`
	Src      string          `json:"src"`
	ArrowEnd string          `json:"arrowheadEnd"`
	ArrowBeg string          `json:"arrowheadStart"`
	Start    *tlTerminal     `json:"start"`
	End      *tlTerminal     `json:"end"`
	Terminal string          `json:"terminal"`
	Segments []tlSegment     `json:"segments"`
}

type tlTerminal struct {
	X            float64 `json:"x"`
	Y            float64 `json:"y"`
	Type         string  `json:"type"`
	BoundShapeID string  `json:"boundShapeId"`
}

type tlSegment struct {
	Points []struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
		Z float64 `json:"z"`
	} `json:"points"`
}

// tldraw's named colours.
var tlColours = map[string]string{
	"black": "#1d1d1d", "grey": "#9fa8b2", "light-violet": "#e085f4", "violet": "#ae3ec9",
	"blue": "#4465e9", "light-blue": "#4ba1f1", "yellow": "#f1ac4b", "orange": "#e16919",
	"green": "#099268", "light-green": "#4cb05e", "light-red": "#f87777", "red": "#e03131", "white": "#ffffff",
}

var tlSizes = map[string]float64{"s": 18, "m": 24, "l": 36, "xl": 44}

// tlRich is a node of tldraw's rich text (a TipTap document).
type tlRich struct {
	Type    string   `json:"type"`
	Text    string   `json:"text"`
	Content []tlRich `json:"content"`
}

// richText flattens tldraw's rich text to lines. The tree is decoded in
// one pass and written into one builder: decoding each level's content
// again from its raw JSON, and joining each level's strings, read the
// rest of the tree again at every level (a note whose text nested 5,000
// levels deep, 68 KiB, took seconds of CPU, and a file holds hundreds).
func richText(raw json.RawMessage) string {
	var node tlRich
	if json.Unmarshal(raw, &node) != nil {
		return ""
	}
	var b strings.Builder
	node.flatten(&b)
	return b.String()
}

func (n *tlRich) flatten(b *strings.Builder) {
	if n.Type == "text" {
		b.WriteString(n.Text)
		return
	}
	for i := range n.Content {
		if i > 0 && n.Type == "doc" {
			b.WriteByte('\n')
		}
		n.Content[i].flatten(b)
	}
}

func parseTldraw(body []byte) (imported, error) {
	var im imported
	var file struct {
		Records  []json.RawMessage          `json:"records"` // each decoded by itself (decodeItems)
		Store    map[string]json.RawMessage `json:"store"`
		Document *struct {
			Store map[string]json.RawMessage `json:"store"`
		} `json:"document"`
	}
	if err := checkValues(body); err != nil {
		return im, err
	}
	if err := json.Unmarshal(body, &file); err != nil {
		return im, fmt.Errorf("tldraw: %v", err)
	}
	raws := file.Records
	store := file.Store
	if file.Document != nil {
		store = file.Document.Store
	}
	keys := make([]string, 0, len(store))
	for k := range store {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raws = append(raws, store[k])
	}
	recs, err := decodeItems[tlRecord](raws, "record")
	if err != nil {
		if errors.Is(err, errImportTooLarge) {
			return im, err
		}
		return im, fmt.Errorf("tldraw: %v", err)
	}
	shapes := map[string]*tlRecord{}
	assets := map[string]tlProps{}
	bindings := map[string]map[string]string{} // arrow id → terminal → shape id
	ids := map[string]crdt.ElementID{}
	for i := range recs {
		r := &recs[i]
		switch r.TypeName {
		case "shape":
			shapes[r.ID] = r
			ids[r.ID] = crdt.ElementID(uuid.New())
		case "asset":
			var p tlProps
			json.Unmarshal(r.Props, &p)
			assets[r.ID] = p
		case "binding":
			var p tlProps
			json.Unmarshal(r.Props, &p)
			if bindings[r.FromID] == nil {
				bindings[r.FromID] = map[string]string{}
			}
			bindings[r.FromID][p.Terminal] = r.ToID
		}
	}
	if len(shapes) == 0 {
		return im, errors.New("tldraw: no shapes in the file")
	}
	// Absolute position: tldraw places a shape relative to its parent.
	var abs func(r *tlRecord, depth int) (float64, float64)
	abs = func(r *tlRecord, depth int) (float64, float64) {
		if p, ok := shapes[r.ParentID]; ok && depth < 64 {
			px, py := abs(p, depth+1)
			return px + r.X, py + r.Y
		}
		return r.X, r.Y
	}
	order := make([]*tlRecord, 0, len(shapes))
	for _, r := range shapes {
		order = append(order, r)
	}
	sort.Slice(order, func(i, j int) bool {
		fi, fj := order[i].Type == "frame", order[j].Type == "frame"
		if fi != fj {
			return fi
		}
		return order[i].ID < order[j].ID
	})
	for _, r := range order {
		var p tlProps
		if err := json.Unmarshal(r.Props, &p); err != nil {
			im.skip(r.ID, r.Type, "its props do not read")
			continue
		}
		text := p.Text
		if len(p.RichText) > 0 {
			text = richText(p.RichText)
		}
		x, y := abs(r, 0)
		a := action{Op: "create", Element: ids[r.ID].String()}
		col := tlColours[p.Color]
		switch r.Type {
		case "geo":
			shape := p.Geo
			switch shape {
			case "rectangle", "ellipse", "diamond", "triangle", "hexagon", "star", "cloud":
			case "oval":
				shape = "ellipse"
			default:
				im.skip(r.ID, "geo:"+p.Geo, "drawn as a rectangle")
				shape = "rectangle"
			}
			a.Kind, a.Props = "shape", geom(x, y, p.W, p.H, r.Rotation)
			a.Props["shape"] = crdt.String(shape)
			if col != "" {
				a.Props["stroke"] = crdt.String(col)
				if p.Fill == "solid" || p.Fill == "semi" || p.Fill == "pattern" {
					a.Props["fill"] = crdt.String(col + "40")
				}
			}
			if text != "" {
				a.Text = str(text)
			}
		case "note":
			a.Kind, a.Props = "note", geom(x, y, 200, 200, r.Rotation)
			if col != "" {
				a.Props["color"] = crdt.String(col)
			}
			a.Text = str(text)
		case "text":
			w := p.W
			if w == 0 {
				w = 200
			}
			a.Kind, a.Props = "text", geom(x, y, w, 40, r.Rotation)
			a.Text = str(text)
			if col != "" {
				a.Props["color"] = crdt.String(col)
			}
			if s, ok := tlSizes[p.Size]; ok {
				a.Props["fontSize"] = crdt.Number(s)
			}
		case "frame":
			a.Kind, a.Props = "frame", geom(x, y, p.W, p.H, 0)
			title := p.Name
			if title == "" {
				title = "Frame"
			}
			a.Text = str(title)
		case "arrow":
			term := func(name string, t *tlTerminal) crdt.Value {
				target := bindings[r.ID][name]
				if t != nil && t.Type == "binding" {
					target = t.BoundShapeID
				}
				if id, ok := ids[target]; ok {
					return jsonValue(map[string]any{"el": id.String(), "anchor": []float64{0.5, 0.5}})
				}
				var tx, ty float64
				if t != nil {
					tx, ty = t.X, t.Y
				}
				return jsonValue(map[string]any{"x": x + tx, "y": y + ty})
			}
			a.Kind, a.Props = "connector", geom(x, y, 1, 1, 0)
			a.Props["from"], a.Props["to"] = term("start", p.Start), term("end", p.End)
			a.Props["endArrow"] = crdt.Bool(p.ArrowEnd != "none")
			a.Props["startArrow"] = crdt.Bool(p.ArrowBeg != "" && p.ArrowBeg != "none")
			if col != "" {
				a.Props["stroke"] = crdt.String(col)
			}
			if text != "" {
				a.Text, a.Field = str(text), "label"
			}
		case "draw", "highlight":
			var pts []any
			for _, s := range p.Segments {
				for _, pt := range s.Points {
					z := pt.Z
					if z <= 0 {
						z = 0.5
					}
					pts = append(pts, pt.X, pt.Y, z)
				}
			}
			if len(pts) == 0 {
				im.skip(r.ID, r.Type, "no points")
				continue
			}
			a.Kind, a.Props = "stroke", geom(x, y, 1, 1, r.Rotation)
			a.Props["points"] = jsonValue(pts)
			if col != "" {
				a.Props["color"] = crdt.String(col)
			}
		case "image":
			asset, ok := assets[p.AssetID]
			typ, data, decoded := dataURL(asset.Src)
			if !ok || !decoded {
				im.skip(r.ID, r.Type, "its picture is not in the file")
				continue
			}
			a.Kind, a.Props = "image", geom(x, y, p.W, p.H, r.Rotation)
			im.Images = append(im.Images, pendingImage{At: len(im.Actions), Type: typ, Data: data})
		default:
			im.skip(r.ID, r.Type, "no matching kind on a Corkboard board")
			continue
		}
		if parent, ok := shapes[r.ParentID]; ok && parent.Type == "frame" {
			f := ids[parent.ID].String()
			a.Parent = &f
		}
		im.Actions = append(im.Actions, a)
	}
	return im, nil
}
