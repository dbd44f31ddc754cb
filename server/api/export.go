package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// A board with its whole history, as one portable file: the backup and
// the migration path of one board (docs/API.md "Export and import").
//
// The file holds the board's op log as this node stores it: every change
// in its binary encoding (the WebSocket protocol's), with its author and
// acceptance time, in log order. Where the log was trimmed (a long-lived
// board keeps a snapshot and the changes after it), the file carries that
// snapshot too, so an import rebuilds the same document. Importing makes a
// new board (new id, new tokens, the importer its owner) whose log is
// those changes and whose document is therefore the same as the
// original's, with the same history: who changed what, when.
//
// Rejected: exporting the document alone (a snapshot): it imports to the
// same picture but loses the history, which "since your last visit", the
// digests and the activity feed read; a JSON rendering of each op: larger,
// and one more encoding to keep exact.
type exportFile struct {
	Format   string         `json:"format"`  // exportFormat
	Version  int            `json:"version"` // 1
	Name     string         `json:"name"`
	Exported int64          `json:"exported"` // unix ms
	Snapshot *exportSnap    `json:"snapshot,omitempty"`
	Changes  []exportChange `json:"changes"`
}

type exportSnap struct {
	// After is how many of Changes the snapshot covers: the document after
	// Changes[:After] (and the changes trimmed before them).
	After int    `json:"after"`
	Data  []byte `json:"data"` // crdt.Doc.Snapshot, base64
}

type exportChange struct {
	Data     []byte `json:"data"` // the change, binary, base64
	Author   string `json:"author,omitempty"`
	Accepted int64  `json:"accepted"` // unix ms
}

const (
	exportFormat   = "corkboard.board"
	maxImportBytes = 64 << 20
)

// GET /v1/boards/{board}/export: the board with its history (anyone who
// may read the board may read all of it already, through /ops).
func (srv *Server) exportBoard(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := srv.enter(w, r)
	if !ok {
		return
	}
	release, ok := srv.holdHeavy(w, r) // holds up to 32 MiB of history
	if !ok {
		return
	}
	defer release()
	f := exportFile{Format: exportFormat, Version: 1, Name: m.Name, Exported: srv.cfg.Now().UnixMilli(), Changes: []exportChange{}}
	var first uint64
	size := 0
	err := srv.cfg.Store.ScanOps(r.Context(), id, 0, func(rec storage.Record) error {
		if first == 0 {
			first = rec.Seq
		}
		if size += len(rec.Data); size > maxImportBytes/2 {
			return errTooBig
		}
		f.Changes = append(f.Changes, exportChange{Data: rec.Data, Author: rec.Author, Accepted: rec.Accepted})
		return nil
	})
	if errors.Is(err, errTooBig) {
		writeError(w, 413, protocol.CodeTooLarge, fmt.Sprintf("the board's history is over %d MiB: export is for boards under it", maxImportBytes/2>>20))
		return
	}
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	if first > 1 {
		// Trimmed: the snapshot the remaining changes follow.
		seq, data, err := srv.cfg.Store.LatestSnapshot(r.Context(), id)
		if err != nil || seq < first-1 {
			writeError(w, 500, protocol.CodeInternal, "the board's log is trimmed and its snapshot is missing")
			return
		}
		f.Snapshot = &exportSnap{After: int(seq - first + 1), Data: data}
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.corkboard.json"`, fileName(m.Name)))
	writeJSON(w, 200, f)
}

var errTooBig = errors.New("too big")

// fileName makes a board name safe for a file name.
func fileName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == '"' || r < ' ' {
			return '-'
		}
		return r
	}, s)
	if s == "" {
		return "board"
	}
	return s
}

// POST /v1/boards/import: a new board from an export file, like POST
// /v1/boards (the same gate and quotas); ?name= names it (default: the
// file's name).
func (srv *Server) importBoard(w http.ResponseWriter, r *http.Request) {
	if !srv.mayCreateBoard(w, r) {
		return
	}
	release, ok := srv.holdHeavy(w, r)
	if !ok {
		return
	}
	defer release()
	f, err := decodeExport(http.MaxBytesReader(w, r.Body, maxImportBytes))
	if errors.Is(err, errImportTooLarge) {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	}
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, "body: an export file: "+err.Error())
		return
	}
	if f.Format != exportFormat || f.Version != 1 {
		writeError(w, 400, protocol.CodeMalformed, fmt.Sprintf("format: want %q version 1", exportFormat))
		return
	}
	recs, snap, err := checkExport(f)
	if err != nil {
		writeError(w, 400, protocol.CodeInvalidOp, err.Error())
		return
	}
	// The file's changes (and snapshot) are stored as they are, past the
	// room: they count against the day's bytes of changes of their
	// sender (ChangeBytesAllowed), as the same changes sent over a WebSocket would. Uncounted, a board file was 48
	// MiB of history per board created, 20 boards an hour from one
	// address: 23 GiB a day, past the 1 GiB the quota allows.
	size := 0
	for _, rec := range recs {
		size += len(rec.Data)
	}
	if snap != nil {
		size += len(snap.Data)
	}
	user := ""
	if u, err := srv.cfg.Access.SignedIn(r); err == nil && u != nil {
		user = u.ID
	}
	if day := srv.cfg.Quotas.ChangeBytesPerDay; day >= 0 && int64(size) > day {
		// Past a whole day's bytes: no later day takes it either.
		writeError(w, 413, protocol.CodeTooLarge, fmt.Sprintf("the board file's changes are %d bytes, more than the %d MiB of changes one may send in a day", size, day>>20))
		return
	}
	if ok, retry := srv.AllowChangeBytes(httpguard.ClientIP(r), user, size); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(protocol.RetryAfterSeconds(retry)))
		writeError(w, 429, protocol.CodeRateLimited, srv.ErrChangeBytes())
		return
	}
	name := f.Name
	if q := r.URL.Query().Get("name"); q != "" {
		name = q
	}
	srv.create(w, r, createRequest{Name: name}, func(ctx context.Context, id storage.BoardID, _ string) bool {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := srv.cfg.Store.AppendOps(ctx, id, recs); err != nil {
			if errors.Is(err, storage.ErrOverlap) {
				writeError(w, 400, protocol.CodeInvalidOp, "changes: two of them number the same replica's ops")
			} else {
				writeError(w, 500, protocol.CodeInternal, err.Error())
			}
			return false
		}
		if snap != nil {
			if err := srv.cfg.Store.PutSnapshot(ctx, id, uint64(snap.After), snap.Data); err != nil {
				writeError(w, 500, protocol.CodeInternal, err.Error())
				return false
			}
		}
		return true
	})
}

