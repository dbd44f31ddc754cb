// Package access decides who is asking and with which role: the
// identity a request or a connection carries (a sign-in session, a board
// token, nobody), the role the board's current settings give it, the
// room Policy those settings make, the same decisions again for open
// sessions when settings, memberships or sessions change, and the
// bounded checking of board passwords.
//
// Who may do what on a board (docs/API.md, "Access"; docs/SECURITY.md):
//
//   - a signed-in person (session cookie "cb_session", or the header
//     "Authorization: Session <token>") has their membership's role; the
//     board's owner is always owner; a member who came in with the board's
//     password follows the board's PublicRole, like a guest (at most the
//     role the owner lowered theirs to), until the owner raises their
//     role (which makes them a full member); a non-member
//     gets the board's PublicRole on a public board, and nothing on the
//     others;
//   - a board token ("Authorization: Bearer", cookie "cb_token", or
//     "?token=" on the WebSocket URL) gets the role the board's current
//     settings give its holder (TokenRole; links are package api's);
//     bumping the board's epoch revokes every one of them; on a
//     members-only board only the owner's token is accepted;
//   - nobody else: a guest with PublicRole on a public board.
//
// The same functions decide for REST calls and WebSocket connections, and
// run again for every open connection of a board whenever its settings or
// a membership change, on whichever node the change was made
// (RefreshRoles: from the node's metadata hook, and from the request that
// made the change), one at a time per board,
// and a session that signs out is closed on every node (the node's
// closeSession).
package access

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Token holders' user ids: role links, guests, and the owner of a board
// made without signing in (who holds the owner's token only).
const (
	LinkPrefix  = "link-"
	GuestPrefix = "guest-"
	OwnerPrefix = "user-"
)

// SessionCookie is the cookie that carries a sign-in session's token.
const SessionCookie = "cb_session"

// Records are the account records access reads (sessions, users,
// members): cluster metadata, kept by the node.
type Records interface {
	// Get reads a record into v; storage.ErrNotFound if there is none.
	Get(ctx context.Context, ns string, key []byte, v any) error
}

// Boards are the board settings access reads: cluster metadata, kept by
// the node.
type Boards interface {
	// Load reads a board's settings; storage.ErrNotFound if it has none.
	Load(ctx context.Context, board storage.BoardID) (*meta.Board, error)
}

// Rooms are the node's open boards whose sessions and rules follow the
// settings (room.Manager).
type Rooms interface {
	SetPolicy(ctx context.Context, board storage.BoardID, p room.Policy)
	Reauthorize(ctx context.Context, board storage.BoardID, role func(s *room.Session) string)
	ReauthorizeSession(ctx context.Context, board storage.BoardID, s *room.Session, role func(s *room.Session) string)
	Boards() []storage.BoardID
}

// Config is what a Checker needs from its node.
type Config struct {
	Records Records
	Boards  Boards
	Rooms   Rooms        // the open sessions to decide again
	Signer  *auth.Signer // board tokens, voters' pseudonyms
	Now     func() time.Time
	// Fresh says whether this node's view of the metadata can be trusted
	// now (meta.Store.Fresh); nil: always.
	Fresh func() bool
}

// Checker makes a node's access decisions.
type Checker struct {
	cfg   Config
	pwSem chan struct{} // bounds concurrent password hashing
	// applying serialises, per board, reading a board's settings and
	// applying them to its open sessions and room (RefreshRoles,
	// JoinNow, AsOfNow). Changes are applied from several goroutines (each
	// metadata change, the writer's own request); without it one that read
	// the settings before a change could apply them after the change's own
	// refresh: the board's old rules and roles back until the next change
	// (a removed member's role, a cleared deadline). Each holder reads the
	// view as it is then, and the view only moves forward. One turn per
	// board, not stripes shared by boards: a flood of joins on one board
	// must not hold up another's. Its entries go when nobody holds or waits.
	applying struct {
		sync.Mutex
		boards map[storage.BoardID]*turn
	}
}

// New makes a node's access checker.
func New(cfg Config) *Checker {
	c := &Checker{cfg: cfg, pwSem: make(chan struct{}, 2)}
	c.applying.boards = map[storage.BoardID]*turn{}
	return c
}

