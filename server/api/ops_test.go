package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/limit"
	"github.com/corkboard/corkboard/storage"
)

// blockedWriter is a ResponseWriter whose first body write signals
// started and waits for go_: an answer in the middle of being sent.
type blockedWriter struct {
	*httptest.ResponseRecorder
	started chan struct{}
	go_     chan struct{}
	once    bool
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	if !b.once {
		b.once = true
		close(b.started)
		<-b.go_
	}
	return b.ResponseRecorder.Write(p)
}

// TestOpsBounded: GET …/ops used to decode up to 32 MiB of changes and
// build its whole answer in memory, with any number of calls at once. A
// large answer now holds one of the node's maxReplays whole-history slots
// while it is read and sent (measured: the slots held while two large
// answers are being written), one more waits and is answered 503 with a
// JSON error and Retry-After, a small answer needs no slot, and the
// streamed answer is the changes, in order, as JSON.
func TestOpsBounded(t *testing.T) {
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := New(Config{Store: st, Limits: limit.New(time.Now)})
	var board storage.BoardID
	board[0] = 3
	d := crdt.NewDoc()
	var recs []storage.Record
	for i := range 4 {
		tx := d.Begin(7, int64(1_700_000_000_000+i))
		var e crdt.ElementID
		e[0], e[15] = 9, byte(i)
		if err := tx.Create(e, "note"); err != nil {
			t.Fatal(err)
		}
		if err := tx.InsertText(e, "text", 0, strings.Repeat("<", 1000)); err != nil {
			t.Fatal(err)
		}
		c, _ := tx.Commit()
		data, _ := c.MarshalBinary()
		recs = append(recs, storage.Record{Replica: 7, Start: c.Start, End: c.End(), Data: data, Author: "u_a", Accepted: int64(i)})
	}
	if err := st.AppendOps(context.Background(), board, recs); err != nil {
		t.Fatal(err)
	}
	old := opsLightBytes
	t.Cleanup(func() { opsLightBytes = old })
	opsLightBytes = 2500 // two changes are a small answer, four a large one
	version := d.Version()
	all, last := crdt.VersionVector{}, crdt.VersionVector{7: recs[2].End}

	// Two large answers being sent hold both slots.
	var ws []*blockedWriter
	done := make(chan struct{})
	for range maxReplays {
		w := &blockedWriter{ResponseRecorder: httptest.NewRecorder(), started: make(chan struct{}), go_: make(chan struct{})}
		ws = append(ws, w)
		go func() {
			srv.answerOps(w, httptest.NewRequest("GET", "/", nil), board, all, version)
			done <- struct{}{}
		}()
		<-w.started
	}
	if len(srv.replays) != maxReplays {
		t.Fatalf("%d slots held while %d large answers are sent, want %d", len(srv.replays), maxReplays, maxReplays)
	}
	// One more large one: 503 with a JSON error once no slot freed in
	// time (shortened from 10 s here).
	t.Cleanup(SetSlotWait(20 * time.Millisecond))
	w := httptest.NewRecorder()
	srv.answerOps(w, httptest.NewRequest("GET", "/", nil), board, all, version)
	var refused struct {
		Error struct{ Code, Message string }
	}
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || json.Unmarshal(w.Body.Bytes(), &refused) != nil || refused.Error.Code != "unavailable" {
		t.Fatalf("a third large answer: %d %v %s, want 503 unavailable with Retry-After", w.Code, w.Header(), w.Body)
	}
	// A small one needs no slot.
	w = httptest.NewRecorder()
	srv.answerOps(w, httptest.NewRequest("GET", "/", nil), board, last, version)
	if w.Code != 200 || strings.Count(w.Body.String(), `"author":"u_a"`) != 1 {
		t.Fatalf("a small answer while the slots are held: %d %s", w.Code, w.Body)
	}
	for _, w := range ws {
		close(w.go_)
		<-done
	}
	if len(srv.replays) != 0 {
		t.Fatalf("%d slots still held after the answers", len(srv.replays))
	}
	var out struct {
		Version crdt.VersionVector `json:"version"`
		Changes []struct {
			Replica  crdt.ReplicaID `json:"replica"`
			Author   string         `json:"author"`
			Accepted int64          `json:"accepted"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(ws[0].Body.Bytes(), &out); err != nil || ws[0].Code != http.StatusOK {
		t.Fatalf("a large answer: %d %v %.200s", ws[0].Code, err, ws[0].Body)
	}
	if len(out.Changes) != 4 || out.Version[7] != version[7] || out.Changes[3].Accepted != 3 || out.Changes[0].Author != "u_a" {
		t.Fatalf("a large answer: %+v", out)
	}
	if ws[0].Body.String() != ws[1].Body.String() || strings.Contains(ws[0].Body.String(), "<") {
		t.Fatal("answers differ, or are not escaped as the other JSON answers")
	}
}
