package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// A board exported with its history imports back as a new board with the
// same document and the same history (who changed what, when); a file
// that does not make a board is refused, and nothing is made.
func TestExportImportIdentical(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	ana := e.signIn("ana@example.com")
	ben := e.signIn("ben@example.com")
	created := e.must(201, "POST", "/v1/boards", ana, map[string]any{"name": "Retro"})
	board := boardID(t, created)
	editor := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	ca, cb := e.dial(board, ana, 0x6a01), e.dial(board, editor, 0x6a02)
	note, other := newID("exp-note"), newID("exp-other")
	mustEdit(t, ca, e.clk.Now(), noteTx(note, "ship it"))
	mustEdit(t, cb, e.clk.Now(), noteTx(other, "test it"))
	mustEdit(t, cb, e.clk.Now(), func(tx *crdt.Tx) error { return tx.InsertText(note, "text", 7, " soon") })
	mustEdit(t, ca, e.clk.Now(), func(tx *crdt.Tx) error { return tx.Vote(other, "vote", e.userID(ana), crdt.Bool(true)) })
	mustEdit(t, ca, e.clk.Now(), func(tx *crdt.Tx) error { return tx.Delete(other) })
	e.must(201, "POST", "/v1/boards/"+board+"/elements/"+note.String()+"/comments", ben, map[string]any{"text": "agreed"})
	_ = ben

	get := func(path, cred string) []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", e.tn.base+path, nil)
		req.Header.Set("Authorization", "Session "+cred)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	file := get("/v1/boards/"+board+"/export", ana)
	imp := func(body []byte) (int, map[string]any) {
		req, _ := http.NewRequest("POST", e.tn.base+"/v1/boards/import?name=Retro+copy", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Session "+ana)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, out := imp(file)
	if code != 201 {
		t.Fatalf("import: %d %v", code, out)
	}
	copyID := boardID(t, out)
	if copyID == board || out["board"].(map[string]any)["name"] != "Retro copy" {
		t.Fatalf("the import is not a new board named as asked: %v", out["board"])
	}
	if a, b := get("/v1/boards/"+board+"/state", ana), get("/v1/boards/"+copyID+"/state", ana); !bytes.Equal(a, b) {
		t.Fatalf("the imported board's document differs:\n%s\n%s", a, b)
	}
	type opsAnswer struct {
		Version json.RawMessage   `json:"version"`
		Changes []json.RawMessage `json:"changes"`
	}
	var o1, o2 opsAnswer
	json.Unmarshal(get("/v1/boards/"+board+"/ops", ana), &o1)
	json.Unmarshal(get("/v1/boards/"+copyID+"/ops", ana), &o2)
	if len(o1.Changes) != 6 || !bytes.Equal(o1.Version, o2.Version) || len(o1.Changes) != len(o2.Changes) {
		t.Fatalf("histories: %d changes at %s, then %d at %s", len(o1.Changes), o1.Version, len(o2.Changes), o2.Version)
	}
	for i := range o1.Changes {
		if !bytes.Equal(o1.Changes[i], o2.Changes[i]) {
			t.Fatalf("change %d differs (author, time or ops):\n%s\n%s", i+1, o1.Changes[i], o2.Changes[i])
		}
	}
	// The import is a live board: a client edits it.
	cc := e.dial(copyID, ana, 0x6a03)
	mustEdit(t, cc, e.clk.Now(), noteTx(newID("after-import"), "new"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cc.WaitDoc(ctx, func(d *crdt.Doc) bool { return d.Text(note, "text") == "ship it soon" }); err != nil {
		t.Fatal(err)
	}

	// Files that do not make a board.
	var f map[string]any
	json.Unmarshal(file, &f)
	changes := f["changes"].([]any)
	broken := map[string]any{"format": "corkboard.board", "version": 1, "name": "x", "changes": []any{map[string]any{"data": "AAAA", "accepted": 1}}}
	dup := map[string]any{"format": "corkboard.board", "version": 1, "name": "x", "changes": append(append([]any{}, changes...), changes[0])}
	for name, body := range map[string]any{"not an export": map[string]any{"format": "other"}, "a change that does not decode": broken, "a change twice": dup} {
		b, _ := json.Marshal(body)
		if code, out := imp(b); code != 400 {
			t.Fatalf("%s: %d %v", name, code, out)
		}
	}
	if code, out := imp([]byte(strings.Repeat(" ", 10) + "{")); code != 400 {
		t.Fatalf("a broken file: %d %v", code, out)
	}
}
