package activity

import (
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// overnight is a night of activity on a board seeded the evening before.
func overnight(t *testing.T) (*testBoard, Digest) {
	b := seed(t)
	mark := b.mark()
	from := time.UnixMilli(b.now)
	b.as("bob", note("n4", "<script>alert('x')</script> & more"))
	b.as("bob", note("n5", "Second"))
	b.as("bob", func(tx *crdt.Tx) error { return createText(tx, "s1", "shape", "Third") })
	b.as("bob", note("n6", "Fourth"))
	b.as("cem", appendText(b.user("cem").doc, "n4", "!")) // folded into bob's "added"
	b.as("ana", appendText(b.user("ana").doc, "n1", " (edited)"))
	b.as("cem", comment("c1", "n1", "cem", "Love it @Ana Lima"))
	b.as("ana", vote("n1", "ana", 1))
	b.as("ana", vote("n2", "ana", 1))
	names := map[string]string{"ana": "Ana Lima", "bob": "Bob <b>", "cem": "Cem\r\nBcc: x@example.com"}
	d := Digest{
		Board:     "Retro <Q3>",
		BoardURL:  "https://cork.example/b/123?x=1&y=2",
		Recipient: "Ana Lima",
		Names:     names,
		Events:    SinceNames(b.server, b.log[mark:], names),
		From:      from,
		To:        time.UnixMilli(b.now),
		Loc:       time.FixedZone("CET", 3600),
	}
	return b, d
}

func TestDigestText(t *testing.T) {
	b, d := overnight(t)
	txt := d.Text()
	at := func(i int) string {
		return time.UnixMilli(b.log[i].Accepted).In(d.Loc).Format("Mon 2 Jan 15:04")
	}
	n := len(b.log)
	want := []string{
		"Hi Ana Lima,",
		"Here is what happened on “Retro <Q3>” from " + d.From.In(d.Loc).Format("Mon 2 Jan 15:04") + " to " + d.To.In(d.Loc).Format("Mon 2 Jan 15:04") + " (CET).",
		// Grouped by person, in order of first appearance; kinds counted.
		"Bob <b> added 3 notes and 1 shape: “<script>alert('x')</script> & more!”, “Second”, “Third” and 1 more (" + at(n-5) + ")", // n4's latest: Cem's edit
		"Cem Bcc: x@example.com edited 1 note: “<script>alert('x')</script> & more!” (" + at(n-5) + ")",
		"Cem Bcc: x@example.com wrote 1 comment on “Idea one (edited)”: “Love it @Ana Lima” (" + at(n-3) + ")",
		"Ana Lima edited 1 note: “Idea one (edited)” (" + at(n-4) + ")",
		"Ana Lima voted on 2 notes: “Idea one (edited)”, “Idea two” (" + at(n-1) + ")",
		"Open the board: https://cork.example/b/123?x=1&y=2",
	}
	lines := strings.Split(txt, "\n")
	pos := -1
	for _, w := range want {
		i := indexFrom(lines, w, pos+1)
		if i < 0 {
			t.Fatalf("missing or out of order: %q\nin:\n%s", w, txt)
		}
		pos = i
	}
	if strings.Contains(txt, "\r") {
		t.Error("a carriage return from a display name got through")
	}
	// Times are in the recipient's zone, not UTC.
	utc := time.UnixMilli(b.log[n-1].Accepted).UTC().Format("Mon 2 Jan 15:04")
	if strings.Contains(txt, "("+utc+")") {
		t.Errorf("a UTC time (%s) in:\n%s", utc, txt)
	}
}

func indexFrom(lines []string, s string, from int) int {
	for i := from; i < len(lines); i++ {
		if lines[i] == s {
			return i
		}
	}
	return -1
}

func TestDigestHTML(t *testing.T) {
	_, d := overnight(t)
	h := d.HTML()
	for _, bad := range []string{"<script>", "<Q3>", "<b>", "\r"} {
		if strings.Contains(h, bad) {
			t.Errorf("unescaped %q in HTML:\n%s", bad, h)
		}
	}
	for _, good := range []string{
		"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more!",
		"<h3>Bob &lt;b&gt;</h3>",
		"Retro &lt;Q3&gt;",
		`<a href="https://cork.example/b/123?x=1&amp;y=2">`,
		"voted on 2 notes",
		"wrote 1 comment on “Idea one (edited)”",
	} {
		if !strings.Contains(h, good) {
			t.Errorf("HTML lacks %q:\n%s", good, h)
		}
	}
	// The same people and lines as the text.
	if got, want := strings.Count(h, "<li>"), textLines(d.Text()); got != want {
		t.Errorf("HTML has %d items, text %d lines", got, want)
	}

	d.BoardURL = "javascript:alert(1)"
	if h := d.HTML(); strings.Contains(h, "javascript:") {
		t.Errorf("a javascript: link got through:\n%s", h)
	}
}

// textLines counts the action lines of a digest text.
func textLines(txt string) int {
	n := 0
	for _, l := range strings.Split(txt, "\n") {
		if strings.HasSuffix(l, ")") && strings.Contains(l, " (") && !strings.HasPrefix(l, "Here is") {
			n++
		}
	}
	return n
}

func TestDigestSubject(t *testing.T) {
	_, d := overnight(t)
	s := d.Subject()
	if want := "Retro <Q3>: " + itoa(len(d.Events)) + " updates from Bob <b>, Cem Bcc: x@example.com and Ana Lima"; s != want {
		t.Errorf("subject %q, want %q", s, want)
	}
	if strings.ContainsAny(s, "\r\n") {
		t.Errorf("line break in subject %q", s)
	}
	d.Names = map[string]string{}
	d.Events = append(d.Events, Event{Element: "x", Kind: "note", Action: Added, By: []string{"dan"}, Count: 1},
		Event{Element: "y", Kind: "note", Action: Added, By: []string{""}, Count: 1})
	if s := d.Subject(); !strings.HasSuffix(s, "from bob, cem and 3 others") {
		t.Errorf("subject with many people %q", s)
	}
	if txt := d.Text(); !strings.Contains(txt, "\nAnonymous added 1 note") {
		t.Errorf("anonymous author:\n%s", txt)
	}
	empty := Digest{Board: "B"}
	if empty.Subject() != "B: no changes" || !strings.Contains(empty.Text(), "Nothing changed.") {
		t.Errorf("empty digest: %q / %q", empty.Subject(), empty.Text())
	}
	if h := empty.HTML(); !strings.Contains(h, "Nothing changed.") {
		t.Errorf("empty HTML: %s", h)
	}
}

// A reader whose cursor was behind the history the node keeps is told
// that older changes are no longer kept, in both parts, and not that
// nothing changed.
func TestDigestSaysOlderChangesNoLongerKept(t *testing.T) {
	kept := time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC)
	d := Digest{Board: "Retro", Recipient: "Dana", From: kept, To: kept.Add(16 * time.Hour), KeptFrom: kept}
	want := "Changes before Tue 24 Nov 16:00 (UTC) are no longer kept: this e-mail tells what happened from then on."
	for name, part := range map[string]string{"text": d.Text(), "HTML": d.HTML()} {
		if !strings.Contains(part, want) {
			t.Errorf("the %s part does not say older changes are no longer kept:\n%s", name, part)
		}
		if strings.Contains(part, "Nothing changed") {
			t.Errorf("the %s part says nothing changed:\n%s", name, part)
		}
	}
	if s := d.Subject(); s != "Retro: older changes no longer kept" {
		t.Errorf("subject %q", s)
	}
	d.KeptFrom = time.Time{}
	if strings.Contains(d.Text(), "no longer kept") || strings.Contains(d.HTML(), "no longer kept") {
		t.Error("a digest of kept history says changes are no longer kept")
	}
}
