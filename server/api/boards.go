package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
	"github.com/google/uuid"
)

const (
	accessPublic   = meta.AccessPublic
	accessPassword = meta.AccessPassword
	accessMembers  = meta.AccessMembers
	accessPrivate  = meta.AccessPrivate
	// Tokens from board creation and links last a year; sign-in sessions
	// will be shorter.
	linkTTL = 365 * 24 * time.Hour
)

// boardFromPath parses and loads the {board} path value, writing the error
// response itself when it fails.
func (srv *Server) boardFromPath(w http.ResponseWriter, r *http.Request) (storage.BoardID, *meta.Board, bool) {
	id, err := storage.ParseBoardID(r.PathValue("board"))
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, "board id must be a UUID")
		return id, nil, false
	}
	m, err := srv.cfg.Boards.Load(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, 404, protocol.CodeUnknownBoard, "no such board")
		return id, nil, false
	}
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return id, nil, false
	}
	return id, m, true
}

// enter resolves the {board} path value and the caller's identity on it,
// writing the error response itself (400, 404, 401) when either fails.
func (srv *Server) enter(w http.ResponseWriter, r *http.Request) (storage.BoardID, *meta.Board, access.Identity, bool) {
	id, m, ok := srv.boardFromPath(w, r)
	if !ok {
		return id, nil, access.Identity{}, false
	}
	who, code, err := srv.cfg.Access.Authenticate(r, id, m)
	if err != nil {
		status := 401
		switch code {
		case protocol.CodeForbidden:
			status = 403
		case protocol.CodeInternal:
			status = 500
		case protocol.CodeUnavailable:
			status = 503
		}
		writeError(w, status, code, err.Error())
		return id, nil, access.Identity{}, false
	}
	return id, m, who, true
}

// callerKey is the key a caller's own rate windows are counted under
// (write calls, Idempotency-Keys, past states): its user id, or, for a
// visitor without credentials, its client address (httpguard.ClientIP).
// Such a visitor is a new guest-… id on every call (access.Authenticate):
// keyed by that id, each call had a fresh window, so the per-caller
// limits never applied, and every call left a window in the node's
// limiter. Rejected: a cookie or token given to anonymous callers (a
// script drops it); the per-board limits alone (one caller would spend
// a public board's whole allowance for everyone).
func callerKey(r *http.Request, who access.Identity) string {
	if who.Guest {
		return "addr:" + httpguard.ClientIP(r)
	}
	return who.User.ID
}

type createRequest struct {
	Name       string `json:"name"`
	Access     string `json:"access,omitempty"`     // public (default), password, or members ("private")
	PublicRole string `json:"publicRole,omitempty"` // role of link (and password) visitors (default editor)
	Password   string `json:"password,omitempty"`   // for access "password"
	Deadline   int64  `json:"deadline,omitempty"`   // unix ms
	OwnerName  string `json:"ownerName,omitempty"`
	// Template starts the board with a template's elements (templates.go).
	Template string `json:"template,omitempty"`
}

type createResponse struct {
	Board meta.Board        `json:"board"`
	Token string            `json:"token"` // the owner's token
	Links map[string]string `json:"links"` // role → URL with a token in its fragment
}

func (srv *Server) createBoard(w http.ResponseWriter, r *http.Request) {
	if !srv.mayCreateBoard(w, r) { // JSON, sign-in if required, rate (quotas.go)
		return
	}
	var req createRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, 400, protocol.CodeMalformed, "body: "+err.Error())
		return
	}
	var fill func(ctx context.Context, id storage.BoardID, owner string) bool
	if req.Template != "" {
		t, ok := templates[req.Template]
		if !ok {
			writeError(w, 400, protocol.CodeMalformed, fmt.Sprintf("template: one of %v", templateNames()))
			return
		}
		fill = func(ctx context.Context, id storage.BoardID, owner string) bool {
			rec, err := srv.templateChange(ctx, id, owner, t)
			if err == nil {
				err = srv.cfg.Store.AppendOps(ctx, id, []storage.Record{rec})
			}
			if err != nil {
				writeError(w, 503, protocol.CodeUnavailable, "template: "+err.Error())
				return false
			}
			return true
		}
	}
	srv.create(w, r, req, fill)
}

