package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/storage"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openStore(t testing.TB, dir string) *storage.Pebble {
	t.Helper()
	st, err := storage.OpenPebble(dir, storage.PebbleOptions{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// recorder is a deliverer that records what it got and fails as told.
type recorder struct {
	mu   sync.Mutex
	got  []string
	fail func(it Item) error // nil: succeed
}

func (r *recorder) Deliver(ctx context.Context, it Item) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(it); err != nil {
			return err
		}
	}
	r.got = append(r.got, it.ID)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(slices.Values(r.got))
}

func newTestOutbox(t *testing.T, st storage.Store, clk *clock, cfg Config) (*Outbox, *recorder) {
	t.Helper()
	cfg.Now = clk.Now
	cfg.Log = quietLog()
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	o := New(st, cfg)
	r := &recorder{}
	o.Register("test", r)
	return o, r
}

func item(id string) Item { return Item{ID: id, Kind: "test", Payload: []byte(`{"n":"` + id + `"}`)} }

func TestDeliverAndDedupe(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := newClock()
	o, r := newTestOutbox(t, st, clk, Config{})

	if err := o.Enqueue(ctx, item("a"), item("b"), item("a")); err != nil {
		t.Fatal(err)
	}
	if p, d, err := o.Counts(ctx); p != 2 || d != 0 || err != nil {
		t.Fatalf("Counts = %d pending, %d dead, %v", p, d, err)
	}
	p, err := o.Pending(ctx)
	if err != nil || len(p) != 2 {
		t.Fatalf("pending = %v, %v; want a and b", p, err)
	}
	if p[0].Created != clk.Now().UnixMilli() || p[0].NextAt != clk.Now().UnixMilli() || string(p[0].Payload) != `{"n":"a"}` {
		t.Fatalf("stored item %+v", p[0])
	}
	// Pending: a second enqueue is a no-op.
	if err := o.Enqueue(ctx, item("a")); err != nil {
		t.Fatal(err)
	}
	n, err := o.RunDue(ctx)
	if err != nil || n != 2 {
		t.Fatalf("RunDue = %d, %v; want 2", n, err)
	}
	if got := r.ids(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("delivered %v", got)
	}
	if p, _ := o.Pending(ctx); len(p) != 0 {
		t.Fatalf("pending after delivery: %v", p)
	}
	// Delivered: a repeat within KeepDone is a no-op too.
	clk.Advance(6 * 24 * time.Hour)
	if err := o.Enqueue(ctx, item("a")); err != nil {
		t.Fatal(err)
	}
	if n, _ := o.RunDue(ctx); n != 0 {
		t.Fatalf("a repeated enqueue within KeepDone was delivered again")
	}
	// After KeepDone the marker is pruned and the ID is new again.
	clk.Advance(2 * 24 * time.Hour)
	if _, err := o.RunDue(ctx); err != nil { // prunes
		t.Fatal(err)
	}
	if _, err := st.GetMeta(ctx, NSDone, []byte("a")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("done marker of a not pruned after KeepDone: %v", err)
	}
	if err := o.Enqueue(ctx, item("a")); err != nil {
		t.Fatal(err)
	}
	if n, _ := o.RunDue(ctx); n != 1 {
		t.Fatalf("an ID past KeepDone was not queued again")
	}
	s := o.Stats()
	if s.Enqueued != 3 || s.Delivered != 3 || s.Skipped != 3 || s.Dead != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRetryWithBackoff(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := newClock()
	o, r := newTestOutbox(t, st, clk, Config{MinBackoff: time.Minute, MaxBackoff: 10 * time.Minute})
	failures := 5
	r.fail = func(it Item) error {
		if failures > 0 {
			failures--
			return fmt.Errorf("relay down (%d left)", failures)
		}
		return nil
	}
	if err := o.Enqueue(ctx, item("x")); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 5; attempt++ {
		before := clk.Now()
		if n, err := o.RunDue(ctx); n != 0 || err != nil {
			t.Fatalf("attempt %d: RunDue = %d, %v; want a failure recorded", attempt, n, err)
		}
		p, _ := o.Pending(ctx)
		if len(p) != 1 || p[0].Attempts != attempt || p[0].LastError == "" {
			t.Fatalf("attempt %d: pending %+v", attempt, p)
		}
		want := min(time.Minute<<(attempt-1), 10*time.Minute)
		delay := time.Duration(p[0].NextAt-before.UnixMilli()) * time.Millisecond
		if delay < want/2 || delay > want {
			t.Fatalf("attempt %d: backoff %v, want within [%v, %v]", attempt, delay, want/2, want)
		}
		// Not due before NextAt.
		clk.Advance(delay - time.Millisecond)
		if n, _ := o.RunDue(ctx); n != 0 {
			t.Fatalf("attempt %d: delivered before NextAt", attempt)
		}
		if p2, _ := o.Pending(ctx); p2[0].Attempts != attempt {
			t.Fatalf("attempt %d: attempted before NextAt", attempt)
		}
		clk.Advance(time.Millisecond)
	}
	if n, err := o.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("after the outage: RunDue = %d, %v", n, err)
	}
	if got := r.ids(); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("delivered %v", got)
	}
	if s := o.Stats(); s.Retried != 5 || s.Delivered != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDeadLetters(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := newClock()
	o, r := newTestOutbox(t, st, clk, Config{MaxAttempts: 3, MinBackoff: time.Second})
	broken := true
	r.fail = func(it Item) error {
		switch {
		case it.ID == "perm":
			return Permanent(errors.New("550 no such user"))
		case it.ID == "flaky" && broken:
			return errors.New("451 try later")
		}
		return nil
	}
	if err := o.Enqueue(ctx, item("perm"), item("flaky"), Item{ID: "nokind", Kind: "other"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := o.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
	}
	dead, err := o.Dead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 3 {
		t.Fatalf("dead = %+v, want 3 items", dead)
	}
	byID := map[string]Item{}
	for _, d := range dead {
		byID[d.ID] = d
	}
	if p, d, err := o.Counts(ctx); p != 0 || d != 3 || err != nil {
		t.Fatalf("Counts = %d pending, %d dead, %v", p, d, err)
	}
	if d := byID["perm"]; d.Attempts != 1 || d.LastError != "550 no such user" {
		t.Fatalf("permanent failure: %+v (want dead after one attempt)", d)
	}
	if d := byID["flaky"]; d.Attempts != 3 || d.LastError != "451 try later" {
		t.Fatalf("transient failure: %+v (want dead after MaxAttempts)", d)
	}
	if d := byID["nokind"]; d.Attempts != 3 || d.LastError == "" {
		t.Fatalf("no deliverer: %+v", d)
	}
	if p, _ := o.Pending(ctx); len(p) != 0 {
		t.Fatalf("dead items still pending: %v", p)
	}
	// A dead ID is not queued again by a producer...
	if err := o.Enqueue(ctx, item("flaky")); err != nil {
		t.Fatal(err)
	}
	if p, _ := o.Pending(ctx); len(p) != 0 {
		t.Fatalf("a dead ID was queued again: %v", p)
	}
	// ...but an operator can retry it.
	broken = false
	if err := o.Retry(ctx, "flaky"); err != nil {
		t.Fatal(err)
	}
	if err := o.Retry(ctx, "nothing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Retry of an unknown id: %v", err)
	}
	if n, err := o.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("RunDue after Retry = %d, %v", n, err)
	}
	if got := r.ids(); !slices.Equal(got, []string{"flaky"}) {
		t.Fatalf("delivered %v", got)
	}
	if s := o.Stats(); s.Dead != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// A producer's own write and its items land in one batch, and the items
