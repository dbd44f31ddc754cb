package node_test

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// allocated is what the process allocated while f ran (the node runs in
// this process: its allocations for one request are counted, with a few
// of its background work's).
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// postRaw posts body with its Content-Type, with a token (or nothing: a
// public board's guest), and returns the status and JSON answer.
func postRaw(t testing.TB, url, ctype, token string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

// brief is a JSON answer cut to a line, for a failure message.
func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// A file to import is bounded while it is read, not after: a guest of a
// public board (no account: the default publicRole is editor) posted
// 2 MiB files that the node turned into a gigabyte or more each before
// the bound of 5,000 elements was checked (a list of a million one-letter
// lines, an Excalidraw scene of 700,000 empty elements; a stroke of
// 350,000 points took 200 MB; 2 MiB of null elements or tldraw records
// 841 and 334 MB; a CSV record spread over lines 294 MB), and 32 MiB ones
// (the file bound) into tens of gigabytes; a tldraw note whose rich text
// nested 5,000 levels was read again at every level (seconds of CPU for
// 68 KiB). Each is answered with a few megabytes of work now.
func TestImportFileBoundedWhileRead(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "open board"})
	url := e.tn.base + "/v1/boards/" + boardID(t, created) + "/import"
	const budget = 64 << 20
	deep := strings.Repeat(`{"type":"paragraph","content":[`, 4990) + `{"type":"text","text":"deep"}` + strings.Repeat(`]}`, 4990)
	for _, c := range []struct {
		name, ctype string
		body        []byte
		status      int
	}{
		{"a list of a million lines", "text/plain", bytes.Repeat([]byte("a\n"), 1<<20), 413},
		{"a CSV row of two million columns", "text/csv", append([]byte("idea"), bytes.Repeat([]byte(","), 2<<20)...), 413},
		{"an Excalidraw scene of 700,000 empty elements", "application/json",
			[]byte(`{"type":"excalidraw","elements":[` + strings.Repeat(`{},`, 700000) + `{}]}`), 413},
		{"an Excalidraw stroke of 350,000 points", "application/json",
			[]byte(`{"type":"excalidraw","elements":[{"id":"s","type":"freedraw","points":[` + strings.Repeat(`[0,0],`, 350000) + `[0,0]]}]}`), 413},
		{"an Excalidraw scene of 600,000 null elements", "application/json",
			[]byte(`{"type":"excalidraw","elements":[` + strings.Repeat(`null,`, 600000) + `null]}`), 413},
		{"a tldraw file of 600,000 null records", "application/json",
			[]byte(`{"tldrawFileFormatVersion":1,"records":[` + strings.Repeat(`null,`, 600000) + `null]}`), 413},
		{"a CSV record of 2,000,000 fields over lines", "text/csv", csvOverLines(2 << 20), 413},
		{"a tldraw note 4,990 levels deep", "application/json",
			[]byte(`{"records":[{"typeName":"shape","id":"shape:a","type":"note","props":{"richText":` + deep + `}}]}`), 201},
	} {
		var code int
		var out map[string]any
		n := allocated(func() { code, out = postRaw(t, url, c.ctype, "", c.body) })
		if code != c.status {
			t.Errorf("%s: %d %s (want %d)", c.name, code, brief(out), c.status)
		}
		if n > budget {
			t.Errorf("%s (%d KiB): the node allocated %d MiB answering it (at most %d)", c.name, len(c.body)>>10, n>>20, budget>>20)
		}
		t.Logf("%s: %d, %d MiB", c.name, code, n>>20)
	}
}

// csvOverLines is a CSV of about size bytes that is one record of many
// fields: lines of 900 commas, each closing the quote the line before
// opened (a newline inside a quoted field does not end a record).
func csvOverLines(size int) []byte {
	var b bytes.Buffer
	b.WriteString("idea")
	for b.Len() < size {
		b.WriteString(strings.Repeat(",", 900) + "\"\n\"")
	}
	b.WriteString("\"\n")
	return b.Bytes()
}

