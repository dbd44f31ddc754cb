package api

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/corkboard/corkboard/crdt"
	"github.com/google/uuid"
)

// Importers turn another tool's file into write-API actions on a board
// (import.go): a list or CSV of ideas, an Excalidraw scene, a tldraw
// snapshot. Each is pure: bytes in, actions out, and what could not be
// mapped listed with the reason, for the person importing.

// skipped is one thing of the file that was not imported.
type skipped struct {
	ID     string `json:"id,omitempty"`
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// pendingImage is an image of the file: its bytes become a blob, and the
// blob id the image element's "blob" (action index At).
type pendingImage struct {
	At   int
	Type string
	Data []byte
}

type imported struct {
	Actions []action
	Skipped []skipped
	Images  []pendingImage
}

func (im *imported) skip(id, typ, reason string) {
	im.Skipped = append(im.Skipped, skipped{ID: id, Type: typ, Reason: reason})
}

func str(s string) *string { return &s }

// Ideas: one sticky note per line of a plain list, or per row of a CSV
// (its first column the text, an optional second the colour; a first row
// naming its columns "text"/"idea" is a header), in a grid whose top left
// is (x, y). Lines and rows are read one at a time, and reading stops at
// the import's bound (errImportTooLarge): a list of a million one-letter
// lines was a million rows, then a million actions, before the bound was
// checked (a 2 MiB file took over a gigabyte).
func parseIdeas(body []byte, isCSV bool, x, y float64) (imported, error) {
	var im imported
	n := 0
	add := func(row []string) error {
		if len(row) == 0 || strings.TrimSpace(row[0]) == "" {
			return nil
		}
		if n == maxImportActions {
			return fmt.Errorf("%w: an import makes at most %d elements", errImportTooLarge, maxImportActions)
		}
		props := map[string]crdt.Value{
			"x": crdt.Number(x + float64(n%6)*240), "y": crdt.Number(y + float64(n/6)*240),
			"w": crdt.Number(200), "h": crdt.Number(200),
		}
		if len(row) > 1 && strings.TrimSpace(row[1]) != "" {
			props["color"] = crdt.String(strings.TrimSpace(row[1]))
		}
		im.Actions = append(im.Actions, action{Op: "create", Kind: "note", Props: props, Text: str(strings.TrimSpace(row[0]))})
		n++
		return nil
	}
	if isCSV {
		if err := csvColumns(body); err != nil {
			return im, err
		}
		r := csv.NewReader(bytes.NewReader(body))
		r.FieldsPerRecord = -1
		r.ReuseRecord = true
		for first := true; ; first = false {
			row, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return im, fmt.Errorf("csv: %v", err)
			}
			if first && len(row) > 0 {
				if h := strings.ToLower(strings.TrimSpace(row[0])); h == "text" || h == "idea" || h == "ideas" {
					continue
				}
			}
			if err := add(row); err != nil {
				return im, err
			}
		}
	} else {
		for rest := string(body); rest != ""; {
			line, after, _ := strings.Cut(rest, "\n")
			rest = after
			line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "-*•"))
			if err := add([]string{line}); err != nil {
				return im, err
			}
		}
	}
	if n == 0 {
		return im, errors.New("no ideas: one per line (or per CSV row)")
	}
	return im, nil
}

// maxCSVColumns bounds the fields of a CSV line: the reader keeps a row's
// fields at once (a string header of 16 bytes for every comma), and an
// idea needs two.
const maxCSVColumns = 1000

// csvColumns refuses a CSV with a line of more than maxCSVColumns fields
// (counted by commas, quoted or not: a row that needs more is no list of
// ideas).
func csvColumns(body []byte) error {
	for rest := body; len(rest) > 0; {
		line, after, _ := bytes.Cut(rest, []byte("\n"))
		rest = after
		if bytes.Count(line, []byte(",")) >= maxCSVColumns {
			return fmt.Errorf("%w: a CSV line has at most %d columns", errImportTooLarge, maxCSVColumns)
		}
	}
	return nil
}

// errImportTooLarge marks a file past an import's bounds (413).
var errImportTooLarge = errors.New("too large to import")

// maxImportContainers bounds the JSON objects and arrays of a file to
// import (an Excalidraw element or point, a tldraw record, point or node
// of its rich text, a picture of the file are one each): decoding gives
// each a struct or slice of tens to hundreds of bytes, so a file of
// empty objects ("{},{},…", 3 bytes each) decoded to a hundred times its
// size before the element bound was checked, and a stroke of points
// ("[0,0],…") as much.
const maxImportContainers = 200_000

// jsonContainers counts the objects and arrays of a JSON text (its '{'
// and '[' outside strings), stopping past limit.
func jsonContainers(b []byte, limit int) int {
	n, inStr, esc := 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{', c == '[':
			if n++; n > limit {
				return n
			}
		}
	}
	return n
}

