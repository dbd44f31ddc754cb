package node_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Another tool's file onto a board: an Excalidraw scene's shapes, arrows
// and pictures arrive as one change, what has no counterpart is listed
// back; a list of ideas becomes sticky notes; viewers and commenters may
// not import.
func TestImportFiles(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "imports"})
	board := boardID(t, created)
	commenter := tokenOf(t, created["links"].(map[string]any)["commenter"].(string))
	post := func(cred, ctype string, body []byte) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.tn.base+"/v1/boards/"+board+"/import", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if strings.Contains(cred, ".") {
			req.Header.Set("Authorization", "Bearer "+cred)
		} else {
			req.Header.Set("Authorization", "Session "+cred)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(resp.Body)
		json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	var pic bytes.Buffer
	png.Encode(&pic, image.NewRGBA(image.Rect(0, 0, 3, 3)))
	scene, _ := json.Marshal(map[string]any{"type": "excalidraw", "version": 2, "elements": []any{
		map[string]any{"id": "r", "type": "rectangle", "x": 0, "y": 0, "width": 100, "height": 60, "strokeColor": "#1e1e1e", "backgroundColor": "transparent"},
		map[string]any{"id": "o", "type": "ellipse", "x": 300, "y": 0, "width": 60, "height": 60, "strokeColor": "#1e1e1e", "backgroundColor": "transparent"},
		map[string]any{"id": "a", "type": "arrow", "x": 100, "y": 30, "width": 200, "height": 0, "points": []any{[]any{0, 0}, []any{200, 0}}, "startBinding": map[string]any{"elementId": "r"}, "endBinding": map[string]any{"elementId": "o"}, "endArrowhead": "arrow"},
		map[string]any{"id": "i", "type": "image", "x": 0, "y": 100, "width": 30, "height": 30, "fileId": "f"},
		map[string]any{"id": "w", "type": "iframe", "x": 0, "y": 200, "width": 30, "height": 30},
	}, "files": map[string]any{"f": map[string]any{"mimeType": "image/png", "dataURL": "data:image/png;base64," + base64.StdEncoding.EncodeToString(pic.Bytes())}}})

	if code, out := post(commenter, "application/json", scene); code != 403 {
		t.Fatalf("a commenter imported: %d %v", code, out)
	}
	code, out := post(owner, "application/json", scene)
	if code != 201 || len(out["elements"].([]any)) != 4 {
		t.Fatalf("import: %d %v", code, out)
	}
	if sk := out["skipped"].([]any); len(sk) != 1 || sk[0].(map[string]any)["type"] != "iframe" {
		t.Fatalf("skipped: %v", sk)
	}
	var state struct {
		Elements []struct {
			ID    string         `json:"id"`
			Kind  string         `json:"kind"`
			Props map[string]any `json:"props"`
		} `json:"elements"`
	}
	_, st := e.call("GET", "/v1/boards/"+board+"/state", owner, nil)
	raw, _ := json.Marshal(st)
	json.Unmarshal(raw, &state)
	kinds := map[string]int{}
	var blob, from string
	for _, el := range state.Elements {
		kinds[el.Kind]++
		if el.Kind == "image" {
			blob, _ = el.Props["blob"].(string)
		}
		if el.Kind == "connector" {
			f, _ := json.Marshal(el.Props["from"])
			from = string(f)
		}
	}
	if kinds["shape"] != 2 || kinds["connector"] != 1 || kinds["image"] != 1 || blob == "" || !strings.Contains(from, `"el"`) {
		t.Fatalf("the board after the import: %v (blob %q, from %s)", kinds, blob, from)
	}
	if code, _ := e.call("GET", "/v1/boards/"+board+"/blobs/"+blob, owner, nil); code != 200 {
		t.Fatalf("the imported picture: %d", code)
	}

	code, out = post(owner, "text/plain", []byte("Ship it\nTest it\n"))
	if code != 201 || len(out["elements"].([]any)) != 2 {
		t.Fatalf("a list: %d %v", code, out)
	}
	if code, out := post(owner, "application/json", []byte(`{"hello":1}`)); code != 400 {
		t.Fatalf("an unknown file: %d %v", code, out)
	}
}
