package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestAccessMatrix checks every role against every action, on REST and
// over WebSocket: allowed, or refused with the documented status and code.
func TestAccessMatrix(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "matrix", "access": "members"})
	board := created["board"].(map[string]any)["id"].(string)
	creds := map[string]string{"owner": owner}
	for _, role := range []string{"editor", "commenter", "viewer"} {
		e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": role + "@example.com", "role": role})
		msgs := to(e.deliver(), role+"@example.com")
		creds[role] = e.accept(linkIn(t, msgs[0], "/v1/invites/"))
	}
	creds["outsider"] = e.signIn("outsider@example.com")
	creds["anonymous"] = ""
	target := newID("the-note")
	oc := e.dial(board, owner, 0x9000)
	mustEdit(t, oc, e.clk.Now(), noteTx(target, "a note"))

	type rest struct {
		name, method, path string
		body               any
		minRole            string // least role allowed
		okStatus           int
	}
	b := "/v1/boards/" + board
	actions := []rest{
		{"read metadata", "GET", b, nil, "viewer", 200},
		{"read state", "GET", b + "/state", nil, "viewer", 200},
		{"list members", "GET", b + "/members", nil, "viewer", 200},
		{"summary", "GET", b + "/summary", nil, "viewer", 200},
		{"changes", "GET", b + "/changes", nil, "viewer", 200},
		{"voting state", "GET", b + "/voting", nil, "viewer", 200},
		{"rename", "PATCH", b, map[string]any{"name": "renamed"}, "owner", 200},
		{"invite", "POST", b + "/invites", map[string]any{"email": "x@example.com", "role": "viewer"}, "owner", 201},
		{"list invites", "GET", b + "/invites", nil, "owner", 200},
		{"webhooks", "GET", b + "/webhooks", nil, "owner", 200},
		{"open voting", "POST", b + "/voting", map[string]any{"dots": 5}, "owner", 200},
	}
	rank := map[string]int{"owner": 4, "editor": 3, "commenter": 2, "viewer": 1, "outsider": 0, "anonymous": 0}
	for _, who := range []string{"owner", "editor", "commenter", "viewer", "outsider", "anonymous"} {
		for _, a := range actions {
			code, body := e.call(a.method, a.path, creds[who], a.body)
			want := a.okStatus
			wantCode := ""
			switch {
			case who == "anonymous":
				want, wantCode = 401, string(protocol.CodeUnauthorized)
			case who == "outsider":
				want, wantCode = 403, string(protocol.CodeForbidden)
			case rank[who] < rank[a.minRole]:
				want, wantCode = 403, string(protocol.CodeForbidden)
			}
			if code != want {
				t.Errorf("%s / %s: %d %v, want %d", who, a.name, code, body, want)
				continue
			}
			if wantCode != "" {
				errObj, _ := body["error"].(map[string]any)
				if errObj == nil || errObj["code"] != wantCode {
					t.Errorf("%s / %s: body %v, want code %s", who, a.name, body, wantCode)
				}
			}
		}
	}

	// Over WebSocket: create a note, comment, vote — by role.
	ws := []struct {
		name    string
		minRole string
		tx      func(who string, i int) func(tx *crdt.Tx) error
	}{
		{"create a note", "editor", func(who string, i int) func(*crdt.Tx) error {
			return noteTx(newID(fmt.Sprintf("n-%s", who)), "by "+who)
		}},
		{"edit a note", "editor", func(who string, i int) func(*crdt.Tx) error {
			return func(tx *crdt.Tx) error { return tx.InsertText(target, "text", 0, who) }
		}},
		{"comment", "commenter", func(who string, i int) func(*crdt.Tx) error {
			return commentTx(newID(fmt.Sprintf("c-%s", who)), target, e.userID(creds[who]), "hi from "+who)
		}},
		{"vote", "commenter", func(who string, i int) func(*crdt.Tx) error {
			return voteTx(target, e.userID(creds[who]), 1)
		}},
	}
	for i, who := range []string{"owner", "editor", "commenter", "viewer"} {
		c := e.dial(board, creds[who], crdt.ReplicaID(0xa000+i))
		for _, a := range ws {
			err := edit(t, c, e.clk.Now(), a.tx(who, i))
			allowed := rank[who] >= rank[a.minRole]
			switch {
			case allowed && err != nil:
				t.Errorf("ws %s / %s refused: %v", who, a.name, err)
			case !allowed && (err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden))):
				t.Errorf("ws %s / %s: %v, want forbidden", who, a.name, err)
			}
			if !allowed && err != nil {
				// A refused change leaves the client's copy ahead of the
				// node's: start over, as the protocol says.
				c.Close()
				c = e.dial(board, creds[who], crdt.ReplicaID(0xb000+i*16+len(a.name)))
			}
		}
		c.Close()
	}
	// Outsiders and anonymous visitors cannot even connect.
	for _, who := range []string{"outsider", "anonymous"} {
		hdr := http.Header{}
		if creds[who] != "" {
			hdr.Set("Authorization", "Session "+creds[who])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.tn.base, "http")+b+"/ws",
			&websocket.DialOptions{HTTPHeader: hdr, Subprotocols: []string{protocol.Subprotocol}})
		cancel()
		if err == nil || resp == nil || (resp.StatusCode != 401 && resp.StatusCode != 403) {
			t.Errorf("%s connected to a members-only board (%v)", who, err)
		}
	}
}

