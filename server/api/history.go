package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Board history: the op log read as a timeline, the board as it was after
// any entry of it, and restoring elements (or the whole board) to such a
// past state as new changes, which merge with everything made since like
// anyone's edit (docs/API.md "History").
//
// A past state is rebuilt by replaying the log into a fresh document up to
// the entry: from its start, or from the stored snapshot at or before it
// when the log was trimmed (then older states are gone: 410).
//
// Rejected: keeping periodic snapshots for history (more disk for every
// board, when the log already holds every state); restoring by rewriting
// the log (the other replicas would never agree again).

// Bounds of history (docs/API.md).
const (
	historyPage      = 200     // entries per timeline page (at most)
	historyPageBytes = 4 << 20 // of changes decoded for one page (past it, a shorter page; one entry at least)
	maxReplay        = 200000  // entries replayed to rebuild one past state
	historyPerMinute = 60      // past states rebuilt per caller and minute
	historyPerBoard  = 60      // and per board, whoever asks (callers are cheap to make)
	// maxReplays bounds the past states rebuilt at once on a node, whatever
	// the boards: each holds a whole document in memory and a core busy,
	// and the rates above are per caller and per board, so many boards
	// (or many callers of public boards) could otherwise run any number at
	// once. A lane of its own, not the imports' (holdHeavy): scrubbing
	// through history must not make imports and exports wait, nor they it.
	maxReplays = 2
)

// historyEntry is one entry of the timeline.
type historyEntry struct {
	Seq      uint64         `json:"seq"`
	Accepted int64          `json:"accepted"` // unix ms
	Author   string         `json:"author,omitempty"`
	Replica  crdt.ReplicaID `json:"replica"`
	Ops      int            `json:"ops"`
	Elements []string       `json:"elements"` // touched, at most 20
}

// GET /v1/boards/{board}/history?before=<seq>&limit=: the timeline, newest
// first.
func (srv *Server) boardHistory(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enter(w, r)
	if !ok {
		return
	}
	last, err := srv.cfg.Store.LastSeq(r.Context(), id)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	before := last + 1
	if b := r.URL.Query().Get("before"); b != "" {
		if before, err = strconv.ParseUint(b, 10, 64); err != nil {
			writeError(w, 400, protocol.CodeMalformed, "before: a log position")
			return
		}
	}
	limit := historyPage
	if l := r.URL.Query().Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > historyPage {
			writeError(w, 400, protocol.CodeMalformed, fmt.Sprintf("limit: 1 to %d", historyPage))
			return
		}
	}
	// Newest first, one record at a time back from before, until the page
	// is full or holds historyPageBytes of changes: a change may be tens
	// of MiB (an import), and the timeline decodes each one it lists.
	before = min(before, last+1)
	entries := []historyEntry{}
	out := map[string]any{"last": last}
	budget := historyPageBytes
	for seq := before - 1; before > 0 && seq >= 1; seq-- {
		if len(entries) == limit {
			out["next"] = seq + 1 // ?before= for the older page
			break
		}
		var rec storage.Record
		err := srv.cfg.Store.ScanOps(r.Context(), id, seq, func(x storage.Record) error { rec = x; return errStop })
		if err != nil && !errors.Is(err, errStop) {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
		if rec.Seq != seq {
			out["trimmed"] = true // older entries are not kept
			break
		}
		if len(entries) > 0 && len(rec.Data) > budget {
			out["next"] = seq + 1
			break
		}
		budget -= len(rec.Data)
		e := historyEntry{Seq: rec.Seq, Accepted: rec.Accepted, Author: rec.Author, Replica: crdt.ReplicaID(rec.Replica), Elements: []string{}}
		if c, err := crdt.DecodeChange(rec.Data); err == nil {
			e.Ops = len(c.Ops)
			for _, op := range c.Ops {
				s := op.Element.String()
				if len(e.Elements) < 20 && !slices.Contains(e.Elements, s) {
					e.Elements = append(e.Elements, s)
				}
			}
		}
		entries = append(entries, e)
	}
	out["entries"] = entries
	writeJSON(w, 200, out)
}

// maxReplayBytes bounds the bytes of changes decoded to rebuild one past
// state, as maxReplay their number: a log of 200,000 changes of a MiB
// each is a long replay (a variable for the tests).
var maxReplayBytes = 256 << 20

var errStop = errors.New("stop")

// errGone: the log was trimmed before the asked position.
var errGone = errors.New("the board's history before that point is no longer kept")

