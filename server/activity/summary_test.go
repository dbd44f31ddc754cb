package activity

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/boardpic"
)

// brainstorm is a board at the end of a three-day brainstorm.
func brainstorm(t *testing.T) *testBoard {
	b := newBoard(t)
	b.as("ana", note("a", "Plan *A*"))
	b.as("bob", note("b", "Plan B"))
	b.as("cem", note("c", "Alpha"))
	b.as("ana", note("d", "Beta"))
	b.as("bob", note("e", "Aardvark"))
	b.as("cem", note("loose", "Loose idea"))
	b.as("ana", note("dead", "Deleted idea"))
	b.as("ana", func(tx *crdt.Tx) error { return tx.Create(el("stroke"), "stroke") })
	b.as("ana", note("blank", ""))

	// Votes: a 4 dots from 3 people; c 4 dots from 2; b 3 from 1; d and e
	// 2 from 1 each (tie broken by text); dead's votes do not count.
	b.as("ana", vote("a", "ana", 2))
	b.as("bob", vote("a", "bob", 1))
	b.as("cem", vote("a", "cem", 1))
	b.as("ana", vote("c", "ana", 2))
	b.as("cem", vote("c", "cem", 2))
	b.as("bob", vote("b", "bob", 3))
	b.as("bob", vote("d", "bob", 2))
	b.as("cem", vote("e", "cem", 1))
	b.as("cem", vote("e", "cem", 2)) // changed their mind: 2, not 3
	b.as("ana", vote("dead", "ana", 5))
	b.as("ana", del("dead"))
	b.as("bob", vote("loose", "bob", 1))
	b.as("bob", vote("loose", "bob", 0)) // withdrawn
	b.as("ana", react("b", "ana", "🎉"))
	b.as("cem", react("b", "cem", "🎉"))
	b.as("bob", react("b", "bob", "👀"))
	b.as("cem", react("b", "cem", "")) // withdrawn
	b.as("cem", react("b", "cem", "👀"))

	// Comments: a thread on a with nested replies, resolved; a reply
	// deleted; a thread on the deleted note; a thread pinned to a point.
	b.as("bob", comment("t1", "a", "bob", "Why *A*?"))
	b.as("ana", reply("t1r2", "t1", "a5", "ana", "Second reply"))
	b.as("cem", reply("t1r1", "t1", "a1", "cem", "First reply"))
	b.as("bob", reply("t1r1a", "t1r1", "", "bob", "Nested"))
	b.as("cem", reply("t1gone", "t1", "a3", "cem", "Withdrawn remark"))
	b.as("cem", del("t1gone"))
	b.as("ana", set("t1", "resolved", crdt.Bool(true)))
	b.as("cem", comment("t2", "dead", "cem", "On a deleted note"))
	b.as("ana", comment("t3", "", "ana", "General remark"))
	b.as("cem", comment("t4", "c", "cem", "Later thread on c"))
	b.as("bob", comment("t5", "c", "bob", "Even later thread on c"))

	// A mindmap inside a frame, children ordered by position key, not
	// text or id; one subtree deleted; a second map at the board's top.
	b.as("ana", func(tx *crdt.Tx) error {
		if err := tx.Create(el("f"), "frame"); err != nil {
			return err
		}
		return tx.InsertText(el("f"), "title", 0, "Roadmap")
	})
	mm := func(id, parent, pos, text string) func(*crdt.Tx) error {
		return func(tx *crdt.Tx) error {
			if err := createText(tx, id, "mindmap", text); err != nil {
				return err
			}
			return tx.Move(el(id), el(parent), pos)
		}
	}
	b.as("ana", mm("root", "f", "", "Project"))
	b.as("ana", mm("z", "root", "a0", "Zeta first"))
	b.as("bob", mm("y", "root", "a2", "Yak third"))
	mid, err := crdt.KeyBetween("a0", "a2")
	if err != nil {
		t.Fatal(err)
	}
	b.as("cem", mm("x", "root", mid, "Xray second"))
	b.as("cem", mm("x1", "x", "a0", "Xray child"))
	b.as("bob", mm("w", "root", "a3", "Gone subtree"))
	b.as("bob", mm("w1", "w", "a0", "Gone child"))
	b.as("bob", del("w"))
	b.as("ana", mm("y0", "y", "a0", "Yak child"))
	b.as("ana", move("y0", "z", "a0")) // moved under Zeta
	b.as("cem", func(tx *crdt.Tx) error { return createText(tx, "other", "mindmap", "Other map") })
	b.as("bob", vote("x", "bob", 1)) // a voted mindmap node is an idea too
	return b
}

