package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
)

// getRaw makes an authenticated GET and decodes its JSON into v.
func (e *asyncEnv) getRaw(path, session string, v any) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.tn.base+path, nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Session "+session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
}

// TestAnonymousVoteUnlinkable: in an anonymous session Ana votes through
// POST .../voting/vote; Ben, on the board with only what a reader gets
// (his WebSocket deliveries, the welcome and presence, GET /ops and
// /history), cannot tie the vote's change to Ana: its replica is no
// session's, and no author names her. The session's budget still holds
// through the endpoint (403), and the endpoint answers 409 outside an
// anonymous session.
func TestAnonymousVoteUnlinkable(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "secret ballot", "access": "members"}))
	e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ana@example.com", "role": "commenter"})
	e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ben@example.com", "role": "editor"})
	invites := e.deliver()
	ana := e.accept(linkIn(t, to(invites, "ana@example.com")[0], "/v1/invites/"))
	ben := e.accept(linkIn(t, to(invites, "ben@example.com")[0], "/v1/invites/"))
	anaID := e.userID(ana)

	oc := e.dial(board, owner, 0x7001)
	bike, walk := newID("bike"), newID("walk")
	mustEdit(t, oc, e.clk.Now(), noteTx(bike, "Bike to work"))
	mustEdit(t, oc, e.clk.Now(), noteTx(walk, "Walk"))

	// Outside an anonymous session the ballot is refused.
	if code, out := e.call("POST", "/v1/boards/"+board+"/voting/vote", ana, map[string]any{"element": bike.String(), "value": 1}); code != 409 {
		t.Fatalf("a ballot with no session open: %d %v, want 409", code, out)
	}
	e.must(200, "POST", "/v1/boards/"+board+"/voting", owner, map[string]any{"dots": 3})
	if code, out := e.call("POST", "/v1/boards/"+board+"/voting/vote", ana, map[string]any{"element": bike.String(), "value": 1}); code != 409 {
		t.Fatalf("a ballot in a session that is not anonymous: %d %v, want 409", code, out)
	}
	e.must(200, "POST", "/v1/boards/"+board+"/voting", owner, map[string]any{"dots": 3, "anonymous": true})
	pseudonym := e.must(200, "GET", "/v1/boards/"+board+"/voting?result=none", ana, nil)["voter"].(string)
	if pseudonym == anaID || !strings.HasPrefix(pseudonym, "anon-") {
		t.Fatalf("Ana's voter id in an anonymous session: %q", pseudonym)
	}

	ac := e.dial(board, ana, 0x7002)
	// Ben watches every change delivered to him.
	var mu sync.Mutex
	var seen []crdt.Change
	hdr := http.Header{"Authorization": {"Session " + ben}}
	bc, err := client.Dial(ctx10(t), client.Options{
		URL: "ws" + strings.TrimPrefix(e.tn.base, "http") + "/v1/boards/" + board + "/ws", Replica: 0x7003, Header: hdr,
		OnOps: func(applied []crdt.Change) { mu.Lock(); seen = append(seen, applied...); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bc.Close() })

	res := e.must(200, "POST", "/v1/boards/"+board+"/voting/vote", ana, map[string]any{"element": bike.String(), "value": 2})
	if err := bc.WaitDoc(ctx10(t), func(d *crdt.Doc) bool {
		v := d.Votes(bike, "vote")
		return len(v) == 1 && v[0].Voter == pseudonym && v[0].Value.Equal(crdt.Number(2))
	}); err != nil {
		t.Fatalf("Ben never got the vote under Ana's pseudonym: %v", err)
	}
	if err := ac.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return len(d.Votes(bike, "vote")) == 1 }); err != nil {
		t.Fatalf("Ana's own page never got her vote: %v", err)
	}
	var change struct {
		Replica crdt.ReplicaID `json:"replica"`
	}
	raw, _ := json.Marshal(res["change"])
	if err := json.Unmarshal(raw, &change); err != nil || change.Replica == 0 {
		t.Fatalf("the ballot's answer names no change: %s %v", raw, err)
	}
	ballot := change.Replica

	// Every replica Ben can tie to a person: the welcome's peers, presence.
	people := map[crdt.ReplicaID]string{}
	for _, p := range bc.Welcome().Peers {
		people[p.Replica] = p.User
	}
	for _, p := range bc.Peers() {
		people[p.Replica] = p.User
	}
	if people[0x7002] != anaID {
		t.Fatalf("presence does not show Ana's session (the premise): %v", people)
	}
	// The vote's change, as delivered to Ben.
	var voteReps []crdt.ReplicaID
	mu.Lock()
	for _, c := range seen {
		for _, op := range c.Ops {
			if op.Type == crdt.OpVote && op.Voter == pseudonym {
				voteReps = append(voteReps, c.Replica)
			}
		}
	}
	mu.Unlock()
	if len(voteReps) == 0 {
		t.Fatal("no delivered change carries the vote")
	}
	for _, rep := range voteReps {
		if u, ok := people[rep]; ok {
			t.Fatalf("the vote came in a change of replica %v, which presence ties to %s", rep, u)
		}
		if rep != ballot {
			t.Fatalf("the vote came under replica %v, not the ballot's %v", rep, ballot)
		}
	}

	// GET /ops: each change with its author.
	var ops struct {
		Changes []struct {
			Replica crdt.ReplicaID `json:"replica"`
			Author  string         `json:"author"`
			Ops     []struct {
				Op    string `json:"op"`
				Voter string `json:"voter"`
			} `json:"ops"`
		} `json:"changes"`
	}
	e.getRaw("/v1/boards/"+board+"/ops", ben, &ops)
	found := 0
	for _, c := range ops.Changes {
		for _, op := range c.Ops {
			if op.Op != "vote" || op.Voter != pseudonym {
				continue
			}
			found++
			if c.Author != "" {
				t.Fatalf("GET /ops names %q as the author of the anonymous vote", c.Author)
			}
			if _, ok := people[c.Replica]; ok {
				t.Fatalf("GET /ops: the vote's replica %v is a session's", c.Replica)
			}
		}
	}
	if found == 0 {
		t.Fatal("GET /ops has no change with the vote")
	}
	// GET /history: the timeline, with authors and replicas.
	var hist struct {
		Entries []struct {
			Replica crdt.ReplicaID `json:"replica"`
			Author  string         `json:"author"`
		} `json:"entries"`
	}
	e.getRaw("/v1/boards/"+board+"/history", ben, &hist)
	for _, h := range hist.Entries {
		if h.Author == anaID {
			t.Fatalf("GET /history names Ana as the author of a change (replica %v); she only voted", h.Replica)
		}
		if h.Replica == ballot && h.Author != "" {
			t.Fatalf("GET /history names %q as the author of a ballot change", h.Author)
		}
	}

	// A dot given through the element's vote route is a ballot too.
	e.must(200, "PUT", "/v1/boards/"+board+"/elements/"+walk.String()+"/vote", ana, map[string]any{"value": 1})
	if err := bc.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return len(d.Votes(walk, "vote")) == 1 }); err != nil {
		t.Fatalf("the vote on walk never arrived: %v", err)
	}
	e.getRaw("/v1/boards/"+board+"/history", ben, &hist)
	for _, h := range hist.Entries {
		if h.Author == anaID {
			t.Fatalf("GET /history names Ana as the author of her PUT …/vote in the anonymous session (replica %v)", h.Replica)
		}
	}

	// The budget: 3 dots, all given; 2 on walk instead of 1 are refused.
	if code, out := e.call("POST", "/v1/boards/"+board+"/voting/vote", ana, map[string]any{"element": walk.String(), "value": 2}); code != 403 || out["error"].(map[string]any)["code"] != "forbidden" {
		t.Fatalf("dots over the budget through the ballot: %d %v, want 403 forbidden", code, out)
	}
	// null withdraws.
	e.must(200, "POST", "/v1/boards/"+board+"/voting/vote", ana, map[string]any{"element": bike.String(), "value": nil})
	if err := bc.WaitDoc(ctx10(t), func(d *crdt.Doc) bool {
		return len(d.Votes(bike, "vote")) == 0 && len(d.Votes(walk, "vote")) == 1
	}); err != nil {
		t.Fatalf("the withdrawal never arrived: %v", err)
	}
	// A value that is not a whole number of dots.
	if code, out := e.call("POST", "/v1/boards/"+board+"/voting/vote", ben, map[string]any{"element": walk.String(), "value": 1.5}); code != 400 {
		t.Fatalf("a ballot of 1.5 dots: %d %v, want 400", code, out)
	}

	// Closed: the result names Ana (a member) again, and ballots are refused.
	out := e.must(200, "POST", "/v1/boards/"+board+"/voting/close", owner, nil)
	b, _ := json.Marshal(out)
	if !strings.Contains(string(b), anaID) {
		t.Fatalf("the closed session's result does not reveal Ana: %s", b)
	}
	if code, out := e.call("POST", "/v1/boards/"+board+"/voting/vote", ana, map[string]any{"element": walk.String(), "value": 1}); code != 409 {
		t.Fatalf("a ballot after the close: %d %v, want 409", code, out)
	}
}

