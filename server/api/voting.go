package api

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// POST /v1/boards/{board}/voting {"dots", "anonymous"} (owner): opens a
// new dot-voting session. POST .../voting/close freezes its result;
// DELETE .../voting ends voting rules (votes are free again).
func (srv *Server) openVoting(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enterOwner(w, r, "only the owner may run votes")
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
	now := srv.cfg.Now().UnixMilli()
	v := &meta.Voting{Session: auth.RandomID(6), State: "open", Dots: req.Dots, Anonymous: req.Anonymous, Opened: now}
	prev := ""
	if err := srv.cfg.Boards.Update(r.Context(), id.String(), func(cur *meta.Board) error {
		prev = openSession(cur)
		cur.Voting = v
		return nil
	}); err != nil {
		writeUpdateError(w, err)
		return
	}
	srv.forgetBallotVoters(id, prev)
	writeJSON(w, 200, map[string]any{"voting": v})
}

func (srv *Server) closeVoting(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := srv.enterOwner(w, r, "only the owner may run votes")
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
	err := srv.cfg.Boards.Update(r.Context(), id.String(), func(cur *meta.Board) error {
		if cur.Voting == nil || cur.Voting.Session != session || cur.Voting.State != "open" {
			return refuse(409, protocol.CodeMalformed, "no open voting session")
		}
		cur.Voting.State, cur.Voting.Closed = "closed", srv.cfg.Now().UnixMilli()
		m = cur
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	res, more, err := srv.tally(r.Context(), id, m, false) // the owner's close: never refused for the read budget
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	err = srv.cfg.Boards.Update(r.Context(), id.String(), func(cur *meta.Board) error {
		if cur.Voting == nil || cur.Voting.Session != session {
			return refuse(409, protocol.CodeMalformed, "the voting session changed while it was being closed")
		}
		cur.Voting.Result, cur.Voting.ResultMore = res, more
		m = cur
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	srv.forgetBallotVoters(id, session) // the result names them now
	srv.cfg.Notes.QueueWebhooks(r.Context(), id, "vote", "voting/"+m.Voting.Session+"/closed", map[string]any{"voting": m.Voting})
	writeJSON(w, 200, map[string]any{"voting": m.Voting})
}

func (srv *Server) endVoting(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enterOwner(w, r, "only the owner may run votes")
	if !ok {
		return
	}
	prev := ""
	if err := srv.cfg.Boards.Update(r.Context(), id.String(), func(cur *meta.Board) error {
		prev = openSession(cur)
		cur.Voting = nil
		return nil
	}); err != nil {
		writeUpdateError(w, err)
		return
	}
	srv.forgetBallotVoters(id, prev)
	w.WriteHeader(204)
}

// openSession is m's voting session if it is open ("" otherwise): one
// whose ballot voter records nothing will read once it is ended or
// replaced.
func openSession(m *meta.Board) string {
	if m.Voting == nil || m.Voting.State != "open" {
		return ""
	}
	return m.Voting.Session
}

// GET /v1/boards/{board}/voting: the session, the caller's voter id and
// dots left, and the live (or frozen) tally. ?result=none leaves the tally
// out: the rules alone, which every open page asks for every few seconds,
// must not each walk the whole board (a whole-board read, roomtime.go: a
// few pages polling a big board would spend its budget and have everyone's
// writes and reads refused).
func (srv *Server) getVoting(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	out := map[string]any{"voting": m.Voting}
	voter := who.User.ID
	if m.Voting != nil && m.Voting.Anonymous {
		voter = srv.cfg.Access.Pseudonym(m.ID, m.Voting.Session, who.User.ID)
	}
	out["voter"] = voter
	if r.URL.Query().Get("result") == "none" {
		writeJSON(w, 200, out)
		return
	}
	if m.Voting != nil && m.Voting.State == "closed" {
		out["result"] = m.Voting.Result
		if m.Voting.ResultMore > 0 {
			out["resultMore"] = m.Voting.ResultMore
		}
	} else {
		res, more, err := srv.tally(r.Context(), id, m, true)
		if err != nil {
			writeQueryError(w, err)
			return
		}
		out["result"] = res
		if more > 0 {
			out["resultMore"] = more
		}
	}
	writeJSON(w, 200, out)
}

// tally counts the dot votes of the board's live elements, most first;
// anonymous sessions' voters are revealed only once closed. charged: a
// whole-board read within the board's budget (roomtime.go), charged the
// bytes of text and votes it reads as well as the elements it visits (a
// voted note's whole text is read for its preview: 360 notes of 65 KB
// were 23 MB read per call, charged as 360 elements).
//
// The result is bounded: the meta.ResultMax elements with the most dots,
// each naming at most meta.ResultVotersMax voters (votersMore counts the
// others); more is the number of voted elements left out. A closed
// session's result is frozen into the board's settings record, which
// every node decodes at every REST call, connection, role refresh and
// settings change of the board, and which GET /v1/boards/{board} sends
// whole: with every voted element and all its voters, a public board's
// visitors (a new guest per call, a thousand votes a call) made it
// megabytes, and past a NATS message (8 MiB) the close failed after the
// session was closed. Bounded, it is some 70 KB at worst. The top of the
// ranking is what the team liked most; the whole ranking, every idea with
// its dots and how many voted for it, is the summary's (GET …/summary),
// read from the board itself. The live tally has the same bound, so that
// both answers have one shape and no call builds a list of every vote.
// Rejected: the whole result in a record of its own, read only by GET
// …/voting: still unbounded (an 8 MiB message at most, a GET answering
// megabytes), and a second record to keep in step with the session's.
func (srv *Server) tally(ctx context.Context, id storage.BoardID, m *meta.Board, charged bool) (res []meta.VoteResult, more int, err error) {
	rm, err := srv.cfg.Rooms.Open(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	reveal := map[string]string{}
	hide := m.Voting != nil && m.Voting.Anonymous
	if hide && m.Voting.State == "closed" {
		for _, u := range srv.participants(ctx, id, m) {
			reveal[srv.cfg.Access.Pseudonym(m.ID, m.Voting.Session, u)] = u
		}
	}
	var out []meta.VoteResult
	query := func(fn func(d *crdt.Doc) int) error {
		if charged {
			return srv.boardQuery(ctx, id, rm, fn)
		}
		return rm.Query(ctx, func(d *crdt.Doc) { fn(d) })
	}
	err = query(func(d *crdt.Doc) (read int) {
		for _, el := range d.Elements() {
			if d.IsDeleted(el) {
				continue
			}
			votes := d.Votes(el, "vote")
			if len(votes) == 0 {
				continue
			}
			text := d.Text(el, "text")
			read += len(text)
			vr := meta.VoteResult{Element: el.String(), Text: preview(text, 80), Voters: []string{}}
			for _, v := range votes {
				read += len(v.Voter) + voteBytes
				dots, _ := crdt.Dots(v.Value)
				vr.Dots += dots
				u := v.Voter
				if hide {
					u = reveal[v.Voter]
				}
				switch {
				case u == "":
				case len(vr.Voters) < meta.ResultVotersMax:
					vr.Voters = append(vr.Voters, u)
				default:
					vr.VotersMore++
				}
			}
			out = append(out, vr)
		}
		return read
	})
	sortResults(out)
	if len(out) > meta.ResultMax {
		more = len(out) - meta.ResultMax
		out = slices.Clip(out[:meta.ResultMax])
	}
	return out, more, err
}

// voteBytes is what a vote's value and register weigh besides its voter,
// as tally charges them.
const voteBytes = 16

// participants lists the users who may have voted: members, the owner,
// the session's ballot voters, and every author in the board's log.
func (srv *Server) participants(ctx context.Context, id storage.BoardID, m *meta.Board) []string {
	seen := map[string]bool{m.Owner: true}
	out := []string{m.Owner}
	ms, _ := srv.cfg.Boards.Members(ctx, id)
	for _, mem := range ms {
		if !seen[mem.User] {
			seen[mem.User] = true
			out = append(out, mem.User)
		}
	}
	if m.Voting != nil {
		voters, _ := srv.cfg.Boards.BallotVoters(ctx, id, m.Voting.Session)
		for _, u := range voters {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	srv.cfg.Store.ScanOps(ctx, id, 1, func(rec storage.Record) error {
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

func sortResults(rs []meta.VoteResult) {
	slices.SortStableFunc(rs, func(a, b meta.VoteResult) int {
		if c := cmp.Compare(b.Dots, a.Dots); c != 0 {
			return c
		}
		if c := cmp.Compare(len(b.Voters)+b.VotersMore, len(a.Voters)+a.VotersMore); c != 0 {
			return c
		}
		return strings.Compare(a.Element, b.Element)
	})
}
