package node_test

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
)

// Nodes on one bus know each other by heartbeats; a silent one is dropped
// after three intervals; /readyz lists the live peers.
func TestMembership(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	mk := func(id string) *testNode {
		return startNode(t, func(c *node.Config) {
			c.NodeID, c.Bus, c.Now, c.Meta = id, hub.Node(id), clock, mb
			c.HeartbeatInterval = time.Hour // the test sends them
		})
	}
	a, b, c := mk("node-a"), mk("node-b"), mk("node-c")
	a.n.Heartbeat()
	c.n.Heartbeat()
	peers := b.n.Peers()
	if len(peers) != 2 || peers[0].Node != "node-a" || peers[1].Node != "node-c" || peers[0].URL == "" {
		t.Fatalf("b's peers = %+v, want node-a and node-c", peers)
	}
	// Every node announces itself as it starts: a, started first, heard b
	// and c then; nobody hears itself.
	if got := a.n.Peers(); len(got) != 2 || got[0].Node != "node-b" || got[1].Node != "node-c" {
		t.Fatalf("a's peers = %+v, want node-b and node-c", got)
	}
	// Two intervals later c speaks again, a does not; after the third, a
	// is gone and c stays.
	now.Add(int64(2 * time.Hour))
	c.n.Heartbeat()
	now.Add(int64(90 * time.Minute))
	peers = b.n.Peers()
	if len(peers) != 1 || peers[0].Node != "node-c" {
		t.Fatalf("b's peers after a fell silent = %+v, want node-c", peers)
	}
	resp, err := http.Get(b.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct {
		Status string      `json:"status"`
		Peers  []node.Peer `json:"peers"`
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	if resp.StatusCode != 200 || ready.Status != "ready" || len(ready.Peers) != 1 || ready.Peers[0].Node != "node-c" {
		t.Fatalf("/readyz = %d %+v", resp.StatusCode, ready)
	}
}
