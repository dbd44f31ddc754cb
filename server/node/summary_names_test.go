package node_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSummaryNamesWithoutAccounts: on a board made without signing in
// and shared by a role link (the quick start's way), the summary and
// "since your last visit" name the owner by the name given at creation
// and the link's holders after the link, never by their internal ids
// ("user-…", "link-…"), which mean nothing to a reader.
func TestSummaryNamesWithoutAccounts(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	out := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "Quick", "ownerName": "Ada"})
	board := out["board"].(map[string]any)["id"].(string)
	owner := out["token"].(string)
	link, err := url.Parse(out["links"].(map[string]any)["editor"].(string))
	if err != nil {
		t.Fatal(err)
	}
	frag, _ := url.ParseQuery(link.Fragment)
	editor := frag.Get("token")

	mustEdit(t, e.dial(board, owner, 0x7300), e.clk.Now(), noteTx(newID("names-a"), "Lake walk"))
	mustEdit(t, e.dial(board, editor, 0x7301), e.clk.Now(), noteTx(newID("names-b"), "Sauna night"))

	code, _, body := e.rawGet("/v1/boards/"+board+"/summary?format=md", owner, nil)
	md := string(body)
	if code != 200 {
		t.Fatalf("summary: %d %s", code, md)
	}
	for _, want := range []string{"**Lake walk** — proposed by Ada", "**Sauna night** — proposed by Guest (editor link)", "| Ada |", "| Guest (editor link) |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	for _, id := range []string{"user-", "link-", `user\-`, `link\-`} {
		if strings.Contains(md, id) {
			t.Errorf("summary names someone by an id (%q):\n%s", id, md)
		}
	}

	// Asked by the link's holder: the owner's changes are listed (the
	// owner's own would be left out of the owner's answer).
	code, _, body = e.rawGet("/v1/boards/"+board+"/changes?since="+url.QueryEscape("{}"), editor, nil)
	if code != 200 {
		t.Fatalf("changes: %d %s", code, body)
	}
	var ch struct {
		Events []struct {
			By []string `json:"by"`
		} `json:"events"`
		Names map[string]string `json:"names"`
	}
	if err := json.Unmarshal(body, &ch); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ev := range ch.Events {
		for _, u := range ev.By {
			got[ch.Names[u]] = true
		}
	}
	if !got["Ada"] || !got["Guest (editor link)"] || len(got) != 2 {
		t.Errorf("changes: authors named %v, want Ada and Guest (editor link): %s", got, body)
	}
}
