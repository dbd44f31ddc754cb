package api

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
	"github.com/google/uuid"
)

// The write API: a script, a bot or an assistant changes a board's content
// in JSON, without speaking the WebSocket protocol (docs/API.md "Writing
// content"). Every call is a list of actions (one for the per-element
// routes, up to maxActions for POST /changes), made into one CRDT change
// and submitted to the board's room like a client's: the same admission
// (role, comment ownership, votes, deadline, move budget), the same
// persist → ack → fan out. So a REST change merges with live edits like
// anyone's.
//
// How a change is made: the node copies the board's document (a snapshot
// taken on the room's goroutine, loaded off it), opens a transaction on the
// copy under a replica id of the caller's on this node, and applies the
// actions there. An action that does not fit (an unknown element, a bad
// value) fails on the copy, so nothing reaches the board; the change the
// copy produced is submitted as one batch. The caller's replica id is
// claimed for the caller in the cluster's claims and kept by this node
// (apiReplicaNS): a node of its own per caller, so two nodes never number
// changes of one replica, and the node runs one write per caller and board
// at a time.
//
// Callers without credentials (a public board's visitors, a new guest-…
// id on every call) share one replica per node and board: the node's
// anonymous writer (anonWriter), claimed once like a caller's, whose
// writes run one at a time. A replica of their own per call used to leave,
// for every anonymous write, a cluster-wide claim kept for good, an
// apiReplicaNS record and an entry in the board's version vector (which
// every client, snapshot and sync carries): millions a day on one public
// board. The change still names its guest as its author. Rejected: a
// replica per client address (the state still grows with the addresses
// a visitor can use, an IPv6 subscriber's many /64s); an unclaimed
// replica id per board (nothing would stop a WebSocket client from
// sending under it); dropping a guest's replica after its call (its
// counters must never be reused, so its claim has to stay).
//
// Rejected: applying the actions to the live document in the room (a
// failing action half-way would leave the board changed and unsaved, and
// a transaction cannot roll back); a WebSocket client inside the node per
// call (a join sends the whole board to it).

// Bounds of the write API (docs/API.md).
const (
	maxActions      = 1000             // per call
	maxWriteBody    = 4 << 20          // bytes of a call's body
	writesPerSecond = 20               // per caller, all boards
	boardWritesPerS = 50               // per board, all callers (each call copies the board)
	idemPerDay      = 1000             // calls with an Idempotency-Key, per caller
	idemBoardPerDay = 10000            // and per board (their records are kept a day)
	writeWait       = 30 * time.Second // for the room's answer
	idemTTL         = 24 * time.Hour   // a completed Idempotency-Key answers again for this long
	maxIdemKey      = 200              // characters of an Idempotency-Key
)

// apiReplicaNS (node-local, not replicated): board id + user id → the
// replica id this node writes that user's REST changes under.
const apiReplicaNS = "apireplica"

// anonWriter is the user the node's one replica per board for callers
// without credentials is claimed for and kept under (writerOf). No
// identity is ever given this id: a guest's is access.GuestPrefix and 8
// or 12 random characters.
const anonWriter = access.GuestPrefix + "rest"

// writerOf is whose replica the node writes who's changes under: their
// own, or, for a caller without credentials, the board's anonymous
// writer's on this node.
func writerOf(who access.Identity) string {
	if who.Guest {
		return anonWriter
	}
	return who.User.ID
}

// action is one change to a board's content.
type action struct {
	// Op: create, update, delete, restore, comment, vote, unvote, move.
	Op string `json:"op"`
	// Element: the element acted on; for create, the new element's id
	// (optional: one is made).
	Element string `json:"element,omitempty"`
	// Kind of a new element (create).
	Kind string `json:"kind,omitempty"`
	// Props are property values (create, update); null resets one.
	Props map[string]crdt.Value `json:"props,omitempty"`
	// Text replaces the element's text field (create, update, comment).
	Text *string `json:"text,omitempty"`
	// Field names the text field (default: the kind's first).
	Field string `json:"field,omitempty"`
	// Parent and Pos place an element in the tree (create, move): a
	// mindmap subtopic under its node, an element in a frame, a reply
	// under its thread. Pos is a fractional-index key (default: after the
	// parent's last child).
	Parent *string `json:"parent,omitempty"`
	Pos    string  `json:"pos,omitempty"`
	// Value of a vote (vote; default true: one dot). Key is the vote's
	// register (default "vote"; "react" for reactions).
	Value *crdt.Value `json:"value,omitempty"`
	Key   string      `json:"key,omitempty"`
}

