package node_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
)

// freePorts returns n loopback ports that were free a moment ago, for
// listeners that must be told their port before they start (NATS routes).
//
// They are taken below the kernel's ephemeral range (32768-60999 by
// default), from which every port-0 listener and every outgoing
// connection of the parallel tests draws: a port picked there and closed
// again could be taken by one of those before the node binds it, and the
// node then failed to start ("embedded nats did not start"). Each port is
// handed out once per test process.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	if nextPort == 0 {
		nextPort = 20000 + os.Getpid()%8000
	}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 2000 {
			t.Fatalf("no free loopback port below 32768 (got %v)", ports)
		}
		p := nextPort
		nextPort++
		if nextPort >= 32000 {
			nextPort = 20000
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // in use
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports
}

var (
	portsMu  sync.Mutex
	nextPort int // the next port freePorts tries (0: not chosen yet)
)

// poll retries check (a real process settling: routes forming, heartbeats)
// at a fixed pace, for a bounded time.
func poll(t *testing.T, what string, check func() bool) {
	t.Helper()
	pollFor(t, what, 30*time.Second, check)
}

// pollFor is poll for up to d: a restarted JetStream server rejoining its
// cluster's quorum takes longer on a busy machine.
func pollFor(t *testing.T, what string, d time.Duration, check func() bool) {
	t.Helper()
	for i := 0; i < int(d/(100*time.Millisecond)); i++ {
		if check() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// Three node processes whose embedded NATS servers form a cluster: clients
// spread over them converge; one node killed with kill -9 while the others
// keep editing catches up when it comes back, and loses none of the ops it
// had acked.
func TestClusterOfProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes")
	}
	bin := buildCorkboard(t)
	routes := freePorts(t, 3)
	secret := hex.EncodeToString(bytes.Repeat([]byte{0x5c}, 32))
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	args := func(i int) []string {
		var rs []string
		for j, p := range routes {
			if j != i {
				rs = append(rs, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		return []string{"--node-id", fmt.Sprintf("node%d", i), "--secret", secret,
			"--nats-cluster", fmt.Sprintf("127.0.0.1:%d", routes[i]), "--nats-routes", strings.Join(rs, ",")}
	}
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startCorkboard(t, bin, dirs[i], args(i)...)
	}
	peersOf := func(p *proc) int {
		code, body, err := httpGet(p.base + "/readyz")
		var r struct {
			Peers []json.RawMessage `json:"peers"`
		}
		if err != nil || code != 200 || json.Unmarshal(body, &r) != nil {
			return -1
		}
		return len(r.Peers)
	}
	for i, p := range procs {
		poll(t, fmt.Sprintf("node%d to see two peers", i), func() bool { return peersOf(p) == 2 })
	}
	board := procs[0].node(t).createBoard(`{"name":"cluster"}`)
	id, tok := board.Board.ID, board.Token
	for i, p := range procs[1:] {
		poll(t, fmt.Sprintf("node%d to learn the board", i+1), func() bool {
			code, _, _ := httpGet(p.base + "/v1/boards/" + id + "?token=" + tok)
			return code == 200
		})
	}
	ctx := ctx10(t)
	clients := make([]*client.Client, 3)
	for i, p := range procs {
		clients[i] = dial(t, p.node(t).wsURL(id, tok), crdt.ReplicaID(100+i))
	}
	// Everyone edits at once: each client its own notes and one shared
	// note's text.
	edit := func(c *client.Client, i, k int) uint64 {
		seq, err := c.Edit(ctx, 0, func(tx *crdt.Tx) error {
			el := elem(i*100 + k)
			if err := tx.Create(el, "note"); err != nil {
				return err
			}
			return tx.Set(el, "x", crdt.Number(float64(k)))
		})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	for k := 0; k < 30; k++ {
		for i, c := range clients {
			seq := edit(c, i, k)
			if k == 29 {
				if err := c.WaitAck(ctx, seq); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	converged := func(cs ...*client.Client) {
		t.Helper()
		var vv crdt.VersionVector
		for _, c := range cs {
			c.Read(func(d *crdt.Doc) {
				v := d.Version()
				if vv == nil {
					vv = v
				} else {
					vv.Merge(v)
				}
			})
		}
		for _, c := range cs {
			if err := c.WaitDoc(ctx, func(d *crdt.Doc) bool {
				return d.Version().Compare(vv) != crdt.Before
			}); err != nil {
				t.Fatalf("a client never caught up: %v", err)
			}
		}
		first := snapshotOf(cs[0])
		for _, c := range cs[1:] {
			if !bytes.Equal(snapshotOf(c), first) {
				t.Fatal("clients diverged")
			}
		}
	}
	converged(clients...)

	// kill -9 node1, keep editing on the others, bring it back.
	procs[1].kill(t)
	clients[1].CloseNow()
	for k := 30; k < 50; k++ {
		edit(clients[0], 0, k)
		edit(clients[2], 2, k)
	}
	procs[1] = startCorkboard(t, bin, dirs[1], args(1)...)
	// A restarted node lets people in once it reaches the metadata
	// quorum again (until then it answers 503: its view may be stale).
	pollFor(t, "node1 to reach the metadata quorum", 90*time.Second, func() bool {
		code, body, _ := httpGet(procs[1].base + "/readyz")
		return code == 200 && strings.Contains(string(body), `"metadata":"fresh"`)
	})
	ctx = ctx10(t) // the wait above may have used up the first one
	back := dial(t, procs[1].node(t).wsURL(id, tok), 111)
	converged(clients[0], clients[2], back)
	var count int
	back.Read(func(d *crdt.Doc) { count = d.Len() })
	if count != 30*3+20*2 {
		t.Fatalf("the restarted node's client has %d notes, want %d", count, 30*3+20*2)
	}
	// The nodes' own states agree too.
	s0 := procs[0].node(t).state(id, tok)
	poll(t, "the three nodes' states to agree", func() bool {
		return bytes.Equal(procs[1].node(t).state(id, tok), s0) && bytes.Equal(procs[2].node(t).state(id, tok), s0)
	})
}
