package storage

import (
	"testing"
	"time"
)

// walGather holds the next fsync back only while fsyncs serve more than
// one append each on average: never for a board committing alone (one
// append per fsync), soon once several boards share fsyncs, and no more
// once they stop sharing.
func TestWALGatherFollowsSharing(t *testing.T) {
	g := &walGather{d: 3 * time.Millisecond}
	next := g.interval()
	sync := func(appends int) time.Duration {
		for range appends {
			g.appended()
		}
		return next()
	}
	for i := range 100 {
		if d := sync(1); d != 0 {
			t.Fatalf("alone, fsync %d: held back %v", i, d)
		}
	}
	if d := sync(0); d != 0 {
		t.Fatalf("an fsync of nothing of ours held the next back %v", d)
	}
	held := -1
	for i := range 10 {
		if sync(4) == g.d {
			held = i
			break
		}
	}
	if held < 0 {
		t.Fatal("four appends per fsync for ten fsyncs: never held back")
	}
	// A single-append fsync among shared ones does not end the gather.
	if d := sync(1); d != g.d {
		t.Fatalf("one lone append among shared fsyncs: held back %v, want %v", d, g.d)
	}
	released := -1
	for i := range 40 {
		if sync(1) == 0 {
			released = i
			break
		}
	}
	if released < 0 {
		t.Fatal("forty lone appends after sharing: still held back")
	}
	if (*walGather)(nil).interval() != nil {
		t.Fatal("SyncGather 0 must give Pebble no interval")
	}
}
