package api

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// PATCH /v1/boards/{board} (owner): {"name", "access", "publicRole",
// "password", "deadline", "revokeLinks"}. Setting a password or revoking
// links bumps the board's epoch: every board token issued before stops
// working (role links, guests, the owner's own token), and open
// connections using one are closed on every node. A caller who came in
// with the owner's token gets a new one in the answer ("token"), so the
// owner is never locked out.
func (srv *Server) patchBoard(w http.ResponseWriter, r *http.Request) {
	id, _, who, ok := srv.enterOwner(w, r, "only the owner may change the board's settings")
	if !ok {
		return
	}
	var req struct {
		Name        *string `json:"name"`
		Access      *string `json:"access"`
		PublicRole  *string `json:"publicRole"`
		Password    *string `json:"password"`
		Deadline    *int64  `json:"deadline"` // unix ms; 0 clears (reopens)
		RevokeLinks bool    `json:"revokeLinks"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Name != nil {
		s := strings.TrimSpace(*req.Name)
		if s == "" || utf8.RuneCountInString(s) > 200 || !utf8.ValidString(s) {
			writeError(w, 400, protocol.CodeMalformed, "name: 1 to 200 characters")
			return
		}
		req.Name = &s
	}
	if req.Access != nil && !validAccess(*req.Access) {
		writeError(w, 400, protocol.CodeMalformed, `access: "public", "password" or "members"`)
		return
	}
	if req.PublicRole != nil && (!validRole(*req.PublicRole) || *req.PublicRole == room.RoleOwner) {
		writeError(w, 400, protocol.CodeMalformed, "publicRole: editor, commenter or viewer")
		return
	}
	if req.Deadline != nil && *req.Deadline < 0 {
		writeError(w, 400, protocol.CodeMalformed, "deadline: unix milliseconds, or 0 for none")
		return
	}
	if req.Password != nil {
		h, err := srv.passwordHash(r.Context(), *req.Password)
		if err != nil {
			passwordError(w, r, err)
			return
		}
		// The hash waits for one of the node's two password slots, which
		// anyone can keep busy (joins with a board's right password are
		// not limited), for as long as the call may last: a revoked owner
		// link's call, checked before the wait, set the password after
		// the revoke, bumped the epoch again and was answered a new owner
		// token (the owner's own new token dead): the board taken back.
		// The caller is checked again once the hash is made.
		if _, _, who, ok = srv.enterOwner(w, r, "only the owner may change the board's settings"); !ok {
			return
		}
		if err := srv.storePassword(r.Context(), id, h); err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
		req.RevokeLinks = true
	}
	var m *meta.Board
	err := srv.cfg.Boards.Update(r.Context(), id.String(), func(cur *meta.Board) error {
		if who.Via == access.ViaToken && srv.cfg.Access.TokenRole(cur, who) != room.RoleOwner {
			// Revoked since it was checked: the change is the settings'
			// it was checked against, or none.
			return refuse(401, protocol.CodeUnauthorized, "link revoked")
		}
		if req.Name != nil {
			cur.Name = *req.Name
		}
		if req.Access != nil {
			if accessRank(*req.Access) > accessRank(cur.Access) {
				// Fewer people may enter now: every token and visitor
				// membership of the wider access ends, as with a new
				// password.
				req.RevokeLinks = true
			}
			cur.Access = *req.Access
		}
		if req.PublicRole != nil {
			cur.PublicRole = *req.PublicRole
		}
		if req.Deadline != nil {
			cur.Deadline = *req.Deadline
		}
		if cur.Access == accessPassword {
			var ph account.PasswordHash
			if srv.cfg.Records.Get(r.Context(), account.NSPassword, id[:], &ph) != nil || ph.Hash == "" {
				return refuse(400, protocol.CodeMalformed, `access "password" needs a password`)
			}
		}
		if cur.PublicRole == "" && cur.Access != accessMembers {
			cur.PublicRole = room.RoleEditor
		}
		if req.RevokeLinks {
			cur.Epoch++
			cur.Links, cur.LinkRecords = nil, true
		}
		m = cur
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	view := srv.boardView(r.Context(), m, who)
	if req.RevokeLinks && who.Via == access.ViaToken {
		view["token"] = srv.ownerToken(m, who.User.Name)
	}
	writeJSON(w, 200, view)
}

// accessRank orders access modes from the widest (public) to the
// narrowest (members only).
func accessRank(a string) int {
	switch a {
	case accessPublic:
		return 0
	case accessPassword:
		return 1
	}
	return 2
}

func validAccess(a string) bool {
	return a == accessPublic || a == accessPassword || a == accessMembers
}

// setPassword stores a board's password hash ("" removes it).
func (srv *Server) setPassword(ctx context.Context, id storage.BoardID, pw string) error {
	h, err := srv.passwordHash(ctx, pw)
	if err != nil {
		return err
	}
	return srv.storePassword(ctx, id, h)
}

// passwordHash hashes a new board password ("" for none); ctx's error if
// the call ends while it waits for a password slot.
func (srv *Server) passwordHash(ctx context.Context, pw string) (string, error) {
	if pw == "" {
		return "", nil
	}
	return srv.cfg.Access.HashPassword(ctx, pw)
}

// passwordError answers a password that could not be set: 400 for a bad
// one, 503 when the call ended while it waited for a password slot.
func passwordError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		writeError(w, 503, protocol.CodeUnavailable, "the call ended while it waited for a password slot")
		return
	}
	writeError(w, 400, protocol.CodeMalformed, err.Error())
}

// storePassword stores a board's password hash h ("" removes it).
func (srv *Server) storePassword(ctx context.Context, id storage.BoardID, h string) error {
	ph := account.PasswordHash{Hash: h}
	var rec account.PasswordHash
	return srv.cfg.Records.Update(ctx, account.NSPassword, id[:], &rec, func(bool) error {
		ph.Updated = srv.cfg.Records.Stamp(rec.Updated)
		rec = ph
		return nil
	})
}

// closed says whether the board is past its deadline.
func (srv *Server) closed(m *meta.Board) bool {
	return m.Deadline != 0 && srv.cfg.Now().UnixMilli() >= m.Deadline
}

// boardView is the board as GET /v1/boards/{board} shows it to who.
func (srv *Server) boardView(ctx context.Context, m *meta.Board, who access.Identity) map[string]any {
	// "now": the node's clock, for the clients' countdowns (timer, deadline).
	v := map[string]any{"board": m.ShownTo(who.User.Role), "you": who.User, "closed": srv.closed(m), "now": srv.cfg.Now().UnixMilli()}
	if m.Voting != nil && m.Voting.Anonymous && m.Voting.State == "open" {
		v["voter"] = srv.cfg.Access.Pseudonym(m.ID, m.Voting.Session, who.User.ID)
	} else {
		v["voter"] = who.User.ID
	}
	return v
}