// turn is one board's turn to apply its settings: a channel (a wait on it
// is one testing/synctest sees) and how many hold or wait for it.
type turn struct {
	ch    chan struct{}
	users int
}

// applyingBoard waits for the board's turn to read and apply its settings; the result ends it.
func (c *Checker) applyingBoard(board storage.BoardID) func() {
	a := &c.applying
	a.Lock()
	t := a.boards[board]
	if t == nil {
		t = &turn{ch: make(chan struct{}, 1)}
		a.boards[board] = t
	}
	t.users++
	a.Unlock()
	t.ch <- struct{}{}
	return func() {
		<-t.ch
		a.Lock()
		if t.users--; t.users == 0 {
			delete(a.boards, board)
		}
		a.Unlock()
	}
}

// How an identity was established.
const (
	ViaSession = "session" // a signed-in user
	ViaToken   = "token"   // a board token (owner, link or password guest)
	ViaGuest   = "guest"   // nobody: a guest of a public board
)

// Identity is who makes a request on a board.
type Identity struct {
	User  protocol.User
	Guest bool   // no credentials at all: a visitor of a public board
	Via   string // ViaSession, ViaToken, ViaGuest
	Epoch int    // of the board token (ViaToken)
	Cred  string // the session token's hash (ViaSession), to close it on sign-out
}

func MembersOnly(m *meta.Board) bool {
	return m.Access == meta.AccessMembers || m.Access == meta.AccessPrivate
}

// SessionToken finds a session token in the request.
func SessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Session ") {
		return strings.TrimPrefix(h, "Session ")
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// BoardToken finds a board token in the request.
func BoardToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if c, err := r.Cookie("cb_token"); err == nil {
		return c.Value
	}
	return ""
}

// SignedIn returns the request's signed-in user, if any.
func (c *Checker) SignedIn(r *http.Request) (*account.User, error) {
	u, _, err := c.SignedInSession(r)
	return u, err
}

// SignedInSession is SignedIn with the session token's hash.
func (c *Checker) SignedInSession(r *http.Request) (*account.User, string, error) {
	tok := SessionToken(r)
	if tok == "" {
		return nil, "", nil
	}
	if !account.ValidToken(tok) {
		return nil, "", errors.New("malformed session token")
	}
	hash := account.HashToken(tok)
	u, err := c.SessionUser(r.Context(), hash)
	return u, hash, err
}

// SessionUser is the user of a live session, by the token's hash.
func (c *Checker) SessionUser(ctx context.Context, hash string) (*account.User, error) {
	var s account.Session
	if err := c.cfg.Records.Get(ctx, account.NSSession, []byte(hash), &s); err != nil {
		return nil, errors.New("unknown or expired session: sign in again")
	}
	if s.Revoked || c.cfg.Now().UnixMilli() >= s.Expires {
		return nil, errors.New("session ended: sign in again")
	}
	var u account.User
	if err := c.cfg.Records.Get(ctx, account.NSUser, []byte(s.User), &u); err != nil {
		return nil, errors.New("unknown user")
	}
	return &u, nil
}

