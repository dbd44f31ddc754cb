package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/storage"
)

// destItem is an item of kind "hook" for destination dest.
func destItem(id, dest string) Item {
	return Item{ID: id, Kind: "hook", Payload: []byte(`{"dest":"` + dest + `"}`)}
}

func destOf(it Item) string {
	var d struct{ Dest string }
	if err := json.Unmarshal(it.Payload, &d); err != nil {
		return ""
	}
	return d.Dest
}

// A kind whose receiver hangs holds the slots of its own lane only: the
// items of another kind are delivered meanwhile, and the hung lane never
// runs more than its concurrency.
func TestLanesSeparate(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	o := New(st, Config{Log: quietLog(), Seed: 1, Concurrency: 4, Lanes: map[string]Lane{"hook": {Concurrency: 2}}})
	var mu sync.Mutex
	hung, most := 0, 0
	started := make(chan struct{}, 16)
	o.Register("hook", DelivererFunc(func(ctx context.Context, it Item) error {
		mu.Lock()
		hung++
		most = max(most, hung)
		mu.Unlock()
		started <- struct{}{}
		<-ctx.Done()
		mu.Lock()
		hung--
		mu.Unlock()
		return ctx.Err()
	}))
	mailed := make(chan string, 16)
	o.Register("mail", DelivererFunc(func(ctx context.Context, it Item) error {
		mailed <- it.ID
		return nil
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	var hooks []Item
	for i := range 10 {
		hooks = append(hooks, Item{ID: fmt.Sprintf("hook-%d", i), Kind: "hook", Payload: []byte(`{}`)})
	}
	if err := o.Enqueue(ctx, hooks...); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		<-started
	}
	if err := o.Enqueue(ctx, Item{ID: "m1", Kind: "mail", Payload: []byte(`{}`)}, Item{ID: "m2", Kind: "mail", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case id := <-mailed:
			got = append(got, id)
		case <-ctx.Done():
			t.Fatalf("mail delivered while a lane hangs: %v", got)
		}
	}
	mu.Lock()
	m := most
	mu.Unlock()
	if m != 2 {
		t.Fatalf("%d hung deliveries at once, the lane has 2 slots", m)
	}
	cancel()
	<-done
}

// Per destination: at most PerDestination attempts at once, and a
// destination that fails is backed off as a whole: its other items wait,
// spending no attempt, while other destinations are delivered; a success
// clears it.
func TestDestinationBackoff(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := newClock()
	o := New(st, Config{Now: clk.Now, Log: quietLog(), Seed: 1, MinBackoff: time.Minute, MaxBackoff: time.Hour,
		Lanes: map[string]Lane{"hook": {Concurrency: 8, PerDestination: 1, Destination: destOf}}})
	var mu sync.Mutex
	attempts := map[string]int{}
	busy := map[string]int{}
	var overlap []string
	down := true
	o.Register("hook", DelivererFunc(func(ctx context.Context, it Item) error {
		d := destOf(it)
		mu.Lock()
		attempts[d]++
		if busy[d]++; busy[d] > 1 {
			overlap = append(overlap, it.ID)
		}
		fail := down && d == "a"
		mu.Unlock()
		defer func() {
			mu.Lock()
			busy[d]--
			mu.Unlock()
		}()
		if fail {
			return errors.New("a: connection timed out")
		}
		return nil
	}))
	ctx := t.Context()
	if err := o.Enqueue(ctx, destItem("a1", "a"), destItem("a2", "a"), destItem("a3", "a"), destItem("b1", "b"), destItem("b2", "b")); err != nil {
		t.Fatal(err)
	}
	n, err := o.RunDue(ctx)
	if err != nil || n != 2 {
		t.Fatalf("first pass delivered %d, %v; want b1 and b2", n, err)
	}
	if attempts["a"] != 1 {
		t.Fatalf("destination a attempted %d times in a pass; it should be backed off after the first failure", attempts["a"])
	}
	if _, ok := o.BackedOff("hook")["a"]; !ok {
		t.Fatalf("backed off: %v, want a", o.BackedOff("hook"))
	}
	// Its other items spent no attempt.
	pending, _ := o.Pending(ctx)
	for _, it := range pending {
		if it.ID != "a1" && it.Attempts != 0 {
			t.Fatalf("%s has %d attempts while its destination was backed off", it.ID, it.Attempts)
		}
	}
	// Nothing is started before the backoff ends.
	clk.Advance(10 * time.Second)
	if n, _ := o.RunDue(ctx); n != 0 || attempts["a"] != 1 {
		t.Fatalf("during the backoff: %d delivered, %d attempts to a", n, attempts["a"])
	}
	// After it, one attempt again, which fails: backed off for longer.
	clk.Advance(2 * time.Minute)
	o.RunDue(ctx)
	if attempts["a"] != 2 {
		t.Fatalf("after the backoff: %d attempts to a, want 2", attempts["a"])
	}
	// The destination comes back: everything is delivered, one at a time.
	mu.Lock()
	down = false
	mu.Unlock()
	clk.Advance(3 * time.Hour)
	if n, err := o.RunDue(ctx); n != 3 || err != nil {
		t.Fatalf("after recovery: %d delivered, %v", n, err)
	}
	if b := o.BackedOff("hook"); len(b) != 0 {
		t.Fatalf("still backed off after a success: %v", b)
	}
	if len(overlap) != 0 {
		t.Fatalf("attempts to one destination overlapped: %v", overlap)
	}
}

// EnqueueCapped keeps at most limit items under its prefix, dropping the
// oldest (smallest IDs), and leaves other items alone.
func TestEnqueueCapped(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	o, _ := newTestOutbox(t, st, newClock(), Config{})
	ctx := t.Context()
	if err := o.Enqueue(ctx, item("h/other")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := o.EnqueueCapped(ctx, "g/", 3, item(fmt.Sprintf("g/%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Five at once over a full group: the first two new ones go too.
	var batch []Item
	for i := 5; i < 10; i++ {
		batch = append(batch, item(fmt.Sprintf("g/%d", i)))
	}
	dropped, err := o.EnqueueCapped(ctx, "g/", 3, batch...)
	if err != nil || dropped != 5 {
		t.Fatalf("batch: dropped %d, %v; want 5 (3 old, 2 new)", dropped, err)
	}
	pending, _ := o.Pending(ctx)
	var ids []string
	for _, it := range pending {
		ids = append(ids, it.ID)
	}
	if want := []string{"g/7", "g/8", "g/9", "h/other"}; !slices.Equal(ids, want) {
		t.Fatalf("pending %v, want %v", ids, want)
	}
	if s := o.Stats(); s.Dropped != 7 {
		t.Fatalf("Stats.Dropped = %d, want 7", s.Dropped)
	}
	if _, err := o.EnqueueCapped(ctx, "g/", 3, item("x/1")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an item outside the prefix: %v", err)
	}
}

// A pass reads only the header of each item (decodeHeader); an item whose
// header decodes but whose payload does not is still moved to the dead
// letters, when its attempt would start, and nothing is delivered.
func TestCorruptPayloadQuarantined(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	o, r := newTestOutbox(t, st, newClock(), Config{})
	ctx := t.Context()
	if err := st.PutMeta(ctx, NSPending, []byte("q"), []byte(`{"v":1,"id":"q","kind":"test","next_at":1,"created":1,"payload":"!!"}`)); err != nil {
		t.Fatal(err)
	}
	if n, err := o.RunDue(ctx); n != 0 || err != nil {
		t.Fatalf("RunDue = %d, %v", n, err)
	}
	dead, _ := o.Dead(ctx)
	pending, _ := o.Pending(ctx)
	if len(dead) != 1 || dead[0].ID != "q" || dead[0].Kind != "corrupt" || len(pending) != 0 || len(r.ids()) != 0 {
		t.Fatalf("dead %+v, pending %+v, delivered %v; want q quarantined", dead, pending, r.ids())
	}
}

// scanCounter counts the passes over the pending namespace.
type scanCounter struct {
	storage.Store
	scans atomic.Int64
}

func (s *scanCounter) ScanMeta(ctx context.Context, ns string, prefix []byte, fn func(k, v []byte) error) error {
	if ns == NSPending && prefix == nil {
		s.scans.Add(1)
	}
	return s.Store.ScanMeta(ctx, ns, prefix, fn)
}

// An enqueued item is started without a pass over the queue: a large
// backlog of another kind does not stand between an e-mail and its
// delivery.
func TestEnqueueStartsWithoutScan(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	sc := &scanCounter{Store: st}
	o := New(sc, Config{Log: quietLog(), Seed: 1})
	hung := make(chan struct{})
	o.Register("hook", DelivererFunc(func(ctx context.Context, it Item) error {
		close(hung)
		<-ctx.Done()
		return ctx.Err()
	}))
	mailed := make(chan int64, 1)
	o.Register("mail", DelivererFunc(func(ctx context.Context, it Item) error {
		mailed <- sc.scans.Load()
		return nil
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// One attempt that never ends: no attempt ending asks for a pass.
	if err := o.Enqueue(ctx, Item{ID: "h", Kind: "hook", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	<-hung
	if err := o.Enqueue(ctx, Item{ID: "m", Kind: "mail", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-mailed:
		if n != 1 {
			t.Fatalf("%d passes over the queue before the e-mail went out, want only Run's first", n)
		}
	case <-ctx.Done():
		t.Fatal("the e-mail was not delivered")
	}
	cancel()
	<-done
}