// A reaction through REST during an anonymous voting session is cast under
// the person's own id, never the session's pseudonym: the change carrying
// it names its author, so a reaction under the pseudonym tied the
// pseudonym (and every dot cast with it) to the person.
func TestRestReactionKeepsPseudonymUnlinked(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "react", "access": "members"}))
	e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ana@example.com", "role": "commenter"})
	ana := e.accept(linkIn(t, to(e.deliver(), "ana@example.com")[0], "/v1/invites/"))
	anaID := e.userID(ana)
	oc := e.dial(board, owner, 0x7101)
	bike := newID("bike")
	mustEdit(t, oc, e.clk.Now(), noteTx(bike, "Bike to work"))
	e.must(200, "POST", "/v1/boards/"+board+"/voting", owner, map[string]any{"dots": 3, "anonymous": true})
	pseudonym := e.must(200, "GET", "/v1/boards/"+board+"/voting?result=none", ana, nil)["voter"].(string)
	e.must(200, "PUT", "/v1/boards/"+board+"/elements/"+bike.String()+"/vote", ana, map[string]any{"key": "react", "value": "👍"})
	if err := oc.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return len(d.Votes(bike, "react")) == 1 }); err != nil {
		t.Fatalf("the reaction never came: %v", err)
	}
	oc.Read(func(d *crdt.Doc) {
		for _, v := range d.Votes(bike, "react") {
			if v.Voter == pseudonym || v.Voter != anaID {
				t.Fatalf("the reaction's voter %q (pseudonym %q, Ana %q): want Ana's own id", v.Voter, pseudonym, anaID)
			}
		}
	})
}

