package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/mail/smtptest"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// Attack tests for the access findings of the security review
// (docs/SECURITY.md): each reproduces an attack against real nodes over
// real sockets and checks the documented answer.

var secStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func boardID(t testing.TB, created map[string]any) string {
	t.Helper()
	return created["board"].(map[string]any)["id"].(string)
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// TestInviteNeverSignsInTheInviter: an owner who invites someone's address
// never holds a credential of that person. The invite e-mail goes to the
// address only; an invite link adds a signed-in member and signs nobody
// in.
func TestInviteNeverSignsInTheInviter(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	victim := e.signIn("victim@example.com")
	private := boardID(t, e.must(201, "POST", "/v1/boards", victim, map[string]any{"name": "plans", "access": "members"}))

	// An anonymous board owner may not make the node e-mail anyone.
	bait := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "bait"})
	anonOwner := bait["token"].(string)
	code, body := e.call("POST", "/v1/boards/"+boardID(t, bait)+"/invites", anonOwner, map[string]any{"email": "victim@example.com", "role": "editor"})
	if code != 403 || errCode(body) != string(protocol.CodeForbidden) {
		t.Fatalf("an anonymous owner's e-mail invite: %d %v, want 403 forbidden", code, body)
	}

	// A signed-in owner's invite: the answer holds no link and no token.
	attacker := e.signIn("attacker@example.com")
	b := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", attacker, map[string]any{"name": "bait 2"}))
	out := e.must(201, "POST", b+"/invites", attacker, map[string]any{"email": "victim@example.com", "role": "editor"})
	if _, ok := out["link"]; ok || strings.Contains(fmt.Sprint(out), "/v1/invites/") {
		t.Fatalf("the inviter got the invitee's link: %v", out)
	}
	if list := e.must(200, "GET", b+"/invites", attacker, nil); strings.Contains(fmt.Sprint(list), "/v1/invites/") {
		t.Fatalf("the invite listing holds a link: %v", list)
	}
	// The e-mail reaches the invitee and names the inviter's address.
	msgs := to(e.deliver(), "victim@example.com")
	if len(msgs) != 1 || !strings.Contains(textOf(t, msgs[0]), "attacker@example.com") {
		t.Fatalf("invite e-mails to the victim: %d", len(msgs))
	}

	// An invite link signs nobody in: without a session it is refused
	// (and not spent), with one it makes the caller a member, nothing more.
	link := e.must(201, "POST", b+"/invites", attacker, map[string]any{"role": "editor"})["link"].(string)
	code, body = e.call("POST", link, "", nil)
	if code != 401 || body["session"] != nil {
		t.Fatalf("an invite link without a session: %d %v, want 401 and no session", code, body)
	}
	joined := e.must(200, "POST", link, attacker, nil)
	if joined["session"] != nil || joined["user"].(map[string]any)["email"] != "attacker@example.com" {
		t.Fatalf("an invite link accepted by the attacker: %v", joined)
	}
	// The attacker still cannot open the victim's board or see their
	// boards.
	if code, _ := e.call("GET", "/v1/boards/"+private, attacker, nil); code != 403 {
		t.Fatalf("the attacker reads the victim's members-only board: %d", code)
	}
	if me := e.must(200, "GET", "/v1/me", attacker, nil); strings.Contains(fmt.Sprint(me), private) {
		t.Fatalf("the attacker's /v1/me lists the victim's board: %v", me)
	}
	// The victim's own e-mailed link signs the victim in, once.
	vs := e.accept(linkIn(t, msgs[0], "/v1/invites/"))
	if e.userID(vs) != e.userID(victim) {
		t.Fatal("the e-mailed invite signed in someone else than its addressee")
	}
}

