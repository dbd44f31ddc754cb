package node_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
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