// TestBallotGuestNamedAtClose: a password guest who only ever voted
// through the ballot (no member, no change of their own) is named among
// the voters when the anonymous session closes, like a member; and the
// Idempotency-Key record of a ballot, kept under the guest's id for a day,
// keeps no trace of the ballot's change: its replay answers no change and
// no version.
func TestBallotGuestNamedAtClose(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw ballot", "access": "password", "password": "open sesame", "publicRole": "commenter"}))
	b := "/v1/boards/" + board
	oc := e.dial(board, owner, 0x7201)
	bike := newID("bike")
	mustEdit(t, oc, e.clk.Now(), noteTx(bike, "Bike to work"))
	joined := e.must(200, "POST", b+"/join", "", map[string]any{"password": "open sesame"})
	guest := joined["token"].(string)
	guestID := joined["user"].(map[string]any)["id"].(string)
	e.must(200, "POST", b+"/voting", owner, map[string]any{"dots": 3, "anonymous": true})

	cast := func() (string, map[string]any) {
		req, _ := http.NewRequest("POST", e.tn.base+b+"/voting/vote", strings.NewReader(`{"element":"`+bike.String()+`","value":2}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+guest)
		req.Header.Set("Idempotency-Key", "dot-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
			t.Fatalf("the guest's ballot: %d %s", resp.StatusCode, raw)
		}
		return resp.Header.Get("Idempotent-Replayed"), out
	}
	if replayed, out := cast(); replayed != "" || out["change"] == nil {
		t.Fatalf("the first ballot: replayed %q, answer %v (want its change)", replayed, out)
	}
	replayed, out := cast()
	if replayed != "true" {
		t.Fatalf("the same Idempotency-Key again was not a replay: %v", out)
	}
	if out["change"] != nil || out["version"] != nil {
		t.Fatalf("the kept answer of a ballot holds its change or version: %v", out)
	}
	if err := oc.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return len(d.Votes(bike, "vote")) == 1 }); err != nil {
		t.Fatalf("the guest's ballot never arrived: %v", err)
	}

	session := e.must(200, "GET", b+"/voting?result=none", owner, nil)["voting"].(map[string]any)["session"].(string)
	if voters, err := e.tn.n.BallotVoters(ctx10(t), board, session); err != nil || len(voters) != 1 || voters[0] != guestID {
		t.Fatalf("the session's ballot voters before the close: %v %v, want the guest alone", voters, err)
	}
	res := e.must(200, "POST", b+"/voting/close", owner, nil)
	raw, _ := json.Marshal(res)
	if !strings.Contains(string(raw), guestID) {
		t.Fatalf("the closed session's result does not name the guest %s, who voted: %s", guestID, raw)
	}
	// The result names them now: the session's voter records go.
	deadline := ctx10(t)
	for {
		voters, err := e.tn.n.BallotVoters(deadline, board, session)
		if err == nil && len(voters) == 0 {
			break
		}
		select {
		case <-deadline.Done():
			t.Fatalf("the closed session's ballot voter records stay: %v %v", voters, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestHeldBallotFromAnotherNodeReleased: a ballot admitted on node a
// reaches node b before what it depends on (b was cut off while the owner
// made the note it votes on), so b holds it; once b catches up, the
// ballot applies there as node a judged it. The ballot replica's claim
// names the node's ballot writer, not the voter: judged as that writer's
// own change, it was refused on release, and b's tally went without the
// voter's dots while a's had them.
func TestHeldBallotFromAnotherNodeReleased(t *testing.T) {
	e, onB, hub := twoNodesOnHub(t)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "held ballot", "access": "members"}))
	b := "/v1/boards/" + board
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "ana@example.com", "role": "commenter"})
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "wes@example.com", "role": "editor"})
	invites := e.deliver()
	ana := e.accept(linkIn(t, to(invites, "ana@example.com")[0], "/v1/invites/"))
	wes := e.accept(linkIn(t, to(invites, "wes@example.com")[0], "/v1/invites/"))
	e.must(200, "POST", b+"/voting", owner, map[string]any{"dots": 3, "anonymous": true})

	oc := e.dial(board, owner, 0x7301)
	wc := e.dial(board, wes, 0x7303)
	// Ana's page on node b keeps the board loaded there.
	ab := onB.dial(board, ana, 0x7302)

	// Node b misses the note.
	hub.Cut("b", true)
	bike := newID("held-bike")
	mustEdit(t, oc, e.clk.Now(), noteTx(bike, "Bike to work"))
	// The ack can reach the client before the room has published the
	// change: a read served by a's room after it makes sure the publish
	// is done (and dropped by the cut) before b is back.
	e.must(200, "GET", b+"/state", owner, nil)
	hub.Cut("b", false)

	// Ana's ballot, on node a: b gets it live, without the note it votes on.
	res := e.must(200, "POST", b+"/voting/vote", ana, map[string]any{"element": bike.String(), "value": 2})
	var change struct {
		Replica crdt.ReplicaID `json:"replica"`
	}
	raw, _ := json.Marshal(res["change"])
	if err := json.Unmarshal(raw, &change); err != nil || change.Replica == 0 {
		t.Fatalf("the ballot's answer names no change: %s %v", raw, err)
	}
	tally := func(env *asyncEnv) string {
		t.Helper()
		out, _ := json.Marshal(env.must(200, "GET", b+"/voting", owner, nil)["result"])
		return string(out)
	}
	onA := tally(e)
	if !strings.Contains(onA, bike.String()) || !strings.Contains(onA, `"dots":2`) {
		t.Fatalf("node a's tally %s, want Ana's 2 dots on %s", onA, bike)
	}
	// Held on b, not applied to b's board (nor sent to Ana's page there:
	// a client gets a change once it applies). Wes's note, made on node a
	// after the ballot and needing nothing, reaches b after it: once Ana's
	// page there has it, b's room has taken the ballot.
	marker := newID("held-marker")
	mustEdit(t, wc, e.clk.Now(), noteTx(marker, "after the ballot"))
	if err := ab.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.Exists(marker) }); err != nil {
		t.Fatalf("Wes's note never reached node b: %v", err)
	}
	ab.Read(func(d *crdt.Doc) {
		if d.Exists(bike) || d.Held() != 0 {
			t.Fatalf("Ana's page on node b has the note (%v) or a held change (%d) before b caught up (the premise)", d.Exists(bike), d.Held())
		}
	})
	if got := tally(onB); strings.Contains(got, bike.String()) {
		t.Fatalf("node b's tally %s before it has the note: the ballot was not held there (the premise)", got)
	}

	// Node b catches up: the note comes, and releases the ballot.
	onB.tn.n.SyncAll()
	caughtUp := ab.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.Exists(bike) })
	// (A refusal is counted before the room goes on, so before Ana's page
	// hears of anything after it.)
	if got := onB.tn.metric("corkboard_held_refused_total"); got != "0" {
		t.Fatalf("node b refused %q held changes when the note released the ballot, want none", got)
	}
	if caughtUp != nil {
		t.Fatalf("node b never caught up with the note: %v", caughtUp)
	}
	if got := tally(onB); got != onA {
		t.Fatalf("node b's tally %s, node a's %s: the released ballot was judged apart", got, onA)
	}
}
