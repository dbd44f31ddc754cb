package api

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/limit"
	"github.com/corkboard/corkboard/storage"
)

// TestReplaysBounded: rebuilding a past state (GET /history/state, POST
// /restore) holds a whole document; the per-caller and per-board rates do
// not bound how many run at once over many boards. While maxReplays run,
// one more waits and is answered 503 (with Retry-After) when no slot
// frees, before it reads anything; a freed slot is given again and held
// until the caller is done with the document.
func TestReplaysBounded(t *testing.T) {
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := New(Config{Store: st, Limits: limit.New(time.Now)})
	var board storage.BoardID
	board[0] = 1
	for range maxReplays { // replays in progress, on other boards
		srv.replays <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the caller gives up at once instead of waiting 10 s
	w := httptest.NewRecorder()
	if _, _, ok := srv.pastDoc(w, httptest.NewRequest("GET", "/", nil).WithContext(ctx), board, "guest-a", 0); ok || w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("one more replay while %d run: ok %v, %d %v", maxReplays, ok, w.Code, w.Header())
	}
	<-srv.replays
	doc, release, ok := srv.pastDoc(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), board, "guest-b", 0)
	if !ok || doc == nil {
		t.Fatal("a freed slot was not given")
	}
	if len(srv.replays) != maxReplays {
		t.Fatalf("%d slots held while the document is in use, want %d", len(srv.replays), maxReplays)
	}
	release()
	if len(srv.replays) != maxReplays-1 {
		t.Fatalf("%d slots held after release, want %d", len(srv.replays), maxReplays-1)
	}
}

// TestReplayBytesBounded: a past state is rebuilt from at most
// maxReplayBytes of changes (413 past it), whatever their number.
func TestReplayBytesBounded(t *testing.T) {
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := New(Config{Store: st, Limits: limit.New(time.Now)})
	var board storage.BoardID
	board[0] = 2
	d := crdt.NewDoc()
	var recs []storage.Record
	size := 0
	for i := range 4 {
		tx := d.Begin(7, int64(1_700_000_000_000+i))
		var e crdt.ElementID
		e[0], e[15] = 9, byte(i)
		if err := tx.Create(e, "note"); err != nil {
			t.Fatal(err)
		}
		if err := tx.InsertText(e, "text", 0, strings.Repeat("x", 1000)); err != nil {
			t.Fatal(err)
		}
		c, _ := tx.Commit()
		data, _ := c.MarshalBinary()
		size += len(data)
		recs = append(recs, storage.Record{Replica: 7, Start: c.Start, End: c.End(), Data: data})
	}
	if err := st.AppendOps(context.Background(), board, recs); err != nil {
		t.Fatal(err)
	}
	old := maxReplayBytes
	t.Cleanup(func() { maxReplayBytes = old })
	maxReplayBytes = size - 1
	w := httptest.NewRecorder()
	if _, _, ok := srv.pastDoc(w, httptest.NewRequest("GET", "/", nil), board, "guest-a", 4); ok || w.Code != 413 {
		t.Fatalf("a replay of %d bytes over a bound of %d: ok %v, %d %s", size, maxReplayBytes, ok, w.Code, w.Body)
	}
	doc, release, ok := srv.pastDoc(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), board, "guest-a", 3)
	if !ok || doc.Len() != 3 {
		t.Fatalf("a replay within the bound: ok %v", ok)
	}
	release()
}

// TestReadBudgetsBounded: the whole-board reads budgets kept stay at most
// boardReadsKept, the ones owing nothing dropped first, then any.
func TestReadBudgetsBounded(t *testing.T) {
	var b readBudgets
	now := time.Unix(1_700_000_000, 0)
	for i := range boardReadsKept + 10 {
		var id storage.BoardID
		id[0], id[1] = byte(i>>8), byte(i)
		b.get(id, now).owed = boardReadBurst * 2 // owing: not dropped as paid up
	}
	if len(b.m) > boardReadsKept {
		t.Fatalf("%d budgets kept, at most %d", len(b.m), boardReadsKept)
	}
}
