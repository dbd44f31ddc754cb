package node_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// A node shutting down tells its clients ("shutdown", then close 1001),
// and what it acked is there when it starts again on the same data.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, func(c *node.Config) { c.DataDir = dir })
	b := tn.createBoard(`{"name":"shutdown"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	ctx := ctx10(t)
	a := dial(t, u, 1)
	for i := range 20 {
		s, err := a.Edit(ctx, int64(1000+i), func(tx *crdt.Tx) error {
			if i == 0 {
				if err := tx.Create(elem(1), "note"); err != nil {
					return err
				}
			}
			return tx.InsertText(elem(1), "text", i, string(rune('a'+i)))
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.WaitAck(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawJoin(t, u, 2, nil)
	want := clientJSON(t, a)

	stopped := make(chan error, 1)
	go func() { stopped <- tn.stop() }()
	var sd protocol.Shutdown
	raw.until(func(typ string, data []byte) bool {
		if typ == protocol.TypeShutdown {
			json.Unmarshal(data, &sd)
			return true
		}
		return false
	})
	if sd.Reason == "" {
		t.Fatal("shutdown frame without a reason")
	}
	raw.expectClose(protocol.CloseGoingAway)
	<-a.Done()
	if code := a.CloseStatus(); code != protocol.CloseGoingAway {
		t.Fatalf("client closed with %d (%v), want %d", code, a.Err(), protocol.CloseGoingAway)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := tn.n.Ready(); err == nil {
		t.Fatal("the node says it is ready after shutdown")
	}

	tn2 := startNode(t, func(c *node.Config) { c.DataDir = dir })
	if got := tn2.state(b.Board.ID, b.Token); !bytes.Equal(got, want) {
		t.Fatalf("after restart the state is %s\nwant %s", got, want)
	}
	a2 := dial(t, tn2.wsURL(b.Board.ID, b.Token), 3)
	waitText(t, a2, elem(1), "abcdefghijklmnopqrst")
	checkOpsOnce(t, tn2, b.Board.ID, b.Token)
}