// survive a reopen of the store.
func TestWritesBatchAndReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st := openStore(t, dir)
	clk := newClock()
	o, _ := newTestOutbox(t, st, clk, Config{})
	writes, err := o.Writes(item("digest/1"), item("digest/2"))
	if err != nil {
		t.Fatal(err)
	}
	writes = append(writes, storage.MetaWrite{NS: "cursor", Key: []byte("u1"), Val: []byte("42")})
	if err := st.ApplyMeta(ctx, writes); err != nil {
		t.Fatal(err)
	}
	o.Kick()
	// Invalid items fail the whole call.
	for _, bad := range []Item{{Kind: "test"}, {ID: "x"}, {ID: "x", Kind: "Bad Kind"}, {ID: string([]byte{0xff}), Kind: "test"}} {
		if w, err := o.Writes(item("ok"), bad); !errors.Is(err, ErrInvalid) || w != nil {
			t.Fatalf("Writes(%+v) = %v, %v; want ErrInvalid", bad, w, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, dir)
	defer st.Close()
	o, r := newTestOutbox(t, st, clk, Config{})
	if n, err := o.RunDue(ctx); n != 2 || err != nil {
		t.Fatalf("after reopen: RunDue = %d, %v", n, err)
	}
	if got := r.ids(); !slices.Equal(got, []string{"digest/1", "digest/2"}) {
		t.Fatalf("delivered %v", got)
	}
	if v, err := st.GetMeta(ctx, "cursor", []byte("u1")); err != nil || string(v) != "42" {
		t.Fatalf("producer's write: %q, %v", v, err)
	}
}

// An undecodable stored item is moved aside, raw, and does not stop the
// others.
func TestCorruptItemQuarantined(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := newClock()
	o, r := newTestOutbox(t, st, clk, Config{})
	if err := st.PutMeta(ctx, NSPending, []byte("junk"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, item("good")); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Pending(ctx); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Pending with a corrupt item: %v, want ErrCorrupt", err)
	}
	if n, err := o.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("RunDue = %d, %v", n, err)
	}
	if got := r.ids(); !slices.Equal(got, []string{"good"}) {
		t.Fatalf("delivered %v", got)
	}
	dead, err := o.Dead(ctx)
	if err != nil || len(dead) != 1 || dead[0].Kind != "corrupt" || string(dead[0].Payload) != "{not json" {
		t.Fatalf("dead = %+v, %v", dead, err)
	}
	if p, err := o.Pending(ctx); err != nil || len(p) != 0 {
		t.Fatalf("pending = %v, %v", p, err)
	}
}