// create makes a board from a creation request: its settings, owner token,
// role links and owner membership. fill, if set, writes the board's
// content into the store before its settings exist (an import), so nobody
// opens it half-filled; it answers an error itself (then the board is not
// made).
func (srv *Server) create(w http.ResponseWriter, r *http.Request, req createRequest, fill func(ctx context.Context, id storage.BoardID, owner string) bool) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 200 || !utf8.ValidString(req.Name) {
		writeError(w, 400, protocol.CodeMalformed, "name: 1 to 200 characters")
		return
	}
	if req.Access == "" {
		req.Access = accessPublic
	}
	if req.Access == accessPrivate {
		req.Access = accessMembers
	}
	if !validAccess(req.Access) {
		writeError(w, 400, protocol.CodeMalformed, `access: "public", "password" or "members"`)
		return
	}
	if (req.Access == accessPassword) != (req.Password != "") {
		writeError(w, 400, protocol.CodeMalformed, `a password goes with access "password", and access "password" needs one`)
		return
	}
	if req.Deadline < 0 {
		writeError(w, 400, protocol.CodeMalformed, "deadline: unix milliseconds")
		return
	}
	// The owner's name goes into the owner's token and from there into
	// every presence frame, timer and summary: a profile name's bounds.
	if req.OwnerName = strings.TrimSpace(req.OwnerName); req.OwnerName != "" && account.CheckName(req.OwnerName) != nil {
		writeError(w, 400, protocol.CodeMalformed, "ownerName: 1 to 80 characters on one line")
		return
	}
	user, err := srv.cfg.Access.SignedIn(r)
	if err != nil {
		writeError(w, 401, protocol.CodeUnauthorized, err.Error())
		return
	}
	if req.PublicRole == "" {
		req.PublicRole = room.RoleEditor
	}
	if !validRole(req.PublicRole) || req.PublicRole == room.RoleOwner {
		writeError(w, 400, protocol.CodeMalformed, "publicRole: editor, commenter or viewer")
		return
	}
	uid, err := uuid.NewV7()
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	var id storage.BoardID
	copy(id[:], uid[:])
	owner := access.OwnerPrefix + auth.RandomID(9)
	name := req.OwnerName
	if user != nil {
		owner = user.ID
		if name == "" {
			name = user.Name
		}
	}
	if name == "" {
		name = "Owner"
	}
	now := srv.cfg.Now().UnixMilli()
	m := meta.Board{ID: id.String(), Name: req.Name, Created: now, Updated: now, Owner: owner,
		Access: req.Access, PublicRole: req.PublicRole, Deadline: req.Deadline}
	if req.Access == accessMembers {
		m.PublicRole = ""
	}
	if req.Password != "" {
		if err := srv.setPassword(r.Context(), id, req.Password); err != nil {
			passwordError(w, r, err)
			return
		}
	}
	if t, ok := templates[req.Template]; ok && t.Voting > 0 {
		m.Voting = &meta.Voting{Session: auth.RandomID(6), State: "open", Dots: t.Voting, Opened: now}
	}
	resp := createResponse{Links: map[string]string{}}
	resp.Token = srv.ownerToken(&m, name)
	for _, role := range []string{room.RoleEditor, room.RoleCommenter, room.RoleViewer} {
		resp.Links[role] = srv.linkURL(&m, srv.newLink(&m, role))
	}
	resp.Links[room.RoleOwner] = srv.cfg.PublicURL() + "/b/" + m.ID + "#token=" + resp.Token
	resp.Board = m
	if fill != nil && !fill(r.Context(), id, owner) {
		return
	}
	if err := srv.cfg.Boards.Create(r.Context(), &m); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	if user != nil {
		if _, err := srv.addMember(r.Context(), id, user.ID, room.RoleOwner, "", 0, nil); err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
	} else {
		// The name given, kept as a guest's is: e-mails, the summary and
		// "since your last visit" name the owner by it, not by their id.
		srv.keepGuest(r.Context(), m.ID, protocol.User{ID: owner, Name: name})
	}
	w.Header().Set("Location", "/v1/boards/"+m.ID)
	writeJSON(w, 201, resp)
}