// TestTokenRolesFollowTheBoard: a board token's role is read from the
// board's settings at every use. A guest who joined as editor is a viewer
// once the owner lowers publicRole (on the open connection, on a new one
// and on REST); a deleted role link stops working at once; revoking every
// link leaves the anonymous owner a new owner token.
func TestTokenRolesFollowTheBoard(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "guests", "access": "password", "password": "open sesame", "publicRole": "editor"})
	board, owner := boardID(t, created), created["token"].(string)
	b := "/v1/boards/" + board
	for role, l := range created["links"].(map[string]any) {
		if strings.Contains(l.(string), "?token=") || !strings.Contains(l.(string), "#token=") {
			t.Errorf("the %s link carries its token outside the fragment: %s", role, l)
		}
	}
	guest := e.must(200, "POST", b+"/join", "", map[string]any{"password": "open sesame", "name": "Gus"})["token"].(string)
	gc := e.dial(board, guest, 0x7001)
	mustEdit(t, gc, e.clk.Now(), noteTx(newID("guest-1"), "as editor"))

	e.must(200, "PATCH", b, owner, map[string]any{"publicRole": "viewer"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gc.WaitRole(ctx, "viewer"); err != nil {
		t.Fatalf("the open guest connection kept its role: %v", err)
	}
	if err := edit(t, gc, e.clk.Now(), noteTx(newID("guest-2"), "still?")); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("a demoted guest's change: %v", err)
	}
	gc2 := e.dial(board, guest, 0x7002)
	if r := gc2.Welcome().User.Role; r != "viewer" {
		t.Fatalf("a returning guest's role: %q, want viewer", r)
	}
	if err := edit(t, gc2, e.clk.Now(), noteTx(newID("guest-3"), "again?")); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("a returning guest's change: %v", err)
	}
	gv := e.must(200, "GET", b, guest, nil)
	if r := gv["you"].(map[string]any)["role"]; r != "viewer" {
		t.Fatalf("a guest's role on REST: %v", r)
	}
	if links := gv["board"].(map[string]any)["links"]; links != nil {
		t.Fatalf("a guest sees the board's role links: %v", links)
	}

	// Role links: the editor link keeps its own role; deleting it closes
	// its connection and refuses it.
	edTok := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	lc := e.dial(board, edTok, 0x7003)
	mustEdit(t, lc, e.clk.Now(), noteTx(newID("link-1"), "by link"))
	var edLink string
	for _, l := range e.must(200, "GET", b+"/links", owner, nil)["links"].([]any) {
		if l := l.(map[string]any); l["role"] == "editor" {
			edLink = l["id"].(string)
		}
	}
	if code, _ := e.call("GET", b+"/links", edTok, nil); code != 403 {
		t.Fatalf("an editor link lists links: %d", code)
	}
	e.must(204, "DELETE", b+"/links/"+edLink, owner, nil)
	select {
	case <-lc.Done():
	case <-ctx.Done():
		t.Fatal("a deleted link's connection stayed open")
	}
	if st := lc.CloseStatus(); st != protocol.CloseForbidden {
		t.Fatalf("close status %d, want %d", st, protocol.CloseForbidden)
	}
	if code, body := e.call("GET", b, edTok, nil); code != 401 {
		t.Fatalf("a deleted link on REST: %d %v", code, body)
	}
	// The owner mints new links; their URLs carry the token in the
	// fragment only.
	nl := e.must(201, "POST", b+"/links", owner, map[string]any{"role": "commenter"})
	url := nl["url"].(string)
	if !strings.Contains(url, "/b/"+board+"#token=") {
		t.Fatalf("new link URL %q", url)
	}
	if r := e.must(200, "GET", b, tokenOf(t, url), nil)["you"].(map[string]any)["role"]; r != "commenter" {
		t.Fatalf("a new commenter link's role: %v", r)
	}

	// Revoking every link: the owner's old token stops too, but the
	// answer carries a new one; the anonymous owner keeps the board.
	out := e.must(200, "PATCH", b, owner, map[string]any{"revokeLinks": true})
	fresh, _ := out["token"].(string)
	if fresh == "" {
		t.Fatalf("revoking links answered no new owner token: %v", out)
	}
	if code, _ := e.call("GET", b, owner, nil); code != 401 {
		t.Fatalf("the old owner token after revoking: %d", code)
	}
	if code, _ := e.call("GET", b, tokenOf(t, url), nil); code != 401 {
		t.Fatalf("a link after revoking every link: %d", code)
	}
	if r := e.must(200, "GET", b, fresh, nil)["you"].(map[string]any)["role"]; r != "owner" {
		t.Fatalf("the new owner token's role: %v", r)
	}
	if links := e.must(200, "GET", b+"/links", fresh, nil)["links"].([]any); len(links) != 0 {
		t.Fatalf("links left after revoking all: %v", links)
	}
	// A password change is a revocation too: the answer carries a token.
	if e.must(200, "PATCH", b, fresh, map[string]any{"password": "another one"})["token"] == nil {
		t.Fatal("a new password answered no new owner token")
	}
}

// TestPasswordMembersFollowPublicRole: a signed-in person who came in with
// the password is a member who follows publicRole, and loses the board
// when it becomes members-only; an invite makes them a full member.
func TestPasswordMembersFollowPublicRole(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	b := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "open sesame"}))
	pat := e.signIn("pat@example.com")
	e.must(200, "POST", b+"/join", pat, map[string]any{"password": "open sesame"})
	if r := e.must(200, "GET", b, pat, nil)["you"].(map[string]any)["role"]; r != "editor" {
		t.Fatalf("role after the password: %v", r)
	}
	e.must(200, "PATCH", b, owner, map[string]any{"publicRole": "commenter"})
	if r := e.must(200, "GET", b, pat, nil)["you"].(map[string]any)["role"]; r != "commenter" {
		t.Fatalf("a password member after publicRole commenter: %v", r)
	}
	e.must(200, "PATCH", b, owner, map[string]any{"access": "members"})
	if code, _ := e.call("GET", b, pat, nil); code != 403 {
		t.Fatalf("a password member on a members-only board: %d", code)
	}
}

// TestJoinLimitHoldsUnderParallelGuesses: wrong passwords sent all at once
// are counted before argon2 runs, so no more than the limit are checked.
func TestJoinLimitHoldsUnderParallelGuesses(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	b := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "pw", "access": "password", "password": "open sesame"}))
	const n = 40
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = e.call("POST", b+"/join", "", map[string]any{"password": fmt.Sprintf("guess %d", i)})
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[401] != 5 || count[429] != n-5 {
		t.Fatalf("answers to %d parallel wrong passwords: %v, want 5×401 and the rest 429", n, count)
	}
	// A right password after that waits for the window too.
	if code, _ := e.call("POST", b+"/join", "", map[string]any{"password": "open sesame"}); code != 429 {
		t.Fatalf("the right password inside a spent window: %d", code)
	}
}

// TestSignOutClosesConnections: signing out ends that session's open
// WebSockets, on the node that signed out and on the others.
func TestSignOutClosesConnections(t *testing.T) {
	e, onB := twoNodes(t)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "bye"}))
	ca := e.dial(board, owner, 0x7101)
	cb := onB.dial(board, owner, 0x7102)
	other := e.signIn("owner@example.com") // a second session of the same person
	co := onB.dial(board, other, 0x7103)
	e.must(204, "POST", "/v1/signout", owner, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, c := range map[string]*client.Client{"a": ca, "b": cb} {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("the signed-out session's connection on node %s stayed open", name)
		}
	}
	// The other session is untouched.
	mustEdit(t, co, e.clk.Now(), noteTx(newID("still-here"), "other session"))
	if code, _ := onB.call("GET", "/v1/boards/"+board, owner, nil); code != 401 {
		t.Fatalf("a signed-out session on node b: %d", code)
	}
}

