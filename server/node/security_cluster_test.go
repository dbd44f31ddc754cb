package node_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestAccessChangesReachEveryNode: every access change made on node a
// applies to open connections on node b, and to new ones there.
func TestAccessChangesReachEveryNode(t *testing.T) {
	e, onB := twoNodes(t)
	owner := e.signIn("owner@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitClosed := func(c *client.Client, what string) {
		t.Helper()
		select {
		case <-c.Done():
			if st := c.CloseStatus(); st != protocol.CloseForbidden {
				t.Fatalf("%s: close status %d, want %d", what, st, protocol.CloseForbidden)
			}
		case <-ctx.Done():
			t.Fatalf("%s: the connection on node b stayed open", what)
		}
	}
	newBoard := func(name string, body map[string]any) (string, map[string]any) {
		body["name"] = name
		created := e.must(201, "POST", "/v1/boards", owner, body)
		return boardID(t, created), created
	}
	dialFails := func(board, cred string, want int, what string) {
		t.Helper()
		hdr := http.Header{}
		u := "ws" + strings.TrimPrefix(onB.tn.base, "http") + "/v1/boards/" + board + "/ws"
		if strings.Contains(cred, ".") {
			u += "?token=" + cred
		} else if cred != "" {
			hdr.Set("Authorization", "Session "+cred)
		}
		_, resp, err := wsDial(t, u, hdr, protocol.Subprotocol)
		if err == nil || resp == nil || resp.StatusCode != want {
			t.Fatalf("%s: a new connection on node b: %v %s, want %d", what, err, statusOf(resp), want)
		}
	}
	note := func(prefix string) func(int) func(*crdt.Tx) error {
		return func(i int) func(*crdt.Tx) error { return noteTx(newID(fmt.Sprintf("%s-%d", prefix, i)), "x") }
	}

	t.Run("revoke links", func(t *testing.T) {
		board, created := newBoard("revoke", map[string]any{})
		link := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
		c := onB.dial(board, link, 0x8001)
		e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"revokeLinks": true})
		waitClosed(c, "revoked link")
		dialFails(board, link, 401, "revoked link")
	})
	t.Run("demote and remove a member", func(t *testing.T) {
		board, _ := newBoard("members", map[string]any{"access": "members"})
		e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ed@example.com", "role": "editor"})
		ed := e.accept(linkIn(t, to(e.deliver(), "ed@example.com")[0], "/v1/invites/"))
		c := onB.dial(board, ed, 0x8002)
		e.must(200, "PUT", "/v1/boards/"+board+"/members/"+e.userID(ed), owner, map[string]any{"role": "viewer"})
		if err := c.WaitRole(ctx, "viewer"); err != nil {
			t.Fatalf("demotion on node b: %v", err)
		}
		if r := onB.dial(board, ed, 0x8003).Welcome().User.Role; r != "viewer" {
			t.Fatalf("a new connection on node b after the demotion: %q", r)
		}
		e.must(204, "DELETE", "/v1/boards/"+board+"/members/"+e.userID(ed), owner, nil)
		waitClosed(c, "removed member")
		dialFails(board, ed, 403, "removed member")
	})
	t.Run("access mode", func(t *testing.T) {
		board, _ := newBoard("public", map[string]any{})
		c := onB.dial(board, "", 0x8004) // an anonymous guest
		mustEdit(t, c, e.clk.Now(), noteTx(newID("anon"), "hello"))
		e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"access": "members"})
		waitClosed(c, "guest of a board made members-only")
		dialFails(board, "", 401, "guest of a board made members-only")
	})
	t.Run("password", func(t *testing.T) {
		board, _ := newBoard("to-password", map[string]any{})
		c := onB.dial(board, "", 0x8005)
		e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"access": "password", "password": "open sesame"})
		waitClosed(c, "guest of a board given a password")
		dialFails(board, "", 401, "guest of a board given a password")
	})
	t.Run("public role", func(t *testing.T) {
		board, _ := newBoard("public-role", map[string]any{})
		c := onB.dial(board, "", 0x8006)
		e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"publicRole": "viewer"})
		if err := c.WaitRole(ctx, "viewer"); err != nil {
			t.Fatalf("a guest on node b after publicRole viewer: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		board, _ := newBoard("deadline", map[string]any{})
		c := onB.dial(board, owner, 0x8007)
		mustEdit(t, c, e.clk.Now(), noteTx(newID("before-dl"), "in time"))
		e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"deadline": e.clk.Now().UnixMilli()})
		refusedEventually(t, e, c, protocol.CodeReadOnly, note("late"))
		c2 := onB.dial(board, owner, 0x8008)
		if err := edit(t, c2, e.clk.Now(), noteTx(newID("late-new"), "x")); err == nil || !strings.Contains(err.Error(), string(protocol.CodeReadOnly)) {
			t.Fatalf("a new connection on node b after the deadline: %v", err)
		}
	})
	t.Run("voting", func(t *testing.T) {
		board, _ := newBoard("voting", map[string]any{})
		target := newID("vote-target")
		c := onB.dial(board, owner, 0x8009)
		mustEdit(t, c, e.clk.Now(), noteTx(target, "vote for me"))
		e.must(200, "POST", "/v1/boards/"+board+"/voting", owner, map[string]any{"dots": 1})
		e.must(200, "POST", "/v1/boards/"+board+"/voting/close", owner, nil)
		refusedEventually(t, e, c, protocol.CodeReadOnly, func(i int) func(*crdt.Tx) error {
			return voteTx(target, e.userID(owner), i%2)
		})
	})
}

