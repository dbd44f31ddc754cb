package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/limit"
	"github.com/corkboard/corkboard/storage"
)

// memRecords is Records in memory, each record JSON as meta.Store keeps
// it (its Update decodes and encodes as meta.Store.UpdateJSON does); it
// counts the writes.
type memRecords struct {
	mu     sync.Mutex
	recs   map[string][]byte
	writes int
}

func newMemRecords() *memRecords { return &memRecords{recs: map[string][]byte{}} }

func (m *memRecords) key(ns string, key []byte) string { return ns + "." + string(key) }

func (m *memRecords) Get(_ context.Context, ns string, key []byte, v any) error {
	m.mu.Lock()
	b, ok := m.recs[m.key(ns, key)]
	m.mu.Unlock()
	if !ok {
		return storage.ErrNotFound
	}
	return json.Unmarshal(b, v)
}

func (m *memRecords) Put(_ context.Context, ns string, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[m.key(ns, key)] = b
	m.writes++
	return nil
}

func (m *memRecords) Delete(_ context.Context, ns string, key []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, m.key(ns, key))
	return nil
}

func (m *memRecords) Update(ctx context.Context, ns string, key []byte, v any, change func(found bool) error) error {
	b, found := func() ([]byte, bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		b, ok := m.recs[m.key(ns, key)]
		return b, ok
	}()
	if found {
		if err := json.Unmarshal(b, v); err != nil {
			return storage.ErrCorrupt
		}
	}
	if err := change(found); err != nil {
		return err
	}
	return m.Put(ctx, ns, key, v)
}

func (m *memRecords) Lock()   { m.mu.Lock() }
func (m *memRecords) Unlock() { m.mu.Unlock() }
func (m *memRecords) PutLocked(_ context.Context, ns string, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	m.recs[m.key(ns, key)] = b
	m.writes++
	return nil
}
func (m *memRecords) Stamp(old int64) int64 { return max(time.Now().UnixMilli(), old+1) }

// vectorOf is a version vector of n replicas with counters of a few bytes.
func vectorOf(n int) crdt.VersionVector {
	v := make(crdt.VersionVector, n)
	for i := range n {
		v[crdt.ReplicaID(0x9e3779b97f4a7c15*uint64(i+1))] = uint64(1000 + 37*i)
	}
	return v
}

// BenchmarkRecordSeen: what a signed-in member's leave costs the node
// in encoding (RecordSeen, called by the connection's reader as it
// ends), with the board's version vector of 1,000 and 100,000 replicas:
// "changed" records a new version each time, "same" the version the
// record has.
func BenchmarkRecordSeen(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		for _, same := range []bool{false, true} {
			name := fmt.Sprintf("replicas=%d/changed", n)
			if same {
				name = fmt.Sprintf("replicas=%d/same", n)
			}
			b.Run(name, func(b *testing.B) {
				recs := newMemRecords()
				srv := New(Config{Records: recs, Now: time.Now})
				var board storage.BoardID
				board[0] = 3
				v := vectorOf(n)
				var first crdt.ReplicaID
				for r := range v {
					first = r
					break
				}
				ctx := context.Background()
				if err := srv.RecordSeen(ctx, board, "u_a", v); err != nil {
					b.Fatal(err)
				}
				writes := recs.writes
				b.ReportAllocs()
				for b.Loop() {
					if !same {
						v[first]++
					}
					if err := srv.RecordSeen(ctx, board, "u_a", v); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(recs.writes-writes)/float64(b.N), "writes/op")
				recs.mu.Lock()
				b.ReportMetric(float64(len(recs.recs[recs.key(account.NSSeen, account.BoardKey(board, "u_a"))])), "record-bytes")
				recs.mu.Unlock()
			})
		}
	}
}

// Seen records written before the binary form hold the version as a JSON
// object: they are still read, left as they are while they hold the
// version a member leaves with, and written in the binary form at the
// next change.
func TestSeenOldRecords(t *testing.T) {
	clk := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clk }
	recs := newMemRecords()
	srv := New(Config{Records: recs, Now: now})
	var board storage.BoardID
	board[0] = 5
	key := account.BoardKey(board, "u_old")
	old := fmt.Sprintf(`{"board":%q,"user":"u_old","version":{"00000000000000a1":7,"00000000000000B2":3},"at":%d,"updated":%d}`,
		board.String(), clk.Add(-time.Minute).UnixMilli(), clk.Add(-time.Minute).UnixMilli())
	recs.recs[recs.key(account.NSSeen, key)] = []byte(old)
	want := crdt.VersionVector{0xa1: 7, 0xb2: 3}

	read := func() (account.Seen, crdt.VersionVector) {
		t.Helper()
		var s account.Seen
		if err := recs.Get(context.Background(), account.NSSeen, key, &s); err != nil {
			t.Fatal(err)
		}
		v, err := s.Vector()
		if err != nil {
			t.Fatal(err)
		}
		return s, v
	}
	if _, v := read(); v.Compare(want) != crdt.Equal {
		t.Fatalf("old record read as %v, want %v", v, want)
	}

	// The same version: nothing written.
	if err := srv.RecordSeen(context.Background(), board, "u_old", want.Clone()); err != nil {
		t.Fatal(err)
	}
	if recs.writes != 0 || string(recs.recs[recs.key(account.NSSeen, key)]) != old {
		t.Fatalf("the old record holding the same version was written (%d writes): %s", recs.writes, recs.recs[recs.key(account.NSSeen, key)])
	}

	// A newer version: written in the binary form.
	newer := crdt.VersionVector{0xa1: 9, 0xb2: 3, 0xc3: 1}
	if err := srv.RecordSeen(context.Background(), board, "u_old", newer); err != nil {
		t.Fatal(err)
	}
	s, v := read()
	if v.Compare(newer) != crdt.Equal || s.Version != nil || s.Packed == nil || s.At != clk.UnixMilli() {
		t.Fatalf("after a newer visit: %+v (version %v), want %v packed, at %d", s, v, newer, clk.UnixMilli())
	}
	if raw := string(recs.recs[recs.key(account.NSSeen, key)]); strings.Contains(raw, `"version"`) {
		t.Fatalf("a new record has the JSON version: %s", raw)
	}

	// An old record of the same version, but recorded more than
	// seenRefresh ago: written anew, with the visit's time.
	recs.recs[recs.key(account.NSSeen, key)] = []byte(old)
	srv2 := New(Config{Records: recs, Now: now})
	clk = clk.Add(2 * time.Hour)
	writes := recs.writes
	if err := srv2.RecordSeen(context.Background(), board, "u_old", want.Clone()); err != nil {
		t.Fatal(err)
	}
	if s, v := read(); recs.writes != writes+1 || v.Compare(want) != crdt.Equal || s.At != clk.UnixMilli() {
		t.Fatalf("a visit of the same version 2 h later: %d writes, record %+v", recs.writes-writes, s)
	}
}

