package bus

import "testing"

// A node alone (embedded server, no client port, no routes) publishes
// nothing: no other connection can exist to receive it, and its own
// subscriptions never get its own messages back (no echo) either way.
func TestNATSAloneSkipsPublish(t *testing.T) {
	b := newTestNATS(t, NATSConfig{Node: "solo"})
	if !b.alone {
		t.Fatal("an embedded server without ports is not marked alone")
	}
	got := make(chan Message, 1)
	unsub, err := b.Subscribe([16]byte{1}, func(m Message) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	before, err := b.srv.Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := b.Publish([16]byte{1}, KindOps, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := b.PublishCluster(KindOps, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	after, err := b.srv.Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.InMsgs != before.InMsgs {
		t.Fatalf("the server received %d messages from a node alone, want 0", after.InMsgs-before.InMsgs)
	}
	select {
	case m := <-got:
		t.Fatalf("own message delivered: %+v", m)
	default:
	}

	// With a client port, another node could be there: it publishes.
	c := newTestNATS(t, NATSConfig{Node: "port", ListenAddr: freeAddr(t), Secret: testSecret(3)})
	if c.alone {
		t.Fatal("an embedded server with a client port is marked alone")
	}
	before, _ = c.srv.Varz(nil)
	if err := c.Publish([16]byte{1}, KindOps, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	after, _ = c.srv.Varz(nil)
	if after.InMsgs == before.InMsgs {
		t.Fatal("a node with a client port did not publish")
	}
}