// docAt rebuilds the board's document as it was after log entry seq.
func (srv *Server) docAt(ctx context.Context, id storage.BoardID, seq uint64) (*crdt.Doc, error) {
	doc := crdt.NewDoc()
	from := uint64(1)
	var first uint64
	srv.cfg.Store.ScanOps(ctx, id, 0, func(rec storage.Record) error { first = rec.Seq; return errStop })
	if first > 1 {
		s, data, err := srv.cfg.Store.LatestSnapshot(ctx, id)
		if err != nil || s > seq || s+1 < first {
			return nil, errGone
		}
		if doc, err = crdt.LoadSnapshot(data); err != nil {
			return nil, err
		}
		from = s + 1
	}
	if seq >= from && seq-from >= maxReplay {
		return nil, fmt.Errorf("more than %d entries to replay: %w", maxReplay, errTooBig)
	}
	read := 0
	err := srv.cfg.Store.ScanOps(ctx, id, from, func(rec storage.Record) error {
		if rec.Seq > seq {
			return errStop
		}
		if read += len(rec.Data); read > maxReplayBytes {
			return fmt.Errorf("more than %d MiB of changes to replay: %w", maxReplayBytes>>20, errTooBig)
		}
		c, err := crdt.DecodeChange(rec.Data)
		if err != nil {
			return err
		}
		_, _, err = doc.Apply(c)
		return err
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return doc, nil
}

// pastDoc rebuilds the board as it was after entry seq, gating the
// replay's rate (caller: callerKey) and holding a slot of the node's
// replays (maxReplays) until the caller, done with the document, calls
// release.
func (srv *Server) pastDoc(w http.ResponseWriter, r *http.Request, id storage.BoardID, caller string, seq uint64) (doc *crdt.Doc, release func(), ok bool) {
	if !srv.cfg.Limits.Allow("history:"+caller, historyPerMinute, time.Minute) ||
		!srv.cfg.Limits.Allow("history-board:"+id.String(), historyPerBoard, time.Minute) {
		writeError(w, 429, protocol.CodeRateLimited, fmt.Sprintf("at most %d past states a minute per caller, %d per board", historyPerMinute, historyPerBoard))
		return nil, nil, false
	}
	slot, held := holdSlot(srv.replays, w, r, "the node is busy rebuilding past states; retry in a moment")
	if !held {
		return nil, nil, false
	}
	defer func() {
		if !ok {
			slot()
		}
	}()
	last, err := srv.cfg.Store.LastSeq(r.Context(), id)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return nil, nil, false
	}
	if seq > last {
		writeError(w, 400, protocol.CodeMalformed, fmt.Sprintf("seq: the log has %d entries", last))
		return nil, nil, false
	}
	doc, err = srv.docAt(r.Context(), id, seq)
	switch {
	case errors.Is(err, errGone):
		writeError(w, 410, protocol.CodeNotFound, err.Error())
		return nil, nil, false
	case errors.Is(err, errTooBig):
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return nil, nil, false
	case err != nil:
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return nil, nil, false
	}
	return doc, slot, true
}

// GET /v1/boards/{board}/history/state?seq=: the board as it was after log
// entry seq (0: empty), in the form of GET /state.
func (srv *Server) historyState(w http.ResponseWriter, r *http.Request) {
	id, _, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	seq, err := strconv.ParseUint(r.URL.Query().Get("seq"), 10, 64)
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, "seq: a log position (GET /history)")
		return
	}
	doc, release, ok := srv.pastDoc(w, r, id, callerKey(r, who), seq)
	if !ok {
		return
	}
	defer release()
	body, err := doc.MarshalJSON()
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// POST /v1/boards/{board}/restore {"seq", "elements"?}: put elements (all
// of the board's by default) back as they were after log entry seq, as one
// new change (editors and owners; the write API's gate). Comments stay as
// they are: they are their authors' (listed back as skipped).
func (srv *Server) restoreBoard(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.writeGate(w, r)
	if !ok {
		return
	}
	if who.User.Role != room.RoleOwner && who.User.Role != room.RoleEditor {
		writeError(w, 403, protocol.CodeForbidden, "only editors and owners may restore")
		return
	}
	var req struct {
		Seq      *uint64  `json:"seq"`
		Elements []string `json:"elements"`
	}
	if !decodeWrite(w, r, &req) {
		return
	}
	if req.Seq == nil {
		writeError(w, 400, protocol.CodeMalformed, "seq: required (a log position from GET /history)")
		return
	}
	past, release, ok := srv.pastDoc(w, r, id, callerKey(r, who), *req.Seq)
	if !ok {
		return
	}
	defer release()
	rm, err := srv.cfg.Rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	var actions []action
	var skip []skipped
	err = srv.boardQuery(r.Context(), id, rm, func(now *crdt.Doc) int {
		scope := map[crdt.ElementID]bool{}
		if len(req.Elements) > 0 {
			for _, s := range req.Elements {
				if e, err := crdt.ParseElementID(s); err == nil {
					scope[e] = true
				}
			}
		} else {
			for _, e := range past.Elements() {
				scope[e] = true
			}
			for _, e := range now.Elements() {
				scope[e] = true
			}
		}
		ids := make([]crdt.ElementID, 0, len(scope))
		for e := range scope {
			ids = append(ids, e)
		}
		slices.SortFunc(ids, func(a, b crdt.ElementID) int { return bytes.Compare(a[:], b[:]) })
		actions, skip = restoreActions(past, now, ids)
		return 0
	})
	if err != nil {
		writeQueryError(w, err)
		return
	}
	if len(actions) > maxActions*10 {
		writeError(w, 413, protocol.CodeTooLarge, fmt.Sprintf("%d elements to restore: at most %d at once", len(actions), maxActions*10))
		return
	}
	if len(actions) == 0 {
		writeJSON(w, 200, map[string]any{"elements": []string{}, "skipped": orEmpty(skip)})
		return
	}
	status, res, code, err := srv.applyActions(withClient(r), id, m, who, actions, false)
	if err != nil {
		writeApplyError(w, status, code, err)
		return
	}
	writeJSON(w, 200, map[string]any{"elements": res.Elements, "change": res.Change, "version": res.Version, "skipped": orEmpty(skip)})
}

