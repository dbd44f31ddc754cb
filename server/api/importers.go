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
	"slices"
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

// maxCSVColumns bounds the fields of a CSV record: the reader keeps a
// record's fields at once (a string header of 16 bytes for every comma),
// and an idea needs two.
const maxCSVColumns = 1000

// csvColumns refuses a CSV with a record of more than maxCSVColumns
// fields. Records are told apart as the CSV reader does: a newline inside
// a quoted field does not end one (counted by lines, a record of two
// million fields, spread over lines each closing the last one's quote,
// went through).
func csvColumns(body []byte) error {
	fields, quoted := 1, false
	for _, c := range body {
		switch {
		case c == '"':
			quoted = !quoted // a doubled quote inside a field toggles twice
		case quoted:
		case c == ',':
			if fields++; fields > maxCSVColumns {
				return fmt.Errorf("%w: a CSV record has at most %d columns", errImportTooLarge, maxCSVColumns)
			}
		case c == '\n':
			fields = 1
		}
	}
	return nil
}

// errImportTooLarge marks a file past an import's bounds (413).
var errImportTooLarge = errors.New("too large to import")

// maxImportValues bounds the JSON values of a file to import, counted as
// its objects, arrays and commas (every value after the first of an
// object or array follows a comma): decoding gives each a struct, slice
// or slot of tens to hundreds of bytes, so a file of empty objects
// ("{},{},…", 3 bytes each) decoded to a hundred times its size before
// the element bound was checked, a stroke of points ("[0,0],…") as much,
// and counting objects and arrays alone let "null,null,…" through.
const maxImportValues = 500_000

// maxImportRecords bounds the Excalidraw elements or tldraw records of a
// file to import (deleted ones and pages included; nulls skipped), each
// decoded by itself into a struct of 150-350 bytes.
const maxImportRecords = 50_000

// decodeItems decodes each of raws (the items of a JSON array or the
// values of an object, kept raw) into a T, skipping nulls; at most
// maxImportRecords of them.
func decodeItems[T any](raws []json.RawMessage, what string) ([]T, error) {
	var out []T
	for _, raw := range raws {
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		if len(out) == maxImportRecords {
			return nil, fmt.Errorf("%w: a file to import holds at most %d %ss", errImportTooLarge, maxImportRecords, what)
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s %d: %v", what, len(out)+1, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// jsonValues counts the objects, arrays and commas of a JSON text
// outside its strings, stopping past limit.
func jsonValues(b []byte, limit int) int {
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
		case c == '{', c == '[', c == ',':
			if n++; n > limit {
				return n
			}
		}
	}
	return n
}

// checkValues refuses a JSON file of more than maxImportValues values.
func checkValues(body []byte) error {
	if jsonValues(body, maxImportValues) > maxImportValues {
		return fmt.Errorf("%w: a file to import holds at most %d JSON values", errImportTooLarge, maxImportValues)
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
		Elements []json.RawMessage `json:"elements"` // decoded one by one (decodeItems)
		Files    map[string]exFile `json:"files"`
	}
	if err := checkValues(body); err != nil {
		return im, err
	}
	if err := json.Unmarshal(body, &scene); err != nil {
		return im, fmt.Errorf("excalidraw: %v", err)
	}
	elements, err := decodeItems[exElement](scene.Elements, "element")
	if err != nil {
		if errors.Is(err, errImportTooLarge) {
			return im, err
		}
		return im, fmt.Errorf("excalidraw: %v", err)
	}
	ids := map[string]crdt.ElementID{} // Excalidraw id → new element id
	byID := map[string]*exElement{}
	for i := range elements {
		e := &elements[i]
		byID[e.ID] = e
		if !e.IsDeleted {
			ids[e.ID] = crdt.ElementID(uuid.New())
		}
	}
	// Frames first: their contents move into them.
	order := make([]*exElement, 0, len(elements))
	for i := range elements {
		order = append(order, &elements[i])
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
			// A point is [x, y]; one with fewer numbers is dropped
			// (indexed as it was, [[],[0]] panicked the request).
			e.Points = slices.DeleteFunc(e.Points, func(p []float64) bool { return len(p) < 2 })
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
