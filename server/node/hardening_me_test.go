package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/mail/smtptest"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/storage"
)

// TestMyBoardsIndex: GET /v1/me lists the boards the user is a member
// of (from the user's index, not a scan of every board), and invites are
// listed per board; a store written before the indexes existed is
// indexed at start.
func TestMyBoardsIndex(t *testing.T) {
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start, func(c *node.Config) { c.Store = st })
	alice, bob := e.signIn("alice@example.com"), e.signIn("bob@example.com")
	var mine []string
	for i := 0; i < 3; i++ {
		id := e.must(201, "POST", "/v1/boards", alice, map[string]any{"name": fmt.Sprint("alice ", i)})["board"].(map[string]any)["id"].(string)
		mine = append(mine, id)
	}
	other := e.must(201, "POST", "/v1/boards", bob, map[string]any{"name": "bob's"})["board"].(map[string]any)["id"].(string)
	e.must(201, "POST", "/v1/boards/"+mine[0]+"/invites", alice, map[string]any{"email": "carol@example.com"})
	e.must(201, "POST", "/v1/boards/"+other+"/invites", bob, map[string]any{"email": "dave@example.com"})
	e.must(204, "DELETE", "/v1/boards/"+mine[2], alice, nil)
	check := func(e *asyncEnv) {
		t.Helper()
		var got []string
		for _, b := range e.must(200, "GET", "/v1/me", alice, nil)["boards"].([]any) {
			got = append(got, b.(map[string]any)["board"].(map[string]any)["id"].(string)+"/"+b.(map[string]any)["role"].(string))
		}
		slices.Sort(got)
		want := []string{mine[0] + "/owner", mine[1] + "/owner"}
		slices.Sort(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("alice's boards: %v, want %v", got, want)
		}
		invs := e.must(200, "GET", "/v1/boards/"+mine[0]+"/invites", alice, nil)["invites"].([]any)
		if len(invs) != 1 || invs[0].(map[string]any)["email"] != "carol@example.com" {
			t.Fatalf("invites of alice's board: %v", invs)
		}
	}
	check(e)
	// A store from before the indexes: drop them, start a node on it.
	e.tn.stop()
	ctx := context.Background()
	for _, ns := range []string{"memberof", "boardinvite", "index"} {
		var keys [][]byte
		st.ScanMeta(ctx, ns, nil, func(k, _ []byte) error { keys = append(keys, k); return nil })
		if len(keys) == 0 {
			t.Fatalf("no %s entries", ns)
		}
		for _, k := range keys {
			if err := st.DeleteMeta(ctx, ns, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	e2 := &asyncEnv{t: t, clk: e.clk, smtp: e.smtp}
	e2.tn = startNode(t, func(c *node.Config) { c.Store = st; c.Now = e.clk.Now; c.NotifyInterval = -1; c.OutboxManual = true })
	check(e2)
}

// BenchmarkMe: GET /v1/me of a member of 3 boards on a node with 1000
// other boards (it scanned every board before the membership index).
func BenchmarkMe(b *testing.B) {
	srv, err := smtptest.Start(smtptest.Options{Username: "relay", Password: "relay-secret"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	tn := startNode(b, func(c *node.Config) {
		c.Quotas.BoardsPerHour = -1
		c.OutboxManual = true
		c.Mail = node.MailConfig{SMTP: mail.SMTPConfig{Addr: srv.Addr(), Username: "relay", Password: "relay-secret", TLSConfig: srv.ClientTLS()}}
	})
	for i := 0; i < 1000; i++ {
		tn.createBoard(fmt.Sprintf(`{"name":"other %d"}`, i))
	}
	if res := tn.do("POST", "/v1/signin", "", "application/json", []byte(`{"email":"me@example.com"}`), nil); res.status != 202 {
		b.Fatalf("signin: %d %s", res.status, res.body)
	}
	tn.n.RunOutbox(context.Background())
	link := linkIn(b, srv.Messages()[0], "/v1/signin/")
	u, _ := url.Parse(link)
	var out struct{ Session string }
	json.Unmarshal(tn.do("POST", u.Path, "", "", nil, map[string]string{"Accept": "application/json"}).body, &out)
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("POST", tn.base+"/v1/boards", strings.NewReader(`{"name":"mine"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Session "+out.Session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("create: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", tn.base+"/v1/me", nil)
	req.Header.Set("Authorization", "Session "+out.Session)
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var me struct{ Boards []any }
		json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		if len(me.Boards) != 3 {
			b.Fatalf("%d boards", len(me.Boards))
		}
	}
}

// TestMeSignedOut: GET /v1/me without any session is a 200 with no user
// (every signed-out page of the web client asks it: a 401 there was an
// error in the console of every signed-out browser); a session that is
// not valid is still a 401, and its cookie is cleared.
func TestMeSignedOut(t *testing.T) {
	e := newAsyncEnv(t, time.Now())
	code, out := e.call("GET", "/v1/me", "", nil)
	if code != 200 || out["user"] != nil || fmt.Sprint(out["boards"]) != "[]" {
		t.Fatalf("signed out: %d %v, want 200 {user: null, boards: []}", code, out)
	}
	// A session that ended: 401 with the Authorization header (no cookie to clear)...
	s := e.signIn("ann@example.com")
	e.must(200, "GET", "/v1/me", s, nil)
	e.must(204, "POST", "/v1/signout", s, nil)
	if code, _ := e.call("GET", "/v1/me", s, nil); code != 401 {
		t.Fatalf("ended session: %d, want 401", code)
	}
	// ...and with the cookie: 401, and the cookie cleared.
	req, _ := http.NewRequest("GET", e.tn.base+"/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: "cb_session", Value: s})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || c.Name == "cb_session" && c.MaxAge < 0
	}
	if resp.StatusCode != 401 || !cleared {
		t.Fatalf("ended session's cookie: %d, cleared %v", resp.StatusCode, cleared)
	}
}
