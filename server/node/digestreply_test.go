package node_test

import (
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// TestDigestNamesTheIdeaOfAReply: the e-mail that tells of a reply says
// which idea it is about, as it does for a comment: "Ben Okri wrote 1
// reply on “Sunrise hike…”: “Count me in”", the note the thread is
// pinned to, cut short as the e-mail cuts other texts, and not the
// thread's first comment, which names no idea.
func TestDigestNamesTheIdeaOfAReply(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start)
	maya := e.signIn("maya@example.com")
	e.must(200, "PATCH", "/v1/me", maya, map[string]any{"name": "Olivia Park", "tz": "UTC"})
	ben := e.signIn("ben@example.com")
	e.must(200, "PATCH", "/v1/me", ben, map[string]any{"name": "Ben Okri", "tz": "UTC"})
	board := boardID(t, e.must(201, "POST", "/v1/boards", maya, map[string]any{"name": "Offsite"}))
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", maya, map[string]any{"mode": "each", "batchMinutes": 1})

	idea, thread, answer := newID("dr-idea"), newID("dr-thread"), newID("dr-reply")
	long := "Sunrise hike to the ridge on Saturday morning, " + strings.Repeat("with coffee and pastries at the top ", 5) + "and back by nine"
	mc := e.dial(board, maya, 0x5d01)
	mustEdit(t, mc, e.clk.Now(), noteTx(idea, long))
	mustEdit(t, mc, e.clk.Now(), commentTx(thread, idea, e.userID(maya), "Sunrise is at 7, who is in?"))
	if got := to(e.notify(start.Add(5*time.Minute)), "maya@example.com"); len(got) != 0 {
		t.Fatalf("%d e-mails to Maya about her own changes", len(got))
	}

	bc := e.dial(board, ben, 0x5d02)
	mustEdit(t, bc, e.clk.Now(), func(tx *crdt.Tx) error {
		if err := tx.Create(answer, "comment"); err != nil {
			return err
		}
		if err := tx.Set(answer, "author", crdt.String(e.userID(ben))); err != nil {
			return err
		}
		if err := tx.InsertText(answer, "text", 0, "Count me in"); err != nil {
			return err
		}
		return tx.Move(answer, thread, "a0")
	})
	got := to(e.notify(start.Add(10*time.Minute)), "maya@example.com")
	if len(got) != 1 {
		t.Fatalf("%d e-mails to Maya after Ben's reply, want 1", len(got))
	}
	text := textOf(t, got[0])
	var line string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "wrote 1 reply") {
			line = l
		}
	}
	// The note's text cut as the e-mail cuts the others (a preview of
	// 120 characters, an ellipsis at the cut).
	cut := []rune(long)[:119]
	want := "Ben Okri wrote 1 reply on “" + strings.TrimRight(string(cut), " ") + "…”: “Count me in”"
	if !strings.HasPrefix(line, want) {
		t.Errorf("the reply's line:\n got %q\nwant %q…\n%s", line, want, text)
	}
	if strings.Contains(line, "Sunrise is at 7") {
		t.Errorf("the reply is said to be on the thread's first comment: %q", line)
	}
}
