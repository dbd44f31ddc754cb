package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/storage"
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

// TestAnonymousCallerLimits: a caller without credentials on a public
// board is a new guest-… id on every call, and the per-caller limits were
// counted by that id: 30 anonymous writes in one second were all taken
// (20 a second per caller), and past states were bounded per board only,
// so one caller could rebuild 60 a minute on every public board. They
// are counted by the caller's address now: of a burst of 30 writes, 20
// are taken and the rest refused 429 with Retry-After; past states over
// two boards stop at 60 a minute.
func TestAnonymousCallerLimits(t *testing.T) {
	clk := newFakeClock() // stands still: every call falls in one window
	tn := startNode(t, func(c *node.Config) { c.Now = clk.Now })
	a, b := tn.createBoard(`{"name":"public a"}`), tn.createBoard(`{"name":"public b"}`)
	note := []byte(`{"kind":"note","text":"x"}`)
	taken := 0
	for i := range 30 {
		r := tn.do("POST", "/v1/boards/"+a.Board.ID+"/elements", "", "application/json", note, nil)
		switch r.status {
		case 201:
			taken++
		case 429:
			wantError(t, fmt.Sprintf("anonymous write %d", i+1), r, 429, "rate_limited")
			if r.header.Get("Retry-After") == "" {
				t.Fatalf("anonymous write %d: 429 without Retry-After", i+1)
			}
		default:
			t.Fatalf("anonymous write %d: %d %s", i+1, r.status, r.body)
		}
	}
	if taken != 20 {
		t.Fatalf("%d of 30 anonymous writes from one address in one second were taken, want 20", taken)
	}

	if r := tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", b.Token, "application/json", note, nil); r.status != 201 {
		t.Fatalf("the owner's note on b: %d %s", r.status, r.body)
	}
	for i := range 61 {
		board := a.Board.ID
		if i%2 == 1 {
			board = b.Board.ID
		}
		code, body := tn.get("/v1/boards/" + board + "/history/state?seq=1")
		switch {
		case i < 60 && code != 200:
			t.Fatalf("anonymous past state %d: %d %s", i+1, code, body)
		case i == 60 && code != 429:
			t.Fatalf("a 61st anonymous past state in a minute, over two boards: %d, want 429", code)
		}
	}
}

// TestAnonymousWritesShareAReplica: every anonymous write used to be made
// under a replica of its own (the caller is a new guest each time): a
// cluster-wide claim kept for good, a record of the node's and an entry
// in the board's version vector per call. Anonymous writes of a board now
// share one replica per node: after two bursts of anonymous writes, the
// version vector has one replica more, holding every one of them, and the
// node keeps one replica record for the board.
func TestAnonymousWritesShareAReplica(t *testing.T) {
	clk := newFakeClock()
	tn, st := startPebbleNode(t, t.TempDir(), func(c *node.Config) { c.Now = clk.Now })
	b := tn.createBoard(`{"name":"public"}`)
	before, _ := tn.ops(b.Board.ID, b.Token)
	for i := range 30 {
		if i == 15 {
			clk.advance(time.Second) // a second burst, within the rate
		}
		body := fmt.Appendf(nil, `{"kind":"note","text":"anonymous %d"}`, i)
		if r := tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", "", "application/json", body, nil); r.status != 201 {
			t.Fatalf("anonymous write %d: %d %s", i+1, r.status, r.body)
		}
	}
	after, entries := tn.ops(b.Board.ID, b.Token)
	var added []string
	for rep := range after {
		if _, ok := before[rep]; !ok {
			added = append(added, rep.String())
		}
	}
	if len(added) != 1 {
		t.Fatalf("30 anonymous writes added %d replicas to the version vector, want 1: %v", len(added), added)
	}
	authors := map[string]bool{}
	for _, e := range entries {
		if e.Replica.String() == added[0] {
			authors[e.Author] = true
		}
	}
	if len(authors) != 30 {
		t.Fatalf("the shared replica holds the changes of %d guests, want the 30 anonymous writes", len(authors))
	}
	id, err := storage.ParseBoardID(b.Board.ID)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	st.ScanMeta(context.Background(), "apireplica", id[:], func(key, val []byte) error { records++; return nil })
	if records != 1 {
		t.Fatalf("the node keeps %d REST replica records for the board, want 1", records)
	}
}
