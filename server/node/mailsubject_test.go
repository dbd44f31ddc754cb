package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// Three people who may edit a public board, each with a display name of
// 80 four-byte characters (within a name's bounds), make a note each. The
// subject of the members' notification named all three, over the 1,000
// bytes a subject may have: the mail package refused the message, the
// notifier's pass over the board stopped there at every pass, and no
// member of the board was sent anything again. The subject now shortens
// the board's name and people's names, and the members are told.
func TestLongNamesDoNotStopABoardsEmail(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start)
	maya := e.signIn("maya@example.com")
	e.must(200, "PATCH", "/v1/me", maya, map[string]any{"name": "Maya", "tz": "UTC"})
	ben := e.signIn("ben@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", maya, map[string]any{"name": "Team offsite planning"}))
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", maya, map[string]any{"mode": "each", "batchMinutes": 1})
	// Ben comes in by the board's public role, chooses notifications too,
	// and is told after Maya in the pass.
	e.dial(board, ben, 0x5b01).Close()
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", ben, map[string]any{"mode": "each", "batchMinutes": 1})

	for i, letter := range []string{"𝔸", "𝔹", "𝔻"} {
		who := e.signIn("attacker" + string(rune('a'+i)) + "@example.com")
		e.must(200, "PATCH", "/v1/me", who, map[string]any{"name": strings.Repeat(letter, 80)})
		c := e.dial(board, who, crdt.ReplicaID(0x6a01+i))
		mustEdit(t, c, e.clk.Now(), noteTx(newID("note-"+string(rune('a'+i))), "spam"))
	}

	e.clk.Set(start.Add(5 * time.Minute))
	if err := e.tn.n.RunNotifications(context.Background()); err != nil {
		t.Fatalf("notifier pass: %v", err)
	}
	got := e.deliver()
	for _, who := range []string{"maya@example.com", "ben@example.com"} {
		msgs := to(got, who)
		if len(msgs) != 1 {
			t.Fatalf("%d e-mails to %s, want 1", len(msgs), who)
		}
		if s := msgs[0].Header.Get("Subject"); s == "" {
			t.Errorf("no subject to %s", who)
		}
		if text := textOf(t, msgs[0]); !strings.Contains(text, "spam") {
			t.Errorf("the e-mail to %s does not tell the notes:\n%s", who, text)
		}
	}
}
