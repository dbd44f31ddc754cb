package node_test

import (
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/node"
)

// member is a signed-in person.
type member struct{ session, email string }

// twoMembers signs in two people and returns them in the order of their
// user ids, which is the order the notifier's pass takes a board's
// members in: the first is the one whose e-mail fails.
func (e *asyncEnv) twoMembers() (first, second member) {
	e.t.Helper()
	a := member{e.signIn("first@example.com"), "first@example.com"}
	b := member{e.signIn("second@example.com"), "second@example.com"}
	if e.userID(b.session) < e.userID(a.session) {
		return b, a
	}
	return a, b
}

// A node with a short retention: Dana asks for a daily digest, Eve for
// every change. The owner's first note is told to Eve at once and waits
// for Dana's digest; two hours later the history holding it is dropped.
// Dana's cursor was then behind the history the node keeps: reading what
// changed since it failed at every pass, and the pass over the board
// stopped there, so that Eve, after Dana in the pass, was never told of
// the owner's second note, nor of anything after it. Now the pass goes
// on to Eve.
func TestTrimmedHistoryDoesNotStopOthersEmail(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC) // Tuesday 14:00 UTC
	e := newAsyncEnv(t, start, func(c *node.Config) {
		c.Room.Retention = time.Hour
		c.Room.SnapshotEvery = 1
	})
	olga := e.signIn("olga@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", olga, map[string]any{"name": "Retro"}))
	d, v := e.twoMembers()
	dana, eve := d.session, v.session
	e.must(200, "PATCH", "/v1/me", dana, map[string]any{"name": "Dana", "tz": "UTC"})
	e.must(200, "PATCH", "/v1/me", eve, map[string]any{"name": "Eve", "tz": "UTC"})
	e.dial(board, dana, 0x7d01).Close()
	e.dial(board, eve, 0x7e01).Close()
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", dana, map[string]any{"mode": "digest", "digestHour": 7})
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", eve, map[string]any{"mode": "each", "batchMinutes": 1})

	oc := e.dial(board, olga, 0x7c01)
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("trim-first"), "first idea"))
	got := e.notify(start.Add(5 * time.Minute))
	if n := len(to(got, v.email)); n != 1 {
		t.Fatalf("%d e-mails to Eve after the first note, want 1", n)
	}
	if n := len(to(got, d.email)); n != 0 {
		t.Fatalf("%d e-mails to Dana before her digest's hour, want 0", n)
	}

	// Two hours on, the next change drops the history older than an hour.
	e.clk.Set(start.Add(2 * time.Hour))
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("trim-second"), "second idea"))
	got = to(e.notify(start.Add(2*time.Hour+5*time.Minute)), v.email)
	if len(got) != 1 || !strings.Contains(textOf(t, got[0]), "second idea") {
		t.Fatalf("%d e-mails to Eve after the second note, want 1 telling it", len(got))
	}
	// And every pass after it.
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("trim-third"), "third idea"))
	got = to(e.notify(start.Add(2*time.Hour+10*time.Minute)), v.email)
	if len(got) != 1 || !strings.Contains(textOf(t, got[0]), "third idea") {
		t.Fatalf("%d e-mails to Eve after the third note, want 1 telling it", len(got))
	}
}

// Dana, whose cursor was behind the history the node keeps, gets her
// digest the next morning: what can still be told (the second and third
// notes), saying in both parts that older changes are no longer kept, and
// her cursor moves on. Reading what changed since her cursor failed at
// every pass, and she was never e-mailed again.
func TestTrimmedHistoryIsToldFromWhatIsKept(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC) // Tuesday 14:00 UTC
	e := newAsyncEnv(t, start, func(c *node.Config) {
		c.Room.Retention = time.Hour
		c.Room.SnapshotEvery = 1
	})
	olga := e.signIn("olga@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", olga, map[string]any{"name": "Retro"}))
	dana := e.signIn("dana@example.com")
	e.must(200, "PATCH", "/v1/me", dana, map[string]any{"name": "Dana", "tz": "UTC"})
	e.dial(board, dana, 0x7d01).Close()
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", dana, map[string]any{"mode": "digest", "digestHour": 7})

	oc := e.dial(board, olga, 0x7c01)
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("kept-first"), "first idea"))
	e.notify(start.Add(5 * time.Minute))
	e.clk.Set(start.Add(2 * time.Hour))
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("kept-second"), "second idea"))
	e.notify(start.Add(2*time.Hour + 5*time.Minute))
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("kept-third"), "third idea"))
	e.notify(start.Add(2*time.Hour + 10*time.Minute))

	got := to(e.notify(time.Date(2026, 11, 25, 8, 5, 0, 0, time.UTC)), "dana@example.com")
	if len(got) != 1 {
		t.Fatalf("%d e-mails to Dana the next morning, want her digest", len(got))
	}
	text, html := textOf(t, got[0]), partOf(t, got[0], "text/html")
	for _, part := range []string{text, html} {
		if !strings.Contains(part, "second idea") || !strings.Contains(part, "third idea") {
			t.Errorf("the digest does not tell what is kept:\n%s", part)
		}
		if strings.Contains(part, "first idea") {
			t.Errorf("the digest tells a note whose change is no longer kept:\n%s", part)
		}
		if !strings.Contains(part, "Changes before Tue 24 Nov 16:00 (UTC) are no longer kept") {
			t.Errorf("the digest does not say that older changes are no longer kept:\n%s", part)
		}
	}
	// The cursor moved: the next day, nothing new, nothing sent.
	if got := to(e.notify(time.Date(2026, 11, 26, 8, 5, 0, 0, time.UTC)), "dana@example.com"); len(got) != 0 {
		t.Fatalf("%d e-mails to Dana with nothing new, want 0", len(got))
	}
}
