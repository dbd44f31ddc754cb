package node_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestEmbedOriginCannotInjectCSP: with a wildcard --allowed-origins
// pattern, an origin whose host carries a ";" (which net/url admits and
// "*" matches) used to be written as it is into the embed page's CSP,
// "frame-ancestors https://evil.example;x.corp.example": a policy that
// lets evil.example frame the board. Such an origin is refused (403); a
// real subdomain still embeds.
func TestEmbedOriginCannotInjectCSP(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.AllowedOrigins = []string{"*.corp.example"} })
	b := tn.createBoard(`{"name":"framed"}`)
	for _, o := range []string{"https://evil.example;x.corp.example", "https://evil.example,x.corp.example", "https://evil.example'x.corp.example"} {
		res := tn.do("GET", "/embed/"+b.Board.ID+"?origin="+url.QueryEscape(o), "", "", nil, nil)
		if csp := res.header.Get("Content-Security-Policy"); strings.Contains(csp, "evil.example") {
			t.Fatalf("origin %q: %d, CSP %q", o, res.status, csp)
		}
		expectError(t, "origin "+o, res, 403, protocol.CodeForbidden)
	}
	res := tn.do("GET", "/embed/"+b.Board.ID+"?origin="+url.QueryEscape("https://app.corp.example"), "", "", nil, nil)
	if csp := res.header.Get("Content-Security-Policy"); res.status != 200 || !strings.HasSuffix(csp, "frame-ancestors https://app.corp.example") {
		t.Fatalf("a real subdomain: %d CSP %q", res.status, csp)
	}
}

// TestOwnerNameBounded: the owner's name given at creation goes into the
// owner's token, and from it into every presence frame the owner's
// sessions send to every peer (and the timer's "by", the summary). It had
// no bound but the 64 KiB body: a 60,000-character name was signed into
// the token and sent to each peer with every cursor move. It is held to
// a profile name's bounds (1 to 80 characters, one line).
func TestOwnerNameBounded(t *testing.T) {
	tn := startNode(t, nil)
	for _, name := range []string{strings.Repeat("x", 60000), "two\nlines", strings.Repeat("é", 81)} {
		body, _ := json.Marshal(map[string]string{"name": "b", "ownerName": name})
		res := tn.do("POST", "/v1/boards", "", "application/json", body, nil)
		expectError(t, fmt.Sprintf("ownerName of %d bytes", len(name)), res, 400, protocol.CodeMalformed)
	}
	b := tn.createBoard(`{"name":"b","ownerName":"  Ada  "}`)
	var got struct {
		You struct {
			Name string `json:"name"`
		} `json:"you"`
	}
	res := tn.do("GET", "/v1/boards/"+b.Board.ID, b.Token, "", nil, nil)
	if json.Unmarshal(res.body, &got); res.status != 200 || got.You.Name != "Ada" {
		t.Fatalf("a fine name: %d %s", res.status, res.body)
	}
}

// TestProfileNameNoControlOrDirection: a profile name is shown beside
// other people's words in pages, e-mails and summaries. A name carrying
// U+202E (right-to-left override) turned what followed it around, and one
// with NUL or ESC reached e-mails and terminals as it was; both were
// accepted. They are refused; a name in a right-to-left script, or with
// an emoji joined by U+200D, is fine.
func TestProfileNameNoControlOrDirection(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	s := e.signIn("mallory@example.com")
	for _, name := range []string{"Ana\u202Egnp.exe", "a\x00b", "a\x1b[31mb", "line\u2028two", "x\u2066y"} {
		if code, out := e.call("PATCH", "/v1/me", s, map[string]any{"name": name}); code != 400 {
			t.Fatalf("name %q: %d %v", name, code, out)
		}
	}
	for _, name := range []string{"مريم", "Ana 👩\u200d💻"} {
		e.must(200, "PATCH", "/v1/me", s, map[string]any{"name": name})
	}
}