// writeResult is a write call's answer.
type writeResult struct {
	Elements []string           `json:"elements"` // ids of the elements made, in action order
	Change   *writeChange       `json:"change,omitempty"`
	Version  crdt.VersionVector `json:"version,omitempty"`
}

type writeChange struct {
	Replica crdt.ReplicaID `json:"replica"`
	Start   uint64         `json:"start"`
	End     uint64         `json:"end"`
}

// POST /v1/boards/{board}/changes {"actions":[...]}: the batch endpoint.
func (srv *Server) postChanges(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Actions []action `json:"actions"`
	}
	srv.write(w, r, func() ([]action, bool) {
		if !decodeWrite(w, r, &body) {
			return nil, false
		}
		return body.Actions, true
	}, 200)
}

// POST /v1/boards/{board}/elements: create one element.
func (srv *Server) postElement(w http.ResponseWriter, r *http.Request) {
	srv.write(w, r, func() ([]action, bool) {
		var a action
		if !decodeWrite(w, r, &a) {
			return nil, false
		}
		a.Op = "create"
		return []action{a}, true
	}, 201)
}

// PATCH /v1/boards/{board}/elements/{element}: update props and text.
func (srv *Server) patchElement(w http.ResponseWriter, r *http.Request) {
	srv.write(w, r, func() ([]action, bool) {
		var a action
		if !decodeWrite(w, r, &a) {
			return nil, false
		}
		a.Op, a.Element = "update", r.PathValue("element")
		return []action{a}, true
	}, 200)
}

// DELETE /v1/boards/{board}/elements/{element}.
func (srv *Server) deleteElement(w http.ResponseWriter, r *http.Request) {
	srv.write(w, r, func() ([]action, bool) {
		return []action{{Op: "delete", Element: r.PathValue("element")}}, true
	}, 200)
}

// POST /v1/boards/{board}/elements/{element}/comments {"text"}: a comment
// pinned to the element, or a reply when the element is a comment.
func (srv *Server) postComment(w http.ResponseWriter, r *http.Request) {
	srv.write(w, r, func() ([]action, bool) {
		var a action
		if !decodeWrite(w, r, &a) {
			return nil, false
		}
		a.Op, a.Element = "comment", r.PathValue("element")
		return []action{a}, true
	}, 201)
}

// PUT and DELETE /v1/boards/{board}/elements/{element}/vote.
func (srv *Server) voteElement(w http.ResponseWriter, r *http.Request) {
	srv.write(w, r, func() ([]action, bool) {
		a := action{Op: "unvote"}
		if r.Method == http.MethodPut {
			if r.ContentLength != 0 && !decodeWrite(w, r, &a) {
				return nil, false
			}
			a.Op = "vote"
		}
		a.Element = r.PathValue("element")
		return []action{a}, true
	}, 200)
}

// POST /v1/boards/{board}/elements/{element}/move {"parent","pos"}.
func (srv *Server) moveElement(w http.ResponseWriter, r *http.Request) {
	srv.write(w, r, func() ([]action, bool) {
		var a action
		if !decodeWrite(w, r, &a) {
			return nil, false
		}
		a.Op, a.Element = "move", r.PathValue("element")
		return []action{a}, true
	}, 200)
}

func decodeWrite(w http.ResponseWriter, r *http.Request, v any) bool {
	if !httpguard.JSONContent(w, r) {
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWriteBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, 400, protocol.CodeMalformed, "body: "+err.Error())
		return false
	}
	return true
}

// writeGate is what every write call passes first: who may (not a
// viewer), the deadline, the rates. It answers a refusal itself.
func (srv *Server) writeGate(w http.ResponseWriter, r *http.Request) (storage.BoardID, *meta.Board, access.Identity, bool) {
	id, m, who, ok := srv.enter(w, r)
	if !ok {
		return id, nil, who, false
	}
	if who.User.Role == room.RoleViewer {
		writeError(w, 403, protocol.CodeForbidden, "viewers may not change the board")
		return id, nil, who, false
	}
	if srv.closed(m) {
		writeError(w, 409, protocol.CodeReadOnly, "the board is closed for edits (its deadline passed)")
		return id, nil, who, false
	}
	if !srv.cfg.Limits.Allow("write:"+callerKey(r, who), writesPerSecond, time.Second) ||
		!srv.cfg.Limits.Allow("write-board:"+id.String(), boardWritesPerS, time.Second) {
		w.Header().Set("Retry-After", "1")
		writeError(w, 429, protocol.CodeRateLimited, fmt.Sprintf("at most %d write calls a second per caller, %d per board", writesPerSecond, boardWritesPerS))
		return id, nil, who, false
	}
	return id, m, who, true
}

