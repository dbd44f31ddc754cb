package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/storage"
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

// logRecorder keeps a node's log records (its Config.Log).
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// failures counts the records at level that say a member's e-mail failed,
// for user, by reason.
func (l *logRecorder) failures(level slog.Level, user string) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, r := range l.recs {
		if r.Level != level || !strings.Contains(r.Message, "a member's e-mail failed") {
			continue
		}
		var who, reason string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "user":
				who = a.Value.String()
			case "reason":
				reason = a.Value.String()
			}
			return true
		})
		if who == user {
			out[reason]++
		}
	}
	return out
}

// metricValue reads one series of the node's /metrics ("" if absent).
func metricValue(t *testing.T, tn *testNode, series string) string {
	t.Helper()
	_, lines := families(t, tn)
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// A member whose address the mail package refuses (an earlier version
// took it: account.NormalizeEmail turns `"john doe"@example.com` into
// `john doe@example.com`, which is no address) comes first in the pass.
// Their e-mail was refused at every pass, and the pass over the board
// stopped there: nobody after them was e-mailed again. Now they are
// passed over before anything is read for them, logged once, and
// counted; the member after them is told of every change.
func TestRefusedAddressDoesNotStopOthersEmail(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	logs := &logRecorder{}
	e := newAsyncEnv(t, start, func(c *node.Config) { c.Log = slog.New(logs) })
	olga := e.signIn("olga@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", olga, map[string]any{"name": "Plans"}))
	first, second := e.twoMembers()
	for i, m := range []member{first, second} {
		e.dial(board, m.session, crdt.ReplicaID(0x7f01+i)).Close()
		e.must(200, "PUT", "/v1/boards/"+board+"/notify", m.session, map[string]any{"mode": "each", "batchMinutes": 1})
	}
	firstID := e.userID(first.session)
	if err := e.tn.n.SetUserEmail(context.Background(), firstID, "john doe@example.com"); err != nil {
		t.Fatal(err)
	}

	oc := e.dial(board, olga, 0x7c01)
	for i := range 3 {
		text := fmt.Sprintf("plan %d", i)
		mustEdit(t, oc, e.clk.Now(), noteTx(newID(text), text))
		got := to(e.notify(start.Add(time.Duration(i+1)*5*time.Minute)), second.email)
		if len(got) != 1 || !strings.Contains(textOf(t, got[0]), text) {
			t.Fatalf("pass %d: %d e-mails to the member after the refused address, want 1 telling %q", i, len(got), text)
		}
	}
	if got := logs.failures(slog.LevelWarn, firstID); got["address"] != 1 || len(got) != 1 {
		t.Errorf("warnings about the refused address over three passes: %v, want one", got)
	}
	if v := metricValue(t, e.tn, `corkboard_notify_failures_total{reason="address"}`); v != "3" {
		t.Errorf("refused addresses counted %q times, want 3", v)
	}
}

// Records a member's e-mail needs that no longer decode (their cursor,
// then their user record; a member record of someone else) are the
// member's failure: the others are told, and each is logged at warning
// level once, not at every pass, and counted.
func TestUndecodableRecordsDoNotStopOthersEmail(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	logs := &logRecorder{}
	e := newAsyncEnv(t, start, func(c *node.Config) { c.Log = slog.New(logs) })
	olga := e.signIn("olga@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", olga, map[string]any{"name": "Plans"}))
	first, second := e.twoMembers()
	for i, m := range []member{first, second} {
		e.dial(board, m.session, crdt.ReplicaID(0x7f01+i)).Close()
		e.must(200, "PUT", "/v1/boards/"+board+"/notify", m.session, map[string]any{"mode": "each", "batchMinutes": 1})
	}
	firstID := e.userID(first.session)
	id, err := storage.ParseBoardID(board)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	garbage := []byte(`{"version": "not a version vector"`)
	for _, w := range []struct {
		ns  string
		key []byte
	}{
		{account.NSCursor, account.CursorKey(id, firstID, "")},
		{account.NSMember, account.BoardKey(id, "u_0000000000000000000000")}, // first of all
	} {
		if err := e.tn.n.PutRawRecord(ctx, w.ns, w.key, garbage); err != nil {
			t.Fatal(err)
		}
	}

	oc := e.dial(board, olga, 0x7c01)
	pass := func(i int) {
		t.Helper()
		text := fmt.Sprintf("plan %d", i)
		mustEdit(t, oc, e.clk.Now(), noteTx(newID(text), text))
		got := to(e.notify(start.Add(time.Duration(i+1)*5*time.Minute)), second.email)
		if len(got) != 1 || !strings.Contains(textOf(t, got[0]), text) {
			t.Fatalf("pass %d: %d e-mails to the member after the broken records, want 1 telling %q", i, len(got), text)
		}
	}
	pass(0)
	pass(1)
	if err := e.tn.n.PutRawRecord(ctx, account.NSUser, []byte(firstID), garbage); err != nil {
		t.Fatal(err)
	}
	pass(2)
	pass(3)
	if got := logs.failures(slog.LevelWarn, firstID); got["record"] != 2 || len(got) != 1 {
		t.Errorf("warnings about the member's broken records over four passes: %v, want two (the cursor, then the user record)", got)
	}
	if v := metricValue(t, e.tn, `corkboard_notify_failures_total{reason="record"}`); v != "4" {
		t.Errorf("broken records counted %q times, want 4", v)
	}
}

