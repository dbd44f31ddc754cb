package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// People: sign-in by e-mailed link, sessions, profiles, memberships,
// invites and notification preferences (docs/API.md, "People").

const (
	sessionTTL = 30 * 24 * time.Hour
	loginTTL   = 30 * time.Minute
	inviteTTL  = 7 * 24 * time.Hour
)

// decodeBody decodes a JSON request body strictly, writing the 415 (not
// declared application/json: see httpguard.JSONContent) or the 400 itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if !httpguard.JSONContent(w, r) {
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, 400, protocol.CodeMalformed, "body: "+err.Error())
		return false
	}
	return true
}

// localPath accepts only same-site paths for redirects after sign-in: one
// leading slash, then no control character (browsers drop tabs and
// newlines from URLs, so "/\t/evil" would become "//evil") and no
// backslash (browsers read it as a slash) anywhere, in valid UTF-8.
// Anything else becomes "/". Rejected: cleaning the path (dropping what
// browsers drop) — a path that needs cleaning did not come from the
// client, and refusing leaves nothing to get wrong.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || !utf8.ValidString(p) {
		return "/"
	}
	for _, c := range p {
		if c == '\\' || unicode.IsControl(c) {
			return "/"
		}
	}
	return p
}

// POST /v1/signin {"email", "next"}: e-mails a one-time sign-in link.
// Always 202 for a valid address, so the answer does not tell whether the
// person has an account.
func (n *Node) signIn(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
		Next  string `json:"next,omitempty"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	email, err := account.NormalizeEmail(req.Email)
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, err.Error())
		return
	}
	if !n.limits.Allow("signin-ip:"+httpguard.ClientIP(r), 20, time.Hour) || !n.limits.Allow("signin:"+email, 5, time.Hour) {
		writeError(w, 429, protocol.CodeRateLimited, "too many sign-in links asked for; try again later")
		return
	}
	tok, hash := account.NewToken()
	now := n.cfg.Now()
	l := account.Login{Email: email, Next: localPath(req.Next), Created: now.UnixMilli(), Expires: now.Add(loginTTL).UnixMilli(), Updated: now.UnixMilli()}
	if err := n.putRecord(r.Context(), account.NSLogin, []byte(hash), &l); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	link := n.cfg.PublicURL + "/v1/signin/" + tok
	text := fmt.Sprintf("Hello,\n\nsomeone (we hope you) asked to sign in to Corkboard as %s.\nOpen this link within 30 minutes to sign in:\n\n%s\n\nIf it was not you, ignore this e-mail: nothing happens without the link.\n", email, link)
	if err := n.sendMail(r.Context(), "signin/"+hash[:24], email, "Your Corkboard sign-in link", text, ""); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	writeJSON(w, 202, map[string]any{"sent": true, "expires": l.Expires})
}

var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}} · Corkboard</title>
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}button{font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#2f6fed;color:#fff;cursor:pointer}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Button}}<form method="post"><button type="submit">{{.Button}}</button></form>{{end}}{{if .Home}}<p><a href="{{.Home}}">Sign in to Corkboard</a></p>{{end}}</body></html>`))

// confirm serves the page an e-mailed link opens: one button that POSTs
// back. Consuming a one-time link on GET would let mail scanners that
// prefetch links burn it.
func confirm(w http.ResponseWriter, title, text, button string) {
	page(w, 200, map[string]string{"Title": title, "Text": text, "Button": button})
}

// page serves confirmPage with status.
func page(w http.ResponseWriter, status int, data map[string]string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	// same-origin, not no-referrer: the link's token still never leaves
	// the node in a Referer, and the form's POST carries the node's
	// Origin (under no-referrer it says "Origin: null", which browsers
	// without Sec-Fetch-Site would have refused as cross-site: guard.go).
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	confirmPage.Execute(w, data)
}

func (n *Node) signInPage(w http.ResponseWriter, r *http.Request) {
	confirm(w, "Sign in", "Continue to sign in to Corkboard in this browser.", "Sign in")
}