// checkContainers refuses a JSON file of more than maxImportContainers
// objects and arrays.
func checkContainers(body []byte) error {
	if jsonContainers(body, maxImportContainers) > maxImportContainers {
		return fmt.Errorf("%w: a file to import holds at most %d JSON objects and arrays", errImportTooLarge, maxImportContainers)
	}
	return nil
}

// ---- Excalidraw ----

type exElement struct {
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	X               float64         `json:"x"`
	Y               float64         `json:"y"`
	Width           float64         `json:"width"`
	Height          float64         `json:"height"`
	Angle           float64         `json:"angle"`
	StrokeColor     string          `json:"strokeColor"`
	BackgroundColor string          `json:"backgroundColor"`
	StrokeWidth     float64         `json:"strokeWidth"`
	IsDeleted       bool            `json:"isDeleted"`
	FrameID         string          `json:"frameId"`
	Text            string          `json:"text"`
	ContainerID     string          `json:"containerId"`
	FontSize        float64         `json:"fontSize"`
	TextAlign       string          `json:"textAlign"`
	Points          [][]float64     `json:"points"`
	Pressures       []float64       `json:"pressures"`
	StartBinding    *exBinding      `json:"startBinding"`
	EndBinding      *exBinding      `json:"endBinding"`
	StartArrowhead  *string         `json:"startArrowhead"`
	EndArrowhead    *string         `json:"endArrowhead"`
	Elbowed         bool            `json:"elbowed"`
	FileID          string          `json:"fileId"`
	Name            *string         `json:"name"`
	Link            json.RawMessage `json:"link"`
}

type exBinding struct {
	ElementID string `json:"elementId"`
}

type exFile struct {
	MimeType string `json:"mimeType"`
	DataURL  string `json:"dataURL"`
}

// colour maps a file's colour to one the schema takes ("transparent", or
// #rrggbb / #rrggbbaa).
func colour(c string) (crdt.Value, bool) {
	c = strings.TrimSpace(c)
	if c == "transparent" || c == "" {
		return crdt.String("transparent"), c != ""
	}
	if strings.HasPrefix(c, "#") && (len(c) == 7 || len(c) == 9) {
		return crdt.String(strings.ToLower(c)), true
	}
	if strings.HasPrefix(c, "#") && len(c) == 4 { // #rgb
		return crdt.String(strings.ToLower("#" + c[1:2] + c[1:2] + c[2:3] + c[2:3] + c[3:4] + c[3:4])), true
	}
	return crdt.Value{}, false
}

func geom(x, y, w, h, rotRad float64) map[string]crdt.Value {
	p := map[string]crdt.Value{"x": crdt.Number(x), "y": crdt.Number(y), "w": crdt.Number(math.Max(w, 1)), "h": crdt.Number(math.Max(h, 1))}
	if rotRad != 0 {
		p["rot"] = crdt.Number(math.Mod(rotRad*180/math.Pi, 360))
	}
	return p
}

// dataURL decodes a data: URL of an image.
func dataURL(s string) (typ string, data []byte, ok bool) {
	head, b64, found := strings.Cut(strings.TrimPrefix(s, "data:"), ",")
	if !found || !strings.HasPrefix(s, "data:") || !strings.HasSuffix(head, ";base64") {
		return "", nil, false
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, false
	}
	return strings.TrimSuffix(head, ";base64"), data, true
}

