package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
)

// groupOfTest is a Lane.Group: "g/<name>/" of an ID "g/<name>/<n>".
func groupOfTest(id string) string {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[0] + "/" + parts[1] + "/"
}

// Finding: dead letters were never removed and kept their whole payload,
// so a board owner whose receivers refuse everything filled the store (up
// to 30 dead letters of up to 4 MiB per 2 s window). A group keeps its
// newest DeadPerGroup, cut by DeadPayload; other groups keep theirs, and
// the count the metrics read follows without a scan.
func TestDeadLettersBounded(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st := openStore(t, dir)
	clk := newClock()
	lanes := map[string]Lane{"hook": {Group: groupOfTest, DeadPerGroup: 3,
		DeadPayload: func(it Item) []byte { return []byte(`{"cut":true}`) }}}
	o, _ := newTestOutbox(t, st, clk, Config{Lanes: lanes})
	o.Register("hook", DelivererFunc(func(_ context.Context, it Item) error {
		return Permanent(errors.New("connection refused"))
	}))
	big := bytes.Repeat([]byte("x"), 64<<10)
	var items []Item
	for i := range 20 {
		items = append(items, Item{ID: fmt.Sprintf("g/a/%03d", i), Kind: "hook", Payload: big})
	}
	items = append(items, Item{ID: "g/b/000", Kind: "hook", Payload: big}, Item{ID: "g/b/001", Kind: "hook", Payload: big})
	if err := o.Enqueue(ctx, items...); err != nil {
		t.Fatal(err)
	}
	// Several passes, the later ones failing items that sort before the
	// group's kept dead letters: those are not kept.
	if _, err := o.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, Item{ID: "g/a/000x", Kind: "hook", Payload: big}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	dead, err := o.Dead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range dead {
		ids = append(ids, it.ID)
		if string(it.Payload) != `{"cut":true}` {
			t.Fatalf("dead letter %s keeps %d bytes of payload", it.ID, len(it.Payload))
		}
	}
	if want := "g/a/017 g/a/018 g/a/019 g/b/000 g/b/001"; strings.Join(ids, " ") != want {
		t.Fatalf("dead letters %v, want %s", ids, want)
	}
	if s := o.Stats(); s.Dead != 23 {
		t.Fatalf("dead counted %d, want every one that failed for good (23)", s.Dead)
	}
	_, counts, err := o.CountsByKind(ctx)
	if err != nil || !maps.Equal(counts, map[string]int{"hook": 5}) {
		t.Fatalf("dead letters by kind %v (%v), want 5 hooks", counts, err)
	}
	// A restart counts them again from the store.
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	o2, _ := newTestOutbox(t, st, clk, Config{Lanes: lanes})
	if _, counts, err := o2.CountsByKind(ctx); err != nil || !maps.Equal(counts, map[string]int{"hook": 5}) {
		t.Fatalf("after a restart: dead letters by kind %v (%v), want 5 hooks", counts, err)
	}
}
