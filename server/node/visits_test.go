package node_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
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