// decodeExport reads an export file one change at a time, refusing a
// change without data as it comes: decoded whole, a file of 64 MiB of
// empty changes ("{},{},…") was 22 million of them, over a gigabyte,
// before the first was looked at. Fields are matched as encoding/json
// matches them (case-insensitively); unknown ones are skipped.
func decodeExport(r io.Reader) (*exportFile, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil {
		return nil, err
	} else if t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	f := &exportFile{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v any
		switch strings.ToLower(key) {
		case "format":
			v = &f.Format
		case "version":
			v = &f.Version
		case "name":
			v = &f.Name
		case "exported":
			v = &f.Exported
		case "snapshot":
			v = &f.Snapshot
		case "changes":
			if f.Changes, err = decodeChanges(dec); err != nil {
				return nil, err
			}
			continue
		default:
			v = new(json.RawMessage)
		}
		if err := dec.Decode(v); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return f, nil
}

// decodeChanges reads the changes array of an export file (or null).
func decodeChanges(dec *json.Decoder) ([]exportChange, error) {
	t, err := dec.Token()
	if err != nil || t == nil {
		return nil, err
	}
	if t != json.Delim('[') {
		return nil, errors.New("changes: not an array")
	}
	var out []exportChange
	for dec.More() {
		if len(out) == maxImportChanges {
			return nil, fmt.Errorf("%w: an export file holds at most %d changes", errImportTooLarge, maxImportChanges)
		}
		var ec exportChange
		if err := dec.Decode(&ec); err != nil {
			return nil, err
		}
		if len(ec.Data) == 0 {
			return nil, fmt.Errorf("change %d: no data", len(out)+1)
		}
		out = append(out, ec)
	}
	_, err = dec.Token()
	return out, err
}

// maxImportChanges bounds the changes of an export file to import: the
// smallest ({"data":"AQ=="}, 16 bytes) costs some 300 bytes to decode, so
// 64 MiB of them took 1.5 GB before the first was replayed. An export
// holds at most 32 MiB of history: half a million changes of 67 bytes.
const maxImportChanges = 500_000

// maxImportSnapshot bounds an imported snapshot's body, inflated: 64
// times its compressed bytes (a board's snapshot deflates a few times),
// and at most 256 MiB. crdt.LoadSnapshot alone allows a gigabyte: a 1 MiB
// file of DEFLATE'd zeros, posted by anyone (creating a board needs no
// account), made the node allocate 4 GB and work for seconds.
func maxImportSnapshot(compressed int) int {
	return min(64*compressed, 256<<20)
}

// checkExport decodes an export file's changes and replays them on a
// document (after its snapshot, if any), so that only a history that makes
// a board is imported.
func checkExport(f *exportFile) ([]storage.Record, *exportSnap, error) {
	doc := crdt.NewDoc()
	from := 0
	if f.Snapshot != nil {
		if f.Snapshot.After < 0 || f.Snapshot.After > len(f.Changes) {
			return nil, nil, errors.New("snapshot.after: out of the changes' range")
		}
		d, err := crdt.LoadSnapshotMax(f.Snapshot.Data, maxImportSnapshot(len(f.Snapshot.Data)))
		if err != nil {
			return nil, nil, fmt.Errorf("snapshot: %v", err)
		}
		doc, from = d, f.Snapshot.After
	}
	recs := make([]storage.Record, len(f.Changes))
	for i, ec := range f.Changes {
		c, err := crdt.DecodeChange(ec.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("change %d: %v", i+1, err)
		}
		if len(ec.Author) > 200 {
			return nil, nil, fmt.Errorf("change %d: author too long", i+1)
		}
		if i >= from {
			if _, _, err := doc.Apply(c); err != nil {
				return nil, nil, fmt.Errorf("change %d: %v", i+1, err)
			}
		}
		recs[i] = storage.Record{Replica: uint64(c.Replica), Start: c.Start, End: c.End(), Accepted: ec.Accepted, Author: ec.Author, Data: ec.Data}
	}
	return recs, f.Snapshot, nil
}
