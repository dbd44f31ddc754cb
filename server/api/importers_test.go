package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/crdt"
)

func pngDataURL(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
}

// An Excalidraw scene for the importers' tests: shapes with bound text, an
// arrow bound at both ends with a label, free text, a freehand stroke, a
// frame holding the ellipse, a picture, something with no counterpart and
// something deleted.
func excalidrawScene(t *testing.T) []byte {
	scene := map[string]any{
		"type": "excalidraw", "version": 2, "source": "https://excalidraw.com",
		"elements": []any{
			map[string]any{"id": "r1", "type": "rectangle", "x": 10, "y": 20, "width": 100, "height": 50, "strokeColor": "#1e1e1e", "backgroundColor": "#ffec99", "strokeWidth": 2, "boundElements": []any{map[string]any{"id": "t1", "type": "text"}}},
			map[string]any{"id": "t1", "type": "text", "x": 20, "y": 30, "width": 80, "height": 20, "text": "Plan", "containerId": "r1", "fontSize": 20},
			map[string]any{"id": "e1", "type": "ellipse", "x": 300, "y": 20, "width": 80, "height": 80, "strokeColor": "#e03131", "backgroundColor": "transparent", "frameId": "f1"},
			map[string]any{"id": "a1", "type": "arrow", "x": 110, "y": 45, "width": 190, "height": 10, "points": []any{[]any{0, 0}, []any{190, 10}}, "startBinding": map[string]any{"elementId": "r1"}, "endBinding": map[string]any{"elementId": "e1"}, "endArrowhead": "arrow", "strokeColor": "#1971c2"},
			map[string]any{"id": "t2", "type": "text", "x": 150, "y": 60, "width": 40, "height": 20, "text": "then", "containerId": "a1"},
			map[string]any{"id": "t3", "type": "text", "x": 0, "y": 200, "width": 200, "height": 30, "text": "Notes here", "fontSize": 28, "textAlign": "center", "strokeColor": "#2f9e44"},
			map[string]any{"id": "d1", "type": "freedraw", "x": 0, "y": 300, "width": 30, "height": 30, "points": []any{[]any{0, 0}, []any{10, 10}, []any{30, 30}}, "pressures": []any{}, "strokeColor": "#000000", "strokeWidth": 1},
			map[string]any{"id": "f1", "type": "frame", "x": 280, "y": 0, "width": 200, "height": 200, "name": "Later"},
			map[string]any{"id": "i1", "type": "image", "x": 0, "y": 400, "width": 40, "height": 40, "fileId": "file1"},
			map[string]any{"id": "w1", "type": "embeddable", "x": 0, "y": 500, "width": 40, "height": 40},
			map[string]any{"id": "gone", "type": "rectangle", "x": 0, "y": 0, "width": 1, "height": 1, "isDeleted": true},
		},
		"files": map[string]any{"file1": map[string]any{"mimeType": "image/png", "id": "file1", "dataURL": pngDataURL(t)}},
	}
	b, _ := json.Marshal(scene)
	return b
}

