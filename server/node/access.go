package node

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Who may do what on a board (docs/API.md, "Access"; docs/SECURITY.md):
//
//   - a signed-in person (session cookie "cb_session", or the header
//     "Authorization: Session <token>") has their membership's role; the
//     board's owner is always owner; a member who came in with the board's
//     password follows the board's PublicRole, like a guest; a non-member
//     gets the board's PublicRole on a public board, and nothing on the
//     others;
//   - a board token ("Authorization: Bearer", cookie "cb_token", or
//     "?token=" on the WebSocket URL) gets the role the board's current
//     settings give its holder (tokenRole, links.go); bumping the board's
//     epoch revokes every one of them; on a members-only board only the
//     owner's token is accepted;
//   - nobody else: a guest with PublicRole on a public board.
//
// The same functions decide for REST calls and WebSocket connections, and
// run again for every open connection of a board whenever its settings or
// a membership change, on whichever node the change was made
// (refreshRoles, from updateMeta, onMeta and recordChanged), and a session
// that signs out is closed on every node (closeSession).

// How an identity was established.
const (
	viaSession = "session" // a signed-in user
	viaToken   = "token"   // a board token (owner, link or password guest)
	viaGuest   = "guest"   // nobody: a guest of a public board
)

// identity is who makes a request on a board.
type identity struct {
	User  protocol.User
	Guest bool   // no credentials at all: a visitor of a public board
	Via   string // viaSession, viaToken, viaGuest
	Epoch int    // of the board token (viaToken)
	Cred  string // the session token's hash (viaSession), to close it on sign-out
}

func membersOnly(m *BoardMeta) bool { return m.Access == accessMembers || m.Access == accessPrivate }

