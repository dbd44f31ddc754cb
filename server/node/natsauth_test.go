package node_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/node"
)

// A node without an explicit secret keeps one of its own in the store, so
// it cannot share NATS credentials with anyone: it refuses to open cluster
// routes or a client port, and says to pass --secret. Alone and in
// process, it needs no configuration (every other test here).
func TestClusterNeedsExplicitSecret(t *testing.T) {
	for _, nc := range []bus.NATSConfig{{ClusterAddr: "127.0.0.1:0"}, {ListenAddr: "127.0.0.1:0"}} {
		n, err := node.New(node.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), NATS: nc})
		if err == nil {
			n.Shutdown(ctx10(t))
			t.Fatalf("%+v: a node opened NATS ports without a shared secret", nc)
		}
		if !strings.Contains(err.Error(), "--secret") {
			t.Fatalf("%+v: %v: want it to tell the operator to pass --secret", nc, err)
		}
	}
}

// Two nodes in this process whose embedded NATS servers route to each
// other with credentials derived from the shared secret: a board created
// on one opens on the other.
func TestClusterEmbeddedNATSWithSecret(t *testing.T) {
	secret := bytes.Repeat([]byte{0x7a}, 32)
	ports := freePorts(t, 2)
	nodes := make([]*testNode, 2)
	for i := range nodes {
		nodes[i] = startNode(t, func(c *node.Config) {
			c.NodeID, c.Secret = fmt.Sprintf("n%d", i), secret
			c.NATS.ClusterAddr = fmt.Sprintf("127.0.0.1:%d", ports[i])
			c.NATS.Routes = []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[1-i])}
		})
	}
	board := nodes[0].createBoard(`{"name":"routed"}`)
	poll(t, "the board to reach the other node", func() bool {
		code, _, _ := httpGet(nodes[1].base + "/v1/boards/" + board.Board.ID + "?token=" + board.Token)
		return code == 200
	})
}
