package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/node"
)

// What REST calls anyone may make on a public board cost the node, each
// against a real node on a real Pebble store.

// getAsync sends a GET without credentials and delivers its answer on the
// channel it returns (a goroutine of the test's may not call t.Fatal).
func (tn *testNode) getAsync(path string) <-chan httpResult {
	out := make(chan httpResult, 1)
	go func() {
		resp, err := http.Get(tn.base + path)
		if err != nil {
			out <- httpResult{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- httpResult{resp.StatusCode, resp.Header, b}
	}()
	return out
}

// TestChangesBounded: GET …/changes?since={} reads and folds a board's
// whole history (up to 32 MiB of changes), and any guest of a public
// board may call it, many times at once. It used to hold all of it
// decoded in every call, with no bound on the calls at once, and fold it
// in the board's room, holding up everyone's edits. Now a large read
// holds one of the node's two whole-history slots (shared with /ops and
// past states) until its answer is made: with both held, one more is
// refused 503 with Retry-After and a JSON error. And the fold runs off
// the room: an owner's edit is acked while a call is held just before
// its fold (a hook, not a timing).
func TestChangesBounded(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"long history","publicRole":"viewer"}`)
	base := "/v1/boards/" + b.Board.ID
	// Two changes of about 0.7 MB each: more than the 1 MiB read without
	// a slot.
	var list strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&list, "%s %d\n", strings.Repeat("x", 700), i)
	}
	for range 2 {
		if r := tn.do("POST", base+"/import", b.Token, "text/plain", []byte(list.String()), nil); r.status != 201 {
			t.Fatalf("import: %d %s", r.status, r.body)
		}
	}

	reached := make(chan struct{}, 3)
	hold := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(node.SetChangesHook(func() { reached <- struct{}{}; <-hold }))
	t.Cleanup(node.SetSlotWait(50 * time.Millisecond)) // the third caller's wait for a slot
	t.Cleanup(free)                                    // first (LIFO): nothing stays held
	ctx := ctx10(t)
	waitReached := func(what string) {
		t.Helper()
		select {
		case <-reached:
		case <-ctx.Done():
			t.Fatalf("%s never reached its fold", what)
		}
	}

	first := tn.getAsync(base + "/changes?since=%7B%7D")
	waitReached("the first call")
	// The room is free while the call holds its read and its copy.
	edit := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", tn.base+base+"/elements", strings.NewReader(`{"kind":"note","text":"meanwhile"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+b.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			edit <- -1
			return
		}
		resp.Body.Close()
		edit <- resp.StatusCode
	}()
	select {
	case code := <-edit:
		if code != 201 {
			t.Fatalf("an edit while /changes was being served: %d, want 201", code)
		}
	case <-ctx.Done():
		t.Fatal("an edit was not acked while a call of /changes was being served: the room is held")
	}

	second := tn.getAsync(base + "/changes?since=%7B%7D")
	waitReached("the second call")
	// Both slots are held: a third large read is refused, having read
	// nothing large.
	var third httpResult
	select {
	case third = <-tn.getAsync(base + "/changes?since=%7B%7D"):
	case <-reached:
		t.Fatal("a third large /changes was served while two held the node's whole-history slots")
	case <-ctx.Done():
		t.Fatal("a third large /changes got no answer")
	}
	wantError(t, "a third large /changes", third, 503, "unavailable")
	if third.header.Get("Retry-After") == "" {
		t.Fatalf("a third large /changes: no Retry-After in %v", third.header)
	}

	free()
	for i, ch := range []<-chan httpResult{first, second} {
		r := <-ch
		var out struct {
			Events []struct{ Action string }
		}
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil || len(out.Events) < 2000 || out.Events[0].Action != "added" {
			t.Fatalf("call %d: %d, %d events, want 200 and the 2000 notes added (%.200s)", i+1, r.status, len(out.Events), r.body)
		}
	}
}
