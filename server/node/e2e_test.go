package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/node"
)

// testNode starts a real node: Pebble in a temp dir, embedded NATS, HTTP on
// a loopback port. It is shut down at the end of the test.
type testNode struct {
	t    testing.TB
	n    *node.Node
	base string // http://127.0.0.1:port
}

func startNode(t testing.TB, mod func(*node.Config)) *testNode {
	t.Helper()
	cfg := node.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir()}
	if mod != nil {
		mod(&cfg)
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := n.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve() }()
	tn := &testNode{t: t, n: n, base: "http://" + addr.String()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return tn
}

type created struct {
	Board struct {
		ID string `json:"id"`
	} `json:"board"`
	Token string            `json:"token"`
	Links map[string]string `json:"links"`
}

func (tn *testNode) createBoard(body string) created {
	tn.t.Helper()
	resp, err := http.Post(tn.base+"/v1/boards", "application/json", strings.NewReader(body))
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		tn.t.Fatalf("create board: %s", resp.Status)
	}
	var c created
	json.NewDecoder(resp.Body).Decode(&c)
	return c
}

func (tn *testNode) wsURL(board, token string) string {
	u := "ws" + strings.TrimPrefix(tn.base, "http") + "/v1/boards/" + board + "/ws"
	if token != "" {
		u += "?token=" + token
	}
	return u
}

func dial(t testing.TB, url string, replica crdt.ReplicaID) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: url, Replica: replica, Name: fmt.Sprintf("r%d", replica)})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func elem(i int) crdt.ElementID {
	var e crdt.ElementID
	e[0], e[15] = 0xee, byte(i)
	e[14] = byte(i >> 8)
	return e
}

func snapshotOf(c *client.Client) []byte {
	var s []byte
	c.Read(func(d *crdt.Doc) { s = d.Snapshot() })
	return s
}

func ctx10(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTwoClientsConverge(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"converge"}`)
	a := dial(t, tn.wsURL(b.Board.ID, b.Token), 1)
	c := dial(t, tn.wsURL(b.Board.ID, b.Token), 2)
	ctx := ctx10(t)
	seq, err := a.Edit(ctx, 1000, func(tx *crdt.Tx) error {
		if err := tx.Create(elem(1), "note"); err != nil {
			return err
		}
		return tx.InsertText(elem(1), "text", 0, "hello")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	waitText(t, c, elem(1), "hello")
	// Both edit at once; both converge.
	s1, _ := a.Edit(ctx, 2000, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 5, " world") })
	s2, _ := c.Edit(ctx, 2000, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 0, ">> ") })
	if err := a.WaitAck(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAck(ctx, s2); err != nil {
		t.Fatal(err)
	}
	waitText(t, a, elem(1), ">> hello world")
	waitText(t, c, elem(1), ">> hello world")
	if !bytes.Equal(snapshotOf(a), snapshotOf(c)) {
		t.Fatal("clients diverged")
	}
	// The node's state says the same.
	resp, err := http.Get(tn.base + "/v1/boards/" + b.Board.ID + "/state?token=" + b.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct {
		Elements []crdt.ElementJSON `json:"elements"`
	}
	json.NewDecoder(resp.Body).Decode(&state)
	if len(state.Elements) != 1 || state.Elements[0].Text["text"] != ">> hello world" {
		t.Fatalf("node state = %+v", state)
	}
}

func waitText(t *testing.T, c *client.Client, el crdt.ElementID, want string) {
	t.Helper()
	var got string
	err := c.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { got = d.Text(el, "text"); return got == want })
	if err != nil {
		t.Fatalf("text = %q, want %q: %v", got, want, err)
	}
}