// TestHistoryPageBytesBounded: a timeline page decodes each change it
// lists, and a change may be MiBs (an import, a batch); a page of 200
// such changes had the node read and decode all of them for any reader of
// a public board, as often as asked. A page holds about 4 MiB of changes
// (at least one entry): six changes of about 1 MiB come in more than one
// page, and following "next" lists every entry once, newest first.
func TestHistoryPageBytesBounded(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "big changes"})
	board, owner := boardID(t, created), created["token"].(string)
	text := strings.Repeat("x", 60000)
	for range 6 {
		var actions []map[string]any
		for range 16 {
			actions = append(actions, map[string]any{"op": "create", "kind": "note", "text": text})
		}
		e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": actions})
	}
	var seqs []float64
	pages := 0
	path := "/v1/boards/" + board + "/history"
	for path != "" {
		page := e.must(200, "GET", path, "", nil)
		pages++
		entries := page["entries"].([]any)
		if len(entries) == 0 || len(entries) > 4 {
			t.Fatalf("page %d: %d entries of about 1 MiB each", pages, len(entries))
		}
		for _, en := range entries {
			seqs = append(seqs, en.(map[string]any)["seq"].(float64))
		}
		path = ""
		if next, ok := page["next"].(float64); ok {
			path = fmt.Sprintf("/v1/boards/%s/history?before=%d", board, int(next))
		}
	}
	if len(seqs) != 6 || pages < 2 {
		t.Fatalf("%d pages, entries %v, want 6 entries", pages, seqs)
	}
	for i, s := range seqs {
		if s != float64(6-i) {
			t.Fatalf("entries %v, want 6 down to 1", seqs)
		}
	}
}

// TestWholeBoardReadsBudgeted: GET /state (and the write API's copy, the
// thumbnail, the summary, the tally, a restore) reads the whole live
// board in its room's goroutine, where nobody's edit is applied
// meanwhile. Anyone could call GET /state on a public board with no rate
// at all, so a few loops kept a big board's room busy. A board's
// whole-board reads share a budget in elements visited: with the node's
// clock still, a 2,000-element board answers some reads and then 429
// with Retry-After, while another board still answers; once the clock
// moves on, it answers again.
func TestWholeBoardReadsBudgeted(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "big"})
	board, owner := boardID(t, created), created["token"].(string)
	for range 2 {
		actions := make([]map[string]any, 1000)
		for i := range actions {
			actions[i] = map[string]any{"op": "create", "kind": "note", "text": "idea", "props": map[string]any{"x": i, "y": 0}}
		}
		e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": actions})
	}
	other := boardID(t, e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "small"}))
	refusedAt := 0
	for i := 1; i <= 300 && refusedAt == 0; i++ {
		res := e.tn.do("GET", "/v1/boards/"+board+"/state", "", "", nil, nil) // a stranger, as a new guest each time
		switch res.status {
		case 200:
		case 429:
			refusedAt = i
			if res.header.Get("Retry-After") == "" {
				t.Fatalf("429 without Retry-After: %s", res.body)
			}
			expectError(t, "a spent budget", res, 429, protocol.CodeRateLimited)
		default:
			t.Fatalf("read %d: %d %s", i, res.status, res.body)
		}
	}
	if refusedAt == 0 || refusedAt < 20 {
		t.Fatalf("whole-board reads of a 2,000-element board refused at read %d (0: never in 300)", refusedAt)
	}
	// The write API's copy shares the budget.
	if code, out := e.call("POST", "/v1/boards/"+board+"/elements", owner, map[string]any{"kind": "note", "text": "late"}); code != 429 {
		t.Fatalf("a write while the budget is spent: %d %v", code, out)
	}
	if res := e.tn.do("GET", "/v1/boards/"+other+"/state", "", "", nil, nil); res.status != 200 {
		t.Fatalf("another board: %d %s", res.status, res.body)
	}
	// The voting rules every open page polls are no whole-board read: they
	// are answered while the budget is spent, and the tally is not.
	if code, out := e.call("GET", "/v1/boards/"+board+"/voting?result=none", owner, nil); code != 200 || out["result"] != nil {
		t.Fatalf("the voting rules while the budget is spent: %d %v", code, out)
	}
	if code, out := e.call("GET", "/v1/boards/"+board+"/voting", owner, nil); code != 429 {
		t.Fatalf("the live tally while the budget is spent: %d %v", code, out)
	}
	e.clk.advance(10 * time.Second)
	if res := e.tn.do("GET", "/v1/boards/"+board+"/state", "", "", nil, nil); res.status != 200 {
		t.Fatalf("after the budget refilled: %d %s", res.status, res.body)
	}
}