// Authenticate finds the caller's identity on a board.
func (c *Checker) Authenticate(r *http.Request, id storage.BoardID, m *meta.Board) (Identity, protocol.Code, error) {
	if !c.Fresh() {
		// On the minority side of a partition the view may miss a
		// revoke made on the majority side: let nobody in on it.
		return Identity{}, protocol.CodeUnavailable, ErrStale
	}
	if tok := BoardToken(r); tok != "" {
		cl, err := c.cfg.Signer.Verify(tok, c.cfg.Now())
		if err != nil {
			return Identity{}, protocol.CodeUnauthorized, err
		}
		if cl.Board != id.String() {
			return Identity{}, protocol.CodeUnauthorized, errors.New("token is for another board")
		}
		if cl.Epoch != m.Epoch {
			return Identity{}, protocol.CodeUnauthorized, errors.New("link revoked")
		}
		who := Identity{User: protocol.User{ID: cl.User, Name: cl.Name, Role: cl.Role}, Via: ViaToken, Epoch: cl.Epoch}
		role := c.TokenRole(m, who)
		if role == "" {
			if strings.HasPrefix(cl.User, LinkPrefix) && !MembersOnly(m) {
				return Identity{}, protocol.CodeUnauthorized, errors.New("link revoked")
			}
			return Identity{}, protocol.CodeForbidden, errors.New("this board is for members only")
		}
		who.User.Role = role
		return who, "", nil
	}
	u, cred, err := c.SignedInSession(r)
	if err != nil {
		return Identity{}, protocol.CodeUnauthorized, err
	}
	if u != nil {
		role, err := c.MemberRole(r.Context(), id, m, u.ID)
		if err != nil {
			return Identity{}, protocol.CodeInternal, err
		}
		if role == "" {
			if m.Access == meta.AccessPassword {
				return Identity{}, protocol.CodeUnauthorized, errors.New("this board needs its password (POST /v1/boards/{board}/join)")
			}
			return Identity{}, protocol.CodeForbidden, errors.New("you are not a member of this board")
		}
		return Identity{User: protocol.User{ID: u.ID, Name: u.Name, Color: u.Color, Role: role}, Via: ViaSession, Cred: cred}, "", nil
	}
	if m.Access == meta.AccessPublic && m.PublicRole != "" {
		return Identity{User: protocol.User{ID: GuestPrefix + auth.RandomID(6), Name: "Guest", Role: m.PublicRole}, Guest: true, Via: ViaGuest}, "", nil
	}
	if m.Access == meta.AccessPassword {
		return Identity{}, protocol.CodeUnauthorized, errors.New("this board needs its password (POST /v1/boards/{board}/join)")
	}
	return Identity{}, protocol.CodeUnauthorized, errors.New("this board is for members: sign in, or use a link")
}

// TokenRole is the role a board token grants now ("" = none): read from
// the board's current settings, never from the token (links are package
// api's).
func (c *Checker) TokenRole(m *meta.Board, who Identity) string {
	if who.Epoch != m.Epoch {
		return ""
	}
	id := who.User.ID
	switch {
	case id == m.Owner:
		return room.RoleOwner
	case MembersOnly(m):
		return ""
	case strings.HasPrefix(id, LinkPrefix):
		if !m.LinkRecords {
			// A board made before links were records: the link's role,
			// never more than the board now gives its visitors.
			return MinRole(who.User.Role, m.PublicRole)
		}
		for _, l := range m.Links {
			if LinkPrefix+l.ID == id {
				return l.Role
			}
		}
		return ""
	case strings.HasPrefix(id, GuestPrefix):
		return m.PublicRole
	}
	return ""
}

// MemberRole is a signed-in user's role on a board now ("" = none).
func (c *Checker) MemberRole(ctx context.Context, id storage.BoardID, m *meta.Board, user string) (string, error) {
	if user == m.Owner {
		return room.RoleOwner, nil
	}
	role := ""
	var mem account.Member
	err := c.cfg.Records.Get(ctx, account.NSMember, account.BoardKey(id, user), &mem)
	switch {
	case err == nil && !mem.Removed && mem.Guest:
		role = VisitorRole(m, mem)
	case err == nil && !mem.Removed:
		role = mem.Role
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return "", err
	}
	if m.Access == meta.AccessPublic && role == "" {
		role = m.PublicRole
	}
	return role, nil
}

// VisitorRole is a visitor member's role under the board's settings m
// ("" = none): in with the board's password, or on a public board, they
// have the board's visitors' role, at most the owner's cap, for as long as
// the board takes visitors and its epoch (password, links, access) is the
// one they came in with.
func VisitorRole(m *meta.Board, mem account.Member) string {
	if MembersOnly(m) || mem.Epoch != m.Epoch {
		return ""
	}
	if mem.Cap != "" {
		return MinRole(m.PublicRole, mem.Cap)
	}
	return m.PublicRole
}

