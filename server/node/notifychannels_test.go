package node_test

import (
	"strings"
	"testing"
	"time"
)

// Batched e-mails and a daily digest together: a mention comes at once,
// first, and under "For you"; the same day's changes come again in the
// next morning's digest; dot voting opening and a near deadline are told
// as news of the board.
func TestEachAndDigestTogether(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC) // Tuesday 14:00 UTC
	e := newAsyncEnv(t, start)
	maya := e.signIn("maya@example.com")
	e.must(200, "PATCH", "/v1/me", maya, map[string]any{"name": "Maya", "tz": "UTC"})
	ben := e.signIn("ben@example.com")
	e.must(200, "PATCH", "/v1/me", ben, map[string]any{"name": "Ben", "tz": "UTC"})
	board := boardID(t, e.must(201, "POST", "/v1/boards", maya, map[string]any{"name": "Offsite"}))
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", maya, map[string]any{"mode": "each", "batchMinutes": 1, "digest": true, "digestHour": 8})

	bc := e.dial(board, ben, 0x5c01)
	idea, remark := newID("ch-idea"), newID("ch-remark")
	mustEdit(t, bc, e.clk.Now(), noteTx(idea, "Boat trip"))
	mustEdit(t, bc, e.clk.Now(), commentTx(remark, idea, e.userID(ben), "@Maya what do you think?"))

	got := to(e.notify(start.Add(5*time.Minute)), "maya@example.com")
	if len(got) != 1 {
		t.Fatalf("%d e-mails to Maya after the mention, want 1 (each)", len(got))
	}
	subject, text := got[0].Header.Get("Subject"), textOf(t, got[0])
	if !strings.Contains(subject, "you were mentioned") {
		t.Errorf("subject %q", subject)
	}
	forYou, also := strings.Index(text, "For you:"), strings.Index(text, "Also:")
	if forYou < 0 || also < 0 || forYou > also || !strings.Contains(text[forYou:also], "wrote 1 comment") {
		t.Errorf("the mention is not first, under For you:\n%s", text)
	}

	// Dot voting opens and the deadline nears: news of the board.
	e.must(200, "POST", "/v1/boards/"+board+"/voting", maya, map[string]any{"dots": 3})
	e.must(200, "PATCH", "/v1/boards/"+board, maya, map[string]any{"deadline": start.Add(20 * time.Hour).UnixMilli()})
	got = to(e.notify(start.Add(10*time.Minute)), "maya@example.com")
	if len(got) != 1 {
		t.Fatalf("%d e-mails about the board's news, want 1", len(got))
	}
	if text := textOf(t, got[0]); !strings.Contains(text, "Dot voting is open: 3 dots each.") || !strings.Contains(text, "The deadline is less than a day away") {
		t.Errorf("the news:\n%s", text)
	}
	if n := len(to(e.notify(start.Add(15*time.Minute)), "maya@example.com")); n != 0 {
		t.Errorf("%d e-mails with nothing new, want 0: news is told once", n)
	}

	// The next morning at 8: the digest tells the whole day again.
	got = to(e.notify(time.Date(2026, 11, 25, 8, 5, 0, 0, time.UTC)), "maya@example.com")
	if len(got) != 1 {
		t.Fatalf("%d e-mails the next morning, want the digest", len(got))
	}
	if text := textOf(t, got[0]); !strings.Contains(text, "Boat trip") || !strings.Contains(text, "Dot voting is open") {
		t.Errorf("the digest does not tell the day:\n%s", text)
	}
}
