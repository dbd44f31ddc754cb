package node_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/protocol"
)

// votingResultBytes bounds GET /v1/boards/{board} once a vote closed:
// the settings record with a result of at most 50 elements and 20 voters
// each (a preview of 80 characters of the elements' text).
const votingResultBytes = 64 << 10

// TestClosedVotingResultBounded: closing a vote froze every voted
// element, with all its voters, into the board's settings record, which
// every node decodes at every call and connection of the board and GET
// /v1/boards/{board} sends whole. On a public board anonymous callers
// (a new guest each call) vote on every element, so the record grew with
// elements × callers: megabytes, and past a NATS message the close
// failed after the session was closed. Here 30 guests vote on 200 notes:
// the close answers 200, the record keeps the 50 elements with the most
// dots, 20 voters each, with counts of the rest, and GET board stays
// under votingResultBytes.
func TestClosedVotingResultBounded(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "public vote"})
	board, owner := boardID(t, created), created["token"].(string)
	e.must(200, "POST", "/v1/boards/"+board+"/voting", owner, map[string]any{"dots": 0})
	actions := make([]map[string]any, 200)
	for i := range actions {
		text := fmt.Sprintf("idea %03d %s", i, strings.Repeat("word ", 20))
		actions[i] = map[string]any{"op": "create", "kind": "note", "text": text, "props": map[string]any{"x": i * 10, "y": 0}}
	}
	var notes []string
	for _, id := range e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": actions})["elements"].([]any) {
		notes = append(notes, id.(string))
	}
	// The first note gets one more dot: the ranking's top is known.
	e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": []map[string]any{{"op": "vote", "element": notes[0]}}})
	votes := make([]map[string]any, len(notes))
	for i, id := range notes {
		votes[i] = map[string]any{"op": "vote", "element": id}
	}
	body, _ := json.Marshal(map[string]any{"actions": votes})
	const guests = 30
	for i := range guests {
		e.clk.advance(time.Second) // the per-address write rate
		if r := e.tn.do("POST", "/v1/boards/"+board+"/changes", "", "application/json", body, nil); r.status != 200 {
			t.Fatalf("guest %d's votes: %d %s", i+1, r.status, r.body)
		}
	}
	closed := e.must(200, "POST", "/v1/boards/"+board+"/voting/close", owner, nil)["voting"].(map[string]any)
	if closed["state"] != "closed" {
		t.Fatalf("closed: %v", closed["state"])
	}
	res := e.tn.do("GET", "/v1/boards/"+board, owner, "", nil, nil)
	if res.status != 200 || len(res.body) > votingResultBytes {
		t.Fatalf("GET board after the close: %d, %d bytes (bound %d)", res.status, len(res.body), votingResultBytes)
	}
	var got struct {
		Board struct {
			Voting struct {
				Result []struct {
					Element    string   `json:"element"`
					Text       string   `json:"text"`
					Dots       float64  `json:"dots"`
					Voters     []string `json:"voters"`
					VotersMore int      `json:"votersMore"`
				} `json:"result"`
				ResultMore int `json:"resultMore"`
			} `json:"voting"`
		} `json:"board"`
	}
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	v := got.Board.Voting
	if len(v.Result) != 50 || v.ResultMore != 150 {
		t.Fatalf("the result lists %d elements and counts %d more, want 50 and 150", len(v.Result), v.ResultMore)
	}
	top := v.Result[0]
	if top.Element != notes[0] || top.Dots != guests+1 || len(top.Voters) != 20 || top.VotersMore != guests+1-20 || !strings.HasPrefix(top.Text, "idea 000") {
		t.Fatalf("the top of the result: %+v", top)
	}
	for _, r := range v.Result[1:] {
		if r.Dots != guests || len(r.Voters) != 20 || r.VotersMore != guests-20 {
			t.Fatalf("a result entry: %+v", r)
		}
	}
	// GET /voting answers the frozen result, with the same counts.
	out := e.must(200, "GET", "/v1/boards/"+board+"/voting", owner, nil)
	if rs := out["result"].([]any); len(rs) != 50 || out["resultMore"] != float64(150) {
		t.Fatalf("GET /voting: %d elements, resultMore %v", len(rs), out["resultMore"])
	}
}

// TestLiveTallyBudgeted: the live tally of GET /voting reads every voted
// element's whole text (for its preview) and every vote in the board's
// room, but was charged only the board's elements to its whole-board
// reads: a guest's GET /voting on 40 notes of 60 KB (2.4 MB read each
// time) cost as much as one on 40 empty notes, and was never refused.
// The bytes it reads are charged too: with the node's clock still, the
// board refuses the tally (429 with Retry-After) within 100 calls; the
// rules alone (?result=none) are still answered, and the tally again once
// the clock moves on.
func TestLiveTallyBudgeted(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "long notes"})
	board, owner := boardID(t, created), created["token"].(string)
	text := strings.Repeat("x", 60000)
	actions := make([]map[string]any, 40)
	for i := range actions {
		actions[i] = map[string]any{"op": "create", "kind": "note", "text": text}
	}
	var votes []map[string]any
	for _, id := range e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": actions})["elements"].([]any) {
		votes = append(votes, map[string]any{"op": "vote", "element": id})
	}
	e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": votes})
	e.clk.advance(10 * time.Second) // the writes' copies are paid for
	refusedAt := 0
	for i := 1; i <= 100 && refusedAt == 0; i++ {
		res := e.tn.do("GET", "/v1/boards/"+board+"/voting", "", "", nil, nil) // a new guest each time
		switch res.status {
		case 200:
		case 429:
			refusedAt = i
			if res.header.Get("Retry-After") == "" {
				t.Fatalf("429 without Retry-After: %s", res.body)
			}
			expectError(t, "a spent budget", res, 429, protocol.CodeRateLimited)
		default:
			t.Fatalf("tally %d: %d %s", i, res.status, res.body)
		}
	}
	if refusedAt == 0 {
		t.Fatal("100 live tallies of 40 notes of 60 KB with the clock still, none refused")
	}
	if r := e.tn.do("GET", "/v1/boards/"+board+"/voting?result=none", "", "", nil, nil); r.status != 200 {
		t.Fatalf("the rules while the budget is spent: %d %s", r.status, r.body)
	}
	e.clk.advance(10 * time.Second)
	out := e.must(200, "GET", "/v1/boards/"+board+"/voting", "", nil)
	if rs := out["result"].([]any); len(rs) != 40 {
		t.Fatalf("the tally after the budget refilled lists %d elements, want 40", len(rs))
	}
}