func parseExcalidraw(body []byte) (imported, error) {
	var im imported
	var scene struct {
		Type     string            `json:"type"`
		Elements []exElement       `json:"elements"`
		Files    map[string]exFile `json:"files"`
	}
	if err := checkContainers(body); err != nil {
		return im, err
	}
	if err := json.Unmarshal(body, &scene); err != nil {
		return im, fmt.Errorf("excalidraw: %v", err)
	}
	ids := map[string]crdt.ElementID{} // Excalidraw id → new element id
	byID := map[string]*exElement{}
	for i := range scene.Elements {
		e := &scene.Elements[i]
		byID[e.ID] = e
		if !e.IsDeleted {
			ids[e.ID] = crdt.ElementID(uuid.New())
		}
	}
	// Frames first: their contents move into them.
	order := make([]*exElement, 0, len(scene.Elements))
	for i := range scene.Elements {
		order = append(order, &scene.Elements[i])
	}
	sort.SliceStable(order, func(i, j int) bool {
		return (order[i].Type == "frame" || order[i].Type == "magicframe") && !(order[j].Type == "frame" || order[j].Type == "magicframe")
	})
	// Texts bound to a container become the container's text.
	bound := map[string]string{}
	for _, e := range order {
		if e.Type == "text" && e.ContainerID != "" && !e.IsDeleted {
			bound[e.ContainerID] = e.Text
		}
	}
	for _, e := range order {
		if e.IsDeleted {
			continue
		}
		a := action{Op: "create", Element: ids[e.ID].String()}
		switch e.Type {
		case "rectangle", "ellipse", "diamond":
			a.Kind, a.Props = "shape", geom(e.X, e.Y, e.Width, e.Height, e.Angle)
			a.Props["shape"] = crdt.String(e.Type)
			if c, ok := colour(e.BackgroundColor); ok {
				a.Props["fill"] = c
			}
			if c, ok := colour(e.StrokeColor); ok {
				a.Props["stroke"] = c
			}
			if e.StrokeWidth > 0 {
				a.Props["strokeWidth"] = crdt.Number(e.StrokeWidth)
			}
			if t, ok := bound[e.ID]; ok {
				a.Text = str(t)
			}
		case "text":
			if e.ContainerID != "" {
				if c := byID[e.ContainerID]; c != nil && !c.IsDeleted {
					continue // in its container
				}
			}
			a.Kind, a.Props = "text", geom(e.X, e.Y, e.Width, e.Height, e.Angle)
			a.Text = str(e.Text)
			if c, ok := colour(e.StrokeColor); ok {
				a.Props["color"] = c
			}
			if e.FontSize > 0 {
				a.Props["fontSize"] = crdt.Number(e.FontSize)
			}
			if e.TextAlign == "left" || e.TextAlign == "center" || e.TextAlign == "right" {
				a.Props["align"] = crdt.String(e.TextAlign)
			}
		case "arrow", "line":
			if len(e.Points) < 2 {
				im.skip(e.ID, e.Type, "fewer than two points")
				continue
			}
			end := func(b *exBinding, p []float64) crdt.Value {
				if b != nil {
					if id, ok := ids[b.ElementID]; ok {
						return jsonValue(map[string]any{"el": id.String(), "anchor": []float64{0.5, 0.5}})
					}
				}
				return jsonValue(map[string]any{"x": e.X + p[0], "y": e.Y + p[1]})
			}
			last := e.Points[len(e.Points)-1]
			a.Kind, a.Props = "connector", geom(e.X, e.Y, e.Width, e.Height, 0)
			a.Props["from"], a.Props["to"] = end(e.StartBinding, e.Points[0]), end(e.EndBinding, last)
			a.Props["endArrow"] = crdt.Bool(e.EndArrowhead != nil)
			a.Props["startArrow"] = crdt.Bool(e.StartArrowhead != nil)
			if e.Elbowed {
				a.Props["route"] = crdt.String("elbow")
			}
			if c, ok := colour(e.StrokeColor); ok {
				a.Props["stroke"] = c
			}
			if e.StrokeWidth > 0 {
				a.Props["width"] = crdt.Number(e.StrokeWidth)
			}
			if t, ok := bound[e.ID]; ok {
				a.Text, a.Field = str(t), "label"
			}
			if len(e.Points) > 2 {
				im.skip(e.ID, e.Type, fmt.Sprintf("its %d bends: imported as one straight line", len(e.Points)-2))
			}
		case "freedraw":
			pts := make([]any, 0, 3*len(e.Points))
			for i, p := range e.Points {
				if len(p) < 2 {
					continue
				}
				pr := 0.5
				if i < len(e.Pressures) && e.Pressures[i] > 0 {
					pr = e.Pressures[i]
				}
				pts = append(pts, p[0], p[1], pr)
			}
			a.Kind, a.Props = "stroke", geom(e.X, e.Y, e.Width, e.Height, e.Angle)
			a.Props["points"] = jsonValue(pts)
			if c, ok := colour(e.StrokeColor); ok {
				a.Props["color"] = c
			}
			if e.StrokeWidth > 0 {
				a.Props["width"] = crdt.Number(e.StrokeWidth * 2)
			}
		case "frame", "magicframe":
			a.Kind, a.Props = "frame", geom(e.X, e.Y, e.Width, e.Height, 0)
			title := "Frame"
			if e.Name != nil && *e.Name != "" {
				title = *e.Name
			}
			a.Text = str(title)
		case "image":
			f, ok := scene.Files[e.FileID]
			typ, data, decoded := dataURL(f.DataURL)
			if !ok || !decoded {
				im.skip(e.ID, e.Type, "its picture is not in the file")
				continue
			}
			a.Kind, a.Props = "image", geom(e.X, e.Y, e.Width, e.Height, e.Angle)
			im.Images = append(im.Images, pendingImage{At: len(im.Actions), Type: typ, Data: data})
		default:
			im.skip(e.ID, e.Type, "no matching kind on a Corkboard board")
			continue
		}
		if e.FrameID != "" {
			if f, ok := ids[e.FrameID]; ok {
				p := f.String()
				a.Parent = &p
			}
		}
		im.Actions = append(im.Actions, a)
	}
	return im, nil
}

// jsonValue is a JSON property value.
func jsonValue(v any) crdt.Value {
	b, _ := json.Marshal(v)
	var out crdt.Value
	out.UnmarshalJSON(b)
	return out
}