func validRole(r string) bool {
	switch r {
	case room.RoleOwner, room.RoleEditor, room.RoleCommenter, room.RoleViewer:
		return true
	}
	return false
}

func (srv *Server) getBoard(w http.ResponseWriter, r *http.Request) {
	_, m, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	writeJSON(w, 200, srv.boardView(r.Context(), m, who))
}

func (srv *Server) deleteBoard(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := srv.enterOwner(w, r, "only the owner may delete a board")
	if !ok {
		return
	}
	// A tombstone, replicated, so every node forgets the board.
	if err := srv.cfg.Boards.Update(r.Context(), m.ID, func(cur *meta.Board) error { cur.Deleted = true; return nil }); err != nil {
		writeUpdateError(w, err)
		return
	}
	if err := srv.cfg.Rooms.DeleteBoard(r.Context(), id); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	w.WriteHeader(204)
}

// boardState returns the board's current state as JSON.
func (srv *Server) boardState(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enter(w, r)
	if !ok {
		return
	}
	rm, err := srv.cfg.Rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	var body []byte
	if err := srv.boardQuery(r.Context(), id, rm, func(d *crdt.Doc) int { body, err = d.MarshalJSON(); return len(body) }); err != nil || body == nil {
		writeQueryError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// Bounds of one /ops answer (docs/API.md): past either, 413 too_large.
const (
	maxOpsChanges = 100000
	maxOpsBytes   = 32 << 20 // of stored changes read into memory
)

// boardOps lists the changes a client at version `since` lacks:
// GET /v1/boards/{id}/ops?since={"<replica>":counter,...}. It answers the
// changes up to the board's version, which it also returns: applying them
// to a copy at `since` brings it to `version`. Changes the node holds for
// a missing dependency are left out, as they are not part of the version
// (a later call returns them once they apply).
//
// Rejected: including held changes, as this endpoint once did for the
// replicas in the version (not for the others). Anyone who can read the
// board could then make the node read and send up to every held change a
// sender managed to store, and a client would get changes it cannot apply.
func (srv *Server) boardOps(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enter(w, r)
	if !ok {
		return
	}
	since := crdt.VersionVector{}
	if s := r.URL.Query().Get("since"); s != "" {
		if err := json.Unmarshal([]byte(s), &since); err != nil {
			writeError(w, 400, protocol.CodeMalformed, `since: a JSON object {"<replica>": counter}`)
			return
		}
	}
	rm, err := srv.cfg.Rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	var version crdt.VersionVector
	if err := rm.Query(r.Context(), func(d *crdt.Doc) { version = d.Version() }); err != nil {
		writeError(w, 503, protocol.CodeInternal, "board unavailable, retry")
		return
	}
	srv.answerOps(w, r, id, since, version)
}

// opsLightBytes: an /ops (or /changes) answer read from at most this many
// stored bytes is answered at once; a larger one waits for a slot of the
// node's whole-history reads (srv.replays, shared with history replays and
// the activity scan: maxReplays at once, else 503 after 10 s). A variable
// for tests.
var opsLightBytes = 1 << 20

// answerOps reads the changes between since and version and writes them
// as the /ops answer, streamed.
//
// Memory: one call used to hold up to maxOpsBytes of stored changes, all
// of them decoded, and its whole JSON answer at once (several hundred MiB
// with small changes), and any number of calls could do so together. Now
// a call holds the stored bytes (at most opsLightBytes, or maxOpsBytes for
// one of the maxReplays calls holding a slot) and one decoded change at a
// time: each is encoded to the answer and its stored bytes let go.
// Rejected: a slot for every call (the common small catch-up would queue
// behind history replays); a lane of its own (one more bound to tune for
// the same resource, memory and a core per whole-history read). The
// price: a stored change that fails to decode once the answer has begun
// (a corrupt store) aborts the connection instead of answering 500, so
// the client gets a cut answer, never a wrong one.
func (srv *Server) answerOps(w http.ResponseWriter, r *http.Request, id storage.BoardID, since, version crdt.VersionVector) {
	got, release, ok, err := srv.readSince(w, r, id, since, version, room.Limit{Changes: maxOpsChanges, Bytes: maxOpsBytes})
	if !ok {
		return
	}
	defer release()
	switch {
	case err == nil && got.More:
		err = fmt.Errorf("more than %d changes or %d MiB: load the state instead", maxOpsChanges, maxOpsBytes>>20)
	case err == nil && got.Trimmed:
		err = fmt.Errorf("the history since that version is no longer kept: load the state instead")
	}
	if err != nil {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	}
	head, _ := json.Marshal(version)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(200)
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw) // escapes as writeJSON does
	bw.WriteString(`{"version":`)
	bw.Write(head)
	bw.WriteString(`,"changes":[`)
	for i := range got.Entries {
		e := &got.Entries[i]
		c, err := crdt.DecodeChange(e.Data)
		if err != nil {
			srv.cfg.Log.Error("ops: a stored change does not decode; answer cut", "board", id.String(), "seq", e.Seq, "err", err)
			panic(http.ErrAbortHandler)
		}
		e.Data = nil // answered: its bytes may go
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(opRecord{Change: c, Author: e.Author, Accepted: e.Accepted}); err != nil {
			return // the client went away
		}
	}
	bw.WriteString("]}\n")
	bw.Flush()
}

// readSince reads the changes between since and version, at most lim of
// them. A read of more than opsLightBytes of stored changes holds a slot
// of the node's whole-history reads (srv.replays) until release; when
// none frees it answers 503 itself (ok false). GET …/ops and GET
// …/changes read through it.
func (srv *Server) readSince(w http.ResponseWriter, r *http.Request, id storage.BoardID, since, version crdt.VersionVector, lim room.Limit) (got room.Since, release func(), ok bool, err error) {
	got, err = room.ChangesSince(r.Context(), srv.cfg.Store, id, since, version, room.Limit{Changes: lim.Changes, Bytes: min(opsLightBytes, lim.Bytes)})
	if err != nil || !got.More || len(got.Entries) >= lim.Changes || opsLightBytes >= lim.Bytes {
		return got, func() {}, true, err
	}
	got = room.Since{} // let the small read go before the large one
	release, ok = holdSlot(srv.replays, w, r, "the node is busy reading boards' histories; retry in a moment")
	if !ok {
		return got, nil, false, nil
	}
	got, err = room.ChangesSince(r.Context(), srv.cfg.Store, id, since, version, lim)
	return got, release, true, err
}

type opRecord struct {
	crdt.Change
	Author   string `json:"author,omitempty"`
	Accepted int64  `json:"accepted"`
}

// MarshalJSON flattens the change and adds who and when.
func (o opRecord) MarshalJSON() ([]byte, error) {
	b, err := o.Change.MarshalJSON()
	if err != nil {
		return nil, err
	}
	extra, _ := json.Marshal(struct {
		Author   string `json:"author,omitempty"`
		Accepted int64  `json:"accepted"`
	}{o.Author, o.Accepted})
	return append(append(b[:len(b)-1], ','), extra[1:]...), nil
}