func TestSummarize(t *testing.T) {
	b := brainstorm(t)
	names := map[string]string{"ana": "Ana Lima", "bob": "Bob", "cem": "Cem"}
	s := Summarize(b.server, b.log, names)

	type rank struct {
		Name          string
		Votes, Voters int
	}
	var got []rank
	for _, idea := range s.Ideas {
		got = append(got, rank{nameOf(idea.Element), idea.Votes, idea.Voters})
	}
	want := []rank{{"a", 4, 3}, {"c", 4, 2}, {"b", 3, 1}, {"e", 2, 1}, {"d", 2, 1}, {"x", 1, 1}, {"loose", 0, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ranking:\n got %v\nwant %v", got, want)
	}
	ideas := map[string]Idea{}
	for _, idea := range s.Ideas {
		ideas[nameOf(idea.Element)] = idea
	}
	if r := ideas["b"].Reactions; !reflect.DeepEqual(r, map[string]int{"🎉": 1, "👀": 2}) {
		t.Errorf("reactions %v", r)
	}
	if k := ideas["x"].Kind; k != "mindmap" {
		t.Errorf("kind of x: %q", k)
	}

	// a's thread: replies in position order, nested, deleted one gone.
	th := ideas["a"].Comments
	if len(th) != 1 || th[0].Text != "Why *A*?" || !th[0].Resolved || th[0].Author != "bob" || th[0].AuthorName != "Bob" {
		t.Fatalf("thread on a: %+v", th)
	}
	var replies []string
	for _, r := range th[0].Replies {
		replies = append(replies, r.Text)
	}
	if want := []string{"First reply", "Second reply"}; !slices.Equal(replies, want) {
		t.Errorf("replies %q, want %q", replies, want)
	}
	if n := th[0].Replies[0].Replies; len(n) != 1 || n[0].Text != "Nested" || n[0].Author != "bob" {
		t.Errorf("nested reply: %+v", n)
	}
	// Threads on c, oldest first.
	var onC []string
	for _, c := range ideas["c"].Comments {
		onC = append(onC, c.Text)
	}
	if want := []string{"Later thread on c", "Even later thread on c"}; !slices.Equal(onC, want) {
		t.Errorf("threads on c %q", onC)
	}
	// Unpinned threads; the one on the deleted note is gone.
	if len(s.Comments) != 1 || s.Comments[0].Text != "General remark" {
		t.Errorf("other comments: %+v", s.Comments)
	}

	// Mindmaps, in tree order, children by position key.
	var outline func(o Outline, depth int) []string
	outline = func(o Outline, depth int) []string {
		out := []string{strings.Repeat(".", depth) + o.Text}
		for _, c := range o.Children {
			out = append(out, outline(c, depth+1)...)
		}
		return out
	}
	var maps []string
	for _, m := range s.Mindmaps {
		maps = append(maps, outline(m, 0)...)
	}
	wantMaps := []string{"Project", ".Zeta first", "..Yak child", ".Xray second", "..Xray child", ".Yak third", "Other map"}
	if !slices.Equal(maps, wantMaps) {
		t.Errorf("mindmaps:\n got %q\nwant %q", maps, wantMaps)
	}

	// Participants, in order of first change.
	var parts []Participant
	for _, p := range s.Participants {
		parts = append(parts, p)
	}
	count := func(user string) int {
		n := 0
		for _, c := range b.log {
			if c.Author == user {
				n++
			}
		}
		return n
	}
	wantParts := []Participant{
		{User: "ana", Name: "Ana Lima", Changes: count("ana"), Votes: 2 + 2, Comments: 2},
		{User: "bob", Name: "Bob", Changes: count("bob"), Votes: 1 + 3 + 2 + 1, Comments: 3},
		{User: "cem", Name: "Cem", Changes: count("cem"), Votes: 1 + 2 + 2, Comments: 2},
	}
	if !reflect.DeepEqual(parts, wantParts) {
		t.Errorf("participants:\n got %+v\nwant %+v", parts, wantParts)
	}
	if s.Generated != b.log[len(b.log)-1].Accepted {
		t.Errorf("generated %d", s.Generated)
	}

	// The JSON export round-trips.
	var back Summary
	if err := json.Unmarshal(s.JSON(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("JSON round trip differs:\n%s", s.JSON())
	}
}

func TestSummarizeEmpty(t *testing.T) {
	s := Summarize(crdt.NewDoc(), nil, nil)
	if len(s.Ideas) != 0 || len(s.Mindmaps) != 0 || len(s.Participants) != 0 || s.Generated != 0 {
		t.Fatalf("empty board: %+v", s)
	}
	j := string(s.JSON())
	for _, k := range []string{`"ideas": []`, `"mindmaps": []`, `"participants": []`} {
		if !strings.Contains(j, k) {
			t.Errorf("JSON of an empty summary lacks %s:\n%s", k, j)
		}
	}
	md := s.Markdown()
	if !strings.HasPrefix(md, "# Board summary\n") || !strings.Contains(md, "No ideas yet.") {
		t.Errorf("markdown of an empty summary:\n%s", md)
	}
}

func TestMarkdown(t *testing.T) {
	b := brainstorm(t)
	b.as("ana", note("tricky", "# not a heading\n- not a list [link](http://x) `code` <script>alert(1)</script> a_b *c* | d & e\\"))
	b.as("bob", note("ordered", "1. not a list"))
	b.as("cem", vote("tricky", "cem", 9))
	b.as("cem", vote("ordered", "cem", 8))
	s := Summarize(b.server, b.log, map[string]string{"ana": "Ana *Lima*", "bob": "Bob", "cem": "Cem"})
	s.Board = "Q3 <planning>\n# retro"
	md := s.Markdown()
	lines := strings.Split(md, "\n")

	if lines[0] != `# Q3 \<planning\> \# retro` {
		t.Errorf("title line %q", lines[0])
	}
	var headings []string
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			headings = append(headings, l)
		}
	}
	wantH := []string{lines[0], "## Ideas", "## Mindmaps", "## Other comments", "## Participants"}
	if !slices.Equal(headings, wantH) {
		t.Errorf("headings %q, want %q", headings, wantH)
	}
	wantLines := []string{
		"1. **\\# not a heading - not a list \\[link\\](http://x) \\`code\\` \\<script\\>alert(1)\\</script\\> a\\_b \\*c\\* \\| d \\& e\\\\** — proposed by Ana \\*Lima\\* — 9 dots from 1 person",
		"2. **1\\. not a list** — proposed by Bob — 8 dots from 1 person",
		"3. **Plan \\*A\\*** — proposed by Ana \\*Lima\\* — 4 dots from 3 people",
		"   - **Bob:** Why \\*A\\*? _(resolved)_",
		"     - **Cem:** First reply",
		"       - **Bob:** Nested",
		"     - **Ana \\*Lima\\*:** Second reply",
		"5. **Plan B** — proposed by Bob — 3 dots from 1 person; reactions: 🎉 1, 👀 2",
		"9. **Loose idea** — proposed by Cem — no dots",
		"- Project",
		"  - Zeta first",
		"    - Yak child",
		"- Other map",
		"- **Ana \\*Lima\\*:** General remark",
		"| Person | Changes | Dots | Comments |",
		"| Ana \\*Lima\\* | " + itoa(s.Participants[0].Changes) + " | 4 | 2 |",
	}
	for _, w := range wantLines {
		if !slices.Contains(lines, w) {
			t.Errorf("missing line %q in:\n%s", w, md)
		}
	}
	// Each idea is one list item: numbered lines 1..n, in rank order.
	n := 0
	for _, l := range lines {
		if p := itoa(n+1) + ". "; strings.HasPrefix(l, p) {
			n++
		}
	}
	if n != len(s.Ideas) {
		t.Errorf("%d numbered items, %d ideas", n, len(s.Ideas))
	}
	if strings.Contains(md, "<script>") {
		t.Error("raw HTML in the Markdown")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// unescapeMD undoes mdEscape's backslashes.
func unescapeMD(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestMDEscape(t *testing.T) {
	cases := map[string]string{
		"plain text":     "plain text",
		"- item":         `\- item`,
		"+ item":         `\+ item`,
		"12) x":          `12\) x`,
		"3.14 is pi":     `3\.14 is pi`,
		"a - b. c":       "a - b. c",
		"  two\n\nlines": "two lines",
		"> quote":        `\> quote`,
		"=== ":           `\===`,
	}
	for in, want := range cases {
		if got := mdEscape(in); got != want {
			t.Errorf("mdEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzMDEscape(f *testing.F) {
	f.Add("# a *b* [c](d) <e> `f` | g & h \\ 1. - + _ ~ !")
	f.Add("\n\t 3) x")
	f.Fuzz(func(t *testing.T, s string) {
		got := mdEscape(s)
		if strings.ContainsAny(got, "\n\r") {
			t.Fatalf("line break in %q", got)
		}
		if want := strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " "); unescapeMD(got) != want {
			t.Fatalf("unescaped %q, want %q", unescapeMD(got), want)
		}
		// No markup character is left bare: reading left to right, every
		// backslash escapes the next byte, and no other markup byte occurs.
		for i := 0; i < len(got); i++ {
			switch {
			case got[i] == '\\':
				if i+1 == len(got) {
					t.Fatalf("trailing backslash in %q", got)
				}
				i++
			case strings.IndexByte("`*_[]<>|&#", got[i]) >= 0:
				t.Fatalf("bare %q at %d in %q", got[i], i, got)
			}
		}
	})
}

// The plain-text and printable renderings tell user text exactly as
// typed (no Markdown escapes, HTML escaped in HTML), times in the owner's
// time zone, who proposed each idea, the voting's rules and dates and the
// deadline.
func TestSummaryTextAndHTML(t *testing.T) {
	b := brainstorm(t)
	b.as("ana", note("tricky", "a_b *c* <b>"))
	b.as("cem", vote("tricky", "cem", 9))
	s := Summarize(b.server, b.log, map[string]string{"ana": "Ana", "bob": "Bob", "cem": "Cem"})
	s.Board = "Q3 planning"
	s.TZ = "Asia/Tokyo"
	s.Generated = 1767225600000 // 2026-01-01 00:00 UTC
	s.Deadline = 1767261600000  // 2026-01-01 10:00 UTC
	s.Voting = &VotingInfo{State: "closed", Dots: 3, Opened: 1767225600000, Closed: 1767229200000}
	txt := s.Text()
	for _, want := range []string{
		"Q3 planning\n===========",
		"As of Thu 1 Jan 2026, 09:00 JST.",
		"Dot voting (3 dots each): opened Thu 1 Jan 2026, 09:00 JST, closed Thu 1 Jan 2026, 10:00 JST.",
		"Deadline: Thu 1 Jan 2026, 19:00 JST.",
		"1. a_b *c* <b> (proposed by Ana): 9 dots from 1 person",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, `\*`) || strings.Contains(txt, `\_`) {
		t.Errorf("Markdown escapes in the plain text:\n%s", txt)
	}
	page := string(s.HTML())
	for _, want := range []string{"<title>Q3 planning — summary</title>", "a_b *c* &lt;b&gt;", "proposed by Ana", "Deadline: Thu 1 Jan 2026, 19:00 JST."} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(page, "<b>") && !strings.Contains(page, "&lt;b&gt;") {
		t.Error("user HTML not escaped")
	}
	if md := s.Markdown(); !strings.Contains(md, "Deadline: Thu 1 Jan 2026, 19:00 JST.") {
		t.Errorf("Markdown lacks the deadline:\n%s", md)
	}
	// One word for votes in every rendering, the dot voting's: an idea's
	// "9 dots from 1 person", the participants' dots (a "Dots" column
	// in the tables), never "votes".
	for name, r := range map[string]string{"md": s.Markdown(), "txt": txt, "html": page} {
		if !strings.Contains(r, "9 dots from 1 person") {
			t.Errorf("%s: the idea's dots are not told in dots:\n%s", name, r)
		}
		if m := regexp.MustCompile(`(?i)\bvotes?\b`).FindString(r); m != "" {
			t.Errorf("%s says %q where the board says dots:\n%s", name, m, r)
		}
	}
	if md := s.Markdown(); !strings.Contains(md, "| Person | Changes | Dots | Comments |") {
		t.Errorf("Markdown participants: no Dots column:\n%s", md)
	}
	if !strings.Contains(page, "<th>Dots</th>") {
		t.Errorf("HTML participants: no Dots column:\n%s", page)
	}
}

// TestSummaryPictureBounded: the summary's picture draws at most
// boardpic.MaxElements boxes and numbers however many ideas the board
// has, numbers the ideas as the list does (the top-voted idea is 1), and
// leaves user text out.
func TestSummaryPictureBounded(t *testing.T) {
	b := newBoard(t)
	const notes = boardpic.MaxElements + 100
	b.as("ana", func(tx *crdt.Tx) error {
		for i := range notes {
			if err := createText(tx, "n"+itoa(i), "note", "<b>idea "+itoa(i)); err != nil {
				return err
			}
			if err := tx.Set(el("n"+itoa(i)), "x", crdt.Number(float64(250*i))); err != nil {
				return err
			}
		}
		return nil
	})
	b.as("cem", vote("n7", "cem", 2))
	s := Summarize(b.server, b.log, nil)
	if len(s.Ideas) != notes || s.Ideas[0].Element != el("n7").String() {
		t.Fatalf("%d ideas, first %s", len(s.Ideas), s.Ideas[0].Element)
	}
	svg := string(Picture(b.server, s.Ideas))
	if r, c := strings.Count(svg, "<rect"), strings.Count(svg, "<circle"); r != boardpic.MaxElements+1 || c != boardpic.MaxElements {
		t.Fatalf("want %d boxes and as many numbers, got %d rects, %d circles", boardpic.MaxElements, r-1, c)
	}
	if strings.Contains(svg, "idea") || strings.Contains(svg, "<b>") {
		t.Fatal("user text in the picture")
	}
	// n7 (x = 1750, 200 wide) is idea 1: its number sits on its box (the
	// disc, larger than this small box at this scale, centred on it).
	if !regexp.MustCompile(`<circle cx="1850\.0" [^>]*/><text [^>]*>1</text>`).MatchString(svg) {
		t.Fatalf("idea 1's number is not on n7's box: %.2000s", svg[strings.Index(svg, "<g "):])
	}
	// In the board's proportions (a long row), within 800×500.
	if !strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="`) || strings.Contains(svg, `height="500"`) {
		t.Fatalf("not fitted: %.200s", svg)
	}
	s.Picture = []byte(svg)
	if page := string(s.HTML()); !strings.Contains(page, `<figure class="board"`) || !strings.Contains(page, svg) {
		t.Fatal("the HTML lacks the picture")
	}
	// An empty board has no picture, and its page no figure.
	empty := Summarize(newBoard(t).server, nil, nil)
	if p := Picture(newBoard(t).server, empty.Ideas); p != nil {
		t.Fatalf("a picture of nothing: %s", p)
	}
	if page := string(empty.HTML()); strings.Contains(page, "<figure") || strings.Contains(page, "<svg") {
		t.Fatal("an empty board's page has a figure")
	}
}
