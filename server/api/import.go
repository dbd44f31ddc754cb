package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/blob"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Bounds of an import (docs/API.md "Importing").
const (
	maxImportFile    = 32 << 20 // bytes of a file to import
	maxImportActions = 5000     // elements made by one import
)

// POST /v1/boards/{board}/import: another tool's file onto the board, as
// one change (editors and owners): a plain list of ideas (text/plain) or a
// CSV (text/csv) as sticky notes, an Excalidraw scene or a tldraw snapshot
// (application/json; ?format=excalidraw|tldraw|list|csv forces one).
// Pictures in the file become the board's images, within its quotas. The
// answer lists what was made and what could not be mapped, with why.
func (srv *Server) importFile(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.writeGate(w, r)
	if !ok {
		return
	}
	if who.User.Role != room.RoleOwner && who.User.Role != room.RoleEditor {
		writeError(w, 403, protocol.CodeForbidden, "only editors and owners may import")
		return
	}
	if srv.spaceLow(w) { // its pictures are stored before its changes reach the room
		return
	}
	release, ok := srv.holdHeavy(w, r)
	if !ok {
		return
	}
	defer release()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxImportFile))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, 413, protocol.CodeTooLarge, fmt.Sprintf("a file to import may have at most %d MiB", maxImportFile>>20))
		return
	}
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, "body: "+err.Error())
		return
	}
	if m, who, ok = srv.againAfterBody(w, r, who, true); !ok {
		return
	}
	if who.User.Role != room.RoleOwner && who.User.Role != room.RoleEditor {
		writeError(w, 403, protocol.CodeForbidden, "only editors and owners may import")
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = detectFormat(r.Header.Get("Content-Type"), body)
	}
	var im imported
	switch format {
	case "list", "csv":
		x, y, qerr := srv.freeSpot(r.Context(), id)
		if qerr != nil {
			writeQueryError(w, qerr)
			return
		}
		im, err = parseIdeas(body, format == "csv", x, y)
	case "excalidraw":
		im, err = parseExcalidraw(body)
	case "tldraw":
		im, err = parseTldraw(body)
	case "corkboard":
		err = errors.New("a Corkboard export file: import it as a new board with POST /v1/boards/import")
	default:
		err = errors.New("unknown file: send text/plain (a list), text/csv, an Excalidraw scene or a tldraw snapshot, or name it with ?format=")
	}
	if errors.Is(err, errImportTooLarge) {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	}
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, err.Error())
		return
	}
	if len(im.Actions) > maxImportActions {
		writeError(w, 413, protocol.CodeTooLarge, fmt.Sprintf("%d elements: an import makes at most %d", len(im.Actions), maxImportActions))
		return
	}
	srv.importImages(w, r, who, id, &im)
	actions := im.Actions[:0:0]
	for _, a := range im.Actions {
		if a.Op != "" {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		writeJSON(w, 200, map[string]any{"elements": []string{}, "skipped": orEmpty(im.Skipped)})
		return
	}
	status, res, code, err := srv.applyActions(withClient(r), id, m, who, actions, false)
	if err != nil {
		writeApplyError(w, status, code, err)
		return
	}
	writeJSON(w, 201, map[string]any{"elements": res.Elements, "change": res.Change, "version": res.Version, "skipped": orEmpty(im.Skipped)})
}

func orEmpty(s []skipped) []skipped {
	if s == nil {
		return []skipped{}
	}
	return s
}

// detectFormat names a file's format from its type and first bytes.
func detectFormat(ctype string, body []byte) string {
	mt, _, _ := mime.ParseMediaType(ctype)
	switch mt {
	case "text/csv":
		return "csv"
	case "text/plain", "text/markdown":
		return "list"
	}
	head := body[:min(len(body), 4096)]
	switch {
	case bytes.Contains(head, []byte(`"type":"excalidraw"`)), bytes.Contains(head, []byte(`"type": "excalidraw"`)):
		return "excalidraw"
	case bytes.Contains(head, []byte(`"format":"corkboard.board"`)):
		return "corkboard"
	case bytes.Contains(head, []byte(`"tldrawFileFormatVersion"`)), bytes.Contains(head, []byte(`"typeName"`)), bytes.Contains(head, []byte(`"schemaVersion"`)):
		return "tldraw"
	}
	return detectJSONKeys(body)
}

