// Package api is the node's REST API (docs/API.md): its handlers, one
// file per resource — boards and their settings, links, members,
// sign-in, invites, voting, activity, webhooks, blobs — and the web
// client's pages (static). Who is asking is package access's decision,
// the images are package blob's, notifications package notify's; the
// account records and board settings are reached through Records and
// Boards, which the node implements on its cluster metadata.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corkboard/corkboard/docs"
	"go.yaml.in/yaml/v3"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/blob"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/limit"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/notify"
	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Records are the account records the handlers read and write (users,
// sessions, members, invites, passwords, preferences, webhooks): cluster
// metadata, kept by the node.
type Records interface {
	// Get reads a record into v; storage.ErrNotFound if there is none.
	Get(ctx context.Context, ns string, key []byte, v any) error
	// Put writes a record and copies it to the other nodes.
	Put(ctx context.Context, ns string, key []byte, v any) error
	// Delete removes a record on every node (absent: no error).
	Delete(ctx context.Context, ns string, key []byte) error
	// Update reads a record into v (found: it exists), lets change edit
	// it, and writes it if nobody wrote it meanwhile on any node (else
	// change runs again on the newer record: it must have no other
	// effect); an error from change leaves the record as it was.
	Update(ctx context.Context, ns string, key []byte, v any, change func(found bool) error) error
	// Lock serialises record writes on this node (a count over several
	// records and a write together); PutLocked writes under it. Across
	// nodes it serialises nothing: a read-modify-write of one record is
	// Update.
	Lock()
	PutLocked(ctx context.Context, ns string, key []byte, v any) error
	Unlock()
	// Stamp is the Updated time of a record that was old.
	Stamp(old int64) int64
}

// Boards are the board settings and the indexes of account records by
// board and by user: cluster metadata, kept by the node.
type Boards interface {
	// Load reads a board's settings; storage.ErrNotFound if it has none.
	Load(ctx context.Context, board storage.BoardID) (*meta.Board, error)
	// Create stores a new board's settings and copies them to the other
	// nodes.
	Create(ctx context.Context, m *meta.Board) error
	// Update changes a board's settings on its current record.
	Update(ctx context.Context, board string, change func(m *meta.Board) error) error
	// Members lists a board's members.
	Members(ctx context.Context, board storage.BoardID) ([]account.Member, error)
	// BallotVoters lists the users who cast a ballot in a board's voting
	// session (account.BallotVoter).
	BallotVoters(ctx context.Context, board storage.BoardID, session string) ([]string, error)
	// Webhooks lists a board's webhooks that are not deleted.
	Webhooks(ctx context.Context, board storage.BoardID) []account.Webhook
	// Of calls fn with each board user is a member of.
	Of(ctx context.Context, user string, fn func(storage.BoardID) error) error
	// InviteHashes calls fn with the hash of each of a board's invites.
	InviteHashes(ctx context.Context, board storage.BoardID, fn func(hash []byte) error) error
}

// Config is what the API needs from its node.
type Config struct {
	Store   storage.Store // op logs (state, ops, changes, summary)
	Rooms   *room.Manager
	Records Records
	Boards  Boards
	Access  *access.Checker
	Blobs   *blob.Store
	Notes   *notify.Notifier
	Outbox  *outbox.Outbox // e-mails
	Guard   *httpguard.Guard
	Limits  *limit.Limiter
	Signer  *auth.Signer
	Log     *slog.Logger
	Now     func() time.Time
	// PublicURL is how clients reach the node, for links (it may change
	// once the node has bound its port).
	PublicURL   func() string
	MailFrom    string
	Quotas      Quotas
	MaxWebhooks int // per board
	// SpaceLow says whether the node's disk is below its free-space
	// reserve (storage.SpaceGuard.Low): new boards, imports and pictures
	// are refused (503, resend later). Nil: no reserve.
	SpaceLow func() bool
	// ClaimReplica claims a replica id of a board for a user in the
	// cluster (meta.Store.ClaimReplica with claim): meta.ErrClaimed if it
	// is another user's. The write API's replica ids (elements.go).
	ClaimReplica func(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, user string) error
	// AllowClaim counts a new replica id of a board claimed for a caller at
	// client address ip, and says whether the address may claim it (the
	// node's per-address bound, as for WebSocket sessions); nil: always.
	AllowClaim func(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, ip string) bool
}

// Server is the node's REST handlers.
type Server struct {
	cfg Config

	writeMu sync.Mutex
	writers map[string]*refLock // writerLock
	heavy   chan struct{}       // imports running at once (holdHeavy)
	replays chan struct{}       // past states rebuilt at once (history.go)
	thumbs  thumbCache          // boards' thumbnails by version (thumbnail.go)
	reads   readBudgets         // whole-board reads per board (roomtime.go)
	seen    seenMarks           // members' versions recorded lately (recordSeen)

	idKeyMu sync.Mutex
	idKey   []byte // the cluster's user-id key, once read (userIDKey)
}

// New makes the API of a node.
func New(cfg Config) *Server {
	return &Server{cfg: cfg, writers: map[string]*refLock{}, heavy: make(chan struct{}, maxHeavy), replays: make(chan struct{}, maxReplays)}
}

// maxHeavy bounds the calls that hold a whole file in memory at once
// (imports): each may hold tens of MiB.
const maxHeavy = 2

// holdHeavy takes a slot for a heavy call, waiting up to 10 s; it answers
// 503 itself when none frees.
func (srv *Server) holdHeavy(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	return holdSlot(srv.heavy, w, r, "the node is busy importing; retry in a moment")
}

// slotWait is how long holdSlot waits, in nanoseconds (10 s; tests
// shorten it with SetSlotWait).
var slotWait atomic.Int64

func init() { slotWait.Store(int64(10 * time.Second)) }

// SetSlotWait sets how long a call waits for a slot of the node's heavy
// lanes (imports, whole-history reads) before it is answered 503, for
// tests that fill a lane; it returns a function that restores the
// previous wait. Production code never calls it.
func SetSlotWait(d time.Duration) (restore func()) {
	old := slotWait.Swap(int64(d))
	return func() { slotWait.Store(old) }
}

// holdSlot takes a slot of lane, waiting up to slotWait (10 s); it answers
// 503 with busy itself when none frees.
func holdSlot(lane chan struct{}, w http.ResponseWriter, r *http.Request, busy string) (release func(), ok bool) {
	t := time.NewTimer(time.Duration(slotWait.Load()))
	defer t.Stop()
	select {
	case lane <- struct{}{}:
		return func() { <-lane }, true
	case <-t.C:
	case <-r.Context().Done():
	}
	w.Header().Set("Retry-After", "5")
	writeError(w, 503, protocol.CodeUnavailable, busy)
	return nil, false
}

func writeJSON(w http.ResponseWriter, status int, v any) { reply.JSON(w, status, v) }

func writeError(w http.ResponseWriter, status int, code protocol.Code, msg string) {
	reply.Error(w, status, code, msg)
}

// refuse is a Records.Update or Boards.Update change's answer to the
// client (reply.Refuse).
func refuse(status int, code protocol.Code, msg string) error { return reply.Refuse(status, code, msg) }

// errUnchanged is a Records.Update change's answer when the record is
// already as wanted: nothing is written.
var errUnchanged = errors.New("unchanged")

// writeUpdateError answers a failed Records.Update or Boards.Update: its
// refusal, or a 500 (reply.UpdateError).
func writeUpdateError(w http.ResponseWriter, err error) { reply.UpdateError(w, err) }

// Routes registers the REST handlers with handle.
func (srv *Server) Routes(handle func(pattern string, h http.HandlerFunc)) {
	handle("GET /v1/openapi.json", srv.openAPI)
	handle("POST /v1/boards", srv.createBoard)
	handle("GET /v1/boards/{board}", srv.getBoard)
	handle("DELETE /v1/boards/{board}", srv.deleteBoard)
	handle("GET /v1/boards/{board}/state", srv.boardState)
	handle("GET /v1/boards/{board}/ops", srv.boardOps)
	handle("GET /v1/boards/{board}/thumbnail.svg", srv.boardThumbnail)
	handle("GET /v1/boards/{board}/export", srv.exportBoard)
	handle("GET /v1/boards/{board}/history", srv.boardHistory)
	handle("GET /v1/boards/{board}/history/state", srv.historyState)
	handle("POST /v1/boards/{board}/restore", srv.restoreBoard)
	handle("POST /v1/boards/import", srv.importBoard)
	// Content in JSON (elements.go).
	handle("POST /v1/boards/{board}/changes", srv.postChanges)
	handle("POST /v1/boards/{board}/import", srv.importFile)
	handle("POST /v1/boards/{board}/elements", srv.postElement)
	handle("PATCH /v1/boards/{board}/elements/{element}", srv.patchElement)
	handle("DELETE /v1/boards/{board}/elements/{element}", srv.deleteElement)
	handle("POST /v1/boards/{board}/elements/{element}/comments", srv.postComment)
	handle("PUT /v1/boards/{board}/elements/{element}/vote", srv.voteElement)
	handle("DELETE /v1/boards/{board}/elements/{element}/vote", srv.voteElement)
	handle("POST /v1/boards/{board}/elements/{element}/move", srv.moveElement)
	handle("POST /v1/boards/{board}/blobs", srv.uploadBlob)
	handle("GET /v1/boards/{board}/blobs/{blob}", srv.getBlob)
	// People and access (signin.go, members.go, invites.go, links.go,
	// settings.go).
	handle("POST /v1/signin", srv.signIn)
	handle("GET /v1/signin/{token}", srv.signInPage)
	handle("POST /v1/signin/{token}", srv.signInComplete)
	handle("POST /v1/signout", srv.signOut)
	handle("GET /v1/me", srv.getMe)
	handle("PATCH /v1/me", srv.patchMe)
	handle("PATCH /v1/boards/{board}", srv.patchBoard)
	handle("POST /v1/boards/{board}/join", srv.joinBoard)
	handle("GET /v1/boards/{board}/members", srv.listMembers)
	handle("PUT /v1/boards/{board}/members/{user}", srv.putMember)
	handle("DELETE /v1/boards/{board}/members/{user}", srv.deleteMember)
	handle("GET /v1/boards/{board}/notify", srv.notifyPrefs)
	handle("PUT /v1/boards/{board}/notify", srv.notifyPrefs)
	handle("POST /v1/boards/{board}/invites", srv.createInvite)
	handle("GET /v1/boards/{board}/invites", srv.listInvites)
	handle("DELETE /v1/boards/{board}/invites/{invite}", srv.revokeInvite)
	handle("POST /v1/boards/{board}/links", srv.createLink)
	handle("GET /v1/boards/{board}/links", srv.listLinks)
	handle("DELETE /v1/boards/{board}/links/{link}", srv.deleteLink)
	handle("GET /v1/invites/{token}", srv.invitePage)
	handle("POST /v1/invites/{token}", srv.acceptInvite)
	handle("GET /v1/unsubscribe", srv.unsubscribe)
	handle("POST /v1/unsubscribe", srv.unsubscribe)
	// Voting, activity, summary, webhooks (voting.go, activity.go,
	// webhooks.go).
	handle("GET /v1/boards/{board}/voting", srv.getVoting)
	handle("POST /v1/boards/{board}/voting", srv.openVoting)
	handle("POST /v1/boards/{board}/voting/close", srv.closeVoting)
	handle("POST /v1/boards/{board}/voting/vote", srv.castBallot)
	handle("DELETE /v1/boards/{board}/voting", srv.endVoting)
	handle("POST /v1/boards/{board}/timer", srv.postTimer)
	handle("GET /v1/boards/{board}/changes", srv.boardChanges)
	handle("PUT /v1/boards/{board}/seen", srv.putSeen)
	handle("GET /v1/boards/{board}/summary", srv.boardSummary)
	handle("POST /v1/boards/{board}/webhooks", srv.createWebhook)
	handle("GET /v1/boards/{board}/webhooks", srv.listWebhooks)
	handle("DELETE /v1/boards/{board}/webhooks/{webhook}", srv.deleteWebhook)
	handle("GET /b/{board}", srv.boardPage)
	handle("GET /embed/{board}", srv.embedPage)
}

// Static serves the web client (static.go): every path no route takes.
func (srv *Server) Static() http.Handler { return srv.static() }

// Enter resolves the {board} path value and the caller's identity on it,
// writing the error response itself when either fails (the WebSocket
// endpoint's check, the same as every REST call's).
func (srv *Server) Enter(w http.ResponseWriter, r *http.Request) (storage.BoardID, *meta.Board, access.Identity, bool) {
	return srv.enter(w, r)
}

// RecordSeen stores a member's last-seen version of a board.
func (srv *Server) RecordSeen(ctx context.Context, id storage.BoardID, user string, v crdt.VersionVector) error {
	return srv.recordSeen(ctx, id, user, v)
}

// RememberGuestOn keeps a guest's display name, within the budgets of
// guest records (quotas.go).
func (srv *Server) RememberGuestOn(ctx context.Context, board storage.BoardID, u protocol.User) {
	srv.rememberGuestOn(ctx, board, u)
}

// ProfileColor is the colour of an account's profile ("" for none, or
// for an id that is not an account's: a guest's, a link's).
func (srv *Server) ProfileColor(ctx context.Context, user string) string {
	if strings.HasPrefix(user, access.GuestPrefix) || strings.HasPrefix(user, access.LinkPrefix) {
		return ""
	}
	var u account.User
	if srv.cfg.Records.Get(ctx, account.NSUser, []byte(user), &u) != nil {
		return ""
	}
	return u.Color
}

// Closed says whether the board is past its deadline.
func (srv *Server) Closed(m *meta.Board) bool { return srv.closed(m) }

// GuestToken is the token of a guest of a board whose settings epoch is
// epoch: it keeps the guest's identity across reconnects.
func (srv *Server) GuestToken(board storage.BoardID, epoch int, u protocol.User) string {
	return srv.cfg.Signer.Sign(auth.Claims{Board: board.String(), User: u.ID, Name: u.Name, Role: u.Role,
		Exp: srv.cfg.Now().Add(linkTTL).Unix(), Epoch: epoch})
}

// openAPIJSON is docs/openapi.yaml as JSON, converted once.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(docs.OpenAPI, &doc); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
})

// GET /v1/openapi.json: the OpenAPI description of this API.
func (srv *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := openAPIJSON()
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, "openapi: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(b)
}
