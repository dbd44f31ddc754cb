package node_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// elementCount is the number of elements of a board's state as who reads
// it.
func elementCount(t *testing.T, e *asyncEnv, board, who string) int {
	t.Helper()
	st := e.must(200, "GET", "/v1/boards/"+board+"/state", who, nil)
	els, _ := st["elements"].([]any)
	return len(els)
}

// TestQueuedWritesAfterRevoke: a REST write was judged when its call came
// in, and then waited (behind the caller's earlier writes, which share one
// replica, and for the board's copy) with that role. A link holder who sent
// twenty writes at once had those still waiting applied after the owner
// revoked the link and was answered: the board changed, by a revoked link,
// after the revoke was final. The writes still waiting are refused.
func TestQueuedWritesAfterRevoke(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "queued"})
	board, owner := boardID(t, created), created["token"].(string)
	link := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	const calls, perCall = 20, 500
	actions := make([]any, perCall)
	for i := range actions {
		actions[i] = map[string]any{"op": "create", "kind": "note", "text": fmt.Sprintf("spam %d", i)}
	}
	codes := make(chan int, calls)
	var wg sync.WaitGroup
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := e.call("POST", "/v1/boards/"+board+"/changes", link, map[string]any{"actions": actions})
			codes <- code
		}()
	}
	// Once one write is in, the others are judged and wait for it.
	if code := <-codes; code != 200 {
		t.Fatalf("the first write: %d", code)
	}
	out := e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"revokeLinks": true})
	owner = out["token"].(string)
	atRevoke := elementCount(t, e, board, owner)
	wg.Wait()
	close(codes)
	late := 0
	for code := range codes {
		if code == 200 {
			late++
		}
	}
	if after := elementCount(t, e, board, owner); after != atRevoke {
		t.Fatalf("the board went from %d to %d elements after the link was revoked (%d writes of the revoked link answered 200 after the revoke)",
			atRevoke, after, late)
	}
	if atRevoke == calls*perCall {
		t.Fatalf("every write was in before the revoke: the test did not race it")
	}
}

// TestRestartedNodeCatchesUpFirst: a node resumes its watch of the
// metadata buckets where it stopped, and what was written while it was
// down reaches its view after the backlog before it. It was Fresh as
// soon as the watches started, so meanwhile it decided access on its old
// records: a member removed while it was down read the board there, and
// the board's old password (whose new hash was still in the backlog, while
// the board's new epoch had arrived) got a token of the new epoch, good on
// every node. A restarted node decides nothing before it has caught up.
func TestRestartedNodeCatchesUpFirst(t *testing.T) {
	secret := bytes.Repeat([]byte{0x3c}, 32)
	port := freePorts(t, 1)[0]
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", port)
	e := newAsyncEnv(t, secStart, func(c *node.Config) {
		c.NodeID, c.Secret = "ra", secret
		c.NATS.ListenAddr = fmt.Sprintf("127.0.0.1:%d", port)
	})
	seed, err := bus.NodeSeed(secret)
	if err != nil {
		t.Fatal(err)
	}
	nkey := filepath.Join(t.TempDir(), "node.nk")
	if err := os.WriteFile(nkey, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	dirB := t.TempDir()
	startB := func() *testNode {
		return startNode(t, func(c *node.Config) {
			c.NodeID, c.Secret, c.DataDir = "rb", secret, dirB
			c.NATS.URL, c.NATS.NkeyFile = natsURL, nkey
			c.Now, c.NotifyInterval, c.OutboxManual = e.clk.Now, -1, true
		})
	}

	owner := e.signIn("owner@example.com")
	members := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "members", "access": "members"}))
	e.must(201, "POST", "/v1/boards/"+members+"/invites", owner, map[string]any{"email": "mallory@example.com", "role": "editor"})
	mallory := e.accept(linkIn(t, to(e.deliver(), "mallory@example.com")[0], "/v1/invites/"))
	pw := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "old secret"}))

	b := startB()
	poll(t, "node b to know the boards", func() bool {
		code, _ := e.call("GET", b.base+"/v1/boards/"+members+"/state", mallory, nil)
		code2, _ := e.call("POST", b.base+"/v1/boards/"+pw+"/join", "", map[string]any{"password": "old secret"})
		return code == 200 && code2 == 200
	})
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}

	// While node b is down: other nodes' writes to the account records
	// (people's last-seen versions, say), then the owner removes mallory
	// and changes the password, mallory's way in with it.
	nc, err := nats.Connect(natsURL, nkeyOption(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40000 {
		key := account.NSSeen + "." + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("backlog-%06d", i)))
		if _, err := js.PublishAsync("$KV.cb_accounts."+key, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				t.Fatal("the backlog was not stored")
			}
		}
	}
	e.must(204, "DELETE", "/v1/boards/"+members+"/members/"+e.userID(mallory), owner, nil)
	e.must(200, "PATCH", "/v1/boards/"+pw, owner, map[string]any{"password": "new secret"})

	b = startB()
	if code, _ := e.call("GET", b.base+"/v1/boards/"+members+"/state", mallory, nil); code == 200 {
		t.Errorf("a member removed while node b was down read the board on it after its restart")
	}
	if code, out := e.call("POST", b.base+"/v1/boards/"+pw+"/join", "", map[string]any{"password": "old secret"}); code == 200 {
		tok, _ := out["token"].(string)
		code, _ := e.call("GET", "/v1/boards/"+pw, tok, nil)
		t.Errorf("the old password joined on node b after its restart; its token on node a: %d", code)
	}
	poll(t, "node b to catch up", func() bool {
		code, _ := e.call("GET", b.base+"/v1/boards/"+members+"/state", mallory, nil)
		return code == 403
	})
}