// userID returns the user id behind a session.
func (e *asyncEnv) userID(session string) string {
	e.t.Helper()
	out := e.must(200, "GET", "/v1/me", session, nil)
	return out["user"].(map[string]any)["id"].(string)
}

// TestDemotionOnOpenConnection: an editor's connection stays open while
// the owner makes them a viewer; their next change is refused, and they
// were told of the new role. Removing them closes the connection.
func TestDemotionOnOpenConnection(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "demote", "access": "members"})["board"].(map[string]any)["id"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ed@example.com", "role": "editor"})
	ed := e.accept(linkIn(t, to(e.deliver(), "ed@example.com")[0], "/v1/invites/"))
	edID := e.userID(ed)
	c := e.dial(board, ed, 0x5001)
	mustEdit(t, c, e.clk.Now(), noteTx(newID("before"), "as editor"))

	e.must(200, "PUT", "/v1/boards/"+board+"/members/"+edID, owner, map[string]any{"role": "viewer"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitRole(ctx, "viewer"); err != nil {
		t.Fatalf("the client was not told its new role: %v (role %q)", err, c.Welcome().User.Role)
	}
	if err := edit(t, c, e.clk.Now(), noteTx(newID("after"), "as viewer")); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("a demoted editor's change: %v", err)
	}
	c.Close()

	// Removal closes an open connection with 4101.
	c2 := e.dial(board, ed, 0x5002)
	e.must(204, "DELETE", "/v1/boards/"+board+"/members/"+edID, owner, nil)
	select {
	case <-c2.Done():
	case <-ctx.Done():
		t.Fatal("a removed member's connection stayed open")
	}
	if st := c2.CloseStatus(); st != protocol.CloseForbidden {
		t.Fatalf("close status %d, want %d", st, protocol.CloseForbidden)
	}
	if code, _ := e.call("GET", "/v1/boards/"+board, ed, nil); code != 403 {
		t.Fatalf("a removed member reads the board: %d", code)
	}
}

// TestPasswordsAndInvites: wrong passwords are rate-limited; expired and
// revoked invites are refused; changing the password revokes guest
// tokens.
func TestPasswordsAndInvites(t *testing.T) {
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start)
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "open sesame"})["board"].(map[string]any)["id"].(string)
	b := "/v1/boards/" + board

	// Without the password: 401.
	if code, body := e.call("GET", b, "", nil); code != 401 {
		t.Fatalf("no password: %d %v", code, body)
	}
	for i := 0; i < 5; i++ {
		if code, _ := e.call("POST", b+"/join", "", map[string]any{"password": fmt.Sprintf("guess %d!", i)}); code != 401 {
			t.Fatalf("wrong password %d: %d", i, code)
		}
	}
	// The sixth attempt is refused even with the right password...
	if code, body := e.call("POST", b+"/join", "", map[string]any{"password": "open sesame"}); code != 429 || body["error"].(map[string]any)["code"] != string(protocol.CodeRateLimited) {
		t.Fatalf("after 5 wrong passwords: %d %v", code, body)
	}
	// ...until the window passes.
	e.clk.Set(start.Add(16 * time.Minute))
	g := e.must(200, "POST", b+"/join", "", map[string]any{"password": "open sesame", "name": "Gus"})
	tok := g["token"].(string)
	e.must(200, "GET", b+"?token="+tok, "", nil)
	// A new password revokes the guest's token.
	e.must(200, "PATCH", b, owner, map[string]any{"password": "new password!"})
	if code, _ := e.call("GET", b+"?token="+tok, "", nil); code != 401 {
		t.Fatalf("a guest token survived a password change: %d", code)
	}

	// Invites: expired, revoked, and used once.
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "late@example.com", "role": "editor", "days": 1})
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "revoked@example.com", "role": "editor"})
	msgs := e.deliver()
	lateLink := linkIn(t, to(msgs, "late@example.com")[0], "/v1/invites/")
	revLink := linkIn(t, to(msgs, "revoked@example.com")[0], "/v1/invites/")
	list := e.must(200, "GET", b+"/invites", owner, nil)["invites"].([]any)
	for _, inv := range list {
		m := inv.(map[string]any)
		if m["email"] == "revoked@example.com" {
			e.must(204, "DELETE", b+"/invites/"+m["id"].(string), owner, nil)
		}
	}
	if code, body := e.call("POST", revLink, "", nil); code != 401 || !strings.Contains(fmt.Sprint(body), "revoked") {
		t.Fatalf("revoked invite: %d %v", code, body)
	}
	e.clk.Set(start.Add(25 * time.Hour))
	if code, body := e.call("POST", lateLink, "", nil); code != 401 || !strings.Contains(fmt.Sprint(body), "expired") {
		t.Fatalf("expired invite: %d %v", code, body)
	}
	// A sign-in link is single-use and expires too.
	e.must(202, "POST", "/v1/signin", "", map[string]any{"email": "x@example.com"})
	link := linkIn(t, to(e.deliver(), "x@example.com")[0], "/v1/signin/")
	e.must(200, "POST", link, "", nil)
	if code, _ := e.call("POST", link, "", nil); code != 401 {
		t.Fatalf("a sign-in link used twice: %d", code)
	}
	// The GET of an e-mailed link does not consume it (mail scanners).
	e.must(202, "POST", "/v1/signin", "", map[string]any{"email": "y@example.com"})
	link = linkIn(t, to(e.deliver(), "y@example.com")[0], "/v1/signin/")
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.must(200, "POST", link, "", nil)
	var _ = client.Options{}
}