// TestInviteMailsPerAddressBounded: invite e-mails were capped per board
// and per inviter only, so one person could mail a stranger an invite
// after another with "resend", fifty a day per address they can sign in
// with. An address gets at most 10 invite e-mails a day, whoever sends
// them; a resend refused for it leaves the pending invite as it was.
func TestInviteMailsPerAddressBounded(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	mallory := e.signIn("mallory@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", mallory, map[string]any{"name": "spam"}))
	path := "/v1/boards/" + board + "/invites"
	victim := "victim@example.com"
	last := e.must(201, "POST", path, mallory, map[string]any{"email": victim, "role": "viewer"})["invite"].(map[string]any)
	for range 9 {
		last = e.must(201, "POST", path, mallory, map[string]any{"email": victim, "role": "viewer", "resend": true})["invite"].(map[string]any)
	}
	if code, out := e.call("POST", path, mallory, map[string]any{"email": victim, "role": "viewer", "resend": true}); code != 429 {
		t.Fatalf("an 11th invite e-mail to one address in a day: %d %v", code, out)
	}
	if got := len(to(e.deliver(), victim)); got != 10 {
		t.Fatalf("%d invite e-mails to the address, want 10", got)
	}
	var pending []any
	for _, i := range e.must(200, "GET", path, mallory, nil)["invites"].([]any) {
		if inv := i.(map[string]any); inv["revoked"] == nil && inv["used"] == nil {
			pending = append(pending, inv["id"])
		}
	}
	if len(pending) != 1 || pending[0] != last["id"] {
		t.Fatalf("pending after a refused resend: %v, want [%v]", pending, last["id"])
	}
	// Another inviter, another board: the address's cap is the same.
	trudy := e.signIn("trudy@example.com")
	other := boardID(t, e.must(201, "POST", "/v1/boards", trudy, map[string]any{"name": "more spam"}))
	if code, out := e.call("POST", "/v1/boards/"+other+"/invites", trudy, map[string]any{"email": victim}); code != 429 {
		t.Fatalf("another inviter's invite to the address: %d %v", code, out)
	}
	e.must(201, "POST", "/v1/boards/"+other+"/invites", trudy, map[string]any{"email": "someone@example.com"})
}

// TestSignInMailsPerAddressDaily: sign-in links were limited to 5 an
// hour per address, which let anyone mail a stranger 120 a day. An
// address gets at most 20 a day: 5 an hour for four hours, then 429
// though the hour's window is new.
func TestSignInMailsPerAddressDaily(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	victim := "victim@example.com"
	for h := range 4 {
		e.clk.Set(secStart.Add(time.Duration(h) * time.Hour))
		for range 5 {
			e.must(202, "POST", "/v1/signin", "", map[string]any{"email": victim})
		}
	}
	e.clk.Set(secStart.Add(4 * time.Hour))
	if code, out := e.call("POST", "/v1/signin", "", map[string]any{"email": victim}); code != 429 {
		t.Fatalf("a 21st sign-in link in a day: %d %v", code, out)
	}
	if got := len(to(e.deliver(), victim)); got != 20 {
		t.Fatalf("%d sign-in e-mails, want 20", got)
	}
	e.clk.Set(secStart.Add(25 * time.Hour))
	e.must(202, "POST", "/v1/signin", "", map[string]any{"email": victim})
}

// TestChangesSinceBytesBounded: GET /changes?since={} (anyone who may
// read the board) read every change since the board's start into memory,
// up to 200,000 of them whatever their size: on a board of big changes,
// hundreds of MiB per call. It reads at most 32 MiB of changes (413 past
// it, as /ops).
func TestChangesSinceBytesBounded(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "big changes"})
	board, owner := boardID(t, created), created["token"].(string)
	text := strings.Repeat("x", 60000)
	for range 10 { // about 3.7 MB each
		actions := make([]map[string]any, 62)
		for i := range actions {
			actions[i] = map[string]any{"op": "create", "kind": "note", "text": text}
		}
		e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": actions})
		e.clk.advance(10 * time.Second) // the board's whole-board reads budget refills
	}
	res := e.tn.do("GET", "/v1/boards/"+board+"/changes?since="+url.QueryEscape("{}"), "", "", nil, nil)
	expectError(t, "every change of a 37 MB log", res, 413, protocol.CodeTooLarge)
}

