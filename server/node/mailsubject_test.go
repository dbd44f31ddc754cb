package node_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
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

// 199 anonymous guests of a public board (with the owner, the replica
// ids one client address may claim in an hour) each add three notes and three comments,
// and move and recolour three of the owner's notes, with texts of 120 "<":
// every member's notification listed them all, with their previews, and
// came to more than the 4 MiB the outbox takes in an item (an HTML part's
// "&lt;" is 9 bytes of JSON). Its e-mail was refused, and the notifier's
// pass over the board stopped there at every pass: nobody on the board
// was e-mailed again. A notification now lists the first people by name
// and counts the rest.
func TestManyGuestsDoNotStopABoardsEmail(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	const guests = 199 // and the owner: the 200 new replica ids one address may claim an hour
	e := newAsyncEnv(t, start)
	maya := e.signIn("maya@example.com")
	e.must(200, "PATCH", "/v1/me", maya, map[string]any{"name": "Maya", "tz": "UTC"})
	board := boardID(t, e.must(201, "POST", "/v1/boards", maya, map[string]any{"name": "Workshop"}))
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", maya, map[string]any{"mode": "each", "batchMinutes": 1})
	lt := strings.Repeat("<", 120)
	owner := e.dial(board, maya, 0x5a01)
	var mine [4]crdt.ElementID
	for i := range mine {
		mine[i] = newID(fmt.Sprintf("maya-%d", i))
		mustEdit(t, owner, e.clk.Now(), noteTx(mine[i], lt))
	}
	owner.Close()

	u := "ws" + strings.TrimPrefix(e.tn.base, "http") + "/v1/boards/" + board + "/ws"
	for g := range guests {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, client.Options{URL: u, Replica: crdt.ReplicaID(0x7000 + g), Header: http.Header{}})
		cancel()
		if err != nil {
			t.Fatalf("guest %d: %v", g, err)
		}
		me := c.Welcome().User.ID
		mustEdit(t, c, e.clk.Now(), func(tx *crdt.Tx) error {
			for k := range 3 {
				if err := noteTx(newID(fmt.Sprintf("g%03d-note-%d", g, k)), lt)(tx); err != nil {
					return err
				}
				if err := commentTx(newID(fmt.Sprintf("g%03d-comm-%d", g, k)), mine[0], me, lt)(tx); err != nil {
					return err
				}
				if err := tx.Set(mine[k+1], "color", crdt.String("blue")); err != nil {
					return err
				}
				if err := tx.Set(mine[k+1], "x", crdt.Number(float64(g))); err != nil {
					return err
				}
			}
			return nil
		})
		c.Close()
	}

	e.clk.Set(start.Add(5 * time.Minute))
	if err := e.tn.n.RunNotifications(context.Background()); err != nil {
		t.Fatalf("notifier pass: %v", err)
	}
	msgs := to(e.deliver(), "maya@example.com")
	if len(msgs) != 1 {
		t.Fatalf("%d e-mails to Maya, want 1", len(msgs))
	}
	if text := textOf(t, msgs[0]); !strings.Contains(text, "other people") {
		t.Errorf("the e-mail does not count the people it leaves out:\n%.2000s", text)
	}
}