// TestCommentsBelongToTheirAuthors: a commenter (or an editor) cannot
// edit or delete someone else's comment; anyone who may comment may
// resolve a thread; the owner moderates.
func TestCommentsBelongToTheirAuthors(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "comments", "access": "members"}))
	creds := map[string]string{}
	for _, role := range []string{"editor", "commenter"} {
		e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": role + "@example.com", "role": role})
		creds[role] = e.accept(linkIn(t, to(e.deliver(), role+"@example.com")[0], "/v1/invites/"))
	}
	note, thread := newID("target-note"), newID("ann-thread")
	cc := e.dial(board, creds["commenter"], 0x7201)
	oc := e.dial(board, owner, 0x7202)
	mustEdit(t, oc, e.clk.Now(), noteTx(note, "an idea"))
	waitClient(t, cc, func() bool {
		ok := false
		cc.Read(func(d *crdt.Doc) { ok = d.Kind(note) == "note" })
		return ok
	})
	mustEdit(t, cc, e.clk.Now(), commentTx(thread, note, e.userID(creds["commenter"]), "my comment"))
	for i, role := range []string{"editor", "commenter2"} {
		cred := creds["editor"]
		if role == "commenter2" {
			e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "c2@example.com", "role": "commenter"})
			cred = e.accept(linkIn(t, to(e.deliver(), "c2@example.com")[0], "/v1/invites/"))
		}
		for j, tx := range []func(tx *crdt.Tx) error{
			func(tx *crdt.Tx) error { return tx.InsertText(thread, "text", 0, "edited by "+role) },
			func(tx *crdt.Tx) error { return tx.Delete(thread) },
		} {
			c := e.dial(board, cred, crdt.ReplicaID(0x7300+i*16+j))
			waitClient(t, c, func() bool {
				ok := false
				c.Read(func(d *crdt.Doc) { ok = d.Kind(thread) == "comment" })
				return ok
			})
			if err := edit(t, c, e.clk.Now(), tx); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
				t.Fatalf("%s changing someone else's comment (%d): %v", role, j, err)
			}
			c.Close()
		}
		c := e.dial(board, cred, crdt.ReplicaID(0x7400+i))
		waitClient(t, c, func() bool {
			ok := false
			c.Read(func(d *crdt.Doc) { ok = d.Kind(thread) == "comment" })
			return ok
		})
		mustEdit(t, c, e.clk.Now(), func(tx *crdt.Tx) error { return tx.Set(thread, "resolved", crdt.Bool(i == 0)) })
	}
	// The author edits their own; the owner moderates.
	mustEdit(t, cc, e.clk.Now(), func(tx *crdt.Tx) error { return tx.InsertText(thread, "text", 0, "(edited) ") })
	waitClient(t, oc, func() bool {
		ok := false
		oc.Read(func(d *crdt.Doc) { ok = strings.HasPrefix(d.Text(thread, "text"), "(edited)") })
		return ok
	})
	mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error { return tx.Delete(thread) })
}

// twoNodes starts node a (with the SMTP relay and fake clock of an
// asyncEnv) and node b on one bus with the same secret.
func twoNodes(t *testing.T) (a, b *asyncEnv) {
	a, b, _ = twoNodesOnHub(t)
	return a, b
}

// twoNodesOnHub is twoNodes, with the hub the nodes' bus is on (to cut a
// node off it).
func twoNodesOnHub(t *testing.T) (a, b *asyncEnv, hub *bus.Hub) {
	hub = bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{7}, 32)
	a = newAsyncEnv(t, secStart, func(c *node.Config) { c.NodeID, c.Bus, c.Secret, c.Meta = "a", hub.Node("a"), secret, mb })
	tb := startNode(t, func(c *node.Config) {
		c.NodeID, c.Bus, c.Secret, c.Meta = "b", hub.Node("b"), secret, mb
		c.Now, c.NotifyInterval, c.OutboxManual = a.clk.Now, -1, true
	})
	return a, &asyncEnv{t: t, tn: tb, clk: a.clk, smtp: a.smtp}, hub
}

// refusedEventually makes changes through c (each a new note) until one
// is refused with code, which must happen within 10 s: the change made on
// another node reaches this one asynchronously.
func refusedEventually(t *testing.T, e *asyncEnv, c *client.Client, code protocol.Code, tx func(i int) func(*crdt.Tx) error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		err := edit(t, c, e.clk.Now(), tx(i))
		if err == nil {
			continue
		}
		if !strings.Contains(err.Error(), string(code)) {
			t.Fatalf("refused with %v, want %s", err, code)
		}
		return
	}
	t.Fatalf("changes still accepted 10 s after the access change (want %s)", code)
}

// TestExpiredSessionIsClosed: a connection whose sign-in session expires
// while it is open is closed by the node's sweep.
func TestExpiredSessionIsClosed(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "expiry"}))
	c := e.dial(board, owner, 0x7501)
	e.tn.n.SweepSessions(context.Background())
	mustEdit(t, c, e.clk.Now(), noteTx(newID("alive"), "still signed in"))
	e.clk.Set(secStart.Add(31 * 24 * time.Hour)) // sessions last 30 days
	e.tn.n.SweepSessions(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the expired session's connection stayed open")
	}
}