// TestAccessAcrossNodes: people, sessions, invites and roles are the same
// on every node of a cluster: a session made on one node works on the
// other, an invite made on one is accepted on the other, and a demotion
// made on one applies to an open connection on the other.
func TestAccessAcrossNodes(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{9}, 32)
	onHub := func(id string) func(*node.Config) {
		return func(c *node.Config) { c.NodeID, c.Bus, c.Secret, c.Meta = id, hub.Node(id), secret, mb }
	}
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), onHub("a"))
	b := startNode(t, func(c *node.Config) {
		onHub("b")(c)
		c.Now, c.NotifyInterval, c.OutboxManual = e.clk.Now, -1, true
	})
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "cluster", "access": "members"})["board"].(map[string]any)["id"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ed@example.com", "role": "editor"})
	link := linkIn(t, to(e.deliver(), "ed@example.com")[0], "/v1/invites/")

	// The owner's session, made on a, works on b.
	onB := &asyncEnv{t: t, tn: b, clk: e.clk, smtp: e.smtp}
	if got := onB.must(200, "GET", "/v1/boards/"+board, owner, nil)["you"].(map[string]any)["role"]; got != "owner" {
		t.Fatalf("owner's role on b: %v", got)
	}
	// The invite, made on a, is accepted on b.
	ed := onB.accept(strings.Replace(link, e.tn.base, b.base, 1))
	edID := onB.userID(ed)
	// Used on b, it is used on a too.
	if code, _ := e.call("POST", link, "", nil); code != 401 {
		t.Fatalf("the invite accepted on b worked again on a: %d", code)
	}
	c := onB.dial(board, ed, 0x6001)
	mustEdit(t, c, e.clk.Now(), noteTx(newID("on-b"), "from b"))
	// Demoted on a: the connection on b learns it, and its next change is
	// refused there.
	e.must(200, "PUT", "/v1/boards/"+board+"/members/"+edID, owner, map[string]any{"role": "viewer"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitRole(ctx, "viewer"); err != nil {
		t.Fatalf("the connection on b did not learn its new role: %v", err)
	}
	if err := edit(t, c, e.clk.Now(), noteTx(newID("on-b-2"), "as viewer")); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("a demoted editor's change on b: %v", err)
	}
}

// TestMembersForMentions: whoever may comment may list the board's
// members, to @mention them: a public board's guest who may comment sees
// their names and ids and no e-mail; a guest who may only view is refused;
// the owner sees e-mails.
func TestMembersForMentions(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("olga@example.com")
	e.must(200, "PATCH", "/v1/me", owner, map[string]any{"name": "Olga"})
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "public", "publicRole": "commenter"})["board"].(map[string]any)["id"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ben@example.com", "role": "editor"})
	ben := e.accept(linkIn(t, to(e.deliver(), "ben@example.com")[0], "/v1/invites/"))
	e.must(200, "PATCH", "/v1/me", ben, map[string]any{"name": "Ben Li"})

	list := func(session string) []map[string]any {
		var out []map[string]any
		for _, m := range e.must(200, "GET", "/v1/boards/"+board+"/members", session, nil)["members"].([]any) {
			out = append(out, m.(map[string]any))
		}
		return out
	}
	guest := list("")
	if len(guest) != 2 {
		t.Fatalf("a commenting guest's list: %v", guest)
	}
	names := map[string]bool{}
	for _, m := range guest {
		if _, ok := m["email"]; ok {
			t.Fatalf("a guest sees an e-mail: %v", m)
		}
		if m["user"] == "" {
			t.Fatalf("no user id: %v", m)
		}
		names[m["name"].(string)] = true
	}
	if !names["Olga"] || !names["Ben Li"] {
		t.Fatalf("names %v, want Olga and Ben Li", names)
	}
	for _, m := range list(ben) {
		if m["name"] == "Olga" && m["email"] != nil {
			t.Fatalf("a member sees the owner's e-mail: %v", m)
		}
	}
	mails := 0
	for _, m := range list(owner) {
		if m["email"] != nil {
			mails++
		}
	}
	if mails != 2 {
		t.Fatalf("the owner sees %d e-mails, want 2", mails)
	}
	e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"publicRole": "viewer"})
	if code, out := e.call("GET", "/v1/boards/"+board+"/members", "", nil); code != 403 {
		t.Fatalf("a viewing guest lists members: %d %v", code, out)
	}
}