// Run delivers what is enqueued while it runs, and on cancellation returns
// after its attempts ended, without counting the cut-short one as failed.
func TestRunAndShutdown(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	o := New(st, Config{Log: quietLog(), Seed: 1})
	got := make(chan string, 10)
	started := make(chan struct{})
	o.Register("test", DelivererFunc(func(ctx context.Context, it Item) error {
		if it.ID == "slow" {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}
		got <- it.ID
		return nil
	}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		o.Run(ctx)
		close(done)
	}()
	if err := o.Enqueue(t.Context(), item("one")); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "one" {
		t.Fatalf("got %q", id)
	}
	if err := o.Enqueue(t.Context(), item("slow"), item("two")); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "two" {
		t.Fatalf("got %q", id)
	}
	<-started
	cancel()
	<-done
	p, err := o.Pending(t.Context())
	if err != nil || len(p) != 1 || p[0].ID != "slow" || p[0].Attempts != 0 {
		t.Fatalf("after shutdown pending = %+v, %v; want slow untouched", p, err)
	}
}

// A deliverer that panics fails that attempt only.
func TestDelivererPanic(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	defer st.Close()
	o, _ := newTestOutbox(t, st, newClock(), Config{})
	o.Register("boom", DelivererFunc(func(context.Context, Item) error { panic("bad payload") }))
	if err := o.Enqueue(ctx, Item{ID: "p", Kind: "boom"}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ := o.Pending(ctx)
	if len(p) != 1 || p[0].Attempts != 1 || p[0].LastError != "deliverer panicked: bad payload" {
		t.Fatalf("pending %+v", p)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("x")
	if Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
	p := fmt.Errorf("wrapped: %w", Permanent(base))
	if !IsPermanent(p) || !errors.Is(p, base) || IsPermanent(base) {
		t.Fatal("Permanent does not wrap as documented")
	}
}

// staleScanStore hands ScanMeta's callback a view read before a hook ran:
// what a scan racing with an ending attempt sees.
type staleScanStore struct {
	storage.Store
	beforeCallback func()
}

func (s *staleScanStore) ScanMeta(ctx context.Context, ns string, prefix []byte, fn func(k, v []byte) error) error {
	type kv struct{ k, v []byte }
	var all []kv
	if err := s.Store.ScanMeta(ctx, ns, prefix, func(k, v []byte) error {
		all = append(all, kv{k, v})
		return nil
	}); err != nil {
		return err
	}
	if h := s.beforeCallback; h != nil && ns == NSPending {
		s.beforeCallback = nil
		h()
	}
	for _, e := range all {
		if err := fn(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}

// A pass whose scan read an item just before another pass's attempt
// delivered and released it must not deliver it again.
func TestStaleScanDoesNotRedeliver(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	defer st.Close()
	stale := &staleScanStore{Store: st}
	o := New(stale, Config{Log: quietLog(), Seed: 1, Concurrency: 1})
	var mu sync.Mutex
	deliveries := 0
	entered := make(chan struct{})
	unblock := make(chan struct{})
	o.Register("test", DelivererFunc(func(ctx context.Context, it Item) error {
		mu.Lock()
		deliveries++
		first := deliveries == 1
		mu.Unlock()
		if first {
			close(entered)
			<-unblock
		}
		return nil
	}))
	if err := o.Enqueue(ctx, item("a")); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan int)
	go func() {
		n, _ := o.RunDue(ctx)
		firstDone <- n
	}()
	<-entered
	var first int
	stale.beforeCallback = func() {
		close(unblock)
		first = <-firstDone
	}
	second, err := o.RunDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first != 1 || second != 0 || deliveries != 1 {
		t.Fatalf("passes delivered %d and %d, deliverer called %d times; want exactly one delivery", first, second, deliveries)
	}
}
