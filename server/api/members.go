package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

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

// GET /v1/boards/{board}/members: who is on the board, for the share
// dialog and for @mentions. The owner and full members list them, whatever
// their role; anyone else on the board (a link's or a password guest's
// token, a public board's guest, a signed-in visitor or visitor member)
// only if they may comment (commenter or editor), since they may mention
// them: names and ids only (e-mails are for the owner, and one's own).
// Rejected: refusing viewer members too (the people the owner chose may
// see who else is on the board, as the home page's cards show), and
// letting every viewer list them (a viewer link is often handed out
// widely, and its holders have no one to mention).
func (srv *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	if account.RoleRank(who.User.Role) < account.RoleRank(room.RoleCommenter) {
		full, err := srv.fullMember(r.Context(), id, who)
		if err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
		if !full {
			writeError(w, 403, protocol.CodeForbidden, "only members, and visitors who may comment, may list the members")
			return
		}
	}
	ms, err := srv.cfg.Boards.Members(r.Context(), id)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	out := []memberView{}
	for _, mem := range ms {
		var u account.User
		srv.cfg.Records.Get(r.Context(), account.NSUser, []byte(mem.User), &u)
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

// fullMember says whether who has a membership of their own on the board
// (not removed, not a visitor member's).
func (srv *Server) fullMember(ctx context.Context, id storage.BoardID, who access.Identity) (bool, error) {
	if who.Via != access.ViaSession {
		return false, nil
	}
	var mem account.Member
	err := srv.cfg.Records.Get(ctx, account.NSMember, account.BoardKey(id, who.User.ID), &mem)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return !mem.Removed && !mem.Guest, nil
}

// addMember grants user role on the board (never lowering a full
// member's role), by the user by; a visitor member becomes a full one. A
// membership that was removed, or a visitor membership of a user the owner
// removed (account.Member.OwnerRemoval), becomes a full one only if
// restores says so of it (nil: never); otherwise the answer is
// errRemoved's refusal. decided is when the owner made this grant about
// this user (an e-mailed invite's issue; 0: an invite link, no decision
// about anyone): a cap the owner set on the user at or after it
// (account.Member.Cap) bounds the role granted and stays.
// The role answered is the one the user has now.
func (srv *Server) addMember(ctx context.Context, id storage.BoardID, user, role, by string, decided int64, restores func(removed account.Member) bool) (string, error) {
	mem, err := srv.grant(ctx, id, user, role, by, false, 0, decided, restores)
	return mem.Role, err
}

// capped is role lowered to mem's cap when the cap binds a grant the
// owner decided at decided (see addMember), and whether it binds.
func capped(mem account.Member, role string, decided int64) (string, bool) {
	if mem.Cap == "" || decided > mem.CapAt {
		return role, false
	}
	return access.MinRole(role, mem.Cap), true
}

// addVisitor makes user a visitor member of the board (account.Member.Guest:
// in with the board's password, or a public board's visitor who chose
// notifications), valid in the board's epoch epoch; a full member stays
// one. A removed member who knows the password comes in again, as a
// visitor: as a guest without signing in, they could anyway. The owner's
// removal stays on their record (RemovedAt), so that no invite link makes
// the visitor a full member again; so does the owner's cap on their role.
func (srv *Server) addVisitor(ctx context.Context, id storage.BoardID, user, role string, epoch int) error {
	_, err := srv.grant(ctx, id, user, role, "", true, epoch, 0, func(account.Member) bool { return true })
	return err
}

// errRemoved refuses a grant that would bring back a membership the owner
// ended.
var errRemoved = refuse(403, protocol.CodeForbidden, "you were removed from this board: its owner may invite you again by e-mail")

func (srv *Server) grant(ctx context.Context, id storage.BoardID, user, role, by string, visitor bool, epoch int, decided int64, restores func(removed account.Member) bool) (account.Member, error) {
	key := account.BoardKey(id, user)
	var u account.User
	srv.cfg.Records.Get(ctx, account.NSUser, []byte(user), &u)
	now := srv.cfg.Now()
	p := account.DefaultPrefs()
	var mem account.Member
	joined := false
	// Compare-and-set: an owner's change of this membership made
	// meanwhile on another node (a removal, a demotion) is read again,
	// never overwritten with what this grant read.
	err := srv.cfg.Records.Update(ctx, account.NSMember, key, &mem, func(found bool) error {
		joined = false
		back := found && (mem.Removed || mem.Guest && !visitor && mem.OwnerRemoval() != 0)
		if back && (restores == nil || !restores(mem)) {
			return errRemoved
		}
		given, capStays := role, true
		if !visitor {
			given, capStays = capped(mem, role, decided)
		}
		if found && !mem.Removed {
			switch {
			case mem.Guest && !visitor:
				// An invite or the owner's grant: a full member now.
				mem.Guest, mem.Epoch, mem.Role, mem.InvitedBy, mem.RemovedAt = false, 0, given, by, 0
			case mem.Guest && visitor:
				mem.Epoch, mem.Role = epoch, role // in again, in this epoch (the owner's cap stays)
			case visitor || account.RoleRank(mem.Role) >= account.RoleRank(given):
				return errUnchanged
			default:
				mem.Role = given
			}
		} else {
			old := mem // the zero Member when not found
			mem = account.Member{Board: id.String(), User: user, Role: given, Notify: p, InvitedBy: by, Guest: visitor, Epoch: epoch, Joined: now.UnixMilli(), Updated: mem.Updated,
				Cap: old.Cap, CapAt: old.CapAt} // the owner's cap outlives leaving
			if visitor {
				mem.RemovedAt = old.OwnerRemoval() // the owner's removal outlives the visit
			} else {
				mem.Epoch = 0
			}
			joined = true
		}
		if !capStays {
			mem.Cap, mem.CapAt = "", 0 // an e-mailed invite made after the cap lifts it
		}
		mem.Updated = srv.cfg.Records.Stamp(mem.Updated)
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return mem, nil
	case err != nil:
		return mem, err
	case joined:
		// The notification cursor starts now: a new member hears of what
		// happens from now on.
		return mem, srv.startCursor(ctx, id, user, u.Location(), p)
	}
	return mem, nil
}

// PUT /v1/boards/{board}/members/{user} {"role"}: the owner changes a
// member's role (at once, on open connections too).
//
// A visitor member (in with the board's password, or a public board's
// visitor who chose notifications) whom the owner demotes (a role below
// the one they have now) stays a visitor, with the role set as a cap
// (account.Member.Cap): their role is the lower of publicRole and the
// cap, a later join with the password keeps the cap, and a new password,
// revoked links or a members-only board end their access as any
// visitor's. One whose role the owner sets at or above the one they have
// (a visitor whose access ended has none) becomes a full member with that
// role, and an earlier removal by the owner is taken back. The role
// answered is the role they have. Rejected: making a demoted visitor a
// full member (a demotion would give durable access that a new password
// no longer ends), and capping a promoted one (the promotion would
// answer 200 and change nothing).
func (srv *Server) putMember(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := srv.enterOwner(w, r, "only the owner may change roles")
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
	mem, err := srv.changeMember(r.Context(), id, user, func(mem *account.Member) {
		if mem.Guest && account.RoleRank(req.Role) < account.RoleRank(access.VisitorRole(m, *mem)) {
			mem.Cap, mem.CapAt = req.Role, mem.Updated // a demotion: still a visitor
			return
		}
		mem.Role, mem.Guest, mem.Epoch, mem.RemovedAt = req.Role, false, 0, 0
		mem.Cap, mem.CapAt = req.Role, mem.Updated // no invite link raises it again
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	srv.cfg.Access.RefreshRoles(id)
	role := mem.Role
	if mem.Guest {
		role = access.VisitorRole(m, mem)
	}
	writeJSON(w, 200, map[string]any{"member": memberView{User: user, Role: role, Joined: mem.Joined}})
}

// changeMember edits an existing membership (404 when there is none); edit
// sees its new Updated.
func (srv *Server) changeMember(ctx context.Context, id storage.BoardID, user string, edit func(*account.Member)) (account.Member, error) {
	var mem account.Member
	err := srv.cfg.Records.Update(ctx, account.NSMember, account.BoardKey(id, user), &mem, func(found bool) error {
		if !found || mem.Removed {
			return refuse(404, protocol.CodeNotFound, "no such member")
		}
		mem.Updated = srv.cfg.Records.Stamp(mem.Updated)
		edit(&mem)
		return nil
	})
	return mem, err
}

// DELETE /v1/boards/{board}/members/{user}: the owner removes a member, or
// a member leaves.
func (srv *Server) deleteMember(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enter(w, r)
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
	left := user == who.User.ID
	_, err := srv.changeMember(r.Context(), id, user, func(mem *account.Member) {
		mem.Removed, mem.Left = true, left
		if !left {
			mem.RemovedAt = mem.Updated // leaving keeps an earlier one
		}
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	srv.cfg.Access.RefreshRoles(id)
	w.WriteHeader(204)
}

// GET and PUT /v1/boards/{board}/notify: the caller's own preferences.
func (srv *Server) notifyPrefs(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	if who.Via != access.ViaSession {
		writeError(w, 403, protocol.CodeForbidden, "notifications are for signed-in members")
		return
	}
	key := account.BoardKey(id, who.User.ID)
	var mem account.Member
	// fresh makes mem what the caller's membership is, or becomes by
	// choosing preferences: a refusal if the owner ended it.
	fresh := func(found bool) error {
		switch {
		case found && mem.Removed && who.User.Role != room.RoleOwner:
			// Preferences never restore a membership the owner ended.
			return refuse(403, protocol.CodeForbidden, "you were removed from this board")
		case !found || mem.Removed:
			// An owner, or a public board's visitor, who is not a member
			// yet becomes one by choosing preferences: the owner as
			// owner, a visitor as a visitor member (the board's visitors'
			// role, for as long as it takes visitors), never with a role
			// of their own.
			mem = account.Member{Board: id.String(), User: who.User.ID, Role: who.User.Role, Notify: account.DefaultPrefs(), Joined: srv.cfg.Now().UnixMilli(), Updated: mem.Updated}
			if who.User.Role != room.RoleOwner {
				mem.Guest, mem.Epoch = true, m.Epoch
			}
		}
		return nil
	}
	err := srv.cfg.Records.Get(r.Context(), account.NSMember, key, &mem)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	// Whether the caller becomes a member now: their cursors start
	// whatever they choose. Starting them only for preferences other than
	// the membership's, a visitor who chose the ones every membership
	// starts with (a digest at 8:00) had none, and was never e-mailed.
	joining := err != nil || mem.Removed
	if err := fresh(err == nil); err != nil {
		writeUpdateError(w, err)
		return
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
	if joining || mem.Notify != p {
		var u account.User
		srv.cfg.Records.Get(r.Context(), account.NSUser, []byte(who.User.ID), &u)
		if err := srv.startCursorIfMissing(r.Context(), id, who.User.ID, u.Location(), p); err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
	}
	// Compare-and-set: the preferences change alone; a role change or a
	// removal made meanwhile on any node stays.
	err = srv.cfg.Records.Update(r.Context(), account.NSMember, key, &mem, func(found bool) error {
		if err := fresh(found); err != nil {
			return err
		}
		mem.Notify, mem.Updated = p, srv.cfg.Records.Stamp(mem.Updated)
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"notify": p})
}

// rememberGuest keeps the display name a guest chose (a user record
// without e-mail), so digests, "since your last visit" and summaries name
// them. Link users are shared by everyone holding the link: not kept. The
// node's budget of guest records bounds how many are written
// (keepGuest, quotas.go).
func (srv *Server) rememberGuest(ctx context.Context, u protocol.User) {
	srv.keepGuest(ctx, "", u)
}

// startCursor starts a member's notification cursors, one per channel of
// their preferences, at the board's current version.
func (srv *Server) startCursor(ctx context.Context, id storage.BoardID, user string, loc *time.Location, p account.Prefs) error {
	return srv.startCursors(ctx, id, user, loc, p, false)
}

// startCursorIfMissing is startCursor for the channels without a cursor.
func (srv *Server) startCursorIfMissing(ctx context.Context, id storage.BoardID, user string, loc *time.Location, p account.Prefs) error {
	return srv.startCursors(ctx, id, user, loc, p, true)
}

func (srv *Server) startCursors(ctx context.Context, id storage.BoardID, user string, loc *time.Location, p account.Prefs, onlyMissing bool) error {
	var version crdt.VersionVector
	if rm, err := srv.cfg.Rooms.Open(ctx, id); err == nil {
		rm.Query(ctx, func(d *crdt.Doc) { version = d.Version() })
	}
	now := srv.cfg.Now()
	for _, ch := range p.Channels() {
		key := account.CursorKey(id, user, ch.Name)
		if onlyMissing {
			var c account.Cursor
			err := srv.cfg.Records.Get(ctx, account.NSCursor, key, &c)
			if err == nil {
				continue
			}
			if !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		// Updated moves past the cursor it replaces (Stamp), never back
		// nor to the same millisecond: a notifier pass that read the old
		// one moves it by compare-and-set on Updated and Sent, and must
		// see that it changed.
		var c account.Cursor
		err := srv.cfg.Records.Update(ctx, account.NSCursor, key, &c, func(found bool) error {
			updated := now.UnixMilli()
			if found {
				updated = max(updated, srv.cfg.Records.Stamp(c.Updated))
			}
			c = account.Cursor{Board: id.String(), User: user, Version: version, Sent: 0, Day: account.Today(now, loc, ch.Prefs), Updated: updated}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// GET /v1/unsubscribe shows a confirmation; POST (also the RFC 8058
// one-click POST of mail clients) turns the member's notifications off.
func (srv *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	board, user := q.Get("b"), q.Get("u")
	if !srv.cfg.Notes.UnsubscribeValid(board, user, q.Get("s")) {
		writeError(w, 400, protocol.CodeMalformed, "not a valid unsubscribe link")
		return
	}
	if r.Method == http.MethodGet {
		confirm(w, "Unsubscribe", "Stop all e-mail about this board?", "Unsubscribe")
		return
	}
	id, err := storage.ParseBoardID(board)
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, "not a valid unsubscribe link")
		return
	}
	_, err = srv.changeMember(r.Context(), id, user, func(mem *account.Member) { mem.Notify.Mode = account.NotifyOff })
	if err != nil && !errors.As(err, new(*reply.Refusal)) { // no membership: nothing to turn off
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("You will get no more e-mail about this board.\n"))
		return
	}
	writeJSON(w, 200, map[string]any{"unsubscribed": true})
}
