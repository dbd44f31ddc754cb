package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Invites, and guests who know a board's password.
//
// An invite grants a membership; it signs in only the person who proved
// they own the address (docs/SECURITY.md, "Invites"):
//
//   - an invite by e-mail is sent only to that address: the link is in
//     the e-mail and nowhere else (not in the answer to the inviter, who
//     must never hold a credential of the invitee). Opening it proves the
//     mailbox, so it signs that person in and makes them a member. It works
//     once. Only a signed-in owner may send one, and the e-mail names them
//     by their verified address.
//   - an invite link (no e-mail) is what the owner copies into a chat. It
//     is a membership-only capability: whoever opens it must already be
//     signed in (as themselves), and becomes a member with its role. It
//     works until it expires or is revoked, up to maxLinkUses times.
//
// Rejected: returning the e-mailed link to the inviter (the takeover this
// design closes: the inviter could sign in as anyone), and invite links
// that sign in a fresh account (a capability that mints identities).

// Invite limits.
const (
	invitesPerBoardDay   = 200 // e-mails per board per day
	invitesPerInviterDay = 50  // e-mails per inviter per day, across boards
	// invitesPerAddressDay bounds the invites e-mailed to one address a
	// day, whoever sends them: the caps above are per board and per
	// inviter, and anyone who can sign in with a few addresses of their
	// own ("me+1@…", a domain's catch-all) could otherwise send a
	// stranger fifty invites a day with each, by "resend" on one board.
	invitesPerAddressDay = 10
	// invitesPerClientDay bounds the invites e-mailed a day from one
	// client address (IPv6: a /64), whoever signed in there: an account
	// costs one sign-in e-mail (20 an hour per client address), so with
	// a catch-all domain one address made 480 accounts a day, each with
	// 50 invites to strangers, 24,000 e-mails of its own text a day per
	// node. Counted for the whole cluster, as the cap per invitee (the
	// cost: a write to the cluster's limits per invite e-mail), so that
	// spreading the calls over the nodes does not multiply it.
	invitesPerClientDay = 100
	maxLinkUses         = 500 // people joining through one invite link
)