// UserRole is the role the board's settings m give one of its users now,
// known by id alone (the author of a change whose connection may be
// gone): the owner's; a member's (MemberRole); a role link holder's, the
// link's; a guest's, the board's visitors'. A token's epoch is not known
// from the id: the board's current one is assumed.
func (c *Checker) UserRole(ctx context.Context, id storage.BoardID, m *meta.Board, user string) (string, error) {
	if strings.HasPrefix(user, LinkPrefix) || strings.HasPrefix(user, GuestPrefix) {
		// Ranked owner, so that a link of a board made before links were
		// records gets the board's visitors' role (TokenRole's MinRole).
		return c.TokenRole(m, Identity{User: protocol.User{ID: user, Role: room.RoleOwner}, Epoch: m.Epoch}), nil
	}
	return c.MemberRole(ctx, id, m, user)
}

// RefreshRoles recomputes the role of every open connection of a board
// after its access or a membership changed.
func (c *Checker) RefreshRoles(board storage.BoardID) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer c.applyingBoard(board)()
	m, err := c.cfg.Boards.Load(ctx, board)
	if err != nil {
		return
	}
	c.cfg.Rooms.SetPolicy(ctx, board, c.PolicyOf(m))
	c.cfg.Rooms.Reauthorize(ctx, board, func(s *room.Session) string { return c.SessionRole(ctx, board, m, s) })
}

// SessionRole is an open session's role under the board's metadata m now
// ("" = none: it is closed).
func (c *Checker) SessionRole(ctx context.Context, board storage.BoardID, m *meta.Board, s *room.Session) string {
	role, err := c.roleNow(ctx, board, m, Identity{User: s.User, Via: s.Via, Epoch: s.Epoch, Cred: s.Cred})
	if err != nil {
		return s.User.Role
	}
	return role
}

// roleNow is the role the board's metadata m give who now ("" = none).
func (c *Checker) roleNow(ctx context.Context, board storage.BoardID, m *meta.Board, who Identity) (string, error) {
	switch who.Via {
	case ViaSession:
		if _, err := c.SessionUser(ctx, who.Cred); err != nil {
			return "", nil // signed out, expired or revoked
		}
		return c.MemberRole(ctx, board, m, who.User.ID)
	case ViaToken:
		return c.TokenRole(m, who), nil
	default: // a guest of a public board
		if m.Access != meta.AccessPublic {
			return "", nil
		}
		return m.PublicRole, nil
	}
}

// Fresh says whether this node's view of the metadata can be trusted for
// access decisions now (Config.Fresh).
func (c *Checker) Fresh() bool { return c.cfg.Fresh == nil || c.cfg.Fresh() }

// ErrStale: this node cannot trust its view of the metadata now (Fresh).
var ErrStale = errors.New("this node cannot reach the cluster's metadata quorum now; try again or another node")

// AsOfNow decides who's role on a board again from the board's settings
// as they are now, and runs fn with those settings and that role ("" =
// none) in the board's turn to apply its settings, the one RefreshRoles
// takes. A REST write submits its change to the room inside fn: an access
// change answered before that sees the change in the view here, and one
// answered after it applies to the room after the change (its
// RefreshRoles waits for this turn, then for the room). A REST write was
// judged only when its call came in, and may then wait (behind the
// caller's earlier writes, for the board's whole-board read): a removed
// editor's or a revoked link's writes queued before the removal were
// applied with their old role after the owner had been answered.
func (c *Checker) AsOfNow(ctx context.Context, board storage.BoardID, who Identity, fn func(m *meta.Board, role string) error) error {
	defer c.applyingBoard(board)()
	if !c.Fresh() {
		return ErrStale
	}
	m, err := c.cfg.Boards.Load(ctx, board)
	if err != nil {
		return err
	}
	role, err := c.roleNow(ctx, board, m, who)
	if err != nil {
		return err
	}
	return fn(m, role)
}

