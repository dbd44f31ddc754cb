package crdt

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeTextState: decoding never panics, and whatever decodes
// re-encodes canonically: the re-encoding decodes to the same text and
// encodes to itself. The decoded list must also take edits.
func FuzzDecodeTextState(f *testing.F) {
	for seed := uint64(1); seed <= 3; seed++ {
		reps, _ := textSessionOps(f, seed, 80)
		for _, s := range reps {
			f.Add(s.list.appendState(nil))
		}
	}
	f.Add([]byte{0, 0})
	f.Add(textEncodeRaw([]ReplicaID{5, 9}, []textRawRun{
		{rep: 0, n: 2, ctr: 1},
		{rep: 1, n: 1, ctr: 1, leftDist: 1},
		{rep: 0, n: 1, ctr: 10, left: OpID{5, 1}, deleted: true},
	}, "abc"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := decodeTextState(&reader{b: data})
		if err != nil {
			return
		}
		checkTextInvariants(t, l)
		enc := l.appendState(nil)
		d, err := decodeTextState(&reader{b: enc})
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if d.String() != l.String() || !bytes.Equal(d.appendState(nil), enc) {
			t.Fatal("re-encoding is not stable")
		}
		// Edits on a decoded list must not panic.
		id := OpID{1 << 62, 1}
		l.localInsert(id, l.Len()/2, "xy")
		if l.Len() > 0 {
			for _, sp := range l.idsAt(0, 3) {
				l.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
			}
		}
		checkTextInvariants(t, l)
	})
}

// FuzzTextConverge drives two replicas with a script of local inserts and
// deletes and partial deliveries, checks each against the reference after
// every step, and checks that they converge once everything is delivered.
func FuzzTextConverge(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 2, 3, 3, 4, 8, 0, 5, 9, 1, 1, 3})
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 4, 0, 3, 3, 3, 1, 2, 3, 10, 9, 8, 4})
	f.Add(bytes.Repeat([]byte{0, 3, 7, 8, 3, 7, 2, 1, 11, 3}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4000 {
			return
		}
		next := func() int {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return int(b)
		}
		reps := [2]*textSimReplica{
			{id: 0x10, list: newTextList(), ref: &refText{}, counter: 1, next: map[ReplicaID]int{}},
			{id: 0x0f, list: newTextList(), ref: &refText{}, counter: 1, next: map[ReplicaID]int{}},
		}
		deliver := func(dst, src *textSimReplica) bool {
			i := dst.next[src.id]
			if i == len(src.log) || !dst.deliverable(src.log[i]) {
				return false
			}
			dst.apply(src.log[i])
			dst.next[src.id] = i + 1
			return true
		}
		for step := 0; len(data) > 0; step++ {
			op := next()
			s, o := reps[op>>3&1], reps[1-op>>3&1]
			switch op % 8 {
			case 0, 1, 2: // insert
				pos := next() % (s.list.Len() + 1)
				k := 1 + next()%3
				r := make([]rune, k)
				for i := range r {
					r[i] = textAlphabet[next()%len(textAlphabet)]
				}
				id := OpID{s.id, s.counter}
				s.counter += uint64(k)
				left, right := s.list.localInsert(id, pos, string(r))
				if rl, rr := s.ref.localInsert(id, pos, string(r)); rl != left || rr != right {
					t.Fatalf("origins %v %v, reference %v %v", left, right, rl, rr)
				}
				s.log = append(s.log, textOp{insert: true, id: id, left: left, right: right, s: string(r)})
			case 3: // delete
				if s.list.Len() == 0 {
					continue
				}
				pos := next() % s.list.Len()
				k := 1 + next()%3
				spans := s.list.idsAt(pos, k)
				for _, id := range s.ref.idsAt(pos, k) {
					s.ref.remove(id)
				}
				for _, sp := range spans {
					s.list.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
				}
				s.log = append(s.log, textOp{id: OpID{s.id, s.counter}, spans: spans})
				s.counter++
			case 4, 5, 6: // deliver a few ops
				for k := next() % 4; k >= 0; k-- {
					deliver(s, o)
				}
			case 7: // re-deliver an old op: a duplicate
				if i := s.next[o.id]; i > 0 {
					s.apply(o.log[next()%i])
				}
			}
			s.check(t, step)
		}
		for deliver(reps[0], reps[1]) || deliver(reps[1], reps[0]) {
		}
		if reps[0].next[reps[1].id] != len(reps[1].log) || reps[1].next[reps[0].id] != len(reps[0].log) {
			t.Fatal("ops left undeliverable")
		}
		for _, s := range reps {
			s.check(t, -1)
			checkTextInvariants(t, s.list)
		}
		if a, b := reps[0].list.appendState(nil), reps[1].list.appendState(nil); !bytes.Equal(a, b) {
			t.Fatalf("diverged: %q vs %q", reps[0].list.String(), reps[1].list.String())
		}
		if utf8.RuneCountInString(reps[0].list.String()) != reps[0].list.Len() {
			t.Fatal("Len out of step")
		}
	})
}