// TestDeletedLinksStayDeleted: deleting a board's last role link does not
// bring the deleted ones back (an empty list of links is still a list).
func TestDeletedLinksStayDeleted(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "links"})
	b, owner := "/v1/boards/"+boardID(t, created), created["token"].(string)
	for _, l := range e.must(200, "GET", b+"/links", owner, nil)["links"].([]any) {
		e.must(204, "DELETE", b+"/links/"+l.(map[string]any)["id"].(string), owner, nil)
	}
	for role, l := range created["links"].(map[string]any) {
		if role == "owner" {
			continue
		}
		if code, body := e.call("GET", b, tokenOf(t, l.(string)), nil); code != 401 {
			t.Errorf("the deleted %s link after deleting every link: %d %v", role, code, body)
		}
	}
}

// TestNotifyPrefsGrantNothing: choosing notifications never restores a
// membership the owner ended, and a visitor who chose them stays a
// visitor: shut out when the board becomes members-only.
func TestNotifyPrefsGrantNothing(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	b := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "prefs"}))
	mallory := e.signIn("mallory@example.com")
	prefs := map[string]any{"mode": "off"}
	e.must(200, "PUT", b+"/notify", mallory, prefs) // a public board's visitor
	e.must(204, "DELETE", b+"/members/"+e.userID(mallory), owner, nil)
	if code, body := e.call("PUT", b+"/notify", mallory, prefs); code != 403 {
		t.Fatalf("a removed member's PUT /notify: %d %v, want 403", code, body)
	}
	visitor := e.signIn("vic@example.com")
	e.must(200, "PUT", b+"/notify", visitor, prefs)
	e.must(200, "PATCH", b, owner, map[string]any{"access": "members"})
	for who, s := range map[string]string{"removed member": mallory, "visitor with preferences": visitor} {
		if code, body := e.call("GET", b, s, nil); code != 403 {
			t.Errorf("%s on the members-only board: %d %v", who, code, body)
		}
	}
}

// TestCommentCannotBeTakenOver: re-creating someone else's comment in a
// change does not make it the sender's.
func TestCommentCannotBeTakenOver(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "takeover", "publicRole": "commenter"})
	board, owner := boardID(t, created), created["token"].(string)
	note, thread := newID("note"), newID("owners-comment")
	oc := e.dial(board, owner, 0x7601)
	mustEdit(t, oc, e.clk.Now(), noteTx(note, "idea"))
	mustEdit(t, oc, e.clk.Now(), commentTx(thread, note, oc.Welcome().User.ID, "the owner's words"))
	cc := e.dial(board, tokenOf(t, created["links"].(map[string]any)["commenter"].(string)), 0x7602)
	waitClient(t, cc, func() bool {
		ok := false
		cc.Read(func(d *crdt.Doc) { ok = d.Kind(thread) == "comment" })
		return ok
	})
	me := cc.Welcome().User.ID
	err := edit(t, cc, e.clk.Now(), func(tx *crdt.Tx) error {
		if err := tx.Create(thread, "comment"); err != nil {
			return err
		}
		if err := tx.Set(thread, "author", crdt.String(me)); err != nil {
			return err
		}
		return tx.Delete(thread)
	})
	if err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("re-creating and deleting the owner's comment: %v, want forbidden", err)
	}
}

// TestRevokedBeforeHello: a link revoked after its holder's connection
// opened but before its hello is refused once the hello comes.
func TestRevokedBeforeHello(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "slow hello"})
	board, owner := boardID(t, created), created["token"].(string)
	link := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	r := rawOpen(t, "ws"+strings.TrimPrefix(e.tn.base, "http")+"/v1/boards/"+board+"/ws?token="+link, 0x7701)
	e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"revokeLinks": true})
	r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: 0x7701, Version: crdt.VersionVector{}})
	r.expectClose(protocol.CloseForbidden)
}

// TestNotifierKeepsAccessChanges: the notifier's deadline pass writes its
// mark on the board's current settings: a link deleted during the pass
// stays deleted.
func TestNotifierKeepsAccessChanges(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "deadline", "deadline": secStart.Add(-time.Minute).UnixMilli()})
	board, owner := boardID(t, created), created["token"].(string)
	b := "/v1/boards/" + board
	link := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	err := e.tn.n.NotifyBoardAfter(context.Background(), board, func() {
		for _, l := range e.must(200, "GET", b+"/links", owner, nil)["links"].([]any) {
			if l := l.(map[string]any); l["role"] == "editor" {
				e.must(204, "DELETE", b+"/links/"+l["id"].(string), owner, nil)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := e.call("GET", b, link, nil); code != 401 {
		t.Fatalf("a link deleted during a notifier pass: %d after it", code)
	}
	if got := e.must(200, "GET", b, owner, nil)["board"].(map[string]any)["deadlineFired"]; got == nil {
		t.Fatal("the deadline's mark was not written")
	}
}

// TestNarrowerAccessEndsVisitors: a public visitor's guest token, and a
// signed-in visitor who came in with the password, lose the board when
// the owner narrows its access or changes its password.
func TestNarrowerAccessEndsVisitors(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	b := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "narrow", "access": "password", "password": "open sesame"}))
	e.must(200, "PATCH", b, owner, map[string]any{"access": "public"})
	gc := e.dial(strings.TrimPrefix(b, "/v1/boards/"), "", 0x7801)
	guest := gc.Token()
	if guest == "" {
		t.Fatal("no guest token in the welcome")
	}
	e.must(200, "GET", b, guest, nil)
	e.must(200, "PATCH", b, owner, map[string]any{"access": "password"}) // the old password again
	if code, body := e.call("GET", b, guest, nil); code != 401 {
		t.Fatalf("a public visitor's token on the board made password-only: %d %v", code, body)
	}
	pat := e.signIn("pat@example.com")
	e.must(200, "POST", b+"/join", pat, map[string]any{"password": "open sesame"})
	e.must(200, "GET", b, pat, nil)
	e.must(200, "PATCH", b, owner, map[string]any{"password": "a new one"})
	if code, body := e.call("GET", b, pat, nil); code != 401 {
		t.Fatalf("a password member after a new password: %d %v, want 401 (needs the password)", code, body)
	}
	e.must(200, "POST", b+"/join", pat, map[string]any{"password": "a new one"})
	e.must(200, "GET", b, pat, nil)
}