// An e-mail the mail package refuses as made is refused again at every
// pass, whatever is tried: it is dropped, the member's cursor moves past
// what it told, and only the member's next changes make another. Nothing
// in the node makes such an e-mail today (a subject and then a body too
// long for the mail package and the outbox did); a member record under a
// user id too long for a Message-ID, with a user record and a cursor,
// stands in for one. It was tried again, in full, at every pass.
func TestRefusedEmailIsDroppedNotRetried(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	logs := &logRecorder{}
	e := newAsyncEnv(t, start, func(c *node.Config) { c.Log = slog.New(logs) })
	olga := e.signIn("olga@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", olga, map[string]any{"name": "Plans"}))
	id, err := storage.ParseBoardID(board)
	if err != nil {
		t.Fatal(err)
	}
	long := "u_" + strings.Repeat("x", 480)
	now := e.clk.Now().UnixMilli()
	ctx := context.Background()
	for _, w := range []struct {
		ns  string
		key []byte
		v   any
	}{
		{account.NSUser, []byte(long), account.User{ID: long, Email: "long@example.com", Name: "Long", Created: now, Updated: now}},
		{account.NSMember, account.BoardKey(id, long), account.Member{Board: board, User: long, Role: "editor",
			Notify: account.Prefs{Mode: account.NotifyEach, BatchMinutes: 1}, Joined: now, Updated: now}},
		{account.NSCursor, account.CursorKey(id, long, ""), account.Cursor{Board: board, User: long, Updated: now}},
	} {
		b, err := json.Marshal(w.v)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.tn.n.PutRawRecord(ctx, w.ns, w.key, b); err != nil {
			t.Fatal(err)
		}
	}
	dropped := func() string {
		return metricValue(t, e.tn, `corkboard_notify_failures_total{reason="dropped"}`)
	}

	oc := e.dial(board, olga, 0x7c01)
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("plan-a"), "plan a"))
	e.notify(start.Add(5 * time.Minute))
	if v := dropped(); v != "1" {
		t.Fatalf("refused e-mails dropped: %q, want 1", v)
	}
	// Nothing new: nothing tried again.
	e.notify(start.Add(10 * time.Minute))
	e.notify(start.Add(15 * time.Minute))
	if v := dropped(); v != "1" {
		t.Fatalf("refused e-mails dropped after two passes with nothing new: %q, want still 1", v)
	}
	if n := metricValue(t, e.tn, `corkboard_notify_failures_total{reason="retried"}`); n != "0" {
		t.Fatalf("refused e-mails tried again: %q, want 0", n)
	}
	// A new change makes a new e-mail, refused and dropped in turn.
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("plan-b"), "plan b"))
	e.notify(start.Add(20 * time.Minute))
	if v := dropped(); v != "2" {
		t.Fatalf("refused e-mails dropped after a new change: %q, want 2", v)
	}
	// Logged at warning level once, then at debug level: the same cause.
	if got := logs.failures(slog.LevelWarn, long); got["dropped"] != 1 || len(got) != 1 {
		t.Errorf("warnings about the refused e-mails: %v, want one", got)
	}
	if got := logs.failures(slog.LevelDebug, long); got["dropped"] != 1 || len(got) != 1 {
		t.Errorf("debug records about the refused e-mails: %v, want one", got)
	}
}
