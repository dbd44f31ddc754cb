package api

import (
	"net/http"
	"slices"

	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Board tokens and role links.
//
// A board token is signed (package auth) and names the board, the link
// epoch it was issued in and who holds it; it never decides a role. The
// role is read from the board's current metadata every time the token is
// used (tokenRole), so lowering PublicRole, deleting a link or making the
// board members-only applies to the next call and, through Access.RefreshRoles,
// to open connections on every node:
//
//   - the owner's token (user = the board's owner): owner;
//   - a role link's token (user "link-<id>"): the role of link record <id>
//     in meta.Board.Links; none once the record is deleted;
//   - a guest's token (user "guest-…", from the board's password or a
//     public board's welcome): the board's PublicRole now.
//
// Tokens never sit in a URL that people copy: links carry them in the
// fragment ("/b/{id}#token=…"), which browsers do not send to servers or
// in Referer, and the web client moves them to its storage and out of the
// address bar on arrival.
//
// Rejected: roles inside signed tokens (what a token said when signed
// outlived every change of the board's settings); a server-side row per
// guest token (a write for every anonymous visitor, and the epoch already
// revokes them all at once).

// maxLinks bounds a board's live role links.
const maxLinks = 50

// newLink adds a role link record to m (the caller publishes m) and
// returns its token.
func (srv *Server) newLink(m *meta.Board, role string) string {
	l := meta.Link{ID: auth.RandomID(9), Role: role, Created: srv.cfg.Now().UnixMilli()}
	m.Links, m.LinkRecords = append(m.Links, l), true
	return srv.cfg.Signer.Sign(auth.Claims{Board: m.ID, User: access.LinkPrefix + l.ID, Role: role,
		Exp: srv.cfg.Now().Add(linkTTL).Unix(), Epoch: m.Epoch})
}

// ownerToken returns a fresh owner token for the board's current epoch.
func (srv *Server) ownerToken(m *meta.Board, name string) string {
	return srv.cfg.Signer.Sign(auth.Claims{Board: m.ID, User: m.Owner, Name: name, Role: room.RoleOwner,
		Exp: srv.cfg.Now().Add(linkTTL).Unix(), Epoch: m.Epoch})
}

// linkURL is the page URL of a board token: the token in the fragment.
func (srv *Server) linkURL(m *meta.Board, token string) string {
	return srv.cfg.PublicURL() + "/b/" + m.ID + "#token=" + token
}

// POST /v1/boards/{board}/links {"role"} (owner): mints a role link. Its
// URL is shown once, in this answer; role "owner" returns a new owner
// token's URL (no record: only the epoch revokes it).
func (srv *Server) createLink(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Role string `json:"role"`
	}
	_, m, who, ok := srv.enterOwner(w, r, "only the owner may make links")
	if !ok || !decodeBody(w, r, &req) {
		return
	}
	if !validRole(req.Role) {
		writeError(w, 400, protocol.CodeMalformed, "role: owner, editor, commenter or viewer")
		return
	}
	if req.Role == room.RoleOwner {
		tok := srv.ownerToken(m, who.User.Name)
		writeJSON(w, 201, map[string]any{"link": meta.Link{Role: room.RoleOwner, Created: srv.cfg.Now().UnixMilli()}, "url": srv.linkURL(m, tok), "token": tok})
		return
	}
	var tok string
	var link meta.Link
	err := srv.cfg.Boards.Update(r.Context(), m.ID, func(cur *meta.Board) error {
		if len(cur.Links) >= maxLinks {
			return refuse(409, protocol.CodeTooLarge, "a board has at most 50 links: delete one first")
		}
		tok = srv.newLink(cur, req.Role)
		link = cur.Links[len(cur.Links)-1]
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	writeJSON(w, 201, map[string]any{"link": link, "url": srv.linkURL(m, tok), "token": tok})
}

// GET /v1/boards/{board}/links (owner): the live role links, without
// their tokens.
func (srv *Server) listLinks(w http.ResponseWriter, r *http.Request) {
	_, m, _, ok := srv.enterOwner(w, r, "only the owner may list links")
	if !ok {
		return
	}
	links := m.Links
	if links == nil {
		links = []meta.Link{}
	}
	writeJSON(w, 200, map[string]any{"links": links})
}

// DELETE /v1/boards/{board}/links/{link} (owner): revokes one link; its
// open connections are closed on every node.
func (srv *Server) deleteLink(w http.ResponseWriter, r *http.Request) {
	_, m, _, ok := srv.enterOwner(w, r, "only the owner may revoke links")
	if !ok {
		return
	}
	id := r.PathValue("link")
	err := srv.cfg.Boards.Update(r.Context(), m.ID, func(cur *meta.Board) error {
		i := slices.IndexFunc(cur.Links, func(l meta.Link) bool { return l.ID == id })
		if i < 0 {
			return refuse(404, protocol.CodeNotFound, "no such link")
		}
		cur.Links = slices.Delete(cur.Links, i, i+1)
		cur.LinkRecords = true
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	w.WriteHeader(204)
}

// enterOwner is enter for the owner's calls: anyone else gets 403 msg.
func (srv *Server) enterOwner(w http.ResponseWriter, r *http.Request, msg string) (storage.BoardID, *meta.Board, access.Identity, bool) {
	bid, m, who, ok := srv.enter(w, r)
	if !ok {
		return bid, nil, who, false
	}
	if who.User.Role != room.RoleOwner {
		writeError(w, 403, protocol.CodeForbidden, msg)
		return bid, nil, who, false
	}
	return bid, m, who, true
}
