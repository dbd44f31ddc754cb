package gateway

import (
	"fmt"
	"testing"
	"time"
)

// The opens per address are kept for a bounded number of addresses: a
// flood of addresses (IPv6 /64s) cannot grow the node's memory without
// bound; an address that opened recently keeps its count while the
// buckets are few enough.
func TestWSOpenBucketsBounded(t *testing.T) {
	c := wsCounter{byIP: map[string]int{}, opens: map[string]*openBucket{}}
	now := time.Unix(1_800_000_000, 0)
	for i := 0; i < 5; i++ {
		if rel, st, _ := c.acquire("victim", 0, 5, 0, now); st != 0 {
			t.Fatalf("open %d refused: %d", i, st)
		} else {
			rel()
		}
	}
	if _, st, retry := c.acquire("victim", 0, 5, 0, now); st != 429 || retry <= 0 {
		t.Fatalf("sixth open: status %d retry %v, want 429 with a retry", st, retry)
	}
	for i := 0; i < 50_000; i++ {
		rel, st, _ := c.acquire(fmt.Sprintf("2001:db8:%x::", i), 0, 5, 0, now)
		if st != 0 {
			t.Fatalf("fresh address %d refused: %d", i, st)
		}
		rel()
		if len(c.opens) > 2*opensKept {
			t.Fatalf("%d buckets kept after %d addresses", len(c.opens), i+1)
		}
	}
	// A minute later every bucket is full again and is dropped when the
	// next new address comes.
	now = now.Add(time.Minute)
	for i := 0; i < opensKept+1; i++ {
		rel, _, _ := c.acquire(fmt.Sprintf("2001:db8:ffff:%x::", i), 0, 5, 0, now)
		rel()
	}
	if len(c.opens) > opensKept+1 {
		t.Fatalf("%d buckets kept after the old ones refilled", len(c.opens))
	}
}
