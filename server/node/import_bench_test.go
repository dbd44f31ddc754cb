package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/corkboard/corkboard/server/node"
)

// excalidrawScene returns an Excalidraw file of n elements: rectangles,
// ellipses and text in a grid, every tenth an arrow bound to the two
// shapes before it (the mix of a real diagram).
func excalidrawScene(n int) []byte {
	els := make([]any, 0, n)
	for i := range n {
		x, y := float64(i%70)*150, float64(i/70)*120
		switch {
		case i%10 == 9:
			els = append(els, map[string]any{"id": fmt.Sprint("e", i), "type": "arrow", "x": x, "y": y, "width": 120, "height": 0,
				"points":       []any{[]any{0, 0}, []any{120, 0}},
				"startBinding": map[string]any{"elementId": fmt.Sprint("e", i-2)}, "endBinding": map[string]any{"elementId": fmt.Sprint("e", i-1)}, "endArrowhead": "arrow"})
		case i%3 == 0:
			els = append(els, map[string]any{"id": fmt.Sprint("e", i), "type": "text", "x": x, "y": y, "width": 100, "height": 25, "text": fmt.Sprint("idea number ", i), "fontSize": 20})
		case i%3 == 1:
			els = append(els, map[string]any{"id": fmt.Sprint("e", i), "type": "rectangle", "x": x, "y": y, "width": 100, "height": 60, "strokeColor": "#1e1e1e", "backgroundColor": "#ffec99"})
		default:
			els = append(els, map[string]any{"id": fmt.Sprint("e", i), "type": "ellipse", "x": x, "y": y, "width": 80, "height": 80, "strokeColor": "#1e1e1e", "backgroundColor": "transparent"})
		}
	}
	raw, _ := json.Marshal(map[string]any{"type": "excalidraw", "version": 2, "elements": els, "files": map[string]any{}})
	return raw
}

// BenchmarkImportExcalidraw5000 imports a 5,000-element Excalidraw file
// (the import's limit) into a fresh board of a real node: parse, map, one
// change of every element applied, stored with fsync, answered. It prints
// the file's size and the elements a second.
func BenchmarkImportExcalidraw5000(b *testing.B) {
	tn := startNode(b, func(c *node.Config) { c.Quotas.BoardsPerHour = -1 })
	scene := excalidrawScene(5000)
	b.SetBytes(int64(len(scene)))
	b.ReportAllocs()
	var made int
	for b.Loop() {
		b.StopTimer()
		c := tn.createBoard(`{"name":"import"}`)
		b.StartTimer()
		req, _ := http.NewRequest("POST", tn.base+"/v1/boards/"+c.Board.ID+"/import", bytes.NewReader(scene))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out struct {
			Elements []any `json:"elements"`
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || json.Unmarshal(raw, &out) != nil {
			b.Fatalf("import: %d %.300s", resp.StatusCode, raw)
		}
		made = len(out.Elements)
	}
	b.ReportMetric(float64(made), "elements")
	b.ReportMetric(float64(made)*float64(b.N)/b.Elapsed().Seconds(), "elements/s")
}
