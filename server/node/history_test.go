package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// The board's history: a timeline of the op log, the board as it was
// after any entry, and restoring it (or one element) to that state as a
// new change that reaches live clients and merges.
func TestHistoryAndRestore(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "history"})
	board := boardID(t, created)
	commenter := tokenOf(t, created["links"].(map[string]any)["commenter"].(string))
	c := e.dial(board, owner, 0x4801)
	a, b := newID("hist-a"), newID("hist-b")
	mustEdit(t, c, e.clk.Now(), noteTx(a, "first"))
	timeline := e.must(200, "GET", "/v1/boards/"+board+"/history", owner, nil)
	entries := timeline["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["elements"].([]any)[0] != a.String() {
		t.Fatalf("timeline after one change: %v", timeline)
	}
	then := fmt.Sprint(entries[0].(map[string]any)["seq"])

	mustEdit(t, c, e.clk.Now(), func(tx *crdt.Tx) error {
		if err := tx.DeleteText(a, "text", 0, 5); err != nil {
			return err
		}
		if err := tx.InsertText(a, "text", 0, "second"); err != nil {
			return err
		}
		return tx.Set(a, "x", crdt.Number(500))
	})
	mustEdit(t, c, e.clk.Now(), noteTx(b, "later"))
	e.must(201, "POST", "/v1/boards/"+board+"/elements/"+a.String()+"/comments", commenter, map[string]any{"text": "keep me"})

	// The past state.
	past := e.must(200, "GET", "/v1/boards/"+board+"/history/state?seq="+then, owner, nil)
	if els := past["elements"].([]any); len(els) != 1 || els[0].(map[string]any)["text"].(map[string]any)["text"] != "first" {
		t.Fatalf("the board after entry %s: %v", then, past)
	}
	if code, _ := e.call("GET", "/v1/boards/"+board+"/history/state?seq=99", owner, nil); code != 400 {
		t.Fatalf("a state past the log: %d", code)
	}
	// Restoring is an editor's: a commenter may not.
	if code, out := e.call("POST", "/v1/boards/"+board+"/restore", commenter, map[string]any{"seq": 1}); code != 403 {
		t.Fatalf("a commenter restored: %d %v", code, out)
	}
	// The whole board back to then: a's text and place, b deleted, the
	// comment (its author's) left, and said so.
	out := e.must(200, "POST", "/v1/boards/"+board+"/restore", owner, map[string]any{"seq": 1})
	if sk := out["skipped"].([]any); len(sk) != 1 || sk[0].(map[string]any)["type"] != "comment" {
		t.Fatalf("restore skipped %v", out["skipped"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitDoc(ctx, func(d *crdt.Doc) bool {
		x, _ := d.Get(a, "x")
		return d.Text(a, "text") == "first" && x.AsNumber() != 500 && d.IsDeleted(b)
	}); err != nil {
		t.Fatalf("the live client never saw the restore: %v", err)
	}
	// One element only: b back as it was after its creation (the oldest
	// entry that touched it; the timeline is newest first).
	bSeq := ""
	for _, en := range e.must(200, "GET", "/v1/boards/"+board+"/history", owner, nil)["entries"].([]any) {
		m := en.(map[string]any)
		for _, el := range m["elements"].([]any) {
			if el == b.String() {
				bSeq = fmt.Sprint(m["seq"])
			}
		}
	}
	var seq int
	fmt.Sscan(bSeq, &seq)
	e.must(200, "POST", "/v1/boards/"+board+"/restore", owner, map[string]any{"seq": seq, "elements": []string{b.String()}})
	if err := c.WaitDoc(ctx, func(d *crdt.Doc) bool {
		return !d.IsDeleted(b) && d.Text(b, "text") == "later" && d.Text(a, "text") == "first"
	}); err != nil {
		t.Fatalf("restoring one element: %v", err)
	}
}

// Rebuilding a past state replays the log: many callers (role-link
// holders, guests: cheap to make) cannot together make a board's node
// replay more than the board's budget a minute.
func TestHistoryReplayBoundedPerBoard(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "replays"})
	board := boardID(t, created)
	links := created["links"].(map[string]any)
	callers := []string{created["token"].(string)}
	for _, role := range []string{"editor", "commenter", "viewer"} {
		callers = append(callers, tokenOf(t, links[role].(string)))
	}
	mustEdit(t, e.dial(board, owner, 0x4802), e.clk.Now(), noteTx(newID("replay"), "x"))
	refused := 0
	for _, c := range callers { // 4 callers × 16: each well under its own 60
		for range 16 {
			switch code, out := e.call("GET", "/v1/boards/"+board+"/history/state?seq=1", c, nil); code {
			case 200:
			case 429:
				refused++
			default:
				t.Fatalf("history state: %d %v", code, out)
			}
		}
	}
	if refused != 4 {
		t.Fatalf("%d of 64 replays refused, want 4 (60 a minute per board)", refused)
	}
}