// TestMembersListForVisitorsWhoMayComment: people without a membership of
// their own list the members only when they may comment, however they came
// in (a link, the password, a public board's welcome, a signed-in visit);
// the owner and the members list them whatever their role.
func TestMembersListForVisitorsWhoMayComment(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("olga@example.com")
	pub := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "public", "publicRole": "viewer"})
	pw := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "open sesame", "publicRole": "viewer"})
	pubB, pwB := "/v1/boards/"+boardID(t, pub), "/v1/boards/"+boardID(t, pw)
	links := pub["links"].(map[string]any)
	e.must(201, "POST", pubB+"/invites", owner, map[string]any{"email": "vera@example.com", "role": "viewer"})
	vera := e.accept(linkIn(t, to(e.deliver(), "vera@example.com")[0], "/v1/invites/"))
	passer := e.signIn("pat@example.com")
	e.must(200, "POST", pwB+"/join", passer, map[string]any{"password": "open sesame"})
	guest := e.must(200, "POST", pwB+"/join", "", map[string]any{"password": "open sesame", "name": "Gus"})["token"].(string)

	cases := []struct {
		who, board, cred string
		want             int
	}{
		{"a viewer link", pubB, tokenOf(t, links["viewer"].(string)), 403},
		{"an anonymous viewer guest", pubB, "", 403},
		{"a signed-in visitor of a viewer board", pubB, e.signIn("sam@example.com"), 403},
		{"a password guest viewer", pwB, guest, 403},
		{"a password member viewer", pwB, passer, 403},
		{"a commenter link", pubB, tokenOf(t, links["commenter"].(string)), 200},
		{"a viewer member", pubB, vera, 200},
		{"the owner", pwB, owner, 200},
	}
	for _, c := range cases {
		code, body := e.call("GET", c.board+"/members", c.cred, nil)
		if code != c.want {
			t.Errorf("%s lists the members: %d %v, want %d", c.who, code, body, c.want)
			continue
		}
		if code == 403 && errCode(body) != string(protocol.CodeForbidden) {
			t.Errorf("%s: body %v, want code forbidden", c.who, body)
		}
	}
}