// TestDemotedPasswordMember: the owner demotes a signed-in member who came
// in with the password: the demotion holds on the REST API and on their
// open connection, joining again with the password does not undo it, and
// they stay a visitor: a new password ends their access.
func TestDemotedPasswordMember(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "correct horse", "publicRole": "editor"}))
	b := "/v1/boards/" + board
	bob := e.signIn("bob@example.com")
	bobID := e.must(200, "POST", b+"/join", bob, map[string]any{"password": "correct horse"})["user"].(map[string]any)["id"].(string)
	c := e.dial(board, bob, 0x7a01)
	mustEdit(t, c, e.clk.Now(), noteTx(newID("pw-before"), "as a password member"))

	if got := e.must(200, "PUT", b+"/members/"+bobID, owner, map[string]any{"role": "viewer"})["member"].(map[string]any)["role"]; got != "viewer" {
		t.Fatalf("PUT answered role %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitRole(ctx, "viewer"); err != nil {
		t.Fatalf("the open connection was not made viewer: %v", err)
	}
	if err := edit(t, c, e.clk.Now(), noteTx(newID("pw-after"), "as a viewer")); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("a demoted password member's change on the open connection: %v", err)
	}
	if code, body := e.call("POST", b+"/elements", bob, map[string]any{"kind": "note", "text": "still editing"}); code != 403 {
		t.Fatalf("a demoted password member's POST /elements: %d %v", code, body)
	}
	if got := e.must(200, "POST", b+"/join", bob, map[string]any{"password": "correct horse"})["role"]; got != "viewer" {
		t.Fatalf("joining again with the password gave role %v, want viewer", got)
	}
	e.must(200, "PATCH", b, owner, map[string]any{"password": "another secret"})
	if code, body := e.call("GET", b, bob, nil); code != 401 {
		t.Fatalf("after a new password: %d %v, want 401 (still a visitor)", code, body)
	}
}

// TestRevokedVisitorsGetNoMail: a signed-in visitor member who asked for
// each change by e-mail hears of the board while they may read it, and of
// nothing once the owner ends their access (a new password, revoked links,
// public → password, password → members), while a full member still does.
func TestRevokedVisitorsGetNoMail(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	each := map[string]any{"mode": "each", "batchMinutes": 1, "digest": false, "digestHour": 8, "quietFrom": 0, "quietTo": 0}
	at := secStart
	pass := func() []smtptest.Received {
		at = at.Add(10 * time.Minute)
		return e.notify(at)
	}
	cases := []struct {
		name   string
		create map[string]any
		revoke map[string]any
		code   int // the visitor's GET of the board afterwards
	}{
		{"a new password", map[string]any{"access": "password", "password": "open sesame"}, map[string]any{"password": "another secret"}, 401},
		{"revoked links", map[string]any{"access": "password", "password": "open sesame"}, map[string]any{"revokeLinks": true}, 401},
		{"public to password", map[string]any{"access": "public"}, map[string]any{"access": "password", "password": "another secret"}, 401},
		{"password to members", map[string]any{"access": "password", "password": "open sesame"}, map[string]any{"access": "members"}, 403},
	}
	for i, tc := range cases {
		tc.create["name"] = tc.name
		b := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", owner, tc.create))
		visitor, member := fmt.Sprintf("visitor%d@example.com", i), fmt.Sprintf("member%d@example.com", i)
		vs := e.signIn(visitor)
		if tc.create["access"] == "password" {
			e.must(200, "POST", b+"/join", vs, map[string]any{"password": "open sesame"})
		}
		e.must(200, "PUT", b+"/notify", vs, each) // on a public board: a visitor member now
		e.must(201, "POST", b+"/invites", owner, map[string]any{"email": member, "role": "editor"})
		ms := e.accept(linkIn(t, to(e.deliver(), member)[0], "/v1/invites/"))
		e.must(200, "PUT", b+"/notify", ms, each)

		e.must(201, "POST", b+"/elements", owner, map[string]any{"kind": "note", "text": "shared while allowed"})
		got := pass()
		if m := to(got, visitor); len(m) != 1 || !strings.Contains(textOf(t, m[0]), "shared while allowed") {
			t.Fatalf("%s: %d e-mails to the visitor before the change, want 1 with the note", tc.name, len(m))
		}

		e.must(200, "PATCH", b, owner, tc.revoke)
		if code, body := e.call("GET", b, vs, nil); code != tc.code {
			t.Fatalf("%s: the visitor's GET of the board: %d %v, want %d", tc.name, code, body, tc.code)
		}
		e.must(201, "POST", b+"/elements", owner, map[string]any{"kind": "note", "text": "TOP SECRET acquisition target"})
		got = pass()
		if m := to(got, visitor); len(m) != 0 {
			t.Errorf("%s: the visitor still gets e-mail about the board: %q", tc.name, textOf(t, m[0]))
		}
		if m := to(got, member); len(m) != 1 || !strings.Contains(textOf(t, m[0]), "TOP SECRET") {
			t.Errorf("%s: %d e-mails to the full member, want 1 with the note", tc.name, len(m))
		}
	}
}

