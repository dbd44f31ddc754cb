package limit

import (
	"fmt"
	"testing"
	"time"
)

// fakeNow is a clock the limiter tests move by hand.
type fakeNow struct{ t time.Time }

func (c *fakeNow) now() time.Time { return c.t }

// TestLimiterPrunes: expired windows leave as new ones come, without a
// scan: after a burst of 10 000 keys, once their window is over, 3 000
// calls on fresh keys leave the map with those 3 000 only.
func TestLimiterPrunes(t *testing.T) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(clk.now)
	for i := 0; i < 10_000; i++ {
		l.Allow(fmt.Sprint("burst-", i), 5, time.Minute)
		l.Allow(fmt.Sprint("day-", i%10), 5, 24*time.Hour)
	}
	if got := l.Size(); got != 10_010 {
		t.Fatalf("%d windows, want 10010", got)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	for i := 0; i < 3_000; i++ {
		l.Allow(fmt.Sprint("later-", i), 5, time.Minute)
	}
	if got := l.Size(); got != 3_000+10 {
		t.Fatalf("%d windows after the burst's window, want 3010", got)
	}
	// Counting is unchanged: the sixth event of a window is refused,
	// Used() sees it, and a window renews once its period is over.
	for i := 0; i < 5; i++ {
		if !l.Allow("k", 5, time.Minute) {
			t.Fatalf("event %d refused", i+1)
		}
	}
	if l.Allow("k", 5, time.Minute) || !l.Used("k", 5, time.Minute) {
		t.Fatal("sixth event allowed")
	}
	clk.t = clk.t.Add(time.Minute)
	if !l.Allow("k", 5, time.Minute) || l.Used("k", 5, time.Minute) {
		t.Fatal("the window did not renew")
	}
	// allowUpTo does not count what it refuses.
	if !l.AllowUpTo("bytes", 60, 100, time.Hour) || l.AllowUpTo("bytes", 50, 100, time.Hour) || !l.AllowUpTo("bytes", 40, 100, time.Hour) {
		t.Fatal("allowUpTo")
	}
}

// TestLimiterCap: past maxKeys the oldest window is dropped; the map
// never grows past the cap and recent windows keep counting.
func TestLimiterCap(t *testing.T) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(clk.now)
	l.maxKeys = 100
	for i := 0; i < 1000; i++ {
		clk.t = clk.t.Add(time.Millisecond)
		l.Allow(fmt.Sprint("k", i), 1, time.Hour)
		if got := l.Size(); got > 100 {
			t.Fatalf("%d windows with a cap of 100", got)
		}
	}
	if l.Allow("k999", 1, time.Hour) {
		t.Fatal("the newest window forgot its event")
	}
	if !l.Allow("k0", 1, time.Hour) {
		t.Fatal("the oldest window was not the one dropped")
	}
}

// TestLimiterPurposesApart: a flood of fresh keys of one purpose (a past
// state asked by a new guest id on every call: "history:guest-…") filled
// the one table, and each new key dropped the oldest window, whatever its
// purpose: a spent sign-in window of an address started afresh, and so
// did board creation's. Each purpose has a table of its own now: the
// flood drops only its own oldest windows, and its table stays within
// the bound.
func TestLimiterPurposesApart(t *testing.T) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(clk.now)
	l.maxKeys = 100
	for range 21 {
		l.Allow("signin-ip:203.0.113.7", 20, time.Hour)
	}
	if !l.AllowUpTo("boards-ip:203.0.113.7", 20, 20, time.Hour) {
		t.Fatal("board creations refused before any")
	}
	for i := range 1000 {
		clk.t = clk.t.Add(time.Millisecond)
		l.Allow(fmt.Sprint("history:guest-", i), 60, time.Minute)
		if got := l.Size(); got > 100+2 {
			t.Fatalf("%d windows: the flood's table is past its bound of 100", got)
		}
	}
	if l.Allow("signin-ip:203.0.113.7", 20, time.Hour) {
		t.Fatal("a flood of another purpose's keys dropped an address's spent sign-in window")
	}
	if l.AllowUpTo("boards-ip:203.0.113.7", 1, 20, time.Hour) {
		t.Fatal("a flood of another purpose's keys dropped an address's spent board-creation window")
	}
	if !l.Used("history:guest-999", 1, time.Minute) || l.Used("history:guest-0", 1, time.Minute) {
		t.Fatal("the flood's own oldest windows were not the ones dropped")
	}
}

// BenchmarkLimiterFreshKeys: the cost of a call when every call is a new
// key and old windows expire all the time (the pruning's worst case).
func BenchmarkLimiterFreshKeys(b *testing.B) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(clk.now)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("signin-ip:10.0.", i>>8, ".", i&255)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.t = clk.t.Add(time.Millisecond)
		l.Allow(keys[i&(len(keys)-1)], 20, time.Second)
	}
	b.ReportMetric(float64(l.Size()), "windows")
}

// Retry says when a refused key's window ends, on the limiter's clock.
func TestRetryIsTheWindowsRest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := New(func() time.Time { return now })
	if d := l.Retry("k", time.Minute); d != 0 {
		t.Fatalf("no window: %v", d)
	}
	for i := 0; i < 3; i++ {
		l.Allow("k", 2, time.Minute)
	}
	now = now.Add(15 * time.Second)
	if d := l.Retry("k", time.Minute); d != 45*time.Second {
		t.Fatalf("15 s into the window: %v, want 45s", d)
	}
	now = now.Add(time.Minute)
	if d := l.Retry("k", time.Minute); d != 0 {
		t.Fatalf("after the window: %v, want 0", d)
	}
}
