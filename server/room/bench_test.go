package room_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// The room's ingest path, with the disk left out (a memory store): what
// one batch costs the room's goroutine from arrival to fan-out. Run with
// go test -run '^$' -bench 'Commit|RemoteOps' -benchmem ./server/room/

const (
	benchReaders = 8  // local sessions receiving the fan-out
	benchBatch   = 16 // changes per batch
)

// benchChanges makes n batches of benchBatch changes of replica rep, each
// setting a property of one note; the first change creates the note.
func benchChanges(b *testing.B, rep crdt.ReplicaID, n int) [][]crdt.Change {
	a := newAuthor(rep)
	batches := make([][]crdt.Change, n)
	for i := range batches {
		for k := range benchBatch {
			if i == 0 && k == 0 {
				batches[i] = append(batches[i], a.note(b, 1, "bench"))
				continue
			}
			batches[i] = append(batches[i], a.edit(b, func(tx *crdt.Tx) error {
				return tx.Set(el(1), "x", crdt.Number(float64(i*benchBatch+k)))
			}))
		}
	}
	return batches
}

// readers joins benchReaders sessions to r.
func readers(b *testing.B, r *room.Room) []*room.Session {
	var out []*room.Session
	for i := range benchReaders {
		out = append(out, sessionOf(b, r, fmt.Sprintf("reader%d", i), crdt.ReplicaID(0x1000+i)))
	}
	return out
}

// BenchmarkCommit: a client's batch submitted, acked, and fanned out to
// the readers and the bus (ns/op is per batch of benchBatch changes).
func BenchmarkCommit(b *testing.B) {
	m := newManager(b, room.Config{Store: storage.NewMemory(storage.MemoryOptions{})})
	r := open(b, m)
	w := sessionOf(b, r, "writer", 7)
	rs := readers(b, r)
	batches := benchChanges(b, 7, b.N)
	var buf []room.Outgoing
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := r.Submit(context.Background(), w, uint64(i+1), batches[i]); err != nil {
			b.Fatal(err)
		}
		expectAck(b, w, uint64(i+1))
		for _, s := range rs {
			buf = s.Drain(buf[:0])
		}
	}
}

// BenchmarkRemoteOps: a batch published by another node, applied, stored
// and fanned out to the readers (ns/op is per batch, until the last
// reader has it).
func BenchmarkRemoteOps(b *testing.B) {
	hub := bus.NewHub()
	m := newManager(b, room.Config{Node: "b", Store: storage.NewMemory(storage.MemoryOptions{}), Bus: hub.Node("b")})
	r := open(b, m)
	rs := readers(b, r)
	other := hub.Node("a")
	batches := benchChanges(b, 7, b.N)
	payloads := make([][]byte, len(batches))
	for i, cs := range batches {
		payloads[i] = crdt.EncodeBatch(cs)
	}
	last := rs[len(rs)-1]
	var buf []room.Outgoing
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := other.Publish(board, bus.KindOps, payloads[i]); err != nil {
			b.Fatal(err)
		}
		readUntil(b, last, "binary:0x2")
		for _, s := range rs[:len(rs)-1] {
			buf = s.Drain(buf[:0])
		}
	}
	b.StopTimer()
	var n int
	r.Query(context.Background(), func(d *crdt.Doc) { n = int(d.VersionOf(7)) })
	end := batches[b.N-1][benchBatch-1].End()
	if uint64(n) != end {
		b.Fatalf("replica 7 at %d, want %d", n, end)
	}
}