// POST /v1/boards/{board}/invites {"email", "role", "days", "resend"}
// (owner): with an e-mail, sends the invite to that address; without,
// answers an invite link to hand out.
//
// An address with a pending invite (sent, not accepted, revoked or
// expired) is not invited twice: the answer is 200 {"invite": the
// pending one, "existing": true}, refreshed (the role asked now, an expiry
// no earlier than a new invite's), and no e-mail goes out. With "resend":
// true the pending invite is revoked and a new one e-mailed (201,
// "replaced": the old id): someone who lost the e-mail gets a working
// link, and there is still one pending invite per address.
//
// Rejected: sending the same link again (the node keeps only its hash),
// and a 409 (the owner's intent, this person invited, holds: answering
// the invite that does it is more useful than an error).
func (srv *Server) createInvite(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enterOwner(w, r, "only the owner may invite")
	if !ok {
		return
	}
	var req struct {
		Email  string `json:"email,omitempty"`
		Role   string `json:"role"`
		Days   int    `json:"days,omitempty"`
		Resend bool   `json:"resend,omitempty"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Role == "" {
		req.Role = room.RoleEditor
	}
	if !validRole(req.Role) || req.Role == room.RoleOwner {
		writeError(w, 400, protocol.CodeMalformed, "role: editor, commenter or viewer")
		return
	}
	ttl := inviteTTL
	if req.Days != 0 {
		if req.Days < 1 || req.Days > 90 {
			writeError(w, 400, protocol.CodeMalformed, "days: 1 to 90")
			return
		}
		ttl = time.Duration(req.Days) * 24 * time.Hour
	}
	now := srv.cfg.Now()
	tok, hash := account.NewToken()
	inv := account.Invite{ID: hash[:16], Board: m.ID, Role: req.Role, By: who.User.ID,
		Created: now.UnixMilli(), Expires: now.Add(ttl).UnixMilli(), Updated: now.UnixMilli()}
	link := srv.cfg.PublicURL() + "/v1/invites/" + tok
	if strings.TrimSpace(req.Email) == "" {
		if !srv.cfg.Limits.Allow("invite-link:"+id.String(), invitesPerBoardDay, 24*time.Hour) {
			writeError(w, 429, protocol.CodeRateLimited, "too many invite links today")
			return
		}
		inv.Link = true
		if err := srv.cfg.Records.Put(r.Context(), account.NSInvite, []byte(hash), &inv); err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
		writeJSON(w, 201, map[string]any{"invite": inv, "link": link})
		return
	}
	email, err := account.NormalizeEmail(req.Email)
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, err.Error())
		return
	}
	// The e-mail says who invites: only a signed-in person, by the address
	// they proved, may make the node write to someone else's mailbox.
	inviter, err := srv.cfg.Access.SignedIn(r)
	if err != nil || inviter == nil {
		writeError(w, 403, protocol.CodeForbidden, "sign in to invite by e-mail (the invitation names you by your address); or make an invite link")
		return
	}
	prev, err := srv.pendingInvite(r.Context(), m.ID, email)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	// An e-mail is sent (a new invite, or a resent one): within the caps,
	// checked before a resent invite's old one is revoked, so a refused
	// resend leaves it pending.
	mayMail := func() bool {
		if srv.cfg.Limits.Allow("invite:"+id.String(), invitesPerBoardDay, 24*time.Hour) &&
			srv.cfg.Limits.Allow("inviter:"+inviter.ID, invitesPerInviterDay, 24*time.Hour) &&
			srv.cfg.Limits.AllowShared(r.Context(), "invite-ip:"+httpguard.ClientIP(r), invitesPerClientDay, 24*time.Hour) &&
			srv.cfg.Limits.AllowShared(r.Context(), "invitee:"+email, invitesPerAddressDay, 24*time.Hour) {
			return true
		}
		writeError(w, 429, protocol.CodeRateLimited, "too many invites today")
		return false
	}
	checked := false
	if prev != nil && req.Resend {
		if !mayMail() {
			return
		}
		checked = true
	}
	if prev != nil {
		// Refreshed, or replaced by a new one when asked to resend.
		err := srv.cfg.Records.Update(r.Context(), account.NSInvite, []byte(prev.Hash), prev, func(found bool) error {
			if !found || prev.Revoked || prev.Used != 0 {
				return errNotPending
			}
			if req.Resend {
				prev.Revoked = true
			} else {
				prev.Role = req.Role
				prev.Expires = max(prev.Expires, inv.Expires)
			}
			prev.Updated = srv.cfg.Records.Stamp(prev.Updated)
			return nil
		})
		switch {
		case errors.Is(err, errNotPending):
			prev = nil // accepted or revoked meanwhile: a new invite, as for anyone
		case err != nil:
			writeUpdateError(w, err)
			return
		case !req.Resend:
			writeJSON(w, 200, map[string]any{"invite": prev, "existing": true})
			return
		}
	}
	if !checked && !mayMail() {
		return
	}
	inv.Email, inv.By = email, inviter.ID
	if err := srv.cfg.Records.Put(r.Context(), account.NSInvite, []byte(hash), &inv); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	from := inviter.Email
	if inviter.Name != "" && inviter.Name != account.DefaultName(inviter.Email) {
		from = fmt.Sprintf("%s (%s)", inviter.Name, inviter.Email)
	}
	text := fmt.Sprintf("Hello,\n\n%s invites you to the Corkboard board %q as %s.\n\nOpen the board (this link signs you in as %s; it works once, until %s):\n\n%s\n\nIf you do not know %s, ignore this e-mail: nothing happens without the link.\n",
		from, m.Name, req.Role, email, now.Add(ttl).UTC().Format("2 Jan 2006 15:04 MST"), link, inviter.Email)
	if err := srv.sendMail(r.Context(), "invite/"+inv.ID, email, fmt.Sprintf("%s invites you to a Corkboard board", inviter.Email), text, ""); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	out := map[string]any{"invite": inv}
	if prev != nil {
		out["replaced"] = prev.ID
	}
	writeJSON(w, 201, out)
}

// errNotPending: the pending invite was accepted or revoked meanwhile.
var errNotPending = errors.New("invite no longer pending")

// pendingInvite is the board's newest e-mailed invite to email that is
// still pending (not accepted, revoked or expired), or nil.
func (srv *Server) pendingInvite(ctx context.Context, board, email string) (*account.Invite, error) {
	invs, err := srv.invites(ctx, board)
	if err != nil {
		return nil, err
	}
	now := srv.cfg.Now().UnixMilli()
	for _, inv := range invs { // newest first
		if !inv.Link && inv.Email == email && !inv.Revoked && inv.Used == 0 && now < inv.Expires {
			return &inv, nil
		}
	}
	return nil, nil
}

// invites lists a board's invites.
func (srv *Server) invites(ctx context.Context, board string) ([]account.Invite, error) {
	var out []account.Invite
	id, err := storage.ParseBoardID(board)
	if err != nil {
		return nil, err
	}
	// The board's invites (Boards.InviteHashes), not every invite of the node.
	err = srv.cfg.Boards.InviteHashes(ctx, id, func(hash []byte) error {
		var inv account.Invite
		if srv.cfg.Records.Get(ctx, account.NSInvite, hash, &inv) == nil && inv.Board == board {
			inv.Hash = string(hash)
			out = append(out, inv)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b account.Invite) int { return int(b.Created - a.Created) })
	return out, err
}

// GET /v1/boards/{board}/invites (owner).
func (srv *Server) listInvites(w http.ResponseWriter, r *http.Request) {
	_, m, _, ok := srv.enterOwner(w, r, "only the owner may list invites")
	if !ok {
		return
	}
	invs, err := srv.invites(r.Context(), m.ID)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	if invs == nil {
		invs = []account.Invite{}
	}
	writeJSON(w, 200, map[string]any{"invites": invs})
}

// DELETE /v1/boards/{board}/invites/{invite} (owner): revokes an invite.
func (srv *Server) revokeInvite(w http.ResponseWriter, r *http.Request) {
	_, m, _, ok := srv.enterOwner(w, r, "only the owner may revoke invites")
	if !ok {
		return
	}
	invs, err := srv.invites(r.Context(), m.ID)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	for _, inv := range invs {
		if inv.ID != r.PathValue("invite") {
			continue
		}
		// Re-read under the lock: an accept may have raced the listing.
		err := srv.cfg.Records.Update(r.Context(), account.NSInvite, []byte(inv.Hash), &inv, func(bool) error {
			inv.Revoked, inv.Updated = true, srv.cfg.Records.Stamp(inv.Updated)
			return nil
		})
		if err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
		w.WriteHeader(204)
		return
	}
	writeError(w, 404, protocol.CodeNotFound, "no such invite")
}

// GET /v1/invites/{token}: the page of an invite, one button that POSTs
// back. An e-mailed invite signs in whoever presses it as the invited
// address, so its page names that address, as a sign-in link's does:
// the page said only "join the board", and someone who invited an
// address of their own and forwarded the link had the person they sent
// it to signed in to the sender's account at one press (their own
// session replaced), working there for the sender to read. It reads the
// invite without using it (mail scanners open links); an invite that can
// no longer be used says so at once.
func (srv *Server) invitePage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	var inv account.Invite
	msg := ""
	switch {
	case !account.ValidToken(tok) || srv.cfg.Records.Get(r.Context(), account.NSInvite, []byte(account.HashToken(tok)), &inv) != nil:
		msg = "Unknown invite: ask the board's owner for a new one."
	case inv.Revoked:
		msg = "This invite was revoked."
	case srv.cfg.Now().UnixMilli() >= inv.Expires:
		msg = "This invite expired: ask the board's owner for a new one."
	case !inv.Link && inv.Used != 0:
		msg = "This invite was already used: sign in instead."
	}
	if msg != "" {
		page(w, 401, map[string]string{"Title": "Invite", "Text": msg, "Home": "/"})
		return
	}
	if inv.Link {
		confirm(w, "You are invited", "Continue to join the board in this browser, as the person signed in here.", "Open the board")
		return
	}
	confirm(w, "You are invited", "Continue to join the board and sign in to Corkboard in this browser as "+inv.Email+
		". If that is not your address, close this page: whoever sent it would have you work in their account.", "Open the board")
}

// POST /v1/invites/{token}: accepts an invite. An e-mailed invite (once):
// membership, a session for the invited address, a redirect to the board.
// An invite link: membership for the signed-in caller (401 when nobody
// is signed in), a redirect to the board.
func (srv *Server) acceptInvite(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if !account.ValidToken(tok) {
		writeError(w, 400, protocol.CodeMalformed, "not an invite link")
		return
	}
	// Who is signed in matters to invite links only; read it before the
	// invite is used, so a link is not spent on an anonymous click.
	caller, callerErr := srv.cfg.Access.SignedIn(r)
	ctx := r.Context()
	var inv account.Invite
	var issued int64 // when the owner last made or renewed the invite
	err := srv.cfg.Records.Update(ctx, account.NSInvite, []byte(account.HashToken(tok)), &inv, func(found bool) error {
		now := srv.cfg.Now().UnixMilli()
		issued = inv.Updated
		msg := ""
		switch {
		case !found:
			msg = "unknown invite"
		case inv.Revoked:
			msg = "this invite was revoked"
		case now >= inv.Expires:
			msg = "this invite expired: ask the board's owner for a new one"
		case inv.Link && (caller == nil || callerErr != nil):
			return refuse(401, protocol.CodeUnauthorized, "sign in first, then open this invite link again")
		case inv.Link && inv.Uses >= maxLinkUses:
			msg = "this invite link was used too often: ask the board's owner for a new one"
		case !inv.Link && inv.Used != 0:
			msg = "this invite was already used: sign in instead"
		}
		if msg != "" {
			return refuse(401, protocol.CodeUnauthorized, msg)
		}
		if inv.Link {
			// A member the owner removed spends no use of the link.
			if err := srv.checkRestores(ctx, inv, issued, caller.ID); err != nil {
				return err
			}
			inv.Uses++
		} else {
			inv.Used = now
		}
		inv.Updated = srv.cfg.Records.Stamp(inv.Updated)
		return nil
	})
	if err != nil {
		var ref *reply.Refusal
		if errors.As(err, &ref) && (ref.Status == 401 || ref.Status == 403) && !strings.Contains(r.Header.Get("Accept"), "application/json") {
			page(w, ref.Status, map[string]string{"Title": "Invite", "Text": ref.Msg, "Home": "/"})
			return
		}
		writeUpdateError(w, err)
		return
	}
	board, err := storage.ParseBoardID(inv.Board)
	if err == nil {
		_, err = srv.cfg.Boards.Load(r.Context(), board)
	}
	if err != nil {
		writeError(w, 404, protocol.CodeUnknownBoard, "the board is gone")
		return
	}
	u := caller
	if !inv.Link {
		u, err = srv.ensureUser(r.Context(), inv.Email)
	}
	role := inv.Role
	if err == nil {
		decided := issued // an e-mailed invite: the owner's decision about this address
		if inv.Link {
			decided = 0 // handed to many: no decision about anyone
		}
		role, err = srv.addMember(r.Context(), board, u.ID, inv.Role, inv.By, decided, inviteRestores(inv, issued))
	}
	if err != nil {
		var ref *reply.Refusal
		if errors.As(err, &ref) && !strings.Contains(r.Header.Get("Accept"), "application/json") {
			page(w, ref.Status, map[string]string{"Title": "Invite", "Text": ref.Msg, "Home": "/"})
			return
		}
		writeUpdateError(w, err)
		return
	}
	srv.cfg.Access.RefreshRoles(board)
	if inv.Link {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			writeJSON(w, 200, map[string]any{"user": u, "board": inv.Board, "role": role, "next": "/b/" + inv.Board})
			return
		}
		http.Redirect(w, r, "/b/"+inv.Board, http.StatusSeeOther)
		return
	}
	srv.startSession(w, r, u, "/b/"+inv.Board)
}

// inviteRestores says whether accepting inv brings back a membership that
// was removed, or makes a full member of a visitor the owner had removed
// (in again with the board's password: account.Member.OwnerRemoval): one
// the member left by themselves with no removal by the owner before, or,
// for an e-mailed invite, one the owner ended before they made or renewed
// the invite (issued: the invite's Updated before it was accepted;
// inviting the address again renews a pending invite). An invite link
// never brings back a member the owner removed, neither after they came
// in again as a visitor nor after they left that visit: it is handed to
// many, and making one for the team is no decision about the person
// removed. Rejected: letting any invite restore (a removed member came
// back through the link they joined with), and letting nothing restore
// (the owner could never take a removal back).
func inviteRestores(inv account.Invite, issued int64) func(removed account.Member) bool {
	return func(removed account.Member) bool {
		if at := removed.OwnerRemoval(); at != 0 {
			return !inv.Link && issued > at
		}
		return true // left by themselves
	}
}

// checkRestores refuses (errRemoved) accepting inv for user when it would
// not bring back their removed membership, or not make a full member of
// the visitor the owner had removed: checked before an invite link is
// spent, and again when the membership is granted.
func (srv *Server) checkRestores(ctx context.Context, inv account.Invite, issued int64, user string) error {
	board, err := storage.ParseBoardID(inv.Board)
	if err != nil {
		return nil // the board is gone: answered after
	}
	var mem account.Member
	err = srv.cfg.Records.Get(ctx, account.NSMember, account.BoardKey(board, user), &mem)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return err
	case (mem.Removed || mem.Guest && mem.OwnerRemoval() != 0) && !inviteRestores(inv, issued)(mem):
		return errRemoved
	}
	return nil
}

// POST /v1/boards/{board}/join {"password", "name"}: enters a
// password-protected board. A signed-in person becomes a member with the
// board's PublicRole; anyone else gets a guest token for the board. Wrong
// passwords are limited to 5 per quarter hour per address and board.
func (srv *Server) joinBoard(w http.ResponseWriter, r *http.Request) {
	id, m, ok := srv.boardFromPath(w, r)
	if !ok {
		return
	}
	var req struct {
		Password string `json:"password"`
		Name     string `json:"name,omitempty"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if m.Access != accessPassword {
		writeError(w, 400, protocol.CodeMalformed, "this board has no password")
		return
	}
	if !srv.cfg.Access.Fresh() {
		// The password's hash and the board's epoch are records of two
		// buckets, each watched by itself: a node catching up after a
		// restart had the new epoch and still the old hash, and gave
		// whoever knew the old password a token of the new epoch,
		// valid on every node.
		writeError(w, 503, protocol.CodeUnavailable, access.ErrStale.Error())
		return
	}
	// The attempt is counted before the password is checked, so parallel
	// guesses cannot all pass the limit while argon2 runs; a right
	// password gives its attempt back.
	limKey := "join:" + id.String() + ":" + httpguard.ClientIP(r)
	if !srv.cfg.Limits.AllowShared(r.Context(), limKey, joinAttempts, joinWindow) { // for the whole cluster
		writeError(w, 429, protocol.CodeRateLimited, "too many wrong passwords; try again later")
		return
	}
	var ph account.PasswordHash
	if err := srv.cfg.Records.Get(r.Context(), account.NSPassword, id[:], &ph); err != nil || !srv.cfg.Access.CheckPassword(r.Context(), ph.Hash, req.Password) {
		writeError(w, 401, protocol.CodeUnauthorized, "wrong password")
		return
	}
	srv.cfg.Limits.RefundShared(r.Context(), limKey, joinWindow)
	u, err := srv.cfg.Access.SignedIn(r)
	if err != nil {
		writeError(w, 401, protocol.CodeUnauthorized, err.Error())
		return
	}
	if u != nil {
		if err := srv.addVisitor(r.Context(), id, u.ID, m.PublicRole, m.Epoch); err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
		role, _ := srv.cfg.Access.MemberRole(r.Context(), id, m, u.ID)
		writeJSON(w, 200, map[string]any{"role": role, "user": u})
		return
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = "Guest"
	}
	if err := account.CheckName(name); err != nil {
		writeError(w, 400, protocol.CodeMalformed, err.Error())
		return
	}
	user := protocol.User{ID: access.GuestPrefix + auth.RandomID(9), Name: name, Role: m.PublicRole}
	srv.rememberGuest(r.Context(), user)
	tok := srv.cfg.Signer.Sign(auth.Claims{Board: m.ID, User: user.ID, Name: name, Role: m.PublicRole, Exp: srv.cfg.Now().Add(linkTTL).Unix(), Epoch: m.Epoch})
	writeJSON(w, 200, map[string]any{"role": m.PublicRole, "user": user, "token": tok})
}

// Wrong board passwords allowed per address and board.
const (
	joinAttempts = 5
	joinWindow   = 15 * time.Minute
)
