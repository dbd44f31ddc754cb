package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/node"
)

// cutter is a TCP proxy in front of one NATS route, from one node to
// another: Cut drops its connections and refuses new ones (a partition
// between those two nodes), Heal lets them through again.
type cutter struct {
	ln     net.Listener
	to     string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
	closed bool
}

func newCutter(t *testing.T, to string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, to: to, conns: map[net.Conn]bool{}}
	t.Cleanup(c.close)
	go c.serve()
	return c
}

func (c *cutter) addr() string { return c.ln.Addr().String() }

func (c *cutter) serve() {
	for {
		in, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.cut || c.closed {
			c.mu.Unlock()
			in.Close()
			continue
		}
		c.mu.Unlock()
		out, err := net.Dial("tcp", c.to)
		if err != nil {
			in.Close()
			continue
		}
		c.mu.Lock()
		if c.cut || c.closed { // cut while dialling
			c.mu.Unlock()
			in.Close()
			out.Close()
			continue
		}
		c.conns[in], c.conns[out] = true, true
		c.mu.Unlock()
		pipe := func(a, b net.Conn) {
			io.Copy(a, b)
			a.Close()
			b.Close()
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

func (c *cutter) set(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for conn := range c.conns {
			conn.Close()
		}
		c.conns = map[net.Conn]bool{}
	}
}

func (c *cutter) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.ln.Close()
	c.set(true)
}

// A 3-node cluster with its metadata in JetStream (R3) is partitioned:
// node 2 alone on one side. No write of access settings made on node 2 is
// acknowledged while it cannot reach the quorum; it stops letting anyone
// in on its possibly stale view; the majority revokes a role link; once the
// partition heals, the connection that used the link on node 2 is closed,
// and node 2's refused write never took effect.
func TestPartitionMinorityCannotWriteAndHealsRevokes(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node NATS cluster and a partition")
	}
	clusterPorts := freePorts(t, 3)
	// proxies[i][j] carries node i's route to node j.
	var proxies [3][3]*cutter
	for i := range 3 {
		for j := range 3 {
			if i != j {
				proxies[i][j] = newCutter(t, fmt.Sprintf("127.0.0.1:%d", clusterPorts[j]))
			}
		}
	}
	secret := bytes.Repeat([]byte{0x3c}, 32)
	nodes := make([]*testNode, 3)
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, "nats://"+proxies[i][j].addr())
			}
		}
		nodes[i] = startNode(t, func(c *node.Config) {
			c.NodeID, c.Secret, c.MetaReplicas, c.NotifyInterval = fmt.Sprintf("p%d", i), secret, 3, -1
			c.NATS.ClusterAddr = fmt.Sprintf("127.0.0.1:%d", clusterPorts[i])
			c.NATS.Routes = routes
			// Routes go through the proxies only: a server told the
			// others' real addresses would reach around a cut.
			c.NATS.ClusterAdvertise = "127.0.0.1:1"
		})
	}
	partition := func(cut bool) {
		for j := range 2 {
			proxies[2][j].set(cut)
			proxies[j][2].set(cut)
		}
	}
	call := func(tn *testNode, method, path, token, body string) httpResult {
		var b []byte
		ctype := ""
		if body != "" {
			b, ctype = []byte(body), "application/json"
		}
		return tn.do(method, path, token, ctype, b, map[string]string{"Origin": tn.base})
	}

	// The buckets are created once the JetStream cluster has formed.
	var board struct {
		Board struct {
			ID    string `json:"id"`
			Links []struct {
				ID   string `json:"id"`
				Role string `json:"role"`
			} `json:"links"`
		} `json:"board"`
		Token string            `json:"token"`
		Links map[string]string `json:"links"`
	}
	poll(t, "the cluster's metadata to take a new board", func() bool {
		r := call(nodes[0], "POST", "/v1/boards", "", `{"name":"partition"}`)
		return r.status == 201 && json.Unmarshal(r.body, &board) == nil
	})
	id, owner := board.Board.ID, board.Token
	editorTok := tokenOf(t, board.Links["editor"])
	var editorLink string
	for _, l := range board.Board.Links {
		if l.Role == "editor" {
			editorLink = l.ID
		}
	}
	poll(t, "node 2 to learn the board", func() bool {
		return call(nodes[2], "GET", "/v1/boards/"+id, owner, "").status == 200
	})
	ctx := ctx10(t)
	onMinority := dial(t, nodes[2].wsURL(id, editorTok), 0x9001)
	note := func(c *client.Client, i int) error {
		seq, err := c.Edit(ctx, 0, func(tx *crdt.Tx) error { return tx.Create(elem(i), "note") })
		if err != nil {
			return err
		}
		return c.WaitAck(ctx, seq)
	}
	if err := note(onMinority, 1); err != nil {
		t.Fatalf("the editor link on node 2 before the partition: %v", err)
	}

	partition(true)
	peers := func(tn *testNode) int {
		var r struct {
			Peers []json.RawMessage `json:"peers"`
		}
		if json.Unmarshal(call(tn, "GET", "/readyz", "", "").body, &r) != nil {
			return -1
		}
		return len(r.Peers)
	}
	poll(t, "the partition to show in the heartbeats", func() bool { return peers(nodes[2]) == 0 && peers(nodes[0]) == 1 })
	// No write of access settings is acknowledged on the minority side.
	deadline := time.Now().Add(30 * time.Second)
	r := call(nodes[2], "PATCH", "/v1/boards/"+id, owner, `{"publicRole":"viewer"}`)
	if r.status/100 == 2 || time.Now().After(deadline) {
		t.Fatalf("node 2 acknowledged a settings write without a quorum: %d %s", r.status, r.body)
	}
	if r.status != 503 {
		t.Fatalf("node 2's refused write: %d %s, want 503", r.status, r.body)
	}
	// The majority revokes the editor link (its JetStream may need a
	// moment to elect new leaders first).
	poll(t, "the majority to revoke the link", func() bool {
		return call(nodes[0], "DELETE", "/v1/boards/"+id+"/links/"+editorLink, owner, "").status/100 == 2
	})
	// Node 2 cannot know; once stale it lets nobody in.
	poll(t, "node 2 to refuse new connections on its stale view", func() bool {
		return call(nodes[2], "GET", "/v1/boards/"+id, editorTok, "").status == 503
	})
	if ready := call(nodes[2], "GET", "/readyz", "", ""); !strings.Contains(string(ready.body), `"metadata":"stale"`) {
		t.Fatalf("node 2's /readyz during the partition: %s", ready.body)
	}

	partition(false)
	select {
	case <-onMinority.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the revoked link's connection on node 2 stayed open after the partition healed")
	}
	poll(t, "node 2 to be fresh again and refuse the revoked link", func() bool {
		return call(nodes[2], "GET", "/v1/boards/"+id, editorTok, "").status == 401
	})
	// The board was made with publicRole editor (the default); node 2's
	// write of viewer was refused, and stays so.
	var got struct {
		Board struct {
			PublicRole string `json:"publicRole"`
		} `json:"board"`
	}
	r = call(nodes[0], "GET", "/v1/boards/"+id, owner, "")
	if json.Unmarshal(r.body, &got) != nil || got.Board.PublicRole != "editor" {
		t.Fatalf("the minority's refused write took effect after all: %s", r.body)
	}
}