// TestInviteTwice: inviting an address that has a pending invite answers
// that invite (refreshed: the new role, a later expiry) without a second
// invite or e-mail; "resend" replaces it with a new e-mailed one, whose
// link works while the old one does not; after it is accepted, the
// address may be invited again.
func TestInviteTwice(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("olga@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "invites"})["board"].(map[string]any)["id"].(string)
	path := "/v1/boards/" + board + "/invites"
	first := e.must(201, "POST", path, owner, map[string]any{"email": "ana@example.com", "role": "editor"})["invite"].(map[string]any)
	firstMail := to(e.deliver(), "ana@example.com")
	if len(firstMail) != 1 {
		t.Fatalf("%d e-mails for the first invite", len(firstMail))
	}
	pending := func() []map[string]any {
		var out []map[string]any
		for _, i := range e.must(200, "GET", path, owner, nil)["invites"].([]any) {
			inv := i.(map[string]any)
			if inv["revoked"] == nil && inv["used"] == nil {
				out = append(out, inv)
			}
		}
		return out
	}

	e.clk.Set(e.clk.Now().Add(time.Hour))
	again := e.must(200, "POST", path, owner, map[string]any{"email": " Ana@Example.com ", "role": "commenter"})
	inv := again["invite"].(map[string]any)
	if again["existing"] != true || inv["id"] != first["id"] || inv["role"] != "commenter" || inv["expires"].(float64) <= first["expires"].(float64) {
		t.Fatalf("second invite: %v (first %v)", again, first)
	}
	if p := pending(); len(p) != 1 || p[0]["role"] != "commenter" {
		t.Fatalf("pending invites after inviting twice: %v", p)
	}
	if m := to(e.deliver(), "ana@example.com"); len(m) != 0 {
		t.Fatalf("a second e-mail: %d", len(m))
	}

	// Resend: a new invite and e-mail; the old link no longer works.
	re := e.must(201, "POST", path, owner, map[string]any{"email": "ana@example.com", "role": "commenter", "resend": true})
	if re["replaced"] != first["id"] || re["invite"].(map[string]any)["id"] == first["id"] {
		t.Fatalf("resend: %v", re)
	}
	if p := pending(); len(p) != 1 || p[0]["id"] != re["invite"].(map[string]any)["id"] {
		t.Fatalf("pending invites after resending: %v", p)
	}
	newMail := to(e.deliver(), "ana@example.com")
	if len(newMail) != 1 {
		t.Fatalf("%d e-mails for the resent invite", len(newMail))
	}
	if code, out := e.call("POST", linkIn(t, firstMail[0], "/v1/invites/"), "", nil); code != 401 {
		t.Fatalf("the replaced link: %d %v", code, out)
	}
	e.accept(linkIn(t, newMail[0], "/v1/invites/"))
	// Accepted: nothing pending, and a new invite is a new one.
	e.must(201, "POST", path, owner, map[string]any{"email": "ana@example.com", "role": "viewer"})
}
