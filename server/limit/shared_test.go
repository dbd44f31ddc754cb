package limit

import (
	"context"
	"errors"
	"testing"
	"time"
)

// countMap is a Counter in memory; err, when set, fails every call.
type countMap struct {
	n     map[string]int
	calls int
	err   error
}

func (c *countMap) Count(_ context.Context, key string, max int, _ time.Duration) (bool, error) {
	c.calls++
	if c.err != nil {
		return false, c.err
	}
	if c.n[key] >= max {
		return false, nil
	}
	c.n[key]++
	return true, nil
}

func (c *countMap) Uncount(_ context.Context, key string, _ time.Duration) error {
	if c.err == nil && c.n[key] > 0 {
		c.n[key]--
	}
	return c.err
}

// AllowShared needs both counts to allow; an event refused by the
// node's own count never reaches the shared one; when the shared one
// fails, the node's own count decides; RefundShared refunds both.
func TestAllowShared(t *testing.T) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	l := New(clk.now)
	if !l.AllowShared(ctx, "k", 1, time.Minute) || l.AllowShared(ctx, "k", 1, time.Minute) {
		t.Fatal("without a shared counter: not the node's own count")
	}

	shared := &countMap{n: map[string]int{"k": 3}} // 3 counted on other nodes
	l = New(clk.now)
	l.Share(shared)
	for i := range 2 {
		if !l.AllowShared(ctx, "k", 5, time.Minute) {
			t.Fatalf("event %d refused", i+1)
		}
	}
	if l.AllowShared(ctx, "k", 5, time.Minute) {
		t.Fatal("the cluster's sixth event allowed")
	}
	l.RefundShared(ctx, "k", time.Minute)
	if shared.n["k"] != 4 {
		t.Fatalf("shared count %d after a refund, want 4", shared.n["k"])
	}
	calls := shared.calls
	for range 5 {
		l.AllowShared(ctx, "k", 5, time.Minute)
	}
	if shared.calls != calls+3 { // the local count is 2 after the refund
		t.Fatalf("%d shared calls for 5 events, want 3: the local gate let refused events through", shared.calls-calls)
	}

	// The metadata store is down: the node's own count decides.
	shared.err = errors.New("meta: metadata store unavailable")
	l = New(clk.now)
	l.Share(shared)
	for i := range 5 {
		if !l.AllowShared(ctx, "down", 5, time.Minute) {
			t.Fatalf("event %d refused while the shared counter fails", i+1)
		}
	}
	if l.AllowShared(ctx, "down", 5, time.Minute) {
		t.Fatal("the node's own limit not kept while the shared counter fails")
	}
}
