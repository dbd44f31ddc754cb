package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// The ballot: how a vote of an anonymous dot-voting session is cast
// without naming its voter (docs/API.md "Dot voting").
//
// In an anonymous session a vote carries the voter's pseudonym
// (access.Checker.Pseudonym), never their user id. But a vote op travels
// in a change, and a change carries the replica id of whoever made it:
// presence and the welcome list every peer's replica with its user, and
// GET /ops, /history, /export and /changes name each change's author. A
// vote written into one's own document (the web client's, over its
// WebSocket) therefore tells every reader of the board pseudonym →
// replica → person, and from then on every vote of that person.
//
// So an anonymous vote is cast through the node: POST
// /v1/boards/{board}/voting/vote {"element", "value"}. The node makes the
// vote op under the caller's pseudonym and submits it as a change of the
// node's ballot replica for the board (ballotWriter: claimed once per node
// and board like the anonymous writer's, an id no identity is ever
// given), through the same admission as any change — the caller's role,
// their voter id, their dots budget, the deadline — with the submitting
// session's User being the caller and Unattributed set, so the op-log
// entry records no author. The change reaches every client, the voter's
// included, like anyone's: its replica is the ballot's, which many
// voters share, and nothing stored or served names the caller. A write
// call made only of dot votes (PUT .../elements/{element}/vote, say)
// during an anonymous session goes the same way.
//
// What it does not hide: the node that admits a ballot knows whose it
// is (it checks their budget); a board reader who watches one voter act
// alone at the moment a ballot arrives may guess; a client that writes a
// vote op into its own document under its own replica still names
// itself (the node admits it, as before: the web client never does so in
// an anonymous session). Votes given before a session turned anonymous
// stay where they were written.
//
// Rejected: a second replica per client for its votes (the client would
// claim it, so the claim, the connection that sends under it and its
// timing link it to the person all the same: a replica is a connection's,
// and presence lists connections); redacting the authors and replicas
// of vote changes from the REST output only (the WebSocket still
// delivers every change with its replica, which presence maps to a user,
// and a change holding a vote may hold other ops that must stay
// attributed); a per-caller REST replica for ballots (one replica per
// voter is a pseudonym of the pseudonym: it names the same person in
// every session).

// ballotWriter is the user the node's ballot replica of a board is
// claimed for and kept under. No identity is ever given this id: a
// guest's is access.GuestPrefix and 8 or 12 random characters.
const ballotWriter = access.GuestPrefix + "ballot"

// NodeWriter says whether a replica claim's user is one of the node's own
// writers (the anonymous REST writer, the ballot), whose changes speak
// for other people: their author is not the claim's user.
func NodeWriter(user string) bool { return user == anonWriter || user == ballotWriter }

// secretBallot says whether m's voting session is anonymous and open:
// its votes are cast through the ballot.
func secretBallot(m *meta.Board) bool {
	return m.Voting != nil && m.Voting.Anonymous && m.Voting.State == "open"
}

// onlyDots says whether every action is a dot vote (or its withdrawal).
func onlyDots(actions []action) bool {
	for _, a := range actions {
		if (a.Op != "vote" && a.Op != "unvote") || (a.Key != "" && a.Key != "vote") {
			return false
		}
	}
	return true
}

// noteBallotVoter records that user cast a ballot in m's session
// (account.BallotVoter), once: the session's close reveals their
// pseudonym from it when nothing else names them.
func (srv *Server) noteBallotVoter(ctx context.Context, id storage.BoardID, m *meta.Board, user string) error {
	key := account.BallotKey(id, m.Voting.Session, user)
	var v account.BallotVoter
	if srv.cfg.Records.Get(ctx, account.NSBallot, key, &v) == nil {
		return nil
	}
	return srv.cfg.Records.Put(ctx, account.NSBallot, key, account.BallotVoter{At: srv.cfg.Now().UnixMilli()})
}

// forgetBallotVoters deletes the BallotVoter records of a board's voting
// session once they are of no more use (the session closed, its result
// frozen; or ended or replaced before it closed), in the background: a
// session's records would otherwise stay for good (a password board's
// visitors, each a new guest, could leave any number of them).
func (srv *Server) forgetBallotVoters(id storage.BoardID, session string) {
	if session == "" {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		voters, err := srv.cfg.Boards.BallotVoters(ctx, id, session)
		if err != nil {
			return
		}
		for _, u := range voters {
			if err := srv.cfg.Records.Delete(ctx, account.NSBallot, account.BallotKey(id, session, u)); err != nil {
				srv.cfg.Log.Warn("ballot voter record not deleted", "board", id.String(), "err", err)
				return
			}
		}
	}()
}

// POST /v1/boards/{board}/voting/vote {"element", "value"}: casts the
// caller's vote in the open anonymous session through the board's ballot
// (see above). value: a whole number of dots, true (one dot), or null to
// withdraw (0 and false withdraw too). 409 when no anonymous session is
// open.
func (srv *Server) castBallot(w http.ResponseWriter, r *http.Request) {
	srv.writeVia(w, r, func() ([]action, bool) {
		var req struct {
			Element string          `json:"element"`
			Value   json.RawMessage `json:"value"`
		}
		if !decodeWrite(w, r, &req) {
			return nil, false
		}
		if req.Value == nil {
			writeError(w, 400, protocol.CodeMalformed, "value: a whole number of dots, true, or null to withdraw")
			return nil, false
		}
		var v crdt.Value
		if err := json.Unmarshal(req.Value, &v); err != nil {
			writeError(w, 400, protocol.CodeMalformed, "value: "+err.Error())
			return nil, false
		}
		if _, ok := crdt.Dots(v); !ok {
			writeError(w, 400, protocol.CodeMalformed, "value: a whole number of dots, true, or null to withdraw")
			return nil, false
		}
		return []action{{Op: "vote", Element: req.Element, Value: &v}}, true
	}, 200, true)
}