// againAfterBody checks the caller of a call whose body it read itself,
// past what the node reads before any handler (node's prereadBody), once
// that body is in: the credential against the board's settings now, and
// for a write (write) the role and the deadline, as writeGate does. A
// body held back while the owner revoked the credential would otherwise
// act on the settings after the revoke. A visitor without credentials
// keeps the guest id of the call's first check.
func (srv *Server) againAfterBody(w http.ResponseWriter, r *http.Request, first access.Identity, write bool) (*meta.Board, access.Identity, bool) {
	_, m, who, ok := srv.enter(w, r)
	if !ok {
		return nil, who, false
	}
	if who.Guest && first.Guest {
		who.User.ID = first.User.ID
	}
	if !write {
		return m, who, true
	}
	if who.User.Role == room.RoleViewer {
		writeError(w, 403, protocol.CodeForbidden, "viewers may not change the board")
		return nil, who, false
	}
	if srv.closed(m) {
		writeError(w, 409, protocol.CodeReadOnly, "the board is closed for edits (its deadline passed)")
		return nil, who, false
	}
	return m, who, true
}

// write runs one write call: the gate, the Idempotency-Key, the caller's
// replica, the actions on a copy, the submission, the answer.
func (srv *Server) write(w http.ResponseWriter, r *http.Request, parse func() ([]action, bool), okStatus int) {
	srv.writeVia(w, r, parse, okStatus, false)
}