// nkeyOption connects as a node, with the nkey seed derived from the
// cluster's secret.
func nkeyOption(t *testing.T, seed []byte) nats.Option {
	t.Helper()
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return nats.Nkey(pub, kp.Sign)
}

// startNATSServer runs a NATS server with JetStream in this process on
// port, its store in dir (a server started again on the same port and dir
// has its streams again). The caller shuts it down.
func startNATSServer(t *testing.T, port int, dir string) *natsserver.Server {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	return srv
}

// TestRevokeAfterNATSRestart: a node's watch of the metadata is a
// JetStream consumer, which a restarted NATS server no longer has; the
// client library makes a new one only once it has missed its heartbeats,
// 10 to 20 s later. The node's own writes reached the quorum again at
// once, so it was fresh, and a link revoked by another node meanwhile
// went on reading the board there. A node watches again as soon as its
// connection is back, and decides no access before it has caught up.
func TestRevokeAfterNATSRestart(t *testing.T) {
	port, dir := freePorts(t, 1)[0], t.TempDir()
	var servers []*natsserver.Server
	t.Cleanup(func() { // after the node's shutdown
		for _, s := range servers {
			s.Shutdown()
		}
	})
	srv := startNATSServer(t, port, dir)
	servers = append(servers, srv)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	e := newAsyncEnv(t, secStart, func(c *node.Config) { c.NodeID, c.NATS.URL = "nb", url })
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "restart"})
	board := boardID(t, created)
	link := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	reads := func(cred string) bool {
		code, _ := e.call("GET", "/v1/boards/"+board+"/state", cred, nil)
		return code == 200
	}
	if !reads(link) {
		t.Fatal("the link does not read the board")
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	servers = append(servers, startNATSServer(t, port, dir))
	// Another node (its watch unharmed) revokes every link of the board
	// once the server is back: it bumps the board's epoch.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	id, err := storage.ParseBoardID(board)
	if err != nil {
		t.Fatal(err)
	}
	key := meta.NSBoard + "." + base64.RawURLEncoding.EncodeToString(id[:])
	pollFor(t, "the server to take the revoke", 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		kv, err := js.KeyValue(ctx, "cb_boards")
		if err != nil {
			return false
		}
		cur, err := kv.Get(ctx, key)
		if err != nil {
			return false
		}
		var m meta.Board
		if err := json.Unmarshal(cur.Value(), &m); err != nil {
			t.Fatal(err)
		}
		m.Epoch++
		m.Links, m.LinkRecords = nil, true
		val, _ := json.Marshal(m)
		_, err = kv.Update(ctx, key, val, cur.Revision())
		return err == nil
	})
	deadline := time.Now().Add(2 * time.Second)
	for reads(link) {
		if time.Now().After(deadline) {
			t.Fatal("a link revoked after the NATS server restarted still read the board 2 s later")
		}
		time.Sleep(50 * time.Millisecond)
	}
	poll(t, "the node to serve the board again", func() bool { return reads("") })
}

// TestRevokedBeforeHelloGetsNothing: a connection's role was decided
// again only once it had joined its room, and the join had sent it the
// board: a link revoked while its connection waited to say hello (up to
// 10 s) got the board as it was at the hello, what the owner wrote after
// the revoke included, before it was closed. It is closed without a
// welcome.
func TestRevokedBeforeHelloGetsNothing(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "slow hello"})
	board, owner := boardID(t, created), created["token"].(string)
	link := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	r := rawOpen(t, "ws"+strings.TrimPrefix(e.tn.base, "http")+"/v1/boards/"+board+"/ws?token="+link, 0x7702)
	owner = e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"revokeLinks": true})["token"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/elements", owner, map[string]any{"kind": "note", "text": "written after the revoke"})
	r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: 0x7702, Version: crdt.VersionVector{}, Format: protocol.FormatJSON})
	for {
		typ, data, err := r.read()
		if err != nil {
			if got := protocol.CloseCode(websocket.CloseStatus(err)); got != protocol.CloseForbidden {
				t.Fatalf("connection ended with %v (status %d), want close %d", err, got, protocol.CloseForbidden)
			}
			return
		}
		if typ == protocol.TypeWelcome || bytes.Contains(data, []byte("after the revoke")) {
			t.Fatalf("the revoked link's connection got %s %.200q before it was closed", typ, data)
		}
	}
}
