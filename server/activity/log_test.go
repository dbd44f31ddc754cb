package activity

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/storage"
)

// records turns changes into op log records, as the room writes them.
func records(t testing.TB, cs []Change) []storage.Record {
	t.Helper()
	out := make([]storage.Record, len(cs))
	for i, c := range cs {
		data, err := c.Change.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = storage.Record{Replica: uint64(c.Replica), Start: c.Start, End: c.End(),
			Author: c.Author, Accepted: c.Accepted, Data: data}
	}
	return out
}

// The op log in a real Pebble store on disk, read back with FromRecord:
// the same changes, with their author and acceptance time, and the same
// events folded from them as from the in-memory log. (The node picks the
// window with room.ChangesSince.)
func TestSinceFromPebbleLog(t *testing.T) {
	b := seed(t)
	mark := b.mark()
	b.as("bob", note("n4", "From the log"))
	b.as("cem", appendText(b.user("cem").doc, "n1", "?"))
	b.as("ana", vote("n2", "ana", 1))

	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	board, _ := storage.ParseBoardID("0195f0a0-0000-7000-8000-000000000001")
	if err := st.AppendOps(ctx, board, records(t, b.log)); err != nil {
		t.Fatal(err)
	}
	// A record whose data is damaged: a clear error.
	bad := storage.Record{Replica: 99, Start: 1, End: 1, Author: "eve", Accepted: 1, Data: []byte{0xff, 0x01}}
	if err := st.AppendOps(ctx, board, []storage.Record{bad}); err != nil {
		t.Fatal(err)
	}
	var log []Change
	var bads []error
	err = st.ScanOps(ctx, board, 1, func(rec storage.Record) error {
		c, err := FromRecord(rec)
		if err != nil {
			bads = append(bads, err)
			return nil
		}
		log = append(log, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bads) != 1 || !errors.Is(bads[0], crdt.ErrMalformed) {
		t.Fatalf("damaged record: %v", bads)
	}
	if len(log) != len(b.log) {
		t.Fatalf("read %d changes, wrote %d", len(log), len(b.log))
	}
	for i := range log {
		if log[i].Author != b.log[i].Author || log[i].Accepted != b.log[i].Accepted || log[i].LastID() != b.log[i].LastID() {
			t.Fatalf("change %d read back as %+v", i, log[i])
		}
	}
	got := Since(b.server, log[mark:])
	want := []brief{{"n4", Added, "bob", 1}, {"n1", Edited, "cem", 1}, {"n2", Voted, "ana", 1}}
	if g := briefs(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("events from the log:\n got %+v\nwant %+v", g, want)
	}
	if !reflect.DeepEqual(got, b.since(mark)) {
		t.Error("events from the stored log differ from those of the in-memory log")
	}
}

func TestFromRecordMismatch(t *testing.T) {
	b := seed(t)
	rec := records(t, b.log[:1])[0]
	if _, err := FromRecord(rec); err != nil {
		t.Fatal(err)
	}
	for name, damage := range map[string]func(*storage.Record){
		"replica": func(r *storage.Record) { r.Replica++ },
		"start":   func(r *storage.Record) { r.Start++ },
		"end":     func(r *storage.Record) { r.End++ },
	} {
		r := rec
		damage(&r)
		if _, err := FromRecord(r); !errors.Is(err, crdt.ErrMalformed) {
			t.Errorf("record header with another %s: %v", name, err)
		}
	}
}

func FuzzFromRecord(f *testing.F) {
	b := seed(f)
	for _, r := range records(f, b.log) {
		f.Add(r.Replica, r.Start, r.Data)
	}
	f.Add(uint64(1), uint64(1), []byte{})
	f.Fuzz(func(t *testing.T, replica, start uint64, data []byte) {
		c, err := FromRecord(storage.Record{Replica: replica, Start: start, Author: "u", Accepted: 7, Data: data})
		if err != nil {
			return
		}
		if uint64(c.Replica) != replica || c.Start != start || c.Author != "u" || c.Accepted != 7 {
			t.Fatalf("decoded %+v from a record of replica %d start %d", c, replica, start)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("decoded an invalid change: %v", err)
		}
		// Whatever decodes can be folded against any board without a panic.
		doc := crdt.NewDoc()
		doc.Apply(c.Change)
		Since(doc, []Change{c})
		Summarize(doc, []Change{c}, nil).Markdown()
	})
}