// sessionToken finds a session token in the request.
func sessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Session ") {
		return strings.TrimPrefix(h, "Session ")
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// boardToken finds a board token in the request.
func boardToken(r *http.Request) string {
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

// signedIn returns the request's signed-in user, if any.
func (n *Node) signedIn(r *http.Request) (*account.User, error) {
	u, _, err := n.signedInSession(r)
	return u, err
}

// signedInSession is signedIn with the session token's hash.
func (n *Node) signedInSession(r *http.Request) (*account.User, string, error) {
	tok := sessionToken(r)
	if tok == "" {
		return nil, "", nil
	}
	if !account.ValidToken(tok) {
		return nil, "", errors.New("malformed session token")
	}
	hash := account.HashToken(tok)
	u, err := n.sessionUser(r.Context(), hash)
	return u, hash, err
}

// sessionUser is the user of a live session, by the token's hash.
func (n *Node) sessionUser(ctx context.Context, hash string) (*account.User, error) {
	var s account.Session
	if err := n.getRecord(ctx, account.NSSession, []byte(hash), &s); err != nil {
		return nil, errors.New("unknown or expired session: sign in again")
	}
	if s.Revoked || n.cfg.Now().UnixMilli() >= s.Expires {
		return nil, errors.New("session ended: sign in again")
	}
	var u account.User
	if err := n.getRecord(ctx, account.NSUser, []byte(s.User), &u); err != nil {
		return nil, errors.New("unknown user")
	}
	return &u, nil
}

// authenticate finds the caller's identity on a board.
func (n *Node) authenticate(r *http.Request, id storage.BoardID, m *BoardMeta) (identity, protocol.Code, error) {
	if !n.meta.Fresh() {
		// On the minority side of a partition the view may miss a
		// revoke made on the majority side: let nobody in on it.
		return identity{}, protocol.CodeUnavailable, errors.New("this node cannot reach the cluster's metadata quorum now; try again or another node")
	}
	if tok := boardToken(r); tok != "" {
		c, err := n.signer.Verify(tok, n.cfg.Now())
		if err != nil {
			return identity{}, protocol.CodeUnauthorized, err
		}
		if c.Board != id.String() {
			return identity{}, protocol.CodeUnauthorized, errors.New("token is for another board")
		}
		if c.Epoch != m.Epoch {
			return identity{}, protocol.CodeUnauthorized, errors.New("link revoked")
		}
		who := identity{User: protocol.User{ID: c.User, Name: c.Name, Role: c.Role}, Via: viaToken, Epoch: c.Epoch}
		role := n.tokenRole(m, who)
		if role == "" {
			if strings.HasPrefix(c.User, linkPrefix) && !membersOnly(m) {
				return identity{}, protocol.CodeUnauthorized, errors.New("link revoked")
			}
			return identity{}, protocol.CodeForbidden, errors.New("this board is for members only")
		}
		who.User.Role = role
		return who, "", nil
	}
	u, cred, err := n.signedInSession(r)
	if err != nil {
		return identity{}, protocol.CodeUnauthorized, err
	}
	if u != nil {
		role, err := n.memberRole(r.Context(), id, m, u.ID)
		if err != nil {
			return identity{}, protocol.CodeInternal, err
		}
		if role == "" {
			if m.Access == accessPassword {
				return identity{}, protocol.CodeUnauthorized, errors.New("this board needs its password (POST /v1/boards/{board}/join)")
			}
			return identity{}, protocol.CodeForbidden, errors.New("you are not a member of this board")
		}
		return identity{User: protocol.User{ID: u.ID, Name: u.Name, Color: u.Color, Role: role}, Via: viaSession, Cred: cred}, "", nil
	}
	if m.Access == accessPublic && m.PublicRole != "" {
		return identity{User: protocol.User{ID: guestPrefix + auth.RandomID(6), Name: "Guest", Role: m.PublicRole}, Guest: true, Via: viaGuest}, "", nil
	}
	if m.Access == accessPassword {
		return identity{}, protocol.CodeUnauthorized, errors.New("this board needs its password (POST /v1/boards/{board}/join)")
	}
	return identity{}, protocol.CodeUnauthorized, errors.New("this board is for members: sign in, or use a link")
}

// tokenRole is the role a board token grants now ("" = none): read from
// the board's current settings, never from the token (links.go).
func (n *Node) tokenRole(m *BoardMeta, who identity) string {
	if who.Epoch != m.Epoch {
		return ""
	}
	id := who.User.ID
	switch {
	case id == m.Owner:
		return room.RoleOwner
	case membersOnly(m):
		return ""
	case strings.HasPrefix(id, linkPrefix):
		if !m.LinkRecords {
			// A board made before links were records: the link's role,
			// never more than the board now gives its visitors.
			return minRole(who.User.Role, m.PublicRole)
		}
		for _, l := range m.Links {
			if linkPrefix+l.ID == id {
				return l.Role
			}
		}
		return ""
	case strings.HasPrefix(id, guestPrefix):
		return m.PublicRole
	}
	return ""
}

// memberRole is a signed-in user's role on a board now ("" = none).
func (n *Node) memberRole(ctx context.Context, id storage.BoardID, m *BoardMeta, user string) (string, error) {
	if user == m.Owner {
		return room.RoleOwner, nil
	}
	role := ""
	var mem account.Member
	err := n.getRecord(ctx, account.NSMember, account.BoardKey(id, user), &mem)
	switch {
	case err == nil && !mem.Removed && mem.Guest:
		// In as a visitor (with the board's password, or on a public
		// board): the board's visitors' role, for as long as the board
		// takes visitors and its epoch (password, links, access) is the
		// one they came in with.
		if !membersOnly(m) && mem.Epoch == m.Epoch {
			role = m.PublicRole
		}
	case err == nil && !mem.Removed:
		role = mem.Role
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return "", err
	}
	if m.Access == accessPublic && role == "" {
		role = m.PublicRole
	}
	return role, nil
}

// refreshRoles recomputes the role of every open connection of a board
// after its access or a membership changed.
func (n *Node) refreshRoles(board storage.BoardID) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := n.loadBoard(ctx, board)
	if err != nil {
		return
	}
	n.rooms.SetPolicy(ctx, board, n.policyOf(m))
	n.rooms.Reauthorize(ctx, board, func(s *room.Session) string { return n.sessionRole(ctx, board, m, s) })
}

