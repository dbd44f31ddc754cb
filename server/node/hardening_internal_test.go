package node

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
)

// browserTarget is where a browser on https://node.example goes for a
// Location header p: it drops tabs and newlines, reads a backslash as a
// slash, and resolves p against the page.
func browserTarget(p string) (string, error) {
	p = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(p)
	base, _ := url.Parse("https://node.example/v1/signin/x")
	ref, err := url.Parse(p)
	if err != nil {
		return "", err
	}
	return base.ResolveReference(ref).Host, nil
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/b/x?y=1#z": "/b/x?y=1#z", "": "/", "b": "/", "//evil": "/", "/\\evil": "/",
		"/\t/evil": "/", "/\n/evil": "/", "/x/\r": "/", "/a\\b": "/", "/\x7f": "/", "/\u0085": "/",
		"https://evil": "/", "/\xff": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLocalPath: whatever a sign-in's "next" is, the redirect stays on
// the node, as a browser reads it.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/b/x", "//evil", "/\t/evil", "/\\evil", "/ /evil", "/%2f/evil", "/..//evil", "/\u2028/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out := localPath(p)
		if out != "/" && out != p {
			t.Fatalf("localPath(%q) = %q: neither the input nor /", p, out)
		}
		if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
			t.Fatalf("localPath(%q) = %q", p, out)
		}
		for _, c := range out {
			if c == '\\' || unicode.IsControl(c) {
				t.Fatalf("localPath(%q) = %q keeps %q", p, out, c)
			}
		}
		if host, err := browserTarget(out); err == nil && host != "node.example" {
			t.Fatalf("localPath(%q) = %q leads a browser to %q", p, out, host)
		}
	})
}

// fakeNow is a clock the limiter tests move by hand.
type fakeNow struct{ t time.Time }

func (c *fakeNow) now() time.Time { return c.t }

// TestLimiterPrunes: expired windows leave as new ones come, without a
// scan: after a burst of 10 000 keys, once their window is over, 3 000
// calls on fresh keys leave the map with those 3 000 only.
func TestLimiterPrunes(t *testing.T) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(clk.now)
	for i := 0; i < 10_000; i++ {
		l.allow(fmt.Sprint("burst-", i), 5, time.Minute)
		l.allow(fmt.Sprint("day-", i%10), 5, 24*time.Hour)
	}
	if got := l.size(); got != 10_010 {
		t.Fatalf("%d windows, want 10010", got)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	for i := 0; i < 3_000; i++ {
		l.allow(fmt.Sprint("later-", i), 5, time.Minute)
	}
	if got := l.size(); got != 3_000+10 {
		t.Fatalf("%d windows after the burst's window, want 3010", got)
	}
	// Counting is unchanged: the sixth event of a window is refused,
	// used() sees it, and a window renews once its period is over.
	for i := 0; i < 5; i++ {
		if !l.allow("k", 5, time.Minute) {
			t.Fatalf("event %d refused", i+1)
		}
	}
	if l.allow("k", 5, time.Minute) || !l.used("k", 5, time.Minute) {
		t.Fatal("sixth event allowed")
	}
	clk.t = clk.t.Add(time.Minute)
	if !l.allow("k", 5, time.Minute) || l.used("k", 5, time.Minute) {
		t.Fatal("the window did not renew")
	}
	// allowUpTo does not count what it refuses.
	if !l.allowUpTo("bytes", 60, 100, time.Hour) || l.allowUpTo("bytes", 50, 100, time.Hour) || !l.allowUpTo("bytes", 40, 100, time.Hour) {
		t.Fatal("allowUpTo")
	}
}

// TestLimiterCap: past maxKeys the oldest window is dropped; the map
// never grows past the cap and recent windows keep counting.
func TestLimiterCap(t *testing.T) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(clk.now)
	l.maxKeys = 100
	for i := 0; i < 1000; i++ {
		clk.t = clk.t.Add(time.Millisecond)
		l.allow(fmt.Sprint("k", i), 1, time.Hour)
		if got := l.size(); got > 100 {
			t.Fatalf("%d windows with a cap of 100", got)
		}
	}
	if l.allow("k999", 1, time.Hour) {
		t.Fatal("the newest window forgot its event")
	}
	if !l.allow("k0", 1, time.Hour) {
		t.Fatal("the oldest window was not the one dropped")
	}
}

// BenchmarkLimiterFreshKeys: the cost of a call when every call is a new
// key and old windows expire all the time (the pruning's worst case).
func BenchmarkLimiterFreshKeys(b *testing.B) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(clk.now)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("signin-ip:10.0.", i>>8, ".", i&255)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.t = clk.t.Add(time.Millisecond)
		l.allow(keys[i&(len(keys)-1)], 20, time.Second)
	}
	b.ReportMetric(float64(l.size()), "windows")
}