// JoinNow decides a connection's role again from the board's settings as
// they are now and, unless it has none, joins its session to the room
// (join), in the board's turn to apply its settings: an access change
// answered before is seen here, and one answered after applies to the
// session in the room. The role was decided when the connection opened,
// and its hello may come seconds later. It used to be decided again only
// once the session had joined, and the join had sent it the board as it
// was then: a link revoked while its connection waited to say hello got
// the board, changes made after the revoke included, before it was
// closed. A session with no role now is closed (CloseForbidden) without
// joining.
func (c *Checker) JoinNow(ctx context.Context, board storage.BoardID, sess *room.Session, join func() error) error {
	defer c.applyingBoard(board)()
	if !c.Fresh() {
		sess.Kick(protocol.CloseRetry, ErrStale.Error())
		return ErrStale
	}
	m, err := c.cfg.Boards.Load(ctx, board)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			sess.Kick(protocol.CloseForbidden, "the board was deleted")
		}
		return err
	}
	if c.SessionRole(ctx, board, m, sess) == "" {
		sess.Kick(protocol.CloseForbidden, "access to this board was removed")
		return errNoRole
	}
	if err := join(); err != nil {
		return err
	}
	// A role lowered since the connection opened (not taken away).
	c.cfg.Rooms.ReauthorizeSession(ctx, board, sess, func(s *room.Session) string { return c.SessionRole(ctx, board, m, s) })
	return nil
}

// errNoRole: the board's settings give the caller no role now.
var errNoRole = errors.New("access to this board was removed")

// PolicyOf turns a board's metadata into the rules its room enforces.
func (c *Checker) PolicyOf(m *meta.Board) room.Policy {
	p := room.Policy{Deadline: m.Deadline}
	if v := m.Voting; v != nil {
		p.Voting = room.Voting{State: v.State, Dots: v.Dots}
		if v.Anonymous {
			board, session := m.ID, v.Session
			p.Voting.Voter = func(user string) string { return c.Pseudonym(board, session, user) }
		}
	}
	return p
}

// RoomPolicy is room.Config.Policy: the policy of a board being loaded.
func (c *Checker) RoomPolicy(ctx context.Context, board storage.BoardID) room.Policy {
	m, err := c.cfg.Boards.Load(ctx, board)
	if err != nil {
		return room.Policy{}
	}
	return c.PolicyOf(m)
}

// Pseudonym is a user's voter id in an anonymous voting session: stable
// within the session, unlinkable to the user without the node's secret.
func (c *Checker) Pseudonym(board, session, user string) string {
	return "anon-" + c.cfg.Signer.MAC("vote\x00" + board + "\x00" + session + "\x00" + user)[:12]
}

// sessionSweepEvery is how often open connections of sign-in sessions are
// checked for sessions that expired since they connected.
const sessionSweepEvery = time.Minute

// SweepSessions closes, on every loaded board, the connections whose
// sign-in session has expired or been revoked since they connected (a
// revocation also closes them at once: closeSession; this catches expiry,
// which no write announces).
func (c *Checker) SweepSessions(ctx context.Context) {
	for _, board := range c.cfg.Rooms.Boards() {
		c.cfg.Rooms.Reauthorize(ctx, board, func(s *room.Session) string {
			if s.Via == ViaSession {
				if _, err := c.SessionUser(ctx, s.Cred); err != nil {
					return ""
				}
			}
			return s.User.Role
		})
	}
}

// SessionSweeper runs SweepSessions until ctx ends.
func (c *Checker) SessionSweeper(ctx context.Context) {
	t := time.NewTicker(sessionSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.SweepSessions(ctx)
		}
	}
}

// CheckPassword runs argon2id (19 MiB each) at most two at a time, so a
// burst of join attempts cannot exhaust the node's memory.
func (c *Checker) CheckPassword(ctx context.Context, hash, pw string) bool {
	select {
	case c.pwSem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-c.pwSem }()
	return account.CheckPassword(hash, pw)
}

// MinRole is the lesser of two roles ("" if either is none).
func MinRole(a, b string) string {
	if account.RoleRank(a) <= account.RoleRank(b) {
		return a
	}
	return b
}

// HashPassword hashes a new board password (argon2id), under the same
// bound as CheckPassword; ctx's error if it ends first. A wait that
// outlived its call (a client gone) kept a goroutine and its request, and
// was hashed when its turn came: calls sent and dropped faster than two a
// hash time queued without end.
func (c *Checker) HashPassword(ctx context.Context, pw string) (string, error) {
	select {
	case c.pwSem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.pwSem }()
	return account.HashPassword(pw)
}
