package crdt

import (
	"testing"
	"time"
)

func TestTextTraceQuick(t *testing.T) {
	for _, name := range []string{"automerge-paper", "seph-blog1", "friendsforever_flat"} {
		t0 := time.Now()
		tr := loadTextTrace(t, name)
		t1 := time.Now()
		l := replayLocal(tr, nil)
		t2 := time.Now()
		if l.String() != tr.end {
			t.Fatalf("%s: wrong text", name)
		}
		enc := l.appendState(nil)
		t.Logf("%s: load %v replay %v; %s; enc %d flate %d", name, t1.Sub(t0), t2.Sub(t1), textStats(l), len(enc), flateSize(enc))
	}
}