// POST /v1/signin/{token}: uses a sign-in link: a session cookie, then a
// redirect to where the person was going (JSON with the session token for
// "Accept: application/json").
func (n *Node) signInComplete(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if !account.ValidToken(tok) {
		writeError(w, 400, protocol.CodeMalformed, "not a sign-in link")
		return
	}
	var l account.Login
	err := n.updateRecord(r.Context(), account.NSLogin, []byte(account.HashToken(tok)), &l, func(found bool) error {
		now := n.cfg.Now().UnixMilli()
		switch {
		case !found:
			return refuse(401, protocol.CodeUnauthorized, "unknown sign-in link: ask for a new one")
		case l.Used != 0:
			return refuse(401, protocol.CodeUnauthorized, "this sign-in link was already used: ask for a new one")
		case now >= l.Expires:
			return refuse(401, protocol.CodeUnauthorized, "this sign-in link expired: ask for a new one")
		}
		l.Used, l.Updated = now, n.stamp(l.Updated)
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	u, err := n.ensureUser(r.Context(), l.Email)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	n.startSession(w, r, u, l.Next)
}

// ensureUser returns the user of an e-mail address, creating it.
func (n *Node) ensureUser(ctx context.Context, email string) (*account.User, error) {
	id := account.UserID(email)
	n.lockRecords()
	defer n.unlockRecords()
	var u account.User
	err := n.getRecord(ctx, account.NSUser, []byte(id), &u)
	if err == nil {
		return &u, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	now := n.cfg.Now().UnixMilli()
	// Created and Updated are fixed for a new user (1), so two nodes
	// creating one person at once write the same record; the first
	// profile edit wins over both.
	u = account.User{ID: id, Email: email, Name: account.DefaultName(email), Created: now, Updated: 1}
	if err := n.putRecordLocked(ctx, account.NSUser, []byte(id), &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// startSession creates a session for u, sets its cookie and answers.
func (n *Node) startSession(w http.ResponseWriter, r *http.Request, u *account.User, next string) {
	tok, hash := account.NewToken()
	now := n.cfg.Now()
	s := account.Session{User: u.ID, Created: now.UnixMilli(), Expires: now.Add(sessionTTL).UnixMilli(), Updated: now.UnixMilli()}
	if err := n.putRecord(r.Context(), account.NSSession, []byte(hash), &s); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{Name: access.SessionCookie, Value: tok, Path: "/", Expires: now.Add(sessionTTL),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(n.cfg.PublicURL, "https:")})
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, 200, map[string]any{"session": tok, "user": u, "next": next})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// POST /v1/signout: ends the session.
func (n *Node) signOut(w http.ResponseWriter, r *http.Request) {
	if tok := access.SessionToken(r); account.ValidToken(tok) {
		var s account.Session
		n.updateRecord(r.Context(), account.NSSession, []byte(account.HashToken(tok)), &s, func(found bool) error {
			if !found {
				return storage.ErrNotFound
			}
			s.Revoked, s.Updated = true, n.stamp(s.Updated)
			return nil
		})
	}
	http.SetCookie(w, &http.Cookie{Name: access.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(204)
}

// me resolves the signed-in user or writes 401.
func (n *Node) me(w http.ResponseWriter, r *http.Request) *account.User {
	u, err := n.access.SignedIn(r)
	if err != nil {
		writeError(w, 401, protocol.CodeUnauthorized, err.Error())
		return nil
	}
	if u == nil {
		writeError(w, 401, protocol.CodeUnauthorized, "sign in first (POST /v1/signin)")
		return nil
	}
	return u
}

type boardEntry struct {
	Board BoardMeta `json:"board"`
	Role  string    `json:"role"`
}

// GET /v1/me: the signed-in user and the boards they belong to.
func (n *Node) getMe(w http.ResponseWriter, r *http.Request) {
	u := n.me(w, r)
	if u == nil {
		return
	}
	// The user's memberships (index.go), not every board: the owner of
	// a board is its member too.
	boards := []boardEntry{}
	err := n.boardsOf(r.Context(), u.ID, func(id storage.BoardID) error {
		m, err := n.loadBoard(r.Context(), id)
		if err != nil {
			return nil // gone (or unreadable: the others are listed)
		}
		// The role the board's settings give them now (a visitor member's
		// follows publicRole, and is none on a members-only board).
		role, err := n.access.MemberRole(r.Context(), id, m, u.ID)
		if err == nil && role != "" {
			boards = append(boards, boardEntry{Board: *m.ShownTo(role), Role: role})
		}
		return nil
	})
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	slices.SortFunc(boards, func(a, b boardEntry) int { return int(b.Board.Updated - a.Board.Updated) })
	writeJSON(w, 200, map[string]any{"user": u, "boards": boards})
}

// PATCH /v1/me {"name", "color", "tz"}.
func (n *Node) patchMe(w http.ResponseWriter, r *http.Request) {
	u := n.me(w, r)
	if u == nil {
		return
	}
	var req struct {
		Name  *string `json:"name"`
		Color *string `json:"color"`
		TZ    *string `json:"tz"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	for _, c := range []struct {
		v   *string
		chk func(string) error
	}{{req.Name, account.CheckName}, {req.Color, account.CheckColor}, {req.TZ, account.CheckTZ}} {
		if c.v != nil {
			if err := c.chk(*c.v); err != nil {
				writeError(w, 400, protocol.CodeMalformed, err.Error())
				return
			}
		}
	}
	n.lockRecords()
	defer n.unlockRecords()
	var cur account.User
	if err := n.getRecord(r.Context(), account.NSUser, []byte(u.ID), &cur); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	if req.Name != nil {
		cur.Name = strings.TrimSpace(*req.Name)
	}
	if req.Color != nil {
		cur.Color = *req.Color
	}
	if req.TZ != nil {
		cur.TZ = *req.TZ
	}
	cur.Updated = n.stamp(cur.Updated)
	if err := n.putRecordLocked(r.Context(), account.NSUser, []byte(cur.ID), &cur); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	writeJSON(w, 200, map[string]any{"user": cur})
}

// ---- members ----

type memberView struct {
	User   string         `json:"user"`
	Name   string         `json:"name"`
	Email  string         `json:"email,omitempty"` // shown to the owner only
	Color  string         `json:"color,omitempty"`
	Role   string         `json:"role"`
	Joined int64          `json:"joined"`
	Notify *account.Prefs `json:"notify,omitempty"` // your own only
}

// members lists a board's members (the owner first).
func (n *Node) members(ctx context.Context, id storage.BoardID) ([]account.Member, error) {
	var out []account.Member
	err := n.store.ScanMeta(ctx, account.NSMember, id[:], func(_, val []byte) error {
		var m account.Member
		if json.Unmarshal(val, &m) == nil && !m.Removed {
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// GET /v1/boards/{board}/members.
func (n *Node) listMembers(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := n.enter(w, r)
	if !ok {
		return
	}
	if who.Guest {
		writeError(w, 403, protocol.CodeForbidden, "guests cannot list members")
		return
	}
	ms, err := n.members(r.Context(), id)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	out := []memberView{}
	for _, mem := range ms {
		var u account.User
		n.getRecord(r.Context(), account.NSUser, []byte(mem.User), &u)
		v := memberView{User: mem.User, Name: u.Name, Color: u.Color, Role: mem.Role, Joined: mem.Joined}
		if mem.User == m.Owner {
			v.Role = room.RoleOwner
		}
		if who.User.Role == room.RoleOwner || mem.User == who.User.ID {
			v.Email = u.Email
		}
		if mem.User == who.User.ID {
			p := mem.Notify
			v.Notify = &p
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b memberView) int {
		if ra, rb := account.RoleRank(a.Role), account.RoleRank(b.Role); ra != rb {
			return rb - ra
		}
		return strings.Compare(a.Name, b.Name)
	})
	writeJSON(w, 200, map[string]any{"members": out})
}

// addMember makes user a member with role (keeping a higher role it has).
// addMember grants user role on the board (never lowering a full
// member's role), by the user by; a visitor member becomes a full one.
func (n *Node) addMember(ctx context.Context, id storage.BoardID, user, role, by string) error {
	return n.grant(ctx, id, user, role, by, false, 0)
}

// addVisitor makes user a visitor member of the board (account.Member.Guest:
// in with the board's password, or a public board's visitor who chose
// notifications), valid in the board's epoch epoch; a full member stays
// one.
func (n *Node) addVisitor(ctx context.Context, id storage.BoardID, user, role string, epoch int) error {
	return n.grant(ctx, id, user, role, "", true, epoch)
}

func (n *Node) grant(ctx context.Context, id storage.BoardID, user, role, by string, visitor bool, epoch int) error {
	n.lockRecords()
	defer n.unlockRecords()
	key := account.BoardKey(id, user)
	var mem account.Member
	err := n.getRecord(ctx, account.NSMember, key, &mem)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	now := n.cfg.Now()
	if err == nil && !mem.Removed {
		switch {
		case mem.Guest && !visitor:
			// An invite or the owner's grant: a full member now.
			mem.Guest, mem.Epoch, mem.Role, mem.InvitedBy = false, 0, role, by
		case mem.Guest && visitor:
			mem.Epoch, mem.Role = epoch, role // in again, in this epoch
		case visitor || account.RoleRank(mem.Role) >= account.RoleRank(role):
			return nil
		default:
			mem.Role = role
		}
	} else {
		var u account.User
		n.getRecord(ctx, account.NSUser, []byte(user), &u)
		p := account.DefaultPrefs()
		mem = account.Member{Board: id.String(), User: user, Role: role, Notify: p, InvitedBy: by, Guest: visitor, Epoch: epoch, Joined: now.UnixMilli(), Updated: mem.Updated}
		if !visitor {
			mem.Epoch = 0
		}
		// The notification cursor starts now: a new member hears of what
		// happens from now on.
		if err := n.startCursor(ctx, id, user, u.Location(), p); err != nil {
			return err
		}
	}
	mem.Updated = n.stamp(mem.Updated)
	return n.putRecordLocked(ctx, account.NSMember, key, &mem)
}

// PUT /v1/boards/{board}/members/{user} {"role"}: the owner changes a
// member's role (at once, on open connections too).
func (n *Node) putMember(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := n.enterOwner(w, r, "only the owner may change roles")
	if !ok {
		return
	}
	var req struct {
		Role string `json:"role"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	user := r.PathValue("user")
	if !validRole(req.Role) || req.Role == room.RoleOwner {
		writeError(w, 400, protocol.CodeMalformed, "role: editor, commenter or viewer")
		return
	}
	if user == m.Owner {
		writeError(w, 400, protocol.CodeMalformed, "the owner's role cannot change")
		return
	}
	mem, err := n.changeMember(r.Context(), id, user, func(mem *account.Member) { mem.Role = req.Role })
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	n.refreshRoles(id)
	writeJSON(w, 200, map[string]any{"member": memberView{User: user, Role: mem.Role, Joined: mem.Joined}})
}

// changeMember edits an existing membership (404 when there is none).
func (n *Node) changeMember(ctx context.Context, id storage.BoardID, user string, edit func(*account.Member)) (account.Member, error) {
	var mem account.Member
	err := n.updateRecord(ctx, account.NSMember, account.BoardKey(id, user), &mem, func(found bool) error {
		if !found || mem.Removed {
			return refuse(404, protocol.CodeNotFound, "no such member")
		}
		edit(&mem)
		mem.Updated = n.stamp(mem.Updated)
		return nil
	})
	return mem, err
}

// DELETE /v1/boards/{board}/members/{user}: the owner removes a member, or
// a member leaves.
func (n *Node) deleteMember(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := n.enter(w, r)
	if !ok {
		return
	}
	user := r.PathValue("user")
	if user == "me" {
		user = who.User.ID
	}
	if who.User.Role != room.RoleOwner && user != who.User.ID {
		writeError(w, 403, protocol.CodeForbidden, "only the owner may remove others")
		return
	}
	if user == m.Owner {
		writeError(w, 400, protocol.CodeMalformed, "the owner cannot be removed")
		return
	}
	if _, err := n.changeMember(r.Context(), id, user, func(mem *account.Member) { mem.Removed = true }); err != nil {
		writeUpdateError(w, err)
		return
	}
	n.refreshRoles(id)
	w.WriteHeader(204)
}

// GET and PUT /v1/boards/{board}/notify: the caller's own preferences.
func (n *Node) notifyPrefs(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := n.enter(w, r)
	if !ok {
		return
	}
	if who.Via != viaSession {
		writeError(w, 403, protocol.CodeForbidden, "notifications are for signed-in members")
		return
	}
	key := account.BoardKey(id, who.User.ID)
	n.lockRecords()
	defer n.unlockRecords()
	var mem account.Member
	err := n.getRecord(r.Context(), account.NSMember, key, &mem)
	switch {
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	case err == nil && mem.Removed && who.User.Role != room.RoleOwner:
		// Preferences never restore a membership the owner ended.
		writeError(w, 403, protocol.CodeForbidden, "you were removed from this board")
		return
	case err != nil || mem.Removed:
		// An owner, or a public board's visitor, who is not a member yet
		// becomes one by choosing preferences: the owner as owner, a
		// visitor as a visitor member (the board's visitors' role, for as
		// long as it takes visitors), never with a role of their own.
		mem = account.Member{Board: id.String(), User: who.User.ID, Role: who.User.Role, Notify: account.DefaultPrefs(), Joined: n.cfg.Now().UnixMilli(), Updated: mem.Updated}
		if who.User.Role != room.RoleOwner {
			mem.Guest, mem.Epoch = true, m.Epoch
		}
	}
	if r.Method == http.MethodGet {
		writeJSON(w, 200, map[string]any{"notify": mem.Notify})
		return
	}
	var p account.Prefs
	if !decodeBody(w, r, &p) {
		return
	}
	if err := p.Check(); err != nil {
		writeError(w, 400, protocol.CodeMalformed, err.Error())
		return
	}
	if mem.Notify != p {
		var u account.User
		n.getRecord(r.Context(), account.NSUser, []byte(who.User.ID), &u)
		if err := n.startCursorIfMissing(r.Context(), id, who.User.ID, u.Location(), p); err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
	}
	mem.Notify, mem.Updated = p, n.stamp(mem.Updated)
	if err := n.putRecordLocked(r.Context(), account.NSMember, key, &mem); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	writeJSON(w, 200, map[string]any{"notify": p})
}

// rememberGuest keeps the display name a guest chose (a user record
// without e-mail), so digests, "since your last visit" and summaries name
// them. Link users are shared by everyone holding the link: not kept. The
// node's budget of guest records bounds how many are written
// (keepGuest, quotas.go).
func (n *Node) rememberGuest(ctx context.Context, u protocol.User) {
	n.keepGuest(ctx, "", u)
}