// TestSummaryLogScanBudgeted: the summary decodes the board's whole log
// (who created what, who took part) on every call, for anyone who may
// read the board; only its last step, on the live document, counted
// against the board's whole-board reads. The scan's bytes count too, and
// a spent budget is refused before scanning: a board of 4 changes of
// about 3.7 MB answers a few summaries, then 429.
func TestSummaryLogScanBudgeted(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "big log"})
	board, owner := boardID(t, created), created["token"].(string)
	text := strings.Repeat("x", 60000)
	for range 4 {
		actions := make([]map[string]any, 62)
		for i := range actions {
			actions[i] = map[string]any{"op": "create", "kind": "note", "text": text}
		}
		e.must(200, "POST", "/v1/boards/"+board+"/changes", owner, map[string]any{"actions": actions})
		e.clk.advance(10 * time.Second)
	}
	refusedAt := 0
	for i := 1; i <= 20 && refusedAt == 0; i++ {
		res := e.tn.do("GET", "/v1/boards/"+board+"/summary?format=json", "", "", nil, nil)
		switch res.status {
		case 200:
		case 429:
			refusedAt = i
		default:
			t.Fatalf("summary %d: %d %s", i, res.status, res.body)
		}
	}
	if refusedAt == 0 {
		t.Fatal("20 summaries of a 15 MB log in a moment, none refused")
	}
}

// TestTimerSecondsOverflow: "seconds" was checked as seconds*1000, which
// overflows for a huge value into a negative number that passed: the
// board's timer was stored with a negative duration and an end in the
// past, and sent to every connection. It is refused (400), nothing stored.
func TestTimerSecondsOverflow(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "timer"})
	board, owner := boardID(t, created), created["token"].(string)
	for _, s := range []int64{9223372036854776, 1 << 62, 86401} {
		if code, out := e.call("POST", "/v1/boards/"+board+"/timer", owner, map[string]any{"action": "start", "seconds": s}); code != 400 {
			t.Fatalf("seconds %d: %d %v", s, code, out)
		}
	}
	if b := e.must(200, "GET", "/v1/boards/"+board, owner, nil)["board"].(map[string]any); b["timer"] != nil {
		t.Fatalf("a timer was stored: %v", b["timer"])
	}
	e.must(200, "POST", "/v1/boards/"+board+"/timer", owner, map[string]any{"action": "start", "seconds": 86400})
}

// TestSummaryKeepsAnEntryPerCreation: the summary kept every change of
// the board's whole history in memory (a log of 40 million small changes,
// within what a board may hold, was gigabytes). A change that creates
// nothing now counts for its author only: 300 edits of one note and 5
// creations by two people keep 6 entries (each author's first change, each
// creation) and still count every change; with the bound lowered to 5
// entries the same board answers 413.
func TestSummaryKeepsAnEntryPerCreation(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "long history"})
	board, owner := boardID(t, created), created["token"].(string)
	editor := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	path := "/v1/boards/" + board
	note := e.must(201, "POST", path+"/elements", owner, map[string]any{"kind": "note", "text": "first"})["elements"].([]any)[0].(string)
	for i := range 300 {
		cred := owner
		if i%2 == 1 {
			cred = editor
		}
		actions := []map[string]any{{"op": "update", "element": note, "props": map[string]any{"x": i}}}
		e.must(200, "POST", path+"/changes", cred, map[string]any{"actions": actions})
		if i%15 == 14 {
			e.clk.advance(time.Second) // the write rates refill
		}
	}
	for range 2 {
		e.must(201, "POST", path+"/elements", owner, map[string]any{"kind": "note", "text": "more"})
		e.must(201, "POST", path+"/elements", editor, map[string]any{"kind": "note", "text": "more"})
	}
	e.clk.advance(10 * time.Second) // the board's whole-board reads refill
	s := e.must(200, "GET", path+"/summary?format=json", owner, nil)
	total := 0
	for _, p := range s["participants"].([]any) {
		total += int(p.(map[string]any)["changes"].(float64))
	}
	if total != 305 {
		t.Fatalf("the participants' changes add up to %d, want 305: %v", total, s["participants"])
	}
	// An entry for each author's first change and each creation: 6.
	restore := node.SetMaxSummaryEntries(6)
	defer restore()
	e.clk.advance(10 * time.Second)
	e.must(200, "GET", path+"/summary?format=json", owner, nil)
	node.SetMaxSummaryEntries(5)
	e.clk.advance(10 * time.Second)
	res := e.tn.do("GET", path+"/summary?format=json", owner, "", nil, nil)
	expectError(t, "a summary past its bound", res, 413, protocol.CodeTooLarge)
}