// TestRemovedMemberStaysOutOfInviteLink: a member the owner removed cannot
// come back through the invite link they joined with (nor spend a use of
// it), nor through an e-mailed invite made before the removal; an e-mailed
// invite made or renewed after it brings them back, and a member who left
// by themselves may come back through the link.
func TestRemovedMemberStaysOutOfInviteLink(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "team", "access": "members"}))
	b := "/v1/boards/" + board
	inv := e.must(201, "POST", b+"/invites", owner, map[string]any{"role": "editor"})
	link := inv["link"].(string)
	uses := func() float64 {
		for _, i := range e.must(200, "GET", b+"/invites", owner, nil)["invites"].([]any) {
			if i := i.(map[string]any); i["id"] == inv["invite"].(map[string]any)["id"] {
				n, _ := i["uses"].(float64)
				return n
			}
		}
		t.Fatal("the invite link is not listed")
		return 0
	}
	// An e-mailed invite to Bob, pending while he joins by the link.
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "bob@example.com", "role": "editor"})
	early := linkIn(t, to(e.deliver(), "bob@example.com")[0], "/v1/invites/")
	bob := e.signIn("bob@example.com")
	bobID := e.must(200, "POST", link, bob, nil)["user"].(map[string]any)["id"].(string)
	e.must(200, "GET", b, bob, nil)

	e.clk.Set(secStart.Add(time.Minute))
	e.must(204, "DELETE", b+"/members/"+bobID, owner, nil)
	if code, body := e.call("GET", b, bob, nil); code != 403 {
		t.Fatalf("a removed member's GET: %d %v", code, body)
	}
	for i := 0; i < 3; i++ {
		if code, body := e.call("POST", link, bob, nil); code != 403 || errCode(body) != string(protocol.CodeForbidden) {
			t.Fatalf("a removed member's POST of the invite link: %d %v, want 403", code, body)
		}
	}
	if code, body := e.call("GET", b, bob, nil); code != 403 {
		t.Fatalf("a removed member after posting the invite link: %d %v", code, body)
	}
	if n := uses(); n != 1 {
		t.Fatalf("the invite link has %v uses, want 1 (the removed member's attempts spend none)", n)
	}
	if code, body := e.call("POST", early, "", nil); code != 403 {
		t.Fatalf("an e-mailed invite made before the removal: %d %v, want 403", code, body)
	}
	if code, body := e.call("GET", b, bob, nil); code != 403 {
		t.Fatalf("a removed member after the older e-mailed invite: %d %v", code, body)
	}

	// The owner invites Bob again by e-mail: he is back.
	e.clk.Set(secStart.Add(2 * time.Minute))
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "bob@example.com", "role": "commenter"})
	bob = e.accept(linkIn(t, to(e.deliver(), "bob@example.com")[0], "/v1/invites/"))
	if got := e.must(200, "GET", b, bob, nil)["you"].(map[string]any)["role"]; got != "commenter" {
		t.Fatalf("after a new e-mailed invite: role %v, want commenter", got)
	}

	// Dave too had an e-mailed invite pending when he was removed: the
	// owner inviting his address again renews it, and it brings him back.
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "dave@example.com", "role": "editor"})
	daveMail := linkIn(t, to(e.deliver(), "dave@example.com")[0], "/v1/invites/")
	dave := e.signIn("dave@example.com")
	e.must(200, "POST", link, dave, nil)
	e.clk.Set(secStart.Add(3 * time.Minute))
	e.must(204, "DELETE", b+"/members/"+e.userID(dave), owner, nil)
	e.clk.Set(secStart.Add(4 * time.Minute))
	if again := e.must(200, "POST", b+"/invites", owner, map[string]any{"email": "dave@example.com", "role": "viewer"}); again["existing"] != true {
		t.Fatalf("inviting a pending address again: %v", again)
	}
	dave = e.accept(daveMail)
	if got := e.must(200, "GET", b, dave, nil)["you"].(map[string]any)["role"]; got != "viewer" {
		t.Fatalf("after the renewed e-mailed invite: role %v, want viewer", got)
	}

	// Carol leaves by herself; the link brings her back.
	carol := e.signIn("carol@example.com")
	e.must(200, "POST", link, carol, nil)
	e.must(204, "DELETE", b+"/members/me", carol, nil)
	if code, _ := e.call("GET", b, carol, nil); code != 403 {
		t.Fatalf("a member who left reads the board: %d", code)
	}
	e.must(200, "POST", link, carol, nil)
	if got := e.must(200, "GET", b, carol, nil)["you"].(map[string]any)["role"]; got != "editor" {
		t.Fatalf("a member who left, back through the link: role %v", got)
	}
}

