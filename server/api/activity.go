package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/activity"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/notify"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// GET /v1/boards/{board}/changes?since=<version JSON>: what changed since
// a version (default: the caller's last visit), by whom.
func (srv *Server) boardChanges(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	since := crdt.VersionVector{}
	var seenAt int64
	if s := r.URL.Query().Get("since"); s != "" {
		if err := json.Unmarshal([]byte(s), &since); err != nil {
			writeError(w, 400, protocol.CodeMalformed, `since: a JSON object {"<replica>": counter}`)
			return
		}
	} else if KeepsVisits(who, m) {
		var seen account.Seen
		if srv.cfg.Records.Get(r.Context(), account.NSSeen, account.BoardKey(id, who.User.ID), &seen) == nil {
			since, seenAt = seen.Version, seen.At
		}
	}
	rm, err := srv.cfg.Rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	changes, version, err := notify.ChangesSince(r.Context(), srv.cfg.Store, id, rm, since)
	if err != nil {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	}
	names := srv.cfg.Notes.Names(r.Context(), id, m, changes)
	// A person's own changes are left out before folding (activity's
	// package comment): a note they added and someone else edited is
	// "edited" for them, not "added by both". Only for a person: a link's
	// user id is shared by everyone holding the link.
	others := changes
	if KeepsVisits(who, m) {
		others = make([]activity.Change, 0, len(changes))
		for _, c := range changes {
			if c.Author != who.User.ID {
				others = append(others, c)
			}
		}
	}
	var events []activity.Event
	if err := rm.Query(r.Context(), func(d *crdt.Doc) { events = activity.SinceNames(d, others, names) }); err != nil {
		writeError(w, 503, protocol.CodeInternal, "board unavailable, retry")
		return
	}
	if events == nil {
		events = []activity.Event{}
	}
	writeJSON(w, 200, map[string]any{"since": since, "seenAt": seenAt, "version": version, "events": events, "names": names})
}

// PUT /v1/boards/{board}/seen {"version"}: records the caller's visit
// (the web client sends it as it leaves; the node records it too when a
// signed-in member's connection ends).
func (srv *Server) putSeen(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	if !KeepsVisits(who, m) {
		writeError(w, 403, protocol.CodeForbidden, "visits are recorded for signed-in people")
		return
	}
	var req struct {
		Version crdt.VersionVector `json:"version"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if err := srv.recordSeen(r.Context(), id, who.User.ID, req.Version); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	w.WriteHeader(204)
}

// KeepsVisits says whether the node keeps the visits of who: a signed-in
// person, or the board's owner through the owner token (the token a board
// is created with names its owner, the creator's own user id when they
// were signed in). Without the latter the creator's page, which keeps
// using the creation token, never had a visit recorded and saw the whole
// history as "since your last visit" forever. Rejected: switching the
// creator's page to the session cookie (an owner who was not signed in
// has none; the token is their only credential). Links and password
// guests are not people the node can tell apart: no visits for them.
func KeepsVisits(who access.Identity, m *meta.Board) bool {
	switch who.Via {
	case access.ViaSession:
		return true
	case access.ViaToken:
		return m != nil && who.User.ID == m.Owner
	}
	return false
}

// recordSeen stores a member's last-seen version.
func (srv *Server) recordSeen(ctx context.Context, id storage.BoardID, user string, v crdt.VersionVector) error {
	var s account.Seen
	return srv.cfg.Records.Update(ctx, account.NSSeen, account.BoardKey(id, user), &s, func(bool) error {
		s = account.Seen{Board: id.String(), User: user, Version: v, At: srv.cfg.Now().UnixMilli(), Updated: srv.cfg.Records.Stamp(s.Updated)}
		return nil
	})
}

// GET /v1/boards/{board}/summary?format=json|md|txt|html: the ideas ranked
// by votes with their comments, each mindmap as an outline, who took part;
// the html page also has a picture of the board with the ideas' numbers.
func (srv *Server) boardSummary(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := srv.enter(w, r)
	if !ok {
		return
	}
	rm, err := srv.cfg.Rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	// The whole history, for who took part and who created what: only
	// creations are kept of each change, so a board with a long history
	// costs a scan, not its history in memory. The scan is a whole-board
	// read too (roomtime.go): refused while the board's budget is spent,
	// charged for the bytes it decoded, and one of the node's replays at
	// once (history.go), as it decodes the whole log.
	if err := srv.boardReadsLeft(r.Context(), id); err != nil {
		writeQueryError(w, err)
		return
	}
	release, ok := holdSlot(srv.replays, w, r, "the node is busy reading boards' histories; retry in a moment")
	if !ok {
		return
	}
	scanned := 0
	var changes []activity.Change
	err = srv.cfg.Store.ScanOps(r.Context(), id, 1, func(rec storage.Record) error {
		scanned += len(rec.Data)
		c, err := activity.FromRecord(rec)
		if err != nil {
			return err
		}
		creates := c.Ops[:0:0]
		for _, op := range c.Ops {
			if op.Type == crdt.OpCreate {
				creates = append(creates, op)
			}
		}
		c.Ops = creates
		changes = append(changes, c)
		return nil
	})
	release()
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	names := srv.cfg.Notes.Names(r.Context(), id, m, changes)
	var s activity.Summary
	format := r.URL.Query().Get("format")
	err = srv.boardQuery(r.Context(), id, rm, func(d *crdt.Doc) int {
		s = activity.Summarize(d, changes, names)
		if format == "html" {
			s.Picture = activity.Picture(d, s.Ideas) // the board, numbered as the list
		}
		return scanned + len(s.Picture)
	})
	if err != nil {
		writeQueryError(w, err)
		return
	}
	s.Board = m.Name
	s.Generated = srv.cfg.Now().UnixMilli()
	s.Deadline = m.Deadline
	var owner account.User
	if srv.cfg.Records.Get(r.Context(), account.NSUser, []byte(m.Owner), &owner) == nil {
		s.TZ = owner.TZ // times in the owner's time zone
	}
	if v := m.Voting; v != nil {
		s.Voting = &activity.VotingInfo{State: v.State, Dots: v.Dots, Anonymous: v.Anonymous, Opened: v.Opened, Closed: v.Closed}
	}
	// One naming scheme for every download: "<board> summary.<ext>".
	download := func(ext string) {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fileName(m.Name)+" summary."+ext))
	}
	switch format {
	case "", "json":
		download("json")
		writeJSON(w, 200, s)
	case "md", "markdown":
		download("md")
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Write([]byte(s.Markdown()))
	case "txt", "text":
		download("txt")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(s.Text()))
	case "html":
		// Shown, not downloaded: printed to PDF from the browser.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Write(s.HTML())
	default:
		writeError(w, 400, protocol.CodeMalformed, "format: json, md, txt or html")
	}
}
