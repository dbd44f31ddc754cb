package node

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/auth"
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
func (n *Node) patchBoard(w http.ResponseWriter, r *http.Request) {
	id, _, who, ok := n.enterOwner(w, r, "only the owner may change the board's settings")
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
		if err := n.setPassword(r.Context(), id, *req.Password); err != nil {
			writeError(w, 400, protocol.CodeMalformed, err.Error())
			return
		}
		req.RevokeLinks = true
	}
	var m *BoardMeta
	err := n.updateMeta(r.Context(), id.String(), func(cur *BoardMeta) error {
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
			if n.getRecord(r.Context(), account.NSPassword, id[:], &ph) != nil || ph.Hash == "" {
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
	view := n.boardView(r.Context(), m, who)
	if req.RevokeLinks && who.Via == viaToken {
		view["token"] = n.ownerToken(m, who.User.Name)
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
func (n *Node) setPassword(ctx context.Context, id storage.BoardID, pw string) error {
	ph := account.PasswordHash{}
	if pw != "" {
		n.pwSem <- struct{}{}
		h, err := account.HashPassword(pw)
		<-n.pwSem
		if err != nil {
			return err
		}
		ph.Hash = h
	}
	var rec account.PasswordHash
	return n.updateRecord(ctx, account.NSPassword, id[:], &rec, func(bool) error {
		ph.Updated = n.stamp(rec.Updated)
		rec = ph
		return nil
	})
}

// closed says whether the board is past its deadline.
func (n *Node) closed(m *BoardMeta) bool {
	return m.Deadline != 0 && n.cfg.Now().UnixMilli() >= m.Deadline
}

// boardView is the board as GET /v1/boards/{board} shows it to who.
func (n *Node) boardView(ctx context.Context, m *BoardMeta, who identity) map[string]any {
	v := map[string]any{"board": m.ShownTo(who.User.Role), "you": who.User, "closed": n.closed(m)}
	if m.Voting != nil && m.Voting.Anonymous && m.Voting.State == "open" {
		v["voter"] = n.pseudonym(m.ID, m.Voting.Session, who.User.ID)
	} else {
		v["voter"] = who.User.ID
	}
	return v
}

// POST /v1/boards/{board}/voting {"dots", "anonymous"} (owner): opens a
// new dot-voting session. POST .../voting/close freezes its result;
// DELETE .../voting ends voting rules (votes are free again).
func (n *Node) openVoting(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := n.enterOwner(w, r, "only the owner may run votes")
	if !ok {
		return
	}
	var req struct {
		Dots      int  `json:"dots"`
		Anonymous bool `json:"anonymous"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Dots < 0 || req.Dots > 100 {
		writeError(w, 400, protocol.CodeMalformed, "dots: 0 (no limit) to 100")
		return
	}
	now := n.cfg.Now().UnixMilli()
	v := &VotingMeta{Session: auth.RandomID(6), State: "open", Dots: req.Dots, Anonymous: req.Anonymous, Opened: now}
	if err := n.updateMeta(r.Context(), id.String(), func(cur *BoardMeta) error { cur.Voting = v; return nil }); err != nil {
		writeUpdateError(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"voting": v})
}

func (n *Node) closeVoting(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := n.enterOwner(w, r, "only the owner may run votes")
	if !ok {
		return
	}
	if m.Voting == nil || m.Voting.State != "open" {
		writeError(w, 409, protocol.CodeMalformed, "no open voting session")
		return
	}
	// Close first (no vote is admitted after this), then freeze the tally
	// of the room's state, which the close has fenced.
	session := m.Voting.Session
	err := n.updateMeta(r.Context(), id.String(), func(cur *BoardMeta) error {
		if cur.Voting == nil || cur.Voting.Session != session || cur.Voting.State != "open" {
			return refuse(409, protocol.CodeMalformed, "no open voting session")
		}
		cur.Voting.State, cur.Voting.Closed = "closed", n.cfg.Now().UnixMilli()
		m = cur
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	res, err := n.tally(r.Context(), id, m)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	err = n.updateMeta(r.Context(), id.String(), func(cur *BoardMeta) error {
		if cur.Voting == nil || cur.Voting.Session != session {
			return refuse(409, protocol.CodeMalformed, "the voting session changed while it was being closed")
		}
		cur.Voting.Result = res
		m = cur
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	n.queueWebhooks(r.Context(), id, "vote", "voting/"+m.Voting.Session+"/closed", map[string]any{"voting": m.Voting})
	writeJSON(w, 200, map[string]any{"voting": m.Voting})
}

func (n *Node) endVoting(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := n.enterOwner(w, r, "only the owner may run votes")
	if !ok {
		return
	}
	if err := n.updateMeta(r.Context(), id.String(), func(cur *BoardMeta) error { cur.Voting = nil; return nil }); err != nil {
		writeUpdateError(w, err)
		return
	}
	w.WriteHeader(204)
}

// GET /v1/boards/{board}/voting: the session, the caller's voter id and
// dots left, and the live (or frozen) tally.
func (n *Node) getVoting(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := n.enter(w, r)
	if !ok {
		return
	}
	out := map[string]any{"voting": m.Voting}
	voter := who.User.ID
	if m.Voting != nil && m.Voting.Anonymous {
		voter = n.pseudonym(m.ID, m.Voting.Session, who.User.ID)
	}
	out["voter"] = voter
	if m.Voting != nil && m.Voting.State == "closed" {
		out["result"] = m.Voting.Result
	} else {
		res, err := n.tally(r.Context(), id, m)
		if err != nil {
			writeError(w, 503, protocol.CodeInternal, err.Error())
			return
		}
		out["result"] = res
	}
	writeJSON(w, 200, out)
}

// tally counts the dot votes of the board's live elements, most first;
// anonymous sessions' voters are revealed only once closed.
func (n *Node) tally(ctx context.Context, id storage.BoardID, m *BoardMeta) ([]VoteResult, error) {
	rm, err := n.rooms.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	reveal := map[string]string{}
	hide := m.Voting != nil && m.Voting.Anonymous
	if hide && m.Voting.State == "closed" {
		for _, u := range n.participants(ctx, id, m) {
			reveal[n.pseudonym(m.ID, m.Voting.Session, u)] = u
		}
	}
	var out []VoteResult
	err = rm.Query(ctx, func(d *crdt.Doc) {
		for _, el := range d.Elements() {
			if d.IsDeleted(el) {
				continue
			}
			votes := d.Votes(el, "vote")
			if len(votes) == 0 {
				continue
			}
			vr := VoteResult{Element: el.String(), Text: preview(d.Text(el, "text"), 80), Voters: []string{}}
			for _, v := range votes {
				dots, _ := crdt.Dots(v.Value)
				vr.Dots += dots
				switch {
				case !hide:
					vr.Voters = append(vr.Voters, v.Voter)
				case reveal[v.Voter] != "":
					vr.Voters = append(vr.Voters, reveal[v.Voter])
				}
			}
			out = append(out, vr)
		}
	})
	sortResults(out)
	return out, err
}

// participants lists the users who may have voted: members, the owner,
// and every author in the board's log.
func (n *Node) participants(ctx context.Context, id storage.BoardID, m *BoardMeta) []string {
	seen := map[string]bool{m.Owner: true}
	out := []string{m.Owner}
	ms, _ := n.members(ctx, id)
	for _, mem := range ms {
		if !seen[mem.User] {
			seen[mem.User] = true
			out = append(out, mem.User)
		}
	}
	n.store.ScanOps(ctx, id, 1, func(rec storage.Record) error {
		if rec.Author != "" && !seen[rec.Author] {
			seen[rec.Author] = true
			out = append(out, rec.Author)
		}
		return nil
	})
	return out
}

func preview(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
