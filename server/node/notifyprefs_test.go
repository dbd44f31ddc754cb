package node_test

import (
	"strings"
	"testing"
	"time"
)

// A visitor of a public board who chooses notifications with the
// preferences every new member starts with (a digest at 8:00) becomes a
// member, and gets the digest. Their preferences were taken for unchanged
// (the membership they were about to get has them), so no record of what
// they were told was started, and no e-mail ever came.
func TestDefaultPrefsOfANewMemberAreKept(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start)
	olga := e.signIn("olga@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", olga, map[string]any{"name": "Open retro"}))
	dana := e.signIn("dana@example.com")
	e.must(200, "PATCH", "/v1/me", dana, map[string]any{"name": "Dana", "tz": "UTC"})
	e.dial(board, dana, 0x7d01).Close()
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", dana, map[string]any{"mode": "digest", "digestHour": 8})

	oc := e.dial(board, olga, 0x7c01)
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("open-idea"), "an open idea"))
	got := to(e.notify(time.Date(2026, 11, 25, 8, 5, 0, 0, time.UTC)), "dana@example.com")
	if len(got) != 1 || !strings.Contains(textOf(t, got[0]), "an open idea") {
		t.Fatalf("%d e-mails to Dana the next morning, want her digest telling the note", len(got))
	}
}