// TestRemovedMemberBackByPasswordStaysVisitor: a member the owner removed
// may come in again with the board's password, as a visitor, but the
// invite link they joined with makes them no full member again, neither
// straight after the join nor once they left the visitor membership by
// themselves; an e-mailed invite made after the removal brings them back.
func TestRemovedMemberBackByPasswordStaysVisitor(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw team", "access": "password", "password": "open sesame", "publicRole": "viewer"}))
	b := "/v1/boards/" + board
	link := e.must(201, "POST", b+"/invites", owner, map[string]any{"role": "editor"})["link"].(string)
	bob := e.signIn("bob@example.com")
	bobID := e.must(200, "POST", link, bob, nil)["user"].(map[string]any)["id"].(string)
	e.clk.Set(secStart.Add(time.Minute))
	e.must(204, "DELETE", b+"/members/"+bobID, owner, nil)

	if got := e.must(200, "POST", b+"/join", bob, map[string]any{"password": "open sesame"})["role"]; got != "viewer" {
		t.Fatalf("a removed member's join with the password: role %v, want viewer", got)
	}
	if code, body := e.call("POST", link, bob, nil); code != 403 {
		t.Fatalf("a removed member, back by the password, posts the invite link: %d %v, want 403", code, body)
	}
	if got := e.must(200, "GET", b, bob, nil)["you"].(map[string]any)["role"]; got != "viewer" {
		t.Fatalf("a removed member, back by the password, after the invite link: role %v, want viewer", got)
	}
	e.must(200, "PATCH", b, owner, map[string]any{"password": "a new one"})
	if code, body := e.call("GET", b, bob, nil); code != 401 {
		t.Fatalf("a removed member, back by the password, after a new password: %d %v, want 401", code, body)
	}

	// In again with the new password, then leaving by himself: the link
	// still does not bring him back.
	e.must(200, "POST", b+"/join", bob, map[string]any{"password": "a new one"})
	e.must(204, "DELETE", b+"/members/me", bob, nil)
	if code, body := e.call("POST", link, bob, nil); code != 403 {
		t.Fatalf("a removed member who came back by the password and left posts the invite link: %d %v, want 403", code, body)
	}
	e.must(200, "PATCH", b, owner, map[string]any{"access": "members"})
	if code, body := e.call("GET", b, bob, nil); code != 403 {
		t.Fatalf("a removed member on the board made members-only: %d %v, want 403", code, body)
	}

	// The owner invites him again by e-mail: a full member.
	e.clk.Set(secStart.Add(2 * time.Minute))
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "bob@example.com", "role": "commenter"})
	bob = e.accept(linkIn(t, to(e.deliver(), "bob@example.com")[0], "/v1/invites/"))
	if got := e.must(200, "GET", b, bob, nil)["you"].(map[string]any)["role"]; got != "commenter" {
		t.Fatalf("after a new e-mailed invite: role %v, want commenter", got)
	}
}

// TestDemotedPasswordVisitorStaysVisitor: the owner demoting a visitor who
// came in with the password lowers their role at once (open connection
// too) and leaves them a visitor: a new password or a members-only board
// ends their access as any visitor's. Promoting one makes them a full
// member.
func TestDemotedPasswordVisitorStaysVisitor(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "open sesame", "publicRole": "commenter"}))
	b := "/v1/boards/" + board
	bob, carol := e.signIn("bob@example.com"), e.signIn("carol@example.com")
	bobID := e.must(200, "POST", b+"/join", bob, map[string]any{"password": "open sesame"})["user"].(map[string]any)["id"].(string)
	carolID := e.must(200, "POST", b+"/join", carol, map[string]any{"password": "open sesame"})["user"].(map[string]any)["id"].(string)
	c := e.dial(board, bob, 0x7a11)

	if got := e.must(200, "PUT", b+"/members/"+bobID, owner, map[string]any{"role": "viewer"})["member"].(map[string]any)["role"]; got != "viewer" {
		t.Fatalf("demoting a visitor: PUT answered role %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitRole(ctx, "viewer"); err != nil {
		t.Fatalf("the demoted visitor's open connection was not made viewer: %v", err)
	}
	if got := e.must(200, "PUT", b+"/members/"+carolID, owner, map[string]any{"role": "editor"})["member"].(map[string]any)["role"]; got != "editor" {
		t.Fatalf("promoting a visitor: PUT answered role %v", got)
	}

	e.must(200, "PATCH", b, owner, map[string]any{"password": "a new one"})
	if code, body := e.call("GET", b, bob, nil); code != 401 {
		t.Fatalf("a demoted visitor after a new password: %d %v, want 401 (needs the password)", code, body)
	}
	if got := e.must(200, "GET", b, carol, nil)["you"].(map[string]any)["role"]; got != "editor" {
		t.Fatalf("a promoted visitor after a new password: role %v, want editor (a full member)", got)
	}
	if got := e.must(200, "POST", b+"/join", bob, map[string]any{"password": "a new one"})["role"]; got != "viewer" {
		t.Fatalf("the demoted visitor joining with the new password: role %v, want viewer (the owner's cap)", got)
	}
	e.must(200, "PATCH", b, owner, map[string]any{"access": "members"})
	if code, body := e.call("GET", b, bob, nil); code != 403 {
		t.Fatalf("a demoted visitor on the board made members-only: %d %v, want 403", code, body)
	}
	if got := e.must(200, "GET", b, carol, nil)["you"].(map[string]any)["role"]; got != "editor" {
		t.Fatalf("a promoted visitor on the board made members-only: role %v, want editor", got)
	}
}