// writeVia is write; ballot: the call is a ballot (POST .../voting/vote,
// ballot.go), refused unless an anonymous session is open. A call whose
// actions are all dot votes is one as well while such a session is open.
func (srv *Server) writeVia(w http.ResponseWriter, r *http.Request, parse func() ([]action, bool), okStatus int, ballot bool) {
	id, m, who, ok := srv.writeGate(w, r)
	if !ok {
		return
	}
	if ballot && !secretBallot(m) {
		writeError(w, 409, protocol.CodeMalformed, "no anonymous voting session is open: vote as yourself (PUT /v1/boards/{board}/elements/{element}/vote)")
		return
	}
	actions, ok := parse()
	if !ok {
		return
	}
	if m, who, ok = srv.againAfterBody(w, r, who, true); !ok {
		return
	}
	if ballot && !secretBallot(m) {
		writeError(w, 409, protocol.CodeMalformed, "the anonymous voting session closed: vote as yourself (PUT /v1/boards/{board}/elements/{element}/vote)")
		return
	}
	if len(actions) == 0 || len(actions) > maxActions {
		writeError(w, 400, protocol.CodeMalformed, fmt.Sprintf("actions: 1 to %d", maxActions))
		return
	}
	ballot = ballot || (secretBallot(m) && onlyDots(actions))
	// Recorded here, not under the ballot writer's lock (applyActions),
	// which every voter of the board on this node shares: a voter's first
	// ballot writes to the cluster's metadata.
	if ballot && !who.Guest { // a caller without credentials is a new voter each call: nobody to name
		if err := srv.noteBallotVoter(r.Context(), id, m, who.User.ID); err != nil {
			writeError(w, 503, protocol.CodeUnavailable, "the ballot cannot be recorded now: "+err.Error())
			return
		}
	}
	idem := r.Header.Get("Idempotency-Key")
	if idem != "" {
		if len(idem) > maxIdemKey {
			writeError(w, 400, protocol.CodeMalformed, fmt.Sprintf("Idempotency-Key: at most %d characters", maxIdemKey))
			return
		}
		if !srv.cfg.Limits.Allow("idem:"+callerKey(r, who), idemPerDay, 24*time.Hour) ||
			!srv.cfg.Limits.Allow("idem-board:"+id.String(), idemBoardPerDay, 24*time.Hour) {
			writeError(w, 429, protocol.CodeRateLimited, fmt.Sprintf("at most %d calls with an Idempotency-Key a day per caller, %d per board", idemPerDay, idemBoardPerDay))
			return
		}
		replay, done := srv.claimIdem(w, r, id, who.User.ID, idem)
		if done {
			return
		}
		if replay != nil {
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(replay.Status)
			w.Write(replay.Body)
			return
		}
	}
	status, res, code, err := srv.applyActions(withClient(r), id, m, who, actions, ballot)
	if err != nil {
		if idem != "" {
			srv.finishIdem(id, who.User.ID, idem, nil)
		}
		writeApplyError(w, status, code, err)
		return
	}
	body, _ := json.Marshal(res)
	if idem != "" {
		kept := body
		if ballot {
			// The record is kept under the caller's id for a day: a
			// ballot's would tie them to its change (the ballot replica
			// and counter) and the version it made. Its replay answers
			// the elements only.
			kept, _ = json.Marshal(writeResult{Elements: res.Elements})
		}
		srv.finishIdem(id, who.User.ID, idem, &idemRecord{State: "done", Status: okStatus, Body: kept})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(okStatus)
	w.Write(body)
}

// idemRecord is an Idempotency-Key's record (meta.NSIdem, cluster-wide):
// pending while the first call runs, then its answer.
type idemRecord struct {
	State   string          `json:"state"` // pending, done, failed
	Status  int             `json:"status,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
	Created int64           `json:"created"`
}

func idemKey(board storage.BoardID, user, key string) []byte {
	return append(append(append(board[:0:0], board[:]...), user+"\x00"...), key...)
}

// claimIdem takes an Idempotency-Key for this call, or returns the answer
// of the call that took it (done: an answer was written).
func (srv *Server) claimIdem(w http.ResponseWriter, r *http.Request, board storage.BoardID, user, key string) (replay *idemRecord, done bool) {
	var rec idemRecord
	now := srv.cfg.Now().UnixMilli()
	errTaken := errors.New("taken")
	err := srv.cfg.Records.Update(r.Context(), meta.NSIdem, idemKey(board, user, key), &rec, func(found bool) error {
		if found && rec.State != "failed" && now-rec.Created < idemTTL.Milliseconds() {
			return errTaken
		}
		rec = idemRecord{State: "pending", Created: now}
		return nil
	})
	switch {
	case err == nil:
		return nil, false
	case errors.Is(err, errTaken) && rec.State == "done":
		return &rec, false
	case errors.Is(err, errTaken):
		writeError(w, 409, protocol.CodeRateLimited, "a call with this Idempotency-Key is still running; retry later")
		return nil, true
	}
	writeUpdateError(w, err)
	return nil, true
}

func (srv *Server) finishIdem(board storage.BoardID, user, key string, rec *idemRecord) {
	if rec == nil {
		rec = &idemRecord{State: "failed"}
	}
	rec.Created = srv.cfg.Now().UnixMilli()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.cfg.Records.Put(ctx, meta.NSIdem, idemKey(board, user, key), rec); err != nil {
		srv.cfg.Log.Warn("write api: Idempotency-Key record not kept", "err", err)
	}
}

// writerLock serialises one caller's writes to one board on this node:
// they share a replica id, whose changes must be numbered in order.
func (srv *Server) writerLock(board storage.BoardID, user string) func() {
	k := board.String() + "/" + user
	srv.writeMu.Lock()
	l := srv.writers[k]
	if l == nil {
		l = &refLock{}
		srv.writers[k] = l
	}
	l.refs++
	srv.writeMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		srv.writeMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(srv.writers, k)
		}
		srv.writeMu.Unlock()
	}
}

type refLock struct {
	mu   sync.Mutex
	refs int
}

// apiReplica is the replica id this node writes user's changes to board
// under, claimed for user in the cluster the first time.
func (srv *Server) apiReplica(ctx context.Context, board storage.BoardID, user string) (crdt.ReplicaID, error) {
	key := append(board[:0:0], board[:]...)
	key = append(key, user...)
	if v, err := srv.cfg.Store.GetMeta(ctx, apiReplicaNS, key); err == nil && len(v) == 8 {
		return crdt.ReplicaID(binary.BigEndian.Uint64(v)), nil
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return 0, err
	}
	rep, err := srv.newReplica(ctx, board, user)
	if err != nil {
		return 0, err
	}
	if err := srv.cfg.Store.PutMeta(ctx, apiReplicaNS, key, binary.BigEndian.AppendUint64(nil, uint64(rep))); err != nil {
		return 0, err
	}
	return rep, nil
}

// errClaimsSpent refuses a new replica id to a caller whose client address
// claimed as many of the board's as it may lately (Config.AllowClaim).
var errClaimsSpent = errors.New("this address made too many new writers of this board lately; retry later")

// clientKey is the context key of a call's client address
// (httpguard.ClientIP), for the replica claims it makes.
type clientKey struct{}

// withClient is r's context carrying its client address.
func withClient(r *http.Request) context.Context {
	return context.WithValue(r.Context(), clientKey{}, httpguard.ClientIP(r))
}

// newReplica draws a replica id and claims it for user on the board in
// the cluster, drawing again when another user has it. A call's client
// address (withClient) is counted for each new id: a guest token is a
// writer of its own, and guests' tokens cost a WebSocket open each, so
// without it one address made a new id of the board per call, and the
// board's version vector grew until no client's hello fit.
func (srv *Server) newReplica(ctx context.Context, board storage.BoardID, user string) (crdt.ReplicaID, error) {
	for range 8 {
		var b [8]byte
		rand.Read(b[:])
		rep := crdt.ReplicaID(binary.BigEndian.Uint64(b[:]) & (1<<53 - 1))
		if rep == 0 {
			continue
		}
		if ip, ok := ctx.Value(clientKey{}).(string); ok && srv.cfg.AllowClaim != nil && !srv.cfg.AllowClaim(ctx, board, rep, ip) {
			return 0, errClaimsSpent
		}
		err := srv.cfg.ClaimReplica(ctx, board, rep, user)
		if errors.Is(err, meta.ErrClaimed) {
			continue // another user's: draw again
		}
		return rep, err
	}
	return 0, errors.New("no free replica id")
}

// applyActions makes the actions into one change and submits it; ballot:
// under the board's ballot replica on this node, with no author recorded
// (ballot.go).
func (srv *Server) applyActions(ctx context.Context, id storage.BoardID, m *meta.Board, who access.Identity, actions []action, ballot bool) (int, writeResult, protocol.Code, error) {
	writer := writerOf(who)
	if ballot {
		writer = ballotWriter
	}
	unlock := srv.writerLock(id, writer)
	defer unlock()
	rep, err := srv.apiReplica(ctx, id, writer)
	if errors.Is(err, errClaimsSpent) {
		return 429, writeResult{}, protocol.CodeRateLimited, err
	}
	if err != nil {
		return 503, writeResult{}, protocol.CodeUnavailable, fmt.Errorf("no replica id for this caller now: %v", err)
	}
	rm, err := srv.cfg.Rooms.Open(ctx, id)
	if err != nil {
		return 503, writeResult{}, protocol.CodeInternal, err
	}
	var snap []byte
	if err := srv.boardQuery(ctx, id, rm, func(d *crdt.Doc) int { snap = d.SnapshotRaw(); return len(snap) }); err != nil {
		status, code, msg := queryErrorStatus(err)
		return status, writeResult{}, code, errors.New(msg)
	}
	doc, err := crdt.LoadSnapshot(snap)
	if err != nil {
		return 500, writeResult{}, protocol.CodeInternal, err
	}
	voter := who.User.ID
	if m.Voting != nil && m.Voting.Anonymous && m.Voting.State == "open" {
		voter = srv.cfg.Access.Pseudonym(m.ID, m.Voting.Session, who.User.ID)
	}
	tx := doc.Begin(rep, srv.cfg.Now().UnixMilli())
	res := writeResult{Elements: []string{}}
	for i, a := range actions {
		made, err := apply(doc, &tx, a, who.User.ID, voter)
		if err != nil {
			tx.Commit()
			return 400, writeResult{}, protocol.CodeInvalidOp, fmt.Errorf("action %d (%s): %v", i+1, a.Op, err)
		}
		if made != "" {
			res.Elements = append(res.Elements, made)
		}
	}
	ch, changed := tx.Commit()
	if !changed {
		return 200, res, "", nil
	}
	if err := doc.CheckSchema(&ch); err != nil {
		return 400, writeResult{}, protocol.CodeSchema, err
	}
	ip, _ := ctx.Value(clientKey{}).(string)
	user := ""
	if who.Via == access.ViaSession {
		user = who.User.ID
	}
	if srv.cfg.SpaceLow != nil && srv.cfg.SpaceLow() {
		// Refused before it is counted (the room refuses it the same):
		// a write sent again until the disk has space spends nothing.
		return 503, writeResult{}, protocol.CodeUnavailable, room.ErrSpaceLow
	}
	size := len(ch.AppendBinary(nil))
	if ok, retry := srv.AllowChangeBytes(ip, user, size); !ok {
		return 429, writeResult{}, protocol.CodeRateLimited, &changeBytesError{srv.ErrChangeBytes(), retry}
	}
	stored := false
	defer func() {
		if !stored {
			srv.RefundChangeBytes(ip, user, size) // refused: not stored, it costs nothing
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	// The caller's role is decided again now, in the board's turn, and the
	// change submitted in it: the call may have waited since it was
	// judged (for this caller's earlier writes, for the board's read), and
	// an access change answered meanwhile must hold for it
	// (access.Checker.AsOfNow).
	var sess *room.Session
	err = srv.cfg.Access.AsOfNow(wctx, id, who, func(_ *meta.Board, role string) error {
		if role == "" {
			return errAccessGone
		}
		user := who.User
		user.Role = role
		sess = room.NewSession("api-"+uuid.NewString()[:8], rep, user, protocol.FormatJSON, 4)
		sess.Unattributed = ballot
		return rm.Submit(wctx, sess, 1, []crdt.Change{ch})
	})
	switch {
	case errors.Is(err, errAccessGone):
		return 403, writeResult{}, protocol.CodeForbidden, err
	case errors.Is(err, access.ErrStale):
		return 503, writeResult{}, protocol.CodeUnavailable, err
	case errors.Is(err, storage.ErrNotFound):
		return 404, writeResult{}, protocol.CodeUnknownBoard, errors.New("no such board")
	case errors.Is(err, room.ErrBusy):
		return 429, writeResult{}, protocol.CodeRateLimited, errors.New("the board has too much waiting to be applied; retry later")
	case err != nil:
		return 503, writeResult{}, protocol.CodeInternal, errors.New("board unavailable, retry")
	}
	status, code, err := awaitAnswer(wctx, sess)
	if err != nil {
		// Refused by the room, it was not stored; past the deadline, with
		// the session kicked, or "unavailable" (other nodes slow to
		// confirm it: --ack-replicas), it may have been. (The disk's
		// reserve is answered above, before anything is counted.)
		stored = errors.Is(err, errNoAnswer) || errors.Is(err, errKickedWaiting) || code == protocol.CodeUnavailable
		return status, writeResult{}, code, err
	}
	stored = true
	res.Change = &writeChange{Replica: ch.Replica, Start: ch.Start, End: ch.End()}
	rm.Query(ctx, func(d *crdt.Doc) { res.Version = d.Version() })
	return 200, res, "", nil
}

// writeApplyError answers applyActions' refusal; one for the disk's
// reserve says when to try again, as the node's other 503s for it do
// (spaceLow).
func writeApplyError(w http.ResponseWriter, status int, code protocol.Code, err error) {
	if errors.Is(err, room.ErrSpaceLow) {
		w.Header().Set("Retry-After", "60")
	}
	if e := (*changeBytesError)(nil); errors.As(err, &e) {
		w.Header().Set("Retry-After", strconv.Itoa(protocol.RetryAfterSeconds(e.retry)))
	}
	writeError(w, status, code, err.Error())
}

// errAccessGone refuses a write whose caller lost their access to the
// board since the call came in.
var errAccessGone = errors.New("your access to this board was removed")

// awaitAnswer's errors when the room said nothing of the change: it may
// have been stored.
var (
	errNoAnswer      = errors.New("no answer from the board in time; the change may still be stored")
	errKickedWaiting = errors.New("board unavailable, retry")
)

// awaitAnswer reads the room's ack or error for a submitted change.
func awaitAnswer(ctx context.Context, s *room.Session) (int, protocol.Code, error) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var buf []room.Outgoing
	for {
		select {
		case <-ctx.Done():
			return 503, protocol.CodeUnavailable, errNoAnswer
		case <-s.Ready():
		case <-s.Kicked():
			return 503, protocol.CodeUnavailable, errKickedWaiting
		}
		msgs := s.Drain(buf[:0])
		for _, m := range msgs {
			var f struct {
				Type    string        `json:"type"`
				Code    protocol.Code `json:"code"`
				Message string        `json:"message"`
			}
			if json.Unmarshal(m.Data, &f) != nil {
				continue
			}
			switch f.Type {
			case protocol.TypeAck:
				return 200, "", nil
			case protocol.TypeError:
				status := 400
				switch f.Code {
				case protocol.CodeForbidden:
					status = 403
				case protocol.CodeReadOnly:
					status = 409
				case protocol.CodeRateLimited:
					status = 429
				case protocol.CodeTooLarge:
					status = 413
				case protocol.CodeUnavailable, protocol.CodeInternal, protocol.CodeClockAhead:
					status = 503
				}
				return status, f.Code, errors.New(f.Message)
			}
		}
	}
}
