package notify

import (
	"testing"

	"github.com/corkboard/corkboard/server/activity"
)

// A window describes its first max changes, counts every one, and its
// seq range covers them all.
func TestHookBatchAdd(t *testing.T) {
	var b hookBatch
	for seq := uint64(1); seq <= 15; seq++ {
		ev := activity.Event{Element: "e", Action: activity.Added, Count: 1}
		b.add(acceptedBatch{changes: [][]activity.Event{{ev}}, count: 1, firstSeq: seq, lastSeq: seq}, 10)
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
	c.add(acceptedBatch{changes: [][]activity.Event{{}, {}}, count: 5, truncated: true, firstSeq: 1, lastSeq: 5}, 10)
	if !c.truncated || c.count != 5 || c.kept != 2 {
		t.Fatalf("%+v", c)
	}
	var d hookBatch
	d.add(acceptedBatch{changes: make([][]activity.Event, 8), count: 8, firstSeq: 1, lastSeq: 8}, 10)
	d.add(acceptedBatch{changes: make([][]activity.Event, 22), count: 22, firstSeq: 9, lastSeq: 30}, 10)
	if d.kept != 10 || d.count != 30 || !d.truncated {
		t.Fatalf("8 then 22 changes with room for 10: kept %d of %d, truncated %v", d.kept, d.count, d.truncated)
	}
}

// Events of later batches fold into the window's: one per element and
// action, authors in order of first action, counts summed, the latest
// text; other actions stay apart.
func TestMergeEvents(t *testing.T) {
	into := []activity.Event{{Element: "a", Action: activity.Added, By: []string{"u1"}, Count: 1, Text: "one", At: 5}}
	got := mergeEvents(into, []activity.Event{
		{Element: "a", Action: activity.Added, By: []string{"u2", "u1"}, Count: 2, Text: "two", At: 3},
		{Element: "a", Action: activity.Edited, By: []string{"u3"}, Count: 1},
		{Element: "b", Action: activity.Added, By: []string{"u1"}, Count: 1},
	})
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