// TestOwnerCapOutlivesLinksAndLeaving: the role the owner set for a user
// is the most an invite link (handed to many, no decision about anyone)
// gives them again, and leaving then coming in with the password keeps
// it; an e-mailed invite made after it lifts it.
func TestOwnerCapOutlivesLinksAndLeaving(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "open sesame", "publicRole": "editor"}))
	b := "/v1/boards/" + board
	link := e.must(201, "POST", b+"/invites", owner, map[string]any{"role": "editor"})["link"].(string)
	role := func(who string) any { return e.must(200, "GET", b, who, nil)["you"].(map[string]any)["role"] }
	// An e-mailed invite to Bob, made before the owner caps him.
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "bob@example.com", "role": "editor"})
	early := linkIn(t, to(e.deliver(), "bob@example.com")[0], "/v1/invites/")

	// Bob, a password visitor the owner demoted, posts the editor link.
	bob := e.signIn("bob@example.com")
	bobID := e.must(200, "POST", b+"/join", bob, map[string]any{"password": "open sesame"})["user"].(map[string]any)["id"].(string)
	e.clk.Set(secStart.Add(time.Minute))
	e.must(200, "PUT", b+"/members/"+bobID, owner, map[string]any{"role": "viewer"})
	if got := e.must(200, "POST", link, bob, nil)["role"]; got != "viewer" {
		t.Fatalf("a capped visitor posting the editor link: answered role %v, want viewer", got)
	}
	if got := role(bob); got != "viewer" {
		t.Fatalf("a capped visitor after the editor link: role %v, want viewer", got)
	}
	if code, body := e.call("POST", early, "", nil); code != 200 && code != 303 {
		t.Fatalf("the e-mailed invite made before the cap: %d %v", code, body)
	}
	if got := role(bob); got != "viewer" {
		t.Fatalf("a capped member after an e-mailed invite made before the cap: role %v, want viewer", got)
	}

	// Carol, demoted the same way, leaves and comes in with the password.
	carol := e.signIn("carol@example.com")
	carolID := e.must(200, "POST", b+"/join", carol, map[string]any{"password": "open sesame"})["user"].(map[string]any)["id"].(string)
	e.must(200, "PUT", b+"/members/"+carolID, owner, map[string]any{"role": "commenter"})
	e.must(204, "DELETE", b+"/members/me", carol, nil)
	if got := e.must(200, "POST", b+"/join", carol, map[string]any{"password": "open sesame"})["role"]; got != "commenter" {
		t.Fatalf("a capped visitor who left, in again with the password: role %v, want commenter", got)
	}
	e.must(204, "DELETE", b+"/members/me", carol, nil)
	e.must(200, "POST", link, carol, nil)
	if got := role(carol); got != "commenter" {
		t.Fatalf("a capped visitor who left, back through the editor link: role %v, want commenter", got)
	}

	// Dave, a full member by the link, demoted by the owner, posts it again.
	dave := e.signIn("dave@example.com")
	daveID := e.must(200, "POST", link, dave, nil)["user"].(map[string]any)["id"].(string)
	e.must(200, "PUT", b+"/members/"+daveID, owner, map[string]any{"role": "viewer"})
	e.must(200, "POST", link, dave, nil)
	if got := role(dave); got != "viewer" {
		t.Fatalf("a demoted member posting the editor link again: role %v, want viewer", got)
	}

	// The owner invites Bob again by e-mail: that lifts the cap.
	e.clk.Set(secStart.Add(2 * time.Minute))
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "bob@example.com", "role": "editor"})
	bob = e.accept(linkIn(t, to(e.deliver(), "bob@example.com")[0], "/v1/invites/"))
	if got := role(bob); got != "editor" {
		t.Fatalf("after an e-mailed invite made after the cap: role %v, want editor", got)
	}
}

// TestSignInPageNamesTheAccount: the page of an e-mailed sign-in link
// names the account it signs in to, so that someone sent another's link
// (the sender's own, to have them work in the sender's account: login
// CSRF at one press of a button) sees whose it is; the GET does not use
// the link; a used or unknown link says so at once.
func TestSignInPageNamesTheAccount(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	e.must(202, "POST", "/v1/signin", "", map[string]any{"email": "mallory@example.com"})
	link := linkIn(t, to(e.deliver(), "mallory@example.com")[0], "/v1/signin/")
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(link); code != 200 || !strings.Contains(body, "mallory@example.com") || !strings.Contains(body, "<button") {
		t.Fatalf("the sign-in page: %d, names the account: %v", code, strings.Contains(body, "mallory@example.com"))
	}
	e.must(200, "POST", link, "", nil) // the GET did not use it
	if code, body := get(link); code != 401 || !strings.Contains(body, "already used") || strings.Contains(body, "<button") {
		t.Fatalf("a used link's page: %d %q", code, body)
	}
	if code, body := get(e.tn.base + "/v1/signin/" + strings.Repeat("a", 43)); code != 401 || strings.Contains(body, "<button") {
		t.Fatalf("an unknown link's page: %d %q", code, body)
	}
}

// TestInvitePageNamesTheAccount: the page of an e-mailed invite names the
// address it signs in as, as a sign-in link's page does. It said only
// "join the board": someone who invited an address of their own to a
// board of theirs and forwarded the link had the person they sent it to
// signed in to that account (their own session replaced) at one press of
// its button, working there for the sender to read. The GET does not use
// the invite; a used, revoked or unknown invite says so at once.
func TestInvitePageNamesTheAccount(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	mallory := e.signIn("mallory@example.com")
	b := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", mallory, map[string]any{"name": "bait"}))
	e.must(201, "POST", b+"/invites", mallory, map[string]any{"email": "mallory.other@example.com", "role": "editor"})
	link := linkIn(t, to(e.deliver(), "mallory.other@example.com")[0], "/v1/invites/")
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(link); code != 200 || !strings.Contains(body, "mallory.other@example.com") || !strings.Contains(body, "<button") {
		t.Fatalf("the e-mailed invite's page: %d, names the account: %v", code, strings.Contains(body, "mallory.other@example.com"))
	}
	e.accept(link) // the GET did not use it
	if code, body := get(link); code != 401 || !strings.Contains(body, "already used") || strings.Contains(body, "<button") {
		t.Fatalf("a used invite's page: %d %q", code, body)
	}
	if code, body := get(e.tn.base + "/v1/invites/" + strings.Repeat("a", 43)); code != 401 || strings.Contains(body, "<button") {
		t.Fatalf("an unknown invite's page: %d %q", code, body)
	}
	// An invite link's page still has its button, and names nobody.
	il := e.must(201, "POST", b+"/invites", mallory, map[string]any{"role": "viewer"})["link"].(string)
	if code, body := get(il); code != 200 || !strings.Contains(body, "<button") || strings.Contains(body, "@") {
		t.Fatalf("an invite link's page: %d %q", code, body)
	}
}
