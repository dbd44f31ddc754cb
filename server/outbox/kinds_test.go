package outbox

import (
	"errors"
	"maps"
	"testing"
)

// The counters and the queue lengths by kind (for the metrics' kind
// label): each outcome lands under its item's kind, a corrupt item under
// "corrupt", and the sums are Stats.
func TestStatsAndCountsByKind(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := newClock()
	o, _ := newTestOutbox(t, st, clk, Config{MaxAttempts: 3})
	hooks := &recorder{fail: func(it Item) error {
		if it.ID == "w-refused" {
			return Permanent(errors.New("410 gone"))
		}
		if it.ID == "w-later" {
			return errors.New("503")
		}
		return nil
	}}
	o.Register("webhook", hooks)
	mail := func(id string) Item { it := item(id); it.Kind = "mail"; return it }
	hook := func(id string) Item { it := item(id); it.Kind = "webhook"; return it }
	o.Register("mail", &recorder{})
	if err := o.Enqueue(ctx, mail("m1"), mail("m2"), mail("m1"), hook("w-ok"), hook("w-refused"), hook("w-later")); err != nil {
		t.Fatal(err)
	}
	if _, err := o.EnqueueCapped(ctx, "w-", 1, hook("w-new")); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeta(ctx, NSPending, []byte("junk"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	// Before any attempt: counts by kind, the junk under "corrupt".
	pending, dead, err := o.CountsByKind(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"mail": 2, "webhook": 1, "corrupt": 1}; !maps.Equal(pending, want) || len(dead) != 0 {
		t.Fatalf("pending %v dead %v, want %v and none", pending, dead, want)
	}
	// The cap left only w-new of the webhooks: the three older were
	// dropped. Deliver: both mails and w-new go, the junk is quarantined.
	if _, err := o.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	got := o.StatsByKind()
	want := map[string]Stats{
		"mail":    {Enqueued: 2, Skipped: 1, Delivered: 2},
		"webhook": {Enqueued: 4, Delivered: 1, Dropped: 3},
		"corrupt": {Dead: 1},
	}
	if !maps.Equal(got, want) {
		t.Fatalf("StatsByKind %+v, want %+v", got, want)
	}
	var sum Stats
	for _, s := range got {
		sum.Enqueued += s.Enqueued
		sum.Skipped += s.Skipped
		sum.Delivered += s.Delivered
		sum.Retried += s.Retried
		sum.Dead += s.Dead
		sum.Dropped += s.Dropped
	}
	if sum != o.Stats() {
		t.Fatalf("sum by kind %+v, Stats %+v", sum, o.Stats())
	}
	// A refused and a retried webhook.
	if err := o.Enqueue(ctx, hook("x-refused"), hook("x-later")); err != nil {
		t.Fatal(err)
	}
	hooks.fail = func(it Item) error {
		if it.ID == "x-refused" {
			return Permanent(errors.New("410 gone"))
		}
		return errors.New("503")
	}
	if _, err := o.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if s := o.StatsByKind()["webhook"]; s.Dead != 1 || s.Retried != 1 {
		t.Fatalf("webhook stats %+v, want one dead and one retried", s)
	}
	pending, dead, err = o.CountsByKind(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(pending, map[string]int{"webhook": 1}) || !maps.Equal(dead, map[string]int{"webhook": 1, "corrupt": 1}) {
		t.Fatalf("pending %v dead %v", pending, dead)
	}
}