// A board file (POST /v1/boards/import, open to anyone who may create a
// board: no account by default) is bounded as it is read: its snapshot
// inflates to at most 64 times its size (1 MiB of DEFLATE'd zeros
// inflated to a gigabyte: 4 GB allocated and seconds of CPU for one
// request), and a change without data is refused as it comes (2 MiB of
// empty changes were decoded whole first: 160 MB), as is a change past
// the 500,000th (64 MiB of the smallest ones took 1.5 GB before the
// first was replayed).
func TestBoardFileBoundedWhileRead(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	var z bytes.Buffer
	z.WriteString("S\x01") // a snapshot: DEFLATE'd body
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range 1000 {
		fw.Write(zeros)
	}
	fw.Close()
	bomb, _ := json.Marshal(map[string]any{"format": "corkboard.board", "version": 1, "name": "bomb",
		"snapshot": map[string]any{"after": 0, "data": z.Bytes()}, "changes": []any{}})
	empty := []byte(`{"format":"corkboard.board","version":1,"name":"empty","changes":[` + strings.Repeat(`{},`, 700000) + `{}]}`)
	tiny := []byte(`{"format":"corkboard.board","version":1,"name":"tiny","changes":[` + strings.Repeat(`{"data":"AQ=="},`, 3_990_000) + `{"data":"AQ=="}]}`)
	for _, c := range []struct {
		name   string
		body   []byte
		budget uint64
		status int
	}{
		{"a snapshot of a gigabyte of zeros", bomb, 256 << 20, 400},
		{"700,000 empty changes", empty, 64 << 20, 400},
		{"4,000,000 changes of one byte", tiny, 192 << 20, 413},
	} {
		var code int
		var out map[string]any
		n := allocated(func() { code, out = postRaw(t, e.tn.base+"/v1/boards/import", "application/json", "", c.body) })
		if code != c.status {
			t.Errorf("%s: %d %s (want %d)", c.name, code, brief(out), c.status)
		}
		if n > c.budget {
			t.Errorf("%s (%d KiB): the node allocated %d MiB answering it (at most %d)", c.name, len(c.body)>>10, n>>20, c.budget>>20)
		}
		t.Logf("%s (%d KiB): %d, %d MiB", c.name, len(c.body)>>10, code, n>>20)
	}
}

// TestListImportScanBudgeted: a list or CSV import scans the whole live
// board in its room's goroutine to place its notes beside what is there,
// and only the write that follows counted against the board's
// whole-board reads: each import visited every element once for free.
// The scan counts too: with the node's clock still, a 10,000-element
// board answers 11 one-line imports and refuses the 12th (429, the
// budget's message), where it answered 21 when only the write was
// charged.
func TestListImportScanBudgeted(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "big"})
	board, owner := boardID(t, created), created["token"].(string)
	for range 10 {
		actions := make([]map[string]any, 1000)
		for i := range actions {
			actions[i] = map[string]any{"op": "create", "kind": "note", "text": "idea", "props": map[string]any{"x": i, "y": 0}}
		}
		e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": actions})
		e.clk.advance(10 * time.Second) // the budget refills
	}
	// Two callers: each may make 20 write calls a second.
	callers := []string{owner, tokenOf(t, created["links"].(map[string]any)["editor"].(string))}
	refusedAt := 0
	for i := 1; i <= 50 && refusedAt == 0; i++ {
		code, out := postRaw(t, e.tn.base+"/v1/boards/"+board+"/import", "text/plain", callers[i%2], []byte("one more idea\n"))
		switch code {
		case 201:
		case 429:
			if !strings.Contains(out["error"].(map[string]any)["message"].(string), "read in full") {
				t.Fatalf("import %d refused by another limit: %s", i, brief(out))
			}
			refusedAt = i
		default:
			t.Fatalf("import %d: %d %s", i, code, brief(out))
		}
	}
	t.Logf("one-line imports of a 10,000-element board refused at %d", refusedAt)
	if refusedAt == 0 || refusedAt > 16 {
		t.Fatalf("one-line imports of a 10,000-element board refused at import %d (0: never in 50); the placement scan is not charged", refusedAt)
	}
}
