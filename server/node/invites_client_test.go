package node_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestInviteMailsPerClientAddressBounded: invite e-mails were capped per
// board, per inviter and per invitee, but not per client address, and an
// account costs one sign-in e-mail: one address with a catch-all domain
// made hundreds of accounts a day, each sending 50 invites to strangers.
// One client address sends at most 100 invite e-mails a day, whichever
// accounts send them: three accounts signed in from one address send 100
// to 100 strangers, the 101st is refused (429, nothing sent); the third
// account, calling from another address, still invites.
func TestInviteMailsPerClientAddressBounded(t *testing.T) {
	e := newAsyncEnv(t, secStart, func(c *node.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	invite := func(session, board, email, from string) httpResult {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"email": email, "role": "viewer"})
		hdr := map[string]string{"Authorization": "Session " + session}
		if from != "" {
			hdr["X-Forwarded-For"] = from
		}
		return e.tn.do("POST", "/v1/boards/"+board+"/invites", "", "application/json", body, hdr)
	}
	type account struct{ session, board string }
	var accounts []account
	for i := range 3 {
		s := e.signIn(fmt.Sprintf("spammer%d@catchall.example", i))
		b := boardID(t, e.must(201, "POST", "/v1/boards", s, map[string]any{"name": "Free prizes, click"}))
		accounts = append(accounts, account{s, b})
	}
	sent := 0
	for i := range 100 {
		a := accounts[i/50] // 50 a day each, the inviter's cap
		if r := invite(a.session, a.board, fmt.Sprintf("stranger%d@example.com", i), ""); r.status != 201 {
			t.Fatalf("invite %d: %d %s", i+1, r.status, r.body)
		}
		sent++
	}
	third := accounts[2]
	r := invite(third.session, third.board, "stranger100@example.com", "")
	expectError(t, "a 101st invite e-mail from one address in a day", r, 429, protocol.CodeRateLimited)
	mails := e.deliver()
	invites := 0
	for _, m := range mails {
		if strings.Contains(textOf(t, m), "/v1/invites/") {
			invites++
		}
	}
	if invites != sent {
		t.Fatalf("%d invite e-mails went out, want %d", invites, sent)
	}
	if got := len(to(mails, "stranger100@example.com")); got != 0 {
		t.Fatalf("the refused invite was e-mailed (%d)", got)
	}
	// Another client address: the same account invites.
	if r := invite(third.session, third.board, "stranger100@example.com", "203.0.113.9"); r.status != 201 {
		t.Fatalf("an invite from another address: %d %s", r.status, r.body)
	}
}
