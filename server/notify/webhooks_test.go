package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/activity"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/server/webhook"
	"github.com/corkboard/corkboard/storage"
)

// A window describes its first max changes, counts every one, and its
// seq range covers them all.
func TestHookBatchAdd(t *testing.T) {
	var b hookBatch
	for seq := uint64(1); seq <= 15; seq++ {
		ev := activity.Event{Element: "e", Action: activity.Added, Count: 1}
		b.add(acceptedBatch{changes: [][]activity.Event{{ev}}, count: 1, firstSeq: seq, lastSeq: seq}, 10, 100)
	}
	if b.kept != 10 || b.count != 15 || !b.truncated || b.firstSeq != 1 || b.lastSeq != 15 {
		t.Fatalf("kept %d, counted %d, truncated %v, seq %d..%d; want 10, 15, true, 1..15",
			b.kept, b.count, b.truncated, b.firstSeq, b.lastSeq)
	}
	if len(b.events) != 1 || b.events[0].Count != 10 {
		t.Fatalf("events %+v: want one, folding the 10 described changes", b.events)
	}
	// A batch already cut when it was described truncates the window; a
	// batch past the window's room is described up to it exactly.
	var c hookBatch
	c.add(acceptedBatch{changes: [][]activity.Event{{}, {}}, count: 5, truncated: true, firstSeq: 1, lastSeq: 5}, 10, 100)
	if !c.truncated || c.count != 5 || c.kept != 2 {
		t.Fatalf("%+v", c)
	}
	var d hookBatch
	d.add(acceptedBatch{changes: make([][]activity.Event, 8), count: 8, firstSeq: 1, lastSeq: 8}, 10, 100)
	d.add(acceptedBatch{changes: make([][]activity.Event, 22), count: 22, firstSeq: 9, lastSeq: 30}, 10, 100)
	if d.kept != 10 || d.count != 30 || !d.truncated {
		t.Fatalf("8 then 22 changes with room for 10: kept %d of %d, truncated %v", d.kept, d.count, d.truncated)
	}
}

// Events of later batches fold into the window's: one per element and
// action, authors in order of first action, counts summed, the latest
// text; other actions stay apart.
func TestMergeEvents(t *testing.T) {
	var b hookBatch
	b.merge([]activity.Event{{Element: "a", Action: activity.Added, By: []string{"u1"}, Count: 1, Text: "one", At: 5}}, 100)
	b.merge([]activity.Event{
		{Element: "a", Action: activity.Added, By: []string{"u2", "u1"}, Count: 2, Text: "two", At: 3},
		{Element: "a", Action: activity.Edited, By: []string{"u3"}, Count: 1},
		{Element: "b", Action: activity.Added, By: []string{"u1"}, Count: 1},
	}, 100)
	got := b.events
	if len(got) != 3 {
		t.Fatalf("%+v", got)
	}
	a := got[0]
	if a.Count != 3 || len(a.By) != 2 || a.By[0] != "u1" || a.By[1] != "u2" || a.Text != "two" || a.At != 5 {
		t.Fatalf("folded event %+v", a)
	}
	if got[1].Action != activity.Edited || got[2].Element != "b" {
		t.Fatalf("order %+v", got)
	}
}

// elementEvents are the events of one change that did action to n
// elements.
func elementEvents(n int, action activity.Action, text string) []activity.Event {
	evs := make([]activity.Event, n)
	for i := range evs {
		evs[i] = activity.Event{Element: fmt.Sprintf("el-%06d", i), Kind: "note", Action: action, By: []string{"u1"}, Count: 1, Text: text}
	}
	return evs
}

