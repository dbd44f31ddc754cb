package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/corkboard/corkboard/crdt"
)

// FuzzImportFile feeds any bytes to each importer (a list, a CSV, an
// Excalidraw scene, a tldraw snapshot). None may panic; a file is either
// refused with an error or gives at most maxImportActions actions, each
// picture pointing at an action of its own, and the actions made become a
// change on an empty board through the write API's own path (apply,
// Commit, CheckSchema) without a panic: refused actions are the caller's
// 400, never a crash of the node.
func FuzzImportFile(f *testing.F) {
	f.Add(uint8(0), []byte("first idea\nsecond idea\n\n- third\n"))
	f.Add(uint8(1), []byte("text,colour\n\"a, quoted\nidea\",yellow\nplain,#ff0000\n"))
	f.Add(uint8(2), []byte(`{"type":"excalidraw","version":2,"elements":[{"id":"r","type":"rectangle","x":0,"y":0,"width":10,"height":10,"boundElements":[{"id":"t","type":"text"}]},{"id":"t","type":"text","text":"hi","containerId":"r"},{"id":"a","type":"arrow","points":[[0,0],[5,5]],"startBinding":{"elementId":"r"},"endBinding":{"elementId":"zz"}},{"id":"i","type":"image","fileId":"f"}],"files":{"f":{"mimeType":"image/png","dataURL":"data:image/png;base64,AAAA"}}}`))
	f.Add(uint8(3), []byte(`{"tldrawFileFormatVersion":1,"schema":{},"records":[{"id":"shape:1","typeName":"shape","type":"note","x":1,"y":2,"props":{"richText":{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"note"}]}]}}},{"id":"shape:2","typeName":"shape","type":"arrow","props":{}},{"id":"binding:1","typeName":"binding","type":"arrow","fromId":"shape:2","toId":"shape:1","props":{"terminal":"end"}}]}`))
	f.Add(uint8(2), []byte(`{"type":"excalidraw","elements":[null,null,{"type":"freedraw","points":[[1e308,1e308],[-1e308,0]]}]}`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		var im imported
		var err error
		switch kind % 4 {
		case 0:
			im, err = parseIdeas(body, false, 0, 0)
		case 1:
			im, err = parseIdeas(body, true, 100, -50)
		case 2:
			im, err = parseExcalidraw(body)
		case 3:
			im, err = parseTldraw(body)
		}
		if err != nil {
			if errors.Is(err, errImportTooLarge) && len(body) < 64 {
				t.Fatalf("a %d-byte file refused as too large: %v", len(body), err)
			}
			return
		}
		if len(im.Actions) > maxImportActions {
			// The handler answers 413; the readers stop at the bound
			// themselves for lists and CSVs.
			if kind%4 < 2 {
				t.Fatalf("a list made %d actions, past the bound %d", len(im.Actions), maxImportActions)
			}
			return
		}
		for _, p := range im.Images {
			if p.At < 0 || p.At >= len(im.Actions) {
				t.Fatalf("a picture for action %d of %d", p.At, len(im.Actions))
			}
		}
		doc := crdt.NewDoc()
		tx := doc.Begin(crdt.ReplicaID(7), 1)
		for _, a := range im.Actions {
			if a.Op == "" {
				continue // a picture whose upload was refused (import.go)
			}
			if _, err := apply(doc, &tx, a, "importer", "importer"); err != nil {
				break
			}
		}
		ch, changed := tx.Commit()
		if changed {
			_ = doc.CheckSchema(&ch)
		}
	})
}

// FuzzDecodeExport feeds any bytes to the board file's reader and, when
// it reads, to the replay that checks it. Neither may panic; a file that
// passes gives one stored record per change, each with its counters in
// order and its data.
func FuzzDecodeExport(f *testing.F) {
	doc := crdt.NewDoc()
	tx := doc.Begin(crdt.ReplicaID(9), 1)
	if _, err := apply(doc, &tx, action{Op: "create", Kind: "note", Text: str("hello")}, "u", "u"); err != nil {
		f.Fatal(err)
	}
	ch, _ := tx.Commit()
	data, err := ch.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	file, err := json.Marshal(map[string]any{"format": "corkboard.board", "version": 1, "name": "b", "changes": []any{map[string]any{"data": data, "author": "u", "accepted": 5}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(file)
	f.Add([]byte(`{"format":"corkboard.board","changes":[{},{"data":""}]}`))
	f.Add([]byte(`{"snapshot":{"after":1,"data":"eJw="},"changes":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ef, err := decodeExport(bytes.NewReader(body))
		if err != nil {
			return
		}
		recs, _, err := checkExport(ef)
		if err != nil {
			return
		}
		if len(recs) != len(ef.Changes) {
			t.Fatalf("%d records for %d changes", len(recs), len(ef.Changes))
		}
		for i, r := range recs {
			if r.End < r.Start || len(r.Data) == 0 {
				t.Fatalf("record %d: counters %d..%d, %d bytes", i, r.Start, r.End, len(r.Data))
			}
		}
	})
}