// tldrawSnapshot: the same kinds of things, the way tldraw stores them.
func tldrawSnapshot(t *testing.T) []byte {
	rich := func(s string) any {
		return map[string]any{"type": "doc", "content": []any{map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": s}}}}}
	}
	recs := []any{
		map[string]any{"typeName": "page", "id": "page:p", "name": "Page 1"},
		map[string]any{"typeName": "shape", "id": "shape:g", "type": "geo", "x": 0, "y": 0, "rotation": 0, "parentId": "page:p", "props": map[string]any{"w": 120, "h": 60, "geo": "rectangle", "color": "blue", "fill": "solid", "richText": rich("Goal")}},
		map[string]any{"typeName": "shape", "id": "shape:n", "type": "note", "x": 200, "y": 0, "parentId": "page:p", "props": map[string]any{"color": "yellow", "richText": rich("Sticky")}},
		map[string]any{"typeName": "shape", "id": "shape:fr", "type": "frame", "x": 500, "y": 500, "parentId": "page:p", "props": map[string]any{"w": 300, "h": 300, "name": "Box"}},
		map[string]any{"typeName": "shape", "id": "shape:in", "type": "geo", "x": 10, "y": 20, "parentId": "shape:fr", "props": map[string]any{"w": 50, "h": 50, "geo": "ellipse", "color": "red"}},
		map[string]any{"typeName": "shape", "id": "shape:a", "type": "arrow", "x": 120, "y": 30, "parentId": "page:p", "props": map[string]any{"start": map[string]any{"x": 0, "y": 0}, "end": map[string]any{"x": 80, "y": 0}, "arrowheadEnd": "arrow", "arrowheadStart": "none", "color": "black", "text": "to"}},
		map[string]any{"typeName": "binding", "id": "binding:1", "type": "arrow", "fromId": "shape:a", "toId": "shape:g", "props": map[string]any{"terminal": "start"}},
		map[string]any{"typeName": "binding", "id": "binding:2", "type": "arrow", "fromId": "shape:a", "toId": "shape:n", "props": map[string]any{"terminal": "end"}},
		map[string]any{"typeName": "shape", "id": "shape:d", "type": "draw", "x": 0, "y": 200, "parentId": "page:p", "props": map[string]any{"color": "green", "segments": []any{map[string]any{"type": "free", "points": []any{map[string]any{"x": 0, "y": 0, "z": 0.5}, map[string]any{"x": 5, "y": 5, "z": 0.5}}}}}},
		map[string]any{"typeName": "asset", "id": "asset:i", "type": "image", "props": map[string]any{"src": pngDataURL(t), "mimeType": "image/png"}},
		map[string]any{"typeName": "shape", "id": "shape:i", "type": "image", "x": 0, "y": 400, "parentId": "page:p", "props": map[string]any{"w": 40, "h": 40, "assetId": "asset:i"}},
		map[string]any{"typeName": "shape", "id": "shape:b", "type": "bookmark", "x": 0, "y": 600, "parentId": "page:p", "props": map[string]any{"url": "https://example.com"}},
	}
	b, _ := json.Marshal(map[string]any{"tldrawFileFormatVersion": 1, "schema": map[string]any{"schemaVersion": 2}, "records": recs})
	return b
}

func byKind(as []action) map[string][]action {
	out := map[string][]action{}
	for _, a := range as {
		out[a.Kind] = append(out[a.Kind], a)
	}
	return out
}

func TestParseExcalidraw(t *testing.T) {
	im, err := parseExcalidraw(excalidrawScene(t))
	if err != nil {
		t.Fatal(err)
	}
	k := byKind(im.Actions)
	if len(k["shape"]) != 2 || len(k["connector"]) != 1 || len(k["text"]) != 1 || len(k["stroke"]) != 1 || len(k["frame"]) != 1 || len(k["image"]) != 1 {
		t.Fatalf("kinds: %v", k)
	}
	if im.Actions[0].Kind != "frame" || *im.Actions[0].Text != "Later" {
		t.Fatalf("the frame comes first, titled: %+v", im.Actions[0])
	}
	rect, ellipse := k["shape"][0], k["shape"][1]
	if *rect.Text != "Plan" || rect.Props["fill"].AsString() != "#ffec99" || ellipse.Props["shape"].AsString() != "ellipse" {
		t.Fatalf("shapes: %+v %+v", rect, ellipse)
	}
	if ellipse.Parent == nil || *ellipse.Parent != im.Actions[0].Element {
		t.Fatal("the ellipse is not in its frame")
	}
	arrow := k["connector"][0]
	from, _ := arrow.Props["from"].MarshalJSON()
	to, _ := arrow.Props["to"].MarshalJSON()
	if !strings.Contains(string(from), rect.Element) || !strings.Contains(string(to), ellipse.Element) || *arrow.Text != "then" || arrow.Field != "label" {
		t.Fatalf("the arrow: from %s to %s, label %v", from, to, arrow.Text)
	}
	if len(im.Images) != 1 || im.Images[0].Type != "image/png" {
		t.Fatalf("images %v", im.Images)
	}
	if len(im.Skipped) != 1 || im.Skipped[0].Type != "embeddable" {
		t.Fatalf("skipped: %+v (the deleted one is not news)", im.Skipped)
	}
}

func TestParseTldraw(t *testing.T) {
	im, err := parseTldraw(tldrawSnapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	k := byKind(im.Actions)
	if len(k["shape"]) != 2 || len(k["note"]) != 1 || len(k["frame"]) != 1 || len(k["connector"]) != 1 || len(k["stroke"]) != 1 || len(k["image"]) != 1 {
		t.Fatalf("kinds: %v", k)
	}
	var goal, inner action
	for _, s := range k["shape"] {
		if s.Props["shape"].AsString() == "rectangle" {
			goal = s
		} else {
			inner = s
		}
	}
	if *goal.Text != "Goal" || goal.Props["stroke"].AsString() != "#4465e9" || *k["note"][0].Text != "Sticky" {
		t.Fatalf("texts and colours: %+v %+v", goal, k["note"][0])
	}
	if x, y := inner.Props["x"].AsNumber(), inner.Props["y"].AsNumber(); x != 510 || y != 520 || inner.Parent == nil || *inner.Parent != k["frame"][0].Element {
		t.Fatalf("the shape in the frame: at %v,%v parent %v", x, y, inner.Parent)
	}
	from, _ := k["connector"][0].Props["from"].MarshalJSON()
	to, _ := k["connector"][0].Props["to"].MarshalJSON()
	if !strings.Contains(string(from), goal.Element) || !strings.Contains(string(to), k["note"][0].Element) {
		t.Fatalf("arrow bindings: %s %s", from, to)
	}
	if len(im.Skipped) != 1 || im.Skipped[0].Type != "bookmark" {
		t.Fatalf("skipped %+v", im.Skipped)
	}
}

func TestParseIdeas(t *testing.T) {
	im, err := parseIdeas([]byte("- Ship it\n\n* Test it\nDocument it\n"), false, 100, 50)
	if err != nil || len(im.Actions) != 3 || *im.Actions[1].Text != "Test it" || im.Actions[0].Props["x"].AsNumber() != 100 {
		t.Fatalf("%v %+v", err, im.Actions)
	}
	im, err = parseIdeas([]byte("idea,colour\n\"Ship, now\",green\nTest\n"), true, 0, 0)
	if err != nil || len(im.Actions) != 2 || *im.Actions[0].Text != "Ship, now" || im.Actions[0].Props["color"].AsString() != "green" {
		t.Fatalf("%v %+v", err, im.Actions)
	}
	if _, err := parseIdeas([]byte("\n \n"), false, 0, 0); err == nil {
		t.Fatal("an empty list was accepted")
	}
	var _ = crdt.Root
}

func TestDetectFormat(t *testing.T) {
	for want, in := range map[string]struct {
		ct   string
		body []byte
	}{
		"csv": {"text/csv; charset=utf-8", nil}, "list": {"text/plain", nil},
		"excalidraw": {"application/json", excalidrawScene(t)}, "tldraw": {"application/json", tldrawSnapshot(t)},
		"corkboard": {"application/json", []byte(`{"format":"corkboard.board","version":1}`)}, "": {"application/json", []byte(`{}`)},
	} {
		if got := detectFormat(in.ct, in.body); got != want {
			t.Errorf("%s: detected %q", want, got)
		}
	}
}

// A file whose telling key comes after kilobytes of elements (keys written
// in alphabetical order: "elements" before "type") is still recognised,
// from its top-level keys; a key of the same name inside an element is not
// taken for the file's.
func TestDetectFormatKeyAfterTheElements(t *testing.T) {
	big := bytes.Repeat([]byte(`{"id":"x","type":"rectangle","x":1,"y":2},`), 500)
	big = big[:len(big)-1]
	for want, body := range map[string]string{
		"excalidraw": `{"elements":[` + string(big) + `],"files":{},"type":"excalidraw","version":2}`,
		"tldraw":     `{"records":[` + string(big) + `],"schema":{"schemaVersion":2},"tldrawFileFormatVersion":1}`,
		"corkboard":  `{"board":{"elements":[` + string(big) + `]},"format":"corkboard.board"}`,
		"":           `{"elements":[` + string(big) + `,{"type":"excalidraw"}]}`,
	} {
		if got := detectFormat("application/json", []byte(body)); got != want {
			t.Errorf("want %q, detected %q", want, got)
		}
	}
}