// detectJSONKeys names a JSON file's format from its top-level keys, for
// files whose telling key is not in the first bytes (a program that wrote
// its keys in alphabetical order puts "elements", the whole scene, before
// "type"). Only the top level is read: nested values are skipped whole.
func detectJSONKeys(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	keys := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := t.(string)
		keys[key] = true
		if key == "type" || key == "format" {
			var v string
			if dec.Decode(&v) == nil {
				switch {
				case key == "type" && v == "excalidraw":
					return "excalidraw"
				case key == "format" && v == "corkboard.board":
					return "corkboard"
				}
			}
			continue
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	if keys["tldrawFileFormatVersion"] || keys["schema"] && (keys["records"] || keys["store"]) {
		return "tldraw"
	}
	return ""
}

// freeSpot is where imported notes go: to the right of what the board has.
// Finding it visits every element in the board's room goroutine, so it is
// a whole-board read (boardQuery), charged to the board's budget like the
// write that follows: a spent budget refuses the import before the scan.
// A board that cannot be opened places them at the origin (the write then
// answers why).
func (srv *Server) freeSpot(ctx context.Context, id storage.BoardID) (float64, float64, error) {
	x, y := 0.0, 0.0
	rm, err := srv.cfg.Rooms.Open(ctx, id)
	if err != nil {
		return x, y, nil
	}
	first := true
	err = srv.boardQuery(ctx, id, rm, func(d *crdt.Doc) int {
		for _, el := range d.Elements() {
			if d.IsDeleted(el) {
				continue
			}
			ex, _ := d.Get(el, "x")
			ew, _ := d.Get(el, "w")
			ey, _ := d.Get(el, "y")
			if first || ex.AsNumber()+ew.AsNumber() > x {
				x = ex.AsNumber() + ew.AsNumber()
			}
			if first || ey.AsNumber() < y {
				y = ey.AsNumber()
			}
			first = false
		}
		return 0
	})
	if err != nil {
		return 0, 0, err
	}
	if !first {
		x += 200
	}
	if math.IsNaN(x) || math.IsNaN(y) {
		return 0, 0, nil
	}
	return x, y, nil
}

// importImages stores the file's pictures as the board's blobs, within
// the same checks and quotas as an upload, and sets each image's blob; a
// picture refused drops its image, listed as skipped.
func (srv *Server) importImages(w http.ResponseWriter, r *http.Request, who access.Identity, id storage.BoardID, im *imported) {
	for _, p := range im.Images {
		a := &im.Actions[p.At]
		reason := ""
		switch {
		case !blob.Types[p.Type]:
			reason = "a " + p.Type + " picture: PNG, JPEG, GIF or WebP only"
		case len(p.Data) > blob.MaxSize:
			reason = fmt.Sprintf("a picture over %d bytes", blob.MaxSize)
		case http.DetectContentType(p.Data) != p.Type:
			reason = "its bytes are not the picture type it says"
		default:
			if err := blob.CheckImage(p.Type, p.Data, srv.cfg.Quotas.MaxImagePixels); err != nil {
				reason = err.Error()
			}
		}
		if reason == "" {
			sum := sha256.Sum256(p.Data)
			var refused string
			stored, err := srv.cfg.Blobs.Put(r.Context(), id, sum, p.Type, p.Data, func(used int64) error {
				if limit := srv.cfg.Quotas.BoardBlobBytes; !within(used+int64(len(p.Data)), limit) {
					refused = "the board's pictures are at their quota"
					return blob.ErrRefused
				}
				if !srv.uploadAllowed(discard{}, r, who, len(p.Data)) {
					refused = "your daily upload quota is used up"
					return blob.ErrRefused
				}
				return nil
			})
			switch {
			case refused != "":
				reason = refused
			case err != nil:
				reason = "not stored: " + err.Error()
			default:
				if stored {
					srv.cfg.Blobs.Push(id, sum, p.Type, p.Data)
				}
				a.Props["blob"] = crdt.String(hex.EncodeToString(sum[:]))
			}
		}
		if reason != "" {
			im.skip(a.Element, "image", reason)
			a.Op = "" // dropped
		}
	}
}

// discard is a ResponseWriter for a check that answers refusals itself,
// when the caller words the refusal (an import lists it as skipped).
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