// A change of 40,000 bare creations (within a frame and the ops budget)
// folds into a window with one lookup per event, and the window keeps at
// most MaxEvents of them. Each event used to be found by a linear search
// through the window's: the one goroutine of every board's webhooks spent
// seconds on such a change (9 s at 40,000) while every other board's
// windows waited.
func TestHookBatchLargeChangeLinear(t *testing.T) {
	var lim WebhookLimits
	lim.Defaults()
	const n = 40000
	var b hookBatch
	b.add(acceptedBatch{changes: [][]activity.Event{elementEvents(n, activity.Added, ""), elementEvents(n, activity.Added, "")},
		count: 2, firstSeq: 1, lastSeq: 2}, lim.MaxBatch, lim.MaxEvents)
	if b.probes > 2*n {
		t.Fatalf("folding two changes of %d events took %d lookups, want at most one per event", n, b.probes)
	}
	if len(b.events) != lim.MaxEvents || !b.truncated {
		t.Fatalf("the window holds %d events (truncated %v), want MaxEvents = %d and truncated", len(b.events), b.truncated, lim.MaxEvents)
	}
	if b.events[0].Count != 2 {
		t.Fatalf("the second change did not fold into the first's events: %+v", b.events[0])
	}
}

// A window of 8,000 notes whose text is 120 '<' (720 bytes each in JSON)
// is 7 MB of events, more than the outbox takes (4 MiB): its deliveries
// were refused and none of the board's webhooks heard of those changes.
// Now each delivery's events stop within MaxBytes, say truncated, and the
// request fits in the outbox.
func TestWebhookBodyBounded(t *testing.T) {
	var lim WebhookLimits
	lim.Defaults()
	var b hookBatch
	b.add(acceptedBatch{changes: [][]activity.Event{elementEvents(8000, activity.Added, strings.Repeat("<", 120))},
		count: 1, firstSeq: 1, lastSeq: 1}, lim.MaxBatch, lim.MaxEvents)
	bodies := b.bodies(lim.MaxBytes)
	if len(bodies) != 1 {
		t.Fatalf("%d classes, want element only", len(bodies))
	}
	c := bodies[0]
	var evs []activity.Event
	if err := json.Unmarshal(c.events, &evs); err != nil {
		t.Fatalf("events are not JSON: %v", err)
	}
	if !c.truncated || len(evs) == 0 || len(evs) >= 8000 || c.changes != len(evs) {
		t.Fatalf("%d of 8000 events kept, %d changes, truncated %v; want some, not all, truncated", len(evs), c.changes, c.truncated)
	}
	// Queued as the worker queues a window, to a webhook with the
	// longest URL one may have: the outbox (on disk) takes it.
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ob := outbox.New(st, outbox.Config{Log: quiet(), Lanes: lim.OutboxLanes()})
	board := storage.BoardID{1}
	hook := account.Webhook{ID: "w1", Board: board.String(), URL: "https://hooks.example.com/" + strings.Repeat("h", 1970), Secret: strings.Repeat("s", 32)}
	nt := New(Config{Outbox: ob, Boards: oneHook{hook}, Log: quiet(), Now: time.Now, Webhooks: lim})
	nt.deliverBatch(t.Context(), board, &b)
	items, err := ob.Pending(t.Context())
	if err != nil || len(items) != 1 {
		t.Fatalf("%d deliveries queued (%v), want the window's one", len(items), err)
	}
	var req webhook.Request
	if err := json.Unmarshal(items[0].Payload, &req); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Events    []activity.Event `json:"events"`
		Truncated bool             `json:"truncated"`
	}
	if err := json.Unmarshal(req.Body, &got); err != nil || !got.Truncated || len(got.Events) != len(evs) {
		t.Fatalf("queued body: %d events, truncated %v (%v)", len(got.Events), got.Truncated, err)
	}
	t.Logf("%d of 8000 events in a payload of %d bytes", len(evs), len(items[0].Payload))
}

// oneHook is the board listing of a board with one webhook.
type oneHook struct{ wh account.Webhook }

func (h oneHook) All(context.Context) ([]meta.Board, error) { return nil, nil }
func (h oneHook) Update(context.Context, string, func(*meta.Board) error) error {
	return nil
}
func (h oneHook) Members(context.Context, storage.BoardID) ([]account.Member, error) { return nil, nil }
func (h oneHook) Webhooks(context.Context, storage.BoardID) []account.Webhook {
	return []account.Webhook{h.wh}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
