package node_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/node"
)

// natsPair starts two nodes whose embedded NATS servers route to each
// other (one JetStream cluster holds the metadata) on one fake clock at
// secStart: a is an asyncEnv, b's base URL is returned. It returns once a
// board created on a opens on b, so both nodes' metadata is connected.
func natsPair(t *testing.T) (a *asyncEnv, b string) {
	secret := bytes.Repeat([]byte{0x5e}, 32)
	ports := freePorts(t, 2)
	cluster := func(i int) func(c *node.Config) {
		return func(c *node.Config) {
			c.NodeID, c.Secret = fmt.Sprintf("rl%d", i), secret
			c.NATS.ClusterAddr = fmt.Sprintf("127.0.0.1:%d", ports[i])
			c.NATS.Routes = []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[1-i])}
		}
	}
	a = newAsyncEnv(t, secStart, cluster(0))
	tb := startNode(t, func(c *node.Config) {
		cluster(1)(c)
		c.Now, c.NotifyInterval, c.OutboxManual = a.clk.Now, -1, true
	})
	var board, token string
	poll(t, "the cluster's metadata to take a new board", func() bool {
		code, out := a.call("POST", "/v1/boards", "", map[string]any{"name": "probe"})
		if code == 201 {
			board, token = boardID(t, out), out["token"].(string)
		}
		return code == 201
	})
	poll(t, "the board to open on the other node", func() bool {
		code, _ := a.call("GET", tb.base+"/v1/boards/"+board+"?token="+token, "", nil)
		return code == 200
	})
	return a, tb.base
}

// TestPasswordTriesAreClusterWide: wrong passwords were counted on each
// node, so a client alternating between the two nodes of a cluster got 10
// guesses per quarter hour instead of 5. The sixth guess is refused on
// either node, whichever took the five.
func TestPasswordTriesAreClusterWide(t *testing.T) {
	a, b := natsPair(t)
	created := a.must(201, "POST", "/v1/boards", "", map[string]any{"name": "pw", "access": "password", "password": "open sesame"})
	path := "/v1/boards/" + boardID(t, created) + "/join"
	nodes := []string{a.tn.base, b}
	poll(t, "the password board to open on node b", func() bool {
		code, _ := a.call("GET", b+"/v1/boards/"+boardID(t, created), "", nil)
		return code == 401
	})
	for i := range 5 {
		if code, out := a.call("POST", nodes[i%2]+path, "", map[string]any{"password": fmt.Sprintf("guess %d", i)}); code != 401 {
			t.Fatalf("guess %d on node %d: %d %v", i+1, i%2, code, out)
		}
	}
	for i, base := range nodes {
		if code, out := a.call("POST", base+path, "", map[string]any{"password": "open sesame"}); code != 429 {
			t.Fatalf("a guess past the cluster's 5 on node %d: %d %v, want 429", i, code, out)
		}
	}
	// The next quarter hour starts afresh, and a right password gives its
	// try back on every node.
	a.clk.Set(secStart.Add(16 * time.Minute))
	for i := range 8 {
		a.must(200, "POST", nodes[i%2]+path, "", map[string]any{"password": "open sesame"})
	}
}

// TestSignInMailsAreClusterWide: sign-in links to one address were
// counted on each node, so anyone alternating between two nodes could
// mail a stranger 10 an hour and 40 a day. The address gets 5 an hour
// and 20 a day from the whole cluster.
func TestSignInMailsAreClusterWide(t *testing.T) {
	a, b := natsPair(t)
	nodes := []string{a.tn.base, b}
	victim := "victim@example.com"
	for i := range 5 {
		a.must(202, "POST", nodes[i%2]+"/v1/signin", "", map[string]any{"email": victim})
	}
	for i, base := range nodes {
		if code, out := a.call("POST", base+"/v1/signin", "", map[string]any{"email": victim}); code != 429 {
			t.Fatalf("a sixth link in the hour on node %d: %d %v, want 429", i, code, out)
		}
	}
	a.must(202, "POST", b+"/v1/signin", "", map[string]any{"email": "someone@example.com"})
	// Three more hours of 5: 20 in the day, then none on either node
	// though the hour is new.
	for h := 1; h < 4; h++ {
		a.clk.Set(secStart.Add(time.Duration(h) * time.Hour))
		for i := range 5 {
			a.must(202, "POST", nodes[(i+h)%2]+"/v1/signin", "", map[string]any{"email": victim})
		}
	}
	a.clk.Set(secStart.Add(4 * time.Hour))
	for i, base := range nodes {
		if code, out := a.call("POST", base+"/v1/signin", "", map[string]any{"email": victim}); code != 429 {
			t.Fatalf("a 21st link in the day on node %d: %d %v, want 429", i, code, out)
		}
	}
}

// TestInviteMailsPerAddressAreClusterWide: invite e-mails to one address
// were counted on each node, so an inviter alternating between two nodes
// could mail a stranger 20 a day instead of 10.
func TestInviteMailsPerAddressAreClusterWide(t *testing.T) {
	a, b := natsPair(t)
	nodes := []string{a.tn.base, b}
	mallory := a.signIn("mallory@example.com")
	path := "/v1/boards/" + boardID(t, a.must(201, "POST", "/v1/boards", mallory, map[string]any{"name": "spam"})) + "/invites"
	for i := range 10 {
		a.must(201, "POST", nodes[i%2]+path, mallory, map[string]any{"email": "victim@example.com", "role": "viewer", "resend": true})
	}
	for i, base := range nodes {
		if code, out := a.call("POST", base+path, mallory, map[string]any{"email": "victim@example.com", "role": "viewer", "resend": true}); code != 429 {
			t.Fatalf("an 11th invite e-mail to the address on node %d: %d %v, want 429", i, code, out)
		}
	}
}