// sessionRole is an open session's role under the board's metadata m now
// ("" = none: it is closed).
func (n *Node) sessionRole(ctx context.Context, board storage.BoardID, m *BoardMeta, s *room.Session) string {
	switch s.Via {
	case viaSession:
		if _, err := n.sessionUser(ctx, s.Cred); err != nil {
			return "" // signed out, expired or revoked
		}
		role, err := n.memberRole(ctx, board, m, s.User.ID)
		if err != nil {
			return s.User.Role
		}
		return role
	case viaToken:
		return n.tokenRole(m, identity{User: s.User, Epoch: s.Epoch})
	default: // a guest of a public board
		if m.Access != accessPublic {
			return ""
		}
		return m.PublicRole
	}
}

// recheckJoined decides a session's role again once it has joined its
// room. The role was decided when the connection opened, and the hello
// may take seconds: an access change in between found no session to
// apply to. From the join on, refreshRoles reaches it.
func (n *Node) recheckJoined(ctx context.Context, board storage.BoardID, sess *room.Session) {
	m, err := n.loadBoard(ctx, board)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			sess.Kick(protocol.CloseForbidden, "the board was deleted")
		}
		return
	}
	n.rooms.ReauthorizeSession(ctx, board, sess, func(s *room.Session) string { return n.sessionRole(ctx, board, m, s) })
}

// policyOf turns a board's metadata into the rules its room enforces.
func (n *Node) policyOf(m *BoardMeta) room.Policy {
	p := room.Policy{Deadline: m.Deadline}
	if v := m.Voting; v != nil {
		p.Voting = room.Voting{State: v.State, Dots: v.Dots}
		if v.Anonymous {
			board, session := m.ID, v.Session
			p.Voting.Voter = func(user string) string { return n.pseudonym(board, session, user) }
		}
	}
	return p
}

// roomPolicy is room.Config.Policy: the policy of a board being loaded.
func (n *Node) roomPolicy(ctx context.Context, board storage.BoardID) room.Policy {
	m, err := n.loadBoard(ctx, board)
	if err != nil {
		return room.Policy{}
	}
	return n.policyOf(m)
}

// pseudonym is a user's voter id in an anonymous voting session: stable
// within the session, unlinkable to the user without the node's secret.
func (n *Node) pseudonym(board, session, user string) string {
	return "anon-" + n.signer.MAC("vote\x00" + board + "\x00" + session + "\x00" + user)[:12]
}

// sessionSweepEvery is how often open connections of sign-in sessions are
// checked for sessions that expired since they connected.
const sessionSweepEvery = time.Minute

// sweepSessions closes, on every loaded board, the connections whose
// sign-in session has expired or been revoked since they connected (a
// revocation also closes them at once: closeSession; this catches expiry,
// which no write announces).
func (n *Node) sweepSessions(ctx context.Context) {
	for _, board := range n.rooms.Boards() {
		n.rooms.Reauthorize(ctx, board, func(s *room.Session) string {
			if s.Via == viaSession {
				if _, err := n.sessionUser(ctx, s.Cred); err != nil {
					return ""
				}
			}
			return s.User.Role
		})
	}
}

// sessionSweeper runs sweepSessions until ctx ends.
func (n *Node) sessionSweeper(ctx context.Context) {
	t := time.NewTicker(sessionSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.sweepSessions(ctx)
		}
	}
}

// SweepSessions runs one pass of the expired-session check (tests with a
// fake clock; the node runs it every minute by itself).
func (n *Node) SweepSessions(ctx context.Context) { n.sweepSessions(ctx) }
