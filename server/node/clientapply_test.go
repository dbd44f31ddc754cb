package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
)

// A client told not to apply (client.SetApply(false), the load
// generator's -apply=false) hands each remote change to OnOps, decoded,
// and leaves its replica as it was (the load generator turns it on after
// the seeding, for good: changes missed meanwhile are never applied).
func TestClientWithoutApply(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"no apply"}`)
	a := dial(t, tn.wsURL(b.Board.ID, b.Token), 1)
	got := make(chan crdt.Change, 16)
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, client.Options{URL: tn.wsURL(b.Board.ID, b.Token), Replica: 2, Name: "r2",
		OnOps: func(chs []crdt.Change) {
			for _, ch := range chs {
				got <- ch
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetApply(false)
	ctx := ctx10(t)
	seq, err := a.Edit(ctx, 1000, func(tx *crdt.Tx) error { return tx.Create(elem(1), "note") })
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	select {
	case ch := <-got:
		if ch.Replica != 1 || ch.Start != 1 {
			t.Fatalf("OnOps got replica %d start %d, want replica 1 start 1", ch.Replica, ch.Start)
		}
	case <-ctx.Done():
		t.Fatal("the change did not reach OnOps")
	}
	c.Read(func(d *crdt.Doc) {
		if d.Exists(elem(1)) {
			t.Fatal("a client that does not apply has the note")
		}
	})

}
