package node_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/storage"
)

// TestOwnerTokenVisit: the board's creator works through the creation
// (owner) token, as the web client does; the node records her visit when
// that connection ends, like a signed-in member's, and her "since your last
// visit" then lists what the others did only: a note she added and someone
// else edited is "edited", not "added" by both.
func TestOwnerTokenVisit(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start)
	maya := e.signIn("owner-visit@example.com")
	created := e.must(201, "POST", "/v1/boards", maya, map[string]any{"name": "Visits"})
	board := created["board"].(map[string]any)["id"].(string)
	owner := created["token"].(string)
	link, err := url.Parse(created["links"].(map[string]any)["editor"].(string))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.ParseQuery(link.Fragment)
	editor := q.Get("token")

	mc := e.dial(board, owner, 0x1001)
	note := newID("owner-note")
	mustEdit(t, mc, e.clk.Now(), noteTx(note, "Lake walk"))
	mc.Close()
	// The node records the visit as the connection ends (asynchronously).
	deadline := time.Now().Add(10 * time.Second)
	for e.must(200, "GET", "/v1/boards/"+board+"/changes", maya, nil)["seenAt"].(float64) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the owner token's visit was not recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}

	ec := e.dial(board, editor, 0x2001)
	mustEdit(t, ec, e.clk.Now(), func(tx *crdt.Tx) error { return tx.InsertText(note, "text", 9, " at dawn") })
	for _, who := range []string{maya, owner} {
		ch := e.must(200, "GET", "/v1/boards/"+board+"/changes", who, nil)
		evs, _ := ch["events"].([]any)
		var got []string
		for _, ev := range evs {
			m := ev.(map[string]any)
			got = append(got, m["action"].(string)+" "+m["text"].(string))
		}
		if strings.Join(got, "|") != "edited Lake walk at dawn" {
			t.Errorf("since the owner's visit (as %.8s…): %q, want only the editor's edit", who, got)
		}
	}
	// With an explicit version (a browser's own), her own changes are still not news to her.
	ch := e.must(200, "GET", "/v1/boards/"+board+"/changes?since=%7B%7D", maya, nil)
	for _, ev := range ch["events"].([]any) {
		if m := ev.(map[string]any); m["action"] == "added" {
			t.Errorf("her own note listed as added: %v", m)
		}
	}
}

// TestOldSeenRecord: a member's last visit recorded before the binary
// form (the version as a JSON object) is still where their "since your
// last visit" starts.
func TestOldSeenRecord(t *testing.T) {
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start)
	maya := e.signIn("old-seen@example.com")
	created := e.must(201, "POST", "/v1/boards", maya, map[string]any{"name": "Old visits"})
	board := created["board"].(map[string]any)["id"].(string)
	link, err := url.Parse(created["links"].(map[string]any)["editor"].(string))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.ParseQuery(link.Fragment)
	ec := e.dial(board, q.Get("token"), 0x3001)
	mustEdit(t, ec, e.clk.Now(), noteTx(newID("seen-before"), "Seen before"))
	version := e.must(200, "GET", "/v1/boards/"+board+"/changes?since=%7B%7D", maya, nil)["version"]

	id, err := storage.ParseBoardID(board)
	if err != nil {
		t.Fatal(err)
	}
	user := e.userID(maya)
	at := start.Add(time.Minute).UnixMilli()
	old, _ := json.Marshal(map[string]any{"board": board, "user": user, "version": version, "at": at, "updated": at})
	if err := e.tn.n.PutRecordRaw(context.Background(), account.NSSeen, account.BoardKey(id, user), old); err != nil {
		t.Fatal(err)
	}
	mustEdit(t, ec, e.clk.Now(), noteTx(newID("new-since"), "New since"))

	ch := e.must(200, "GET", "/v1/boards/"+board+"/changes", maya, nil)
	var got []string
	for _, ev := range ch["events"].([]any) {
		m := ev.(map[string]any)
		got = append(got, m["action"].(string)+" "+m["text"].(string))
	}
	if strings.Join(got, "|") != "added New since" || ch["seenAt"].(float64) != float64(at) {
		t.Fatalf("since an old record of %v: %q, seenAt %v; want only the note added since, seenAt %d", version, got, ch["seenAt"], at)
	}
}