// TestRoleMatrixAcrossNodes: every kind of credential — members by role,
// the owner's session and token, role links, a password guest, a public
// guest, a deleted link, a signed-out session, an outsider, nobody —
// against REST calls and WebSocket changes, on both nodes of a cluster:
// allowed, or refused with the documented status and code.
func TestRoleMatrixAcrossNodes(t *testing.T) {
	e, onB := twoNodes(t)
	owner := e.signIn("owner@example.com")
	created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "matrix", "access": "password", "password": "open sesame", "publicRole": "commenter"})
	board, ownerTok := boardID(t, created), created["token"].(string)
	b := "/v1/boards/" + board
	creds := map[string]string{"owner session": owner, "owner token": ownerTok}
	want := map[string]string{"owner session": "owner", "owner token": "owner"}
	for _, role := range []string{"editor", "commenter", "viewer"} {
		e.must(201, "POST", b+"/invites", owner, map[string]any{"email": role + "@example.com", "role": role})
		creds[role+" member"] = e.accept(linkIn(t, to(e.deliver(), role+"@example.com")[0], "/v1/invites/"))
		want[role+" member"] = role
	}
	for _, role := range []string{"editor", "viewer"} {
		creds[role+" link"] = tokenOf(t, e.must(201, "POST", b+"/links", owner, map[string]any{"role": role})["url"].(string))
		want[role+" link"] = role
	}
	creds["password guest"] = e.must(200, "POST", b+"/join", "", map[string]any{"password": "open sesame", "name": "Gus"})["token"].(string)
	want["password guest"] = "commenter"
	dead := e.must(201, "POST", b+"/links", owner, map[string]any{"role": "editor"})
	creds["deleted link"] = tokenOf(t, dead["url"].(string))
	e.must(204, "DELETE", b+"/links/"+dead["link"].(map[string]any)["id"].(string), owner, nil)
	gone := e.signIn("gone@example.com")
	e.must(201, "POST", b+"/invites", owner, map[string]any{"email": "gone2@example.com", "role": "editor"})
	creds["signed-out member"] = e.accept(linkIn(t, to(e.deliver(), "gone2@example.com")[0], "/v1/invites/"))
	e.must(204, "POST", "/v1/signout", creds["signed-out member"], nil)
	creds["outsider"] = gone
	creds["nobody"] = ""
	refusedStatus := map[string]int{"deleted link": 401, "signed-out member": 401, "outsider": 401, "nobody": 401}

	target := newID("matrix-note")
	mustEdit(t, e.dial(board, owner, 0x9100), e.clk.Now(), noteTx(target, "a note"))
	rank := map[string]int{"owner": 4, "editor": 3, "commenter": 2, "viewer": 1}
	nextRep := crdt.ReplicaID(0x9200)
	actions := []struct {
		name, method, path string
		body               any
		minRole            string
		okStatus           int
	}{
		{"read metadata", "GET", b, nil, "viewer", 200},
		{"read state", "GET", b + "/state", nil, "viewer", 200},
		{"read ops", "GET", b + "/ops", nil, "viewer", 200},
		{"list members", "GET", b + "/members", nil, "viewer", 200},
		{"summary", "GET", b + "/summary", nil, "viewer", 200},
		{"rename", "PATCH", b, map[string]any{"name": "renamed"}, "owner", 200},
		{"invite link", "POST", b + "/invites", map[string]any{"role": "viewer"}, "owner", 201},
		{"list links", "GET", b + "/links", nil, "owner", 200},
		{"mint a link", "POST", b + "/links", map[string]any{"role": "viewer"}, "owner", 201},
		{"webhooks", "GET", b + "/webhooks", nil, "owner", 200},
		{"open voting", "POST", b + "/voting", map[string]any{"dots": 0}, "owner", 200},
	}
	for _, env := range []struct {
		name string
		e    *asyncEnv
	}{{"a", e}, {"b", onB}} {
		for who, cred := range creds {
			role := want[who]
			for _, a := range actions {
				code, body := env.e.call(a.method, a.path, cred, a.body)
				wantStatus, wantCode := a.okStatus, ""
				switch {
				case role == "":
					wantStatus, wantCode = refusedStatus[who], string(protocol.CodeUnauthorized)
				case rank[role] < rank[a.minRole]:
					wantStatus, wantCode = 403, string(protocol.CodeForbidden)
				case a.name == "list members" && !strings.HasSuffix(who, " member") && !strings.HasPrefix(who, "owner") && rank[role] < rank["commenter"]:
					// Without a membership of one's own: only who may comment.
					wantStatus, wantCode = 403, string(protocol.CodeForbidden)
				}
				if code != wantStatus || (wantCode != "" && errCode(body) != wantCode) {
					t.Errorf("node %s, %s / %s: %d %v, want %d %s", env.name, who, a.name, code, body, wantStatus, wantCode)
				}
			}
			if role == "" {
				hdr := http.Header{}
				u := "ws" + strings.TrimPrefix(env.e.tn.base, "http") + b + "/ws"
				if strings.Contains(cred, ".") {
					u += "?token=" + cred
				} else if cred != "" {
					hdr.Set("Authorization", "Session "+cred)
				}
				if _, resp, err := wsDial(t, u, hdr, protocol.Subprotocol); err == nil || resp == nil || resp.StatusCode != refusedStatus[who] {
					t.Errorf("node %s, %s connected: %v %s", env.name, who, err, statusOf(resp))
				}
				continue
			}
			for _, a := range []struct {
				name    string
				minRole string
				tx      func() func(*crdt.Tx) error
			}{
				{"create a note", "editor", func() func(*crdt.Tx) error { return noteTx(newID(env.name+who), "by "+who) }},
				{"comment", "commenter", func() func(*crdt.Tx) error {
					return func(tx *crdt.Tx) error { return tx.Create(newID("c"+env.name+who), "comment") }
				}},
			} {
				nextRep++
				c := env.e.dial(board, cred, nextRep)
				if got := c.Welcome().User.Role; got != role {
					t.Errorf("node %s, %s: welcome role %q, want %q", env.name, who, got, role)
				}
				err := edit(t, c, e.clk.Now(), a.tx())
				switch ok := rank[role] >= rank[a.minRole]; {
				case ok && err != nil:
					t.Errorf("node %s, %s / %s refused: %v", env.name, who, a.name, err)
				case !ok && (err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden))):
					t.Errorf("node %s, %s / %s: %v, want forbidden", env.name, who, a.name, err)
				}
				c.Close()
			}
		}
	}
}
