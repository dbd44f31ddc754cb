package node_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// The write API changes a board's content in JSON: what a script does
// reaches a live client like anyone's change, with the same role checks;
// a batch is all or nothing; an Idempotency-Key makes a retry harmless.
func TestWriteAPI(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "api"})
	board := boardID(t, created)
	links := created["links"].(map[string]any)
	commenter, viewer := tokenOf(t, links["commenter"].(string)), tokenOf(t, links["viewer"].(string))
	base := "/v1/boards/" + board
	live := e.dial(board, owner, 0x7a01)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wait := func(what string, cond func(d *crdt.Doc) bool) {
		t.Helper()
		if err := live.WaitDoc(ctx, cond); err != nil {
			t.Fatalf("the live client never saw %s: %v", what, err)
		}
	}
	elementOf := func(out map[string]any) crdt.ElementID {
		t.Helper()
		ids, _ := out["elements"].([]any)
		if len(ids) != 1 {
			t.Fatalf("answer %v: want one element", out)
		}
		id, err := crdt.ParseElementID(ids[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	note := elementOf(e.must(201, "POST", base+"/elements", owner, map[string]any{
		"kind": "note", "text": "from a script", "props": map[string]any{"x": 10, "y": 20, "color": "blue"}}))
	wait("the note", func(d *crdt.Doc) bool {
		x, _ := d.Get(note, "x")
		author, _ := d.Get(note, "author")
		return d.Kind(note) == "note" && d.Text(note, "text") == "from a script" && x.AsNumber() == 10 && author.AsString() != ""
	})
	e.must(200, "PATCH", base+"/elements/"+note.String(), owner, map[string]any{"text": "edited", "props": map[string]any{"x": 30}})
	wait("the edit", func(d *crdt.Doc) bool {
		x, _ := d.Get(note, "x")
		return d.Text(note, "text") == "edited" && x.AsNumber() == 30
	})

	// A commenter comments and votes, and may not make notes; a viewer
	// may do nothing.
	comment := elementOf(e.must(201, "POST", base+"/elements/"+note.String()+"/comments", commenter, map[string]any{"text": "nice"}))
	e.must(200, "PUT", base+"/elements/"+note.String()+"/vote", commenter, nil)
	wait("the comment and the vote", func(d *crdt.Doc) bool {
		target, _ := d.Get(comment, "target")
		return d.Text(comment, "text") == "nice" && target.AsString() == note.String() && len(d.Votes(note, "vote")) == 1
	})
	if code, out := e.call("POST", base+"/elements", commenter, map[string]any{"kind": "note"}); code != 403 || errCode(out) != "forbidden" {
		t.Fatalf("a commenter made a note: %d %v", code, out)
	}
	if code, out := e.call("PUT", base+"/elements/"+note.String()+"/vote", viewer, nil); code != 403 {
		t.Fatalf("a viewer voted: %d %v", code, out)
	}
	// A commenter cannot edit the owner's note through the API either.
	if code, out := e.call("PATCH", base+"/elements/"+note.String(), commenter, map[string]any{"text": "mine now"}); code != 403 {
		t.Fatalf("a commenter edited a note: %d %v", code, out)
	}

	// A batch is one change: a bad action leaves the board as it was.
	var before int
	live.Read(func(d *crdt.Doc) { before = d.Len() })
	bad := map[string]any{"actions": []any{
		map[string]any{"op": "create", "kind": "note", "text": "never"},
		map[string]any{"op": "update", "element": crdt.ElementID{9}.String(), "text": "no such element"},
	}}
	if code, out := e.call("POST", base+"/changes", owner, bad); code != 400 || !strings.Contains(fmt.Sprint(out), "action 2") {
		t.Fatalf("a batch with a bad action: %d %v", code, out)
	}
	root := crdt.ElementID{0x4d, 1}
	ok := e.must(200, "POST", base+"/changes", owner, map[string]any{"actions": []any{
		map[string]any{"op": "create", "kind": "mindmap", "element": root.String(), "text": "Ideas", "props": map[string]any{"x": 0, "y": 400}},
		map[string]any{"op": "create", "kind": "mindmap", "text": "First", "parent": root.String()},
		map[string]any{"op": "create", "kind": "mindmap", "text": "Second", "parent": root.String()},
	}})
	if ids := ok["elements"].([]any); len(ids) != 3 {
		t.Fatalf("batch answer %v", ok)
	}
	wait("the mindmap", func(d *crdt.Doc) bool {
		kids := d.Children(root)
		return len(kids) == 2 && d.Text(kids[0], "text") == "First" && d.Text(kids[1], "text") == "Second"
	})
	var after int
	live.Read(func(d *crdt.Doc) { after = d.Len() })
	if after != before+3 {
		t.Fatalf("the board has %d elements, want %d: the refused batch left something", after, before+3)
	}

	// The same Idempotency-Key twice: one note, the same answer.
	post := func() (int, string, string) {
		req, _ := http.NewRequest("POST", e.tn.base+base+"/elements", strings.NewReader(`{"kind":"note","text":"once"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Session "+owner)
		req.Header.Set("Idempotency-Key", "import-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, resp.Header.Get("Idempotent-Replayed"))
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		return resp.StatusCode, string(buf[:n]), b.String()
	}
	c1, b1, r1 := post()
	c2, b2, r2 := post()
	if c1 != 201 || c2 != 201 || b1 != b2 || r1 != "" || r2 != "true" {
		t.Fatalf("Idempotency-Key: %d %s (%q) then %d %s (%q)", c1, b1, r1, c2, b2, r2)
	}
	wait("one note saying once", func(d *crdt.Doc) bool {
		n := 0
		for _, id := range d.Elements() {
			if d.Text(id, "text") == "once" {
				n++
			}
		}
		return n == 1
	})

	// Delete, and a deadline closes the board to the API too.
	e.must(200, "DELETE", base+"/elements/"+note.String(), owner, nil)
	wait("the delete", func(d *crdt.Doc) bool { return d.IsDeleted(note) })
	e.must(200, "PATCH", base, owner, map[string]any{"deadline": e.clk.Now().Add(-time.Minute).UnixMilli()})
	if code, out := e.call("POST", base+"/elements", owner, map[string]any{"kind": "note"}); code != 409 || errCode(out) != "read_only" {
		t.Fatalf("a write after the deadline: %d %v", code, out)
	}
}

// What one caller can make the node do through the write API is bounded:
// calls per second (each copies the board), actions per call, body bytes.
func TestWriteAPIBounds(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "bounds"}))
	base := "/v1/boards/" + board
	many := make([]any, 1001)
	for i := range many {
		many[i] = map[string]any{"op": "create", "kind": "note"}
	}
	if code, out := e.call("POST", base+"/changes", owner, map[string]any{"actions": many}); code != 400 || errCode(out) != "malformed" {
		t.Fatalf("1001 actions: %d %v", code, out)
	}
	huge := strings.Repeat("x", 5<<20)
	if code, out := e.call("POST", base+"/elements", owner, map[string]any{"kind": "note", "text": huge}); code != 400 {
		t.Fatalf("a 5 MiB body: %d %v", code, out)
	}
	// The clock stands still: the calls all fall in one second.
	limited := 0
	for range 30 {
		code, out := e.call("POST", base+"/elements", owner, map[string]any{"kind": "note"})
		switch code {
		case 201:
		case 429:
			limited++
		default:
			t.Fatalf("write: %d %v", code, out)
		}
	}
	// 2 calls above counted too (the limit counts calls, refused or not).
	if limited != 12 {
		t.Fatalf("%d of 30 calls in one second were refused, want 12 (20 a second, 2 made before)", limited)
	}
}