// A member joining and leaving in a loop: a leave with the version
// recorded already writes nothing (one write for 1,000 leaves), and
// leaves with a new version each write at most seenWrites records a
// minute in all; the next minute, the last version is recorded.
func TestSeenLoopBounded(t *testing.T) {
	clk := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clk }
	recs := newMemRecords()
	srv := New(Config{Records: recs, Now: now, Limits: limit.New(now)})
	var board storage.BoardID
	board[0] = 6
	v := vectorOf(1000)
	ctx := context.Background()
	for range 1000 {
		if err := srv.RecordSeen(ctx, board, "u_loop", v); err != nil {
			t.Fatal(err)
		}
	}
	if recs.writes != 1 {
		t.Fatalf("1,000 leaves of one version: %d writes, want 1", recs.writes)
	}
	var first crdt.ReplicaID
	for r := range v {
		first = r
		break
	}
	for range 1000 {
		v[first]++
		if err := srv.RecordSeen(ctx, board, "u_loop", v); err != nil {
			t.Fatal(err)
		}
	}
	if recs.writes != seenWrites {
		t.Fatalf("1,001 leaves within a minute: %d writes, want %d", recs.writes, seenWrites)
	}
	clk = clk.Add(time.Minute)
	if err := srv.RecordSeen(ctx, board, "u_loop", v); err != nil {
		t.Fatal(err)
	}
	var s account.Seen
	recs.Get(ctx, account.NSSeen, account.BoardKey(board, "u_loop"), &s)
	if got, _ := s.Vector(); got.Compare(v) != crdt.Equal {
		t.Fatal("a minute later, the last version was not recorded")
	}
}

// A writer of a board chooses the replica ids and counters its changes
// add to the board's version. With a fingerprint anyone can compute
// (an unkeyed mix of each entry, summed), two new entries whose mixes
// cancel leave it as it was: a member who recorded the version before
// them, and left after seeing them, had the visit taken for one
// recorded already, and was shown the writer's changes as new again at
// every visit within the hour. The fingerprint is keyed per process.
func TestSeenFingerprintNotForgeable(t *testing.T) {
	// What the writer computes: SplitMix64's finalizer, as the node
	// used it, and its inverse.
	mix := func(x uint64) uint64 {
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
		return x
	}
	inv := func(c uint64) uint64 { // c's inverse mod 2^64 (Newton)
		y := c
		for range 6 {
			y *= 2 - c*y
		}
		return y
	}
	unmix := func(x uint64) uint64 {
		x ^= x>>31 ^ x>>62
		x *= inv(0x94d049bb133111eb)
		x ^= x>>27 ^ x>>54
		x *= inv(0xbf58476d1ce4e5b9)
		x ^= x>>30 ^ x>>60
		return x
	}
	r1 := uint64(0x5eed0001)
	h1 := mix(r1 ^ mix(1))
	r2 := unmix(-h1) ^ mix(1) // mix(r2 ^ mix(1)) + h1 == 0
	if mix(r2^mix(1))+h1 != 0 {
		t.Fatal("the test's inverse is wrong")
	}

	clk := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clk }
	recs := newMemRecords()
	srv := New(Config{Records: recs, Now: now, Limits: limit.New(now)})
	var board storage.BoardID
	board[0] = 7
	ctx := context.Background()
	before := vectorOf(10)
	if err := srv.RecordSeen(ctx, board, "u_victim", before); err != nil {
		t.Fatal(err)
	}
	after := before.Clone()
	after[crdt.ReplicaID(r1)], after[crdt.ReplicaID(r2)] = 1, 1
	clk = clk.Add(time.Minute)
	if err := srv.RecordSeen(ctx, board, "u_victim", after); err != nil {
		t.Fatal(err)
	}
	var s account.Seen
	if err := recs.Get(ctx, account.NSSeen, account.BoardKey(board, "u_victim"), &s); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Vector(); got.Compare(after) != crdt.Equal {
		t.Fatalf("the visit that saw the writer's two changes was not recorded: the record holds %v, want %v", got, after)
	}
}
