package node

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/corkboard/corkboard/server/bus"
)

// Membership: every node announces itself on the bus every
// HeartbeatInterval; a node not heard from for three intervals is gone.
// /readyz and the corkboard_cluster_peers metric show the peers.
//
// Rejected: a membership protocol of our own (SWIM and the like). The bus
// already connects every node; heartbeats on it say exactly what matters
// here — which nodes can currently exchange ops with this one.

// Peer is another node as last heard from.
type Peer struct {
	Node  string    `json:"node"`
	URL   string    `json:"url"`
	Rooms int       `json:"rooms"`
	Seen  time.Time `json:"seen"`
}

type heartbeat struct {
	Node  string `json:"node"`
	URL   string `json:"url"`
	Rooms int    `json:"rooms"`
}

type membership struct {
	mu    sync.Mutex
	peers map[string]Peer
	stop  chan struct{}
	done  chan struct{}
	unsub func()
}

// startCluster subscribes to heartbeats and starts announcing this node.
func (n *Node) startCluster() {
	m := &n.cluster
	m.peers = map[string]Peer{}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	cancel, err := n.bus.SubscribeCluster(bus.KindHeartbeat, func(msg bus.Message) {
		var hb heartbeat
		if json.Unmarshal(msg.Data, &hb) != nil || hb.Node != msg.Node {
			return
		}
		m.mu.Lock()
		m.peers[hb.Node] = Peer{Node: hb.Node, URL: hb.URL, Rooms: hb.Rooms, Seen: n.cfg.Now()}
		m.mu.Unlock()
	})
	if err != nil {
		n.log.Warn("cluster: cannot subscribe to heartbeats", "err", err)
	} else {
		m.unsub = cancel
	}
	n.Heartbeat() // at once, so the others know of this node as it starts
	go func() {
		defer close(m.done)
		t := time.NewTicker(n.cfg.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				n.Heartbeat()
			case <-m.stop:
				return
			}
		}
	}()
}

// Heartbeat announces this node to the others now (the node does it every
// HeartbeatInterval).
func (n *Node) Heartbeat() {
	b, _ := json.Marshal(heartbeat{Node: n.cfg.NodeID, URL: n.cfg.PublicURL, Rooms: n.rooms.Rooms()})
	n.bus.PublishCluster(bus.KindHeartbeat, b)
}

func (n *Node) stopCluster() {
	m := &n.cluster
	if m.stop == nil {
		return
	}
	close(m.stop)
	<-m.done
	if m.unsub != nil {
		m.unsub()
	}
}

// Peers returns the other nodes heard from within three heartbeat
// intervals, by node id.
func (n *Node) Peers() []Peer {
	m := &n.cluster
	cutoff := n.cfg.Now().Add(-3 * n.cfg.HeartbeatInterval)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Peer{}
	for id, p := range m.peers {
		if p.Seen.Before(cutoff) {
			delete(m.peers, id)
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// SyncAll makes every loaded board ask the other nodes for what it lacks
// now, instead of at its next periodic catch-up.
func (n *Node) SyncAll() { n.rooms.SyncAll() }