// restoreActions are the actions that make each element of ids in now as
// it was in past: brought back, its properties and text set, moved back, or
// deleted if it did not exist then.
func restoreActions(past, now *crdt.Doc, ids []crdt.ElementID) ([]action, []skipped) {
	var out []action
	var skip []skipped
	alive := func(d *crdt.Doc, e crdt.ElementID) bool { return d.Kind(e) != "" && !d.IsDeleted(e) }
	for _, e := range ids {
		kind := past.Kind(e)
		if kind == "" {
			kind = now.Kind(e)
		}
		if kind == "comment" {
			if alive(past, e) != alive(now, e) || !sameElement(past, now, e) {
				skip = append(skip, skipped{ID: e.String(), Type: "comment", Reason: "comments are their authors'"})
			}
			continue
		}
		switch {
		case !alive(past, e) && alive(now, e):
			out = append(out, action{Op: "delete", Element: e.String()})
			continue
		case !alive(past, e):
			continue // gone then and now
		case now.Kind(e) == "":
			skip = append(skip, skipped{ID: e.String(), Type: kind, Reason: "not on this board now"})
			continue
		}
		if now.IsDeleted(e) {
			out = append(out, action{Op: "restore", Element: e.String()})
		}
		up := action{Op: "update", Element: e.String(), Props: map[string]crdt.Value{}}
		for _, k := range now.Keys(e) {
			if _, ok := past.Get(e, k); !ok && k != "author" && k != "target" {
				up.Props[k] = crdt.Null() // unset then: back to the default
			}
		}
		for _, k := range past.Keys(e) {
			if k == "author" || k == "target" {
				continue
			}
			pv, _ := past.Get(e, k)
			nv, _ := now.Get(e, k)
			if !sameValue(pv, nv) {
				up.Props[k] = pv
			}
		}
		if len(up.Props) > 0 {
			out = append(out, up)
		}
		for _, f := range past.TextFields(e) {
			if t := past.Text(e, f); t != now.Text(e, f) {
				out = append(out, action{Op: "update", Element: e.String(), Field: f, Text: str(t)})
			}
		}
		pp, ppos := past.Parent(e)
		np, npos := now.Parent(e)
		if pp != np || ppos != npos {
			parent := ""
			if pp != crdt.Root {
				parent = pp.String()
			}
			out = append(out, action{Op: "move", Element: e.String(), Parent: &parent, Pos: ppos})
		}
	}
	return out, skip
}

func sameValue(a, b crdt.Value) bool {
	x, _ := a.MarshalJSON()
	y, _ := b.MarshalJSON()
	return bytes.Equal(x, y)
}

// sameElement says whether an element's properties and texts are the same
// in two documents.
func sameElement(a, b *crdt.Doc, e crdt.ElementID) bool {
	ja, _ := a.ElementJSON(e)
	jb, _ := b.ElementJSON(e)
	ja.Votes, jb.Votes = nil, nil
	x, _ := jsonMarshal(ja)
	y, _ := jsonMarshal(jb)
	return bytes.Equal(x, y)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
