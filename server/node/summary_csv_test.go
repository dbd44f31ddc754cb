package node_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

// TestSummaryCSV: the summary as CSV (format=csv), what a facilitator
// opens in a spreadsheet: a download named as the others, text/csv in
// UTF-8 opened by a BOM, CRLF line ends, a header row, then one row per
// idea in the summary's ranking (most dots first) with its text, kind,
// dots, voters, who proposed it and how many comments it has. A note's
// commas and quotes are quoted (RFC 4180) and read back as typed, its
// line breaks are spaces as in the other renderings (the summary's text
// is one line); a note a spreadsheet would run as a formula (=, +, -, @,
// behind blanks too) reaches the file with an apostrophe before it, so
// it stays text.
func TestSummaryCSV(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	e.must(200, "PATCH", "/v1/me", owner, map[string]any{"name": "Ada Lima"})
	out := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "Retro", "access": "members"})
	board := out["board"].(map[string]any)["id"].(string)
	me := e.userID(owner)
	c := e.dial(board, owner, 0x7400)

	notes := []struct {
		seed, text string
		dots       int
	}{
		{"csv-comma", "Lake walk, then lunch", 3},
		{"csv-quote", "Say \"hi\"\nto everyone", 2},
		{"csv-formula", `=HYPERLINK("http://evil.test","click")`, 1},
		{"csv-plus", "+1 for pizza", 0},
		{"csv-minus", "-2+3", 0},
		{"csv-at", "@SUM(A1:A9)", 0},
		{"csv-cmd", "\t =cmd|' /C calc'!A0", 0},
	}
	for _, n := range notes {
		id := newID(n.seed)
		mustEdit(t, c, e.clk.Now(), noteTx(id, n.text))
		if n.dots > 0 {
			mustEdit(t, c, e.clk.Now(), voteTx(id, me, n.dots))
		}
	}
	mustEdit(t, c, e.clk.Now(), commentTx(newID("csv-c1"), newID("csv-comma"), me, "Bring boots"))
	mustEdit(t, c, e.clk.Now(), commentTx(newID("csv-c2"), newID("csv-comma"), me, "=1+1"))

	code, hdr, body := e.rawGet("/v1/boards/"+board+"/summary?format=csv", owner, nil)
	if code != 200 {
		t.Fatalf("csv summary: %d %s", code, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := hdr.Get("Content-Disposition"); cd != `attachment; filename="Retro summary.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	rest, ok := bytes.CutPrefix(body, []byte("\uFEFF"))
	if !ok {
		t.Fatalf("no UTF-8 byte order mark: %q", body)
	}
	// RFC 4180: every line ends with CRLF, a line break within a field too.
	if !bytes.HasSuffix(rest, []byte("\r\n")) || bytes.Count(rest, []byte("\n")) != bytes.Count(rest, []byte("\r\n")) {
		t.Errorf("not CRLF line ends: %q", rest)
	}
	for _, raw := range []string{`"Lake walk, then lunch"`, `"Say ""hi"" to everyone"`, `"'=HYPERLINK(""http://evil.test"",""click"")"`} {
		if !bytes.Contains(rest, []byte(raw)) {
			t.Errorf("the file lacks %q:\n%q", raw, rest)
		}
	}

	rows, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%q", err, rest)
	}
	want := [][]string{
		{"Rank", "Idea", "Kind", "Dots", "Voters", "Reactions", "Proposed by", "Comments", "Element"},
		{"1", "Lake walk, then lunch", "note", "3", "1", "", "Ada Lima", "2", newID("csv-comma").String()},
		{"2", `Say "hi" to everyone`, "note", "2", "1", "", "Ada Lima", "0", newID("csv-quote").String()},
		{"3", `'=HYPERLINK("http://evil.test","click")`, "note", "1", "1", "", "Ada Lima", "0", newID("csv-formula").String()},
		// No dots: by text, as the other renderings.
		{"4", "'+1 for pizza", "note", "0", "0", "", "Ada Lima", "0", newID("csv-plus").String()},
		{"5", "'-2+3", "note", "0", "0", "", "Ada Lima", "0", newID("csv-minus").String()},
		{"6", "'=cmd|' /C calc'!A0", "note", "0", "0", "", "Ada Lima", "0", newID("csv-cmd").String()},
		{"7", "'@SUM(A1:A9)", "note", "0", "0", "", "Ada Lima", "0", newID("csv-at").String()},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%q", len(rows), len(want), rows)
	}
	for i := range want {
		if strings.Join(rows[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], want[i])
		}
	}
	// No cell a spreadsheet would take for a formula.
	for i, row := range rows {
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d, column %s: %q would run as a formula", i, rows[0][j], cell)
			}
		}
	}
}
