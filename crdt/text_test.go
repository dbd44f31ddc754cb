package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// textTypeText types s one rune per op at pos, pos+1, ... on list t as replica
// rep, the way a person types, and returns the ops.
func textTypeText(t *textList, rep ReplicaID, ctr *uint64, pos int, s string) []textOp {
	var ops []textOp
	for _, r := range s {
		id := OpID{rep, *ctr}
		*ctr++
		l, rt := t.localInsert(id, pos, string(r))
		ops = append(ops, textOp{insert: true, id: id, left: l, right: rt, s: string(r)})
		pos++
	}
	return ops
}

func textApplyOps(tb testing.TB, t *textList, ops []textOp) {
	tb.Helper()
	for _, op := range ops {
		if op.insert {
			if t.contains(op.id) {
				continue
			}
			for _, o := range []OpID{op.left, op.right} {
				if !o.IsZero() && !t.contains(o) {
					tb.Fatalf("op %v: origin %v missing", op.id, o)
				}
			}
			t.integrate(op.id, op.left, op.right, op.s)
			continue
		}
		for _, sp := range op.spans {
			if !t.containsRange(OpID{sp.Replica, sp.From}, sp.To-sp.From+1) {
				tb.Fatalf("op %v: target %v missing", op.id, sp)
			}
			t.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
		}
	}
}

func TestTextLocalBasics(t *testing.T) {
	l := newTextList()
	if l.Len() != 0 || l.String() != "" {
		t.Fatal("new list not empty")
	}
	if left, right := l.originsAt(0); !left.IsZero() || !right.IsZero() {
		t.Fatalf("originsAt(0) of empty = %v %v", left, right)
	}
	a := OpID{7, 1}
	if left, right := l.localInsert(a, 0, "héllo"); !left.IsZero() || !right.IsZero() {
		t.Fatalf("first insert origins %v %v", left, right)
	}
	if l.String() != "héllo" || l.Len() != 5 {
		t.Fatalf("got %q len %d", l.String(), l.Len())
	}
	// Insert inside the run: origins are the characters around the spot.
	left, right := l.localInsert(OpID{7, 10}, 2, "XY")
	if left != (OpID{7, 2}) || right != (OpID{7, 3}) {
		t.Fatalf("origins %v %v", left, right)
	}
	if l.String() != "héXYllo" {
		t.Fatalf("got %q", l.String())
	}
	// Delete "él" (positions 1, and 4): spans are maximal and in order.
	spans := l.idsAt(1, 4)
	want := []Span{{7, 2, 2}, {7, 10, 11}, {7, 3, 3}}
	if fmt.Sprint(spans) != fmt.Sprint(want) {
		t.Fatalf("idsAt = %v, want %v", spans, want)
	}
	if !l.containsRange(OpID{7, 1}, 5) || l.containsRange(OpID{7, 1}, 6) || !l.containsRange(OpID{7, 10}, 2) ||
		l.containsRange(OpID{8, 1}, 1) || !l.containsRange(OpID{8, 1}, 0) {
		t.Fatal("containsRange wrong")
	}
	if n := l.remove(OpID{7, 2}, 2); n != 2 {
		t.Fatalf("removed %d", n)
	}
	if n := l.remove(OpID{7, 2}, 2); n != 0 {
		t.Fatalf("second remove removed %d, want 0 (idempotent)", n)
	}
	if l.String() != "hXYlo" || l.Len() != 5 {
		t.Fatalf("got %q", l.String())
	}
	if p, vis := l.posOf(OpID{7, 2}); p != 1 || vis {
		t.Fatalf("posOf(deleted) = %d %v", p, vis)
	}
	if p, vis := l.posOf(OpID{7, 11}); p != 2 || !vis {
		t.Fatalf("posOf = %d %v", p, vis)
	}
	if p, vis := l.posOf(OpID{9, 1}); p != -1 || vis {
		t.Fatalf("posOf(absent) = %d %v", p, vis)
	}
	// Insert at 1 goes after the tombstones before "X": left is the
	// tombstone (7,2), right is X.
	if left, right := l.originsAt(1); left != (OpID{7, 2}) || right != (OpID{7, 10}) {
		t.Fatalf("originsAt after tombstone = %v %v", left, right)
	}
	// At the end: left is the last item even if it is a tombstone.
	l.remove(OpID{7, 5}, 1)
	if left, right := l.originsAt(l.Len()); left != (OpID{7, 5}) || !right.IsZero() {
		t.Fatalf("originsAt(end) = %v %v", left, right)
	}
	checkTextInvariants(t, l)
}

func TestTextPanicsOnDuplicateID(t *testing.T) {
	l := newTextList()
	l.localInsert(OpID{1, 1}, 0, "abc")
	for _, id := range []OpID{{1, 1}, {1, 3}, {1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("insert of %v over present ids did not panic", id)
				}
			}()
			l.integrate(id, OpID{}, OpID{}, "xy")
		}()
	}
	if l.String() != "abc" {
		t.Fatalf("list changed: %q", l.String())
	}
}

// TestTextNonInterleaving: people typing at the same spot concurrently keep
// their passages whole, whatever the replica ids and delivery order.
func TestTextNonInterleaving(t *testing.T) {
	cases := []struct {
		name   string
		prefix string
		at     int
		reps   []ReplicaID
		texts  []string
	}{
		{"two, empty", "", 0, []ReplicaID{1, 2}, []string{"alpha beta", "gamma delta"}},
		{"two, ids reversed", "", 0, []ReplicaID{9, 2}, []string{"alpha beta", "gamma delta"}},
		{"two, end of prefix", "Hello ", 6, []ReplicaID{5, 3}, []string{"dear friend", "old chap"}},
		{"two, middle", "Hello world", 6, []ReplicaID{3, 5}, []string{"big ", "round "}},
		{"three, middle", "Hello world", 5, []ReplicaID{40, 7, 300}, []string{", dear", ", old", ", wide"}},
		{"three, start, unicode", "ends", 0, []ReplicaID{2, 1, 3}, []string{"日本語で", "ça va ", "🙂🙂 "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := newTextList()
			baseCtr := uint64(1)
			prefixOps := textTypeText(base, 1000, &baseCtr, 0, tc.prefix)
			lists := make([]*textList, len(tc.reps))
			all := make([][]textOp, len(tc.reps))
			for i, rep := range tc.reps {
				lists[i] = base.clone()
				ctr := uint64(1)
				all[i] = textTypeText(lists[i], rep, &ctr, tc.at, tc.texts[i])
			}
			// Every replica receives the others' ops; and an observer that
			// saw only the prefix receives them round-robin, one by one.
			for i := range lists {
				for j := range lists {
					if i != j {
						textApplyOps(t, lists[i], all[j])
					}
				}
			}
			obs := newTextList()
			textApplyOps(t, obs, prefixOps)
			for k := 0; ; k++ {
				more := false
				for j := range all {
					if k < len(all[j]) {
						textApplyOps(t, obs, all[j][k:k+1])
						more = true
					}
				}
				if !more {
					break
				}
			}
			lists = append(lists, obs)
			want := lists[0].String()
			for i, l := range lists {
				if got := l.String(); got != want {
					t.Fatalf("replica %d has %q, replica 0 %q", i, got, want)
				}
				checkTextInvariants(t, l)
			}
			if !strings.HasPrefix(want, string([]rune(tc.prefix)[:tc.at])) || !strings.HasSuffix(want, string([]rune(tc.prefix)[tc.at:])) {
				t.Fatalf("%q does not keep the prefix %q around the insertions", want, tc.prefix)
			}
			for _, s := range tc.texts {
				if !strings.Contains(want, s) {
					t.Fatalf("%q interleaves %q", want, s)
				}
			}
			enc := lists[0].appendState(nil)
			for i, l := range lists {
				if !bytes.Equal(l.appendState(nil), enc) {
					t.Fatalf("replica %d encodes differently", i)
				}
			}
		})
	}
}

// textSessionOps runs a random session and returns every op made, with the
// replicas' final lists.
func textSessionOps(tb testing.TB, seed uint64, steps int) ([]*textSimReplica, []textOp) {
	rng := rand.New(rand.NewPCG(seed, 1))
	reps := []*textSimReplica{}
	for i := 0; i < 3; i++ {
		reps = append(reps, &textSimReplica{id: ReplicaID(10 + i*7), list: newTextList(), ref: &refText{}, counter: 1, next: map[ReplicaID]int{}})
	}
	for step := 0; step < steps; step++ {
		s := reps[rng.IntN(len(reps))]
		if rng.IntN(3) > 0 {
			s.localOp(tb, rng)
			continue
		}
		// Partial sync from one other replica, in order.
		src := reps[rng.IntN(len(reps))]
		if src == s {
			continue
		}
		for i := s.next[src.id]; i < len(src.log) && rng.IntN(4) > 0; i++ {
			if !s.deliverable(src.log[i]) {
				break
			}
			s.apply(src.log[i])
			s.next[src.id] = i + 1
		}
	}
	var ops []textOp
	for _, s := range reps {
		ops = append(ops, s.log...)
	}
	return reps, ops
}

// TestTextConvergence: the same ops applied in different (causal) orders,
// with duplicates, give byte-identical encodings.
func TestTextConvergence(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		_, ops := textSessionOps(t, seed, 300)
		rng := rand.New(rand.NewPCG(seed, 2))
		var want []byte
		var wantText string
		for order := 0; order < 8; order++ {
			l := newTextList()
			sim := &textSimReplica{list: l, ref: &refText{}}
			done := make([]bool, len(ops))
			left := len(ops)
			for left > 0 {
				progress := false
				for _, i := range rng.Perm(len(ops)) {
					if done[i] || !sim.deliverable(ops[i]) {
						continue
					}
					sim.apply(ops[i])
					done[i] = true
					if j := rng.IntN(len(ops)); done[j] && rng.IntN(5) == 0 {
						sim.apply(ops[j]) // a duplicate: skipped, or an idempotent delete
					}
					left--
					progress = true
				}
				if !progress {
					t.Fatal("stuck: no deliverable op")
				}
			}
			checkTextInvariants(t, l)
			enc := l.appendState(nil)
			if order == 0 {
				want, wantText = enc, l.String()
				continue
			}
			if !bytes.Equal(enc, want) {
				t.Fatalf("seed %d order %d: encoding differs; text %q vs %q", seed, order, l.String(), wantText)
			}
		}
	}
}

// TestTextRoundTripAndClone: decoding and cloning give lists that encode
// the same, evolve the same under the same ops, and are independent.
func TestTextRoundTripAndClone(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		reps, _ := textSessionOps(t, seed, 600)
		for _, s := range reps {
			l := s.list
			enc := l.appendState(nil)
			d, err := decodeTextState(&reader{b: enc})
			if err != nil {
				t.Fatal(err)
			}
			if d.String() != l.String() || !bytes.Equal(d.appendState(nil), enc) {
				t.Fatal("round trip changed the list")
			}
			if fmt.Sprint(d.chars()) != fmt.Sprint(l.chars()) {
				t.Fatal("round trip changed the characters")
			}
			checkTextInvariants(t, d)

			// The decoded list, a clone and the original evolve alike under
			// the same ops, and independently of each other.
			c := l.clone()
			checkTextInvariants(t, c)
			rng := rand.New(rand.NewPCG(seed, 3))
			ctr := uint64(1 << 40)
			for k := 0; k < 200; k++ {
				id := OpID{s.id, ctr}
				if rng.IntN(3) == 0 && l.Len() > 0 {
					pos := rng.IntN(l.Len())
					spans := l.idsAt(pos, 1+rng.IntN(3))
					for _, x := range []*textList{l, d, c} {
						for _, sp := range spans {
							x.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
						}
					}
					continue
				}
				str := textRandom(rng, 1+rng.IntN(3))
				ctr += uint64(utf8.RuneCountInString(str))
				pos := rng.IntN(l.Len() + 1)
				left, right := l.localInsert(id, pos, str)
				d.integrate(id, left, right, str)
				c.integrate(id, left, right, str)
			}
			e1, e2, e3 := l.appendState(nil), d.appendState(nil), c.appendState(nil)
			if !bytes.Equal(e1, e2) || !bytes.Equal(e1, e3) {
				t.Fatal("original, decoded and clone diverged under the same ops")
			}
			checkTextInvariants(t, d)
			checkTextInvariants(t, c)

			// Independence: changing the clone leaves the original alone.
			before := l.String()
			c2 := l.clone()
			c2.localInsert(OpID{s.id, ctr}, 0, "zz")
			c2.remove(c2.firstID(), 1)
			if l.String() != before || !bytes.Equal(l.appendState(nil), e1) {
				t.Fatal("changing a clone changed the original")
			}
			l.localInsert(OpID{s.id, ctr + 5}, l.Len(), "end")
			if c2.contains(OpID{s.id, ctr + 5}) {
				t.Fatal("changing the original changed a clone")
			}
		}
	}
}

// firstID is the id of the first visible character (zero if none).
func (t *textList) firstID() OpID {
	if t.Len() == 0 {
		return OpID{}
	}
	sp := t.idsAt(0, 1)
	return OpID{sp[0].Replica, sp[0].From}
}

func TestTextEncodingEmptyAndSmall(t *testing.T) {
	l := newTextList()
	enc := l.appendState(nil)
	if !bytes.Equal(enc, []byte{0, 0}) {
		t.Fatalf("empty text encodes as %x", enc)
	}
	d, err := decodeTextState(&reader{b: enc})
	if err != nil || d.Len() != 0 {
		t.Fatalf("decode empty: %v", err)
	}
	// Deleting everything keeps tombstones, which are encoded.
	l.localInsert(OpID{3, 1}, 0, "hi")
	l.remove(OpID{3, 1}, 2)
	enc = l.appendState(nil)
	d, err = decodeTextState(&reader{b: enc})
	if err != nil || d.Len() != 0 || !d.contains(OpID{3, 2}) || !bytes.Equal(d.appendState(nil), enc) {
		t.Fatalf("tombstones lost: %v", err)
	}
}

// textRawRun is one run for textEncodeRaw, which writes the format directly so
// that tests can build invalid encodings.
type textRawRun struct {
	rep                 int
	n                   uint64
	ctr                 uint64
	left, right         OpID // explicit when not zero
	leftDist, rightDist int  // as a run distance when > 0
	deleted             bool
}

func textEncodeRaw(reps []ReplicaID, runs []textRawRun, content string) []byte {
	b := appendUvarint(nil, uint64(len(reps)))
	for _, r := range reps {
		b = appendU64(b, uint64(r))
	}
	b = appendUvarint(b, uint64(len(runs)))
	if len(runs) == 0 {
		return b
	}
	var cols [textCols][]byte
	expect := make([]uint64, len(reps))
	for i := range expect {
		expect[i] = 1
	}
	repOf := func(r ReplicaID) int {
		for i, x := range reps {
			if x == r {
				return i
			}
		}
		return 99
	}
	idOf := func(i int) OpID { // an out-of-range index still needs an id
		r := runs[max(0, min(i, len(runs)-1))]
		return OpID{reps[min(r.rep, len(reps)-1)], r.ctr}
	}
	var flag bool
	var cnt uint64
	for i, r := range runs {
		ri := min(r.rep, len(reps)-1)
		cols[textColRep] = appendUvarint(cols[textColRep], uint64(r.rep))
		cols[textColLen] = appendUvarint(cols[textColLen], r.n)
		pred := expect[ri]
		var left OpID
		switch {
		case r.leftDist > 0:
			cols[textColLeft] = appendUvarint(cols[textColLeft], 2*uint64(r.leftDist))
			left = idOf(i - r.leftDist)
			left.Counter += runs[max(0, i-r.leftDist)].n - 1
		case r.left.IsZero():
			cols[textColLeft] = append(cols[textColLeft], 0)
		default:
			lr := repOf(r.left.Replica)
			cols[textColLeft] = appendUvarint(cols[textColLeft], 2*uint64(lr)+1)
			cols[textColLeftCtr] = appendVarint(cols[textColLeftCtr], int64(r.left.Counter-expect[min(lr, len(reps)-1)]))
			left = r.left
		}
		if !left.IsZero() && left.Replica == reps[ri] {
			pred = left.Counter + 1
		}
		cols[textColCtr] = appendVarint(cols[textColCtr], int64(r.ctr-pred))
		expect[ri] = r.ctr + r.n
		switch {
		case r.rightDist > 0:
			cols[textColRight] = appendUvarint(cols[textColRight], 2*uint64(r.rightDist))
		case r.right.IsZero():
			cols[textColRight] = append(cols[textColRight], 0)
		default:
			cols[textColRight] = appendUvarint(cols[textColRight], 2*uint64(repOf(r.right.Replica))+1)
			cols[textColRightCtr] = appendVarint(cols[textColRightCtr], int64(r.right.Counter-r.ctr))
		}
		if r.deleted == flag {
			cnt++
		} else {
			cols[textColDeleted] = appendUvarint(cols[textColDeleted], cnt)
			flag, cnt = r.deleted, 1
		}
	}
	cols[textColDeleted] = appendUvarint(cols[textColDeleted], cnt)
	for c := range cols {
		if c == textColRep && len(reps) == 1 {
			continue
		}
		b = appendUvarint(b, uint64(len(cols[c])))
		b = append(b, cols[c]...)
	}
	b = appendUvarint(b, uint64(len(content)))
	return append(b, content...)
}

func TestTextDecodeValidates(t *testing.T) {
	A, B := ReplicaID(5), ReplicaID(9)
	ok := func() (reps []ReplicaID, runs []textRawRun, content string) {
		// "ab" by A, "c" by B typed after it, and a tombstone of A whose
		// left origin is inside "ab" (concurrent inserts make such).
		// Document order: A1-2, B1, A10 (deleted).
		return []ReplicaID{A, B}, []textRawRun{
			{rep: 0, n: 2, ctr: 1},
			{rep: 1, n: 1, ctr: 1, leftDist: 1},
			{rep: 0, n: 1, ctr: 10, left: OpID{A, 1}, deleted: true},
		}, "abc"
	}
	reps, runs, content := ok()
	good := textEncodeRaw(reps, runs, content)
	l, err := decodeTextState(&reader{b: good})
	if err != nil {
		t.Fatalf("valid encoding refused: %v", err)
	}
	if l.String() != "abc" || !bytes.Equal(l.appendState(nil), good) {
		t.Fatalf("decoded %q, re-encoding %x want %x", l.String(), l.appendState(nil), good)
	}
	// Every strict prefix is refused.
	for i := 0; i < len(good); i++ {
		if _, err := decodeTextState(&reader{b: good[:i]}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d bytes: err %v", i, err)
		}
	}
	cases := []struct {
		name, want string
		mod        func(reps *[]ReplicaID, runs []textRawRun, content *string)
	}{
		{"duplicate id", "duplicate id", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[2].ctr = 2 }},
		{"zero counter", "counter out of range", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[2].ctr = 0 }},
		{"left origin absent", "not in the text", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[2].left = OpID{A, 7} }},
		{"left origin after its run", "wrong side", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[0].left = OpID{B, 1} }},
		{"right origin before its run", "wrong side", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[2].right = OpID{A, 1} }},
		{"right origin absent", "not in the text", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[0].right = OpID{B, 2} }},
		{"explicit left where distance", "where a distance applies", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[1].leftDist, r[1].left = 0, OpID{A, 2} }},
		{"explicit right where distance", "where a distance applies", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[1].right = OpID{A, 10} }},
		{"left origin before the first run", "before the first run", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[1].leftDist = 2 }},
		{"right origin after the last run", "after the last run", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[1].rightDist = 2 }},
		{"runs that are one", "are one run", func(_ *[]ReplicaID, r []textRawRun, _ *string) {
			r[1].rep, r[1].ctr = 0, 3
			r[2].rep, r[2].ctr = 1, 1
		}},
		{"unused replica", "unused replica", func(reps *[]ReplicaID, _ []textRawRun, _ *string) { *reps = append(*reps, 77) }},
		{"replicas unsorted", "not strictly ascending", func(reps *[]ReplicaID, r []textRawRun, _ *string) { *reps = []ReplicaID{B, A} }},
		{"zero length run", "run length 0", func(_ *[]ReplicaID, r []textRawRun, c *string) { r[1].n = 0; *c = "ab" }},
		{"content short", "content shorter", func(_ *[]ReplicaID, _ []textRawRun, c *string) { *c = "ab" }},
		{"content long", "content longer", func(_ *[]ReplicaID, _ []textRawRun, c *string) { *c = "abcd" }},
		{"content not UTF-8", "not UTF-8", func(_ *[]ReplicaID, _ []textRawRun, c *string) { *c = "ab\xff" }},
		{"content splits a rune", "content shorter", func(_ *[]ReplicaID, _ []textRawRun, c *string) { *c = "aé" }},
		{"replica index out of range", "out of range", func(_ *[]ReplicaID, r []textRawRun, _ *string) { r[1].rep = 2 }},
	}
	for _, tc := range cases {
		reps, runs, content := ok()
		tc.mod(&reps, runs, &content)
		b := textEncodeRaw(reps, runs, content)
		_, err := decodeTextState(&reader{b: b})
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want ErrMalformed saying %q", tc.name, err, tc.want)
		}
	}
	// A tombstone run of 2^31 characters costs a few bytes and no memory
	// per character.
	huge := textEncodeRaw([]ReplicaID{A}, []textRawRun{{rep: 0, n: 1 << 31, ctr: 1, deleted: true}}, "")
	l, err = decodeTextState(&reader{b: huge})
	if err != nil || !l.containsRange(OpID{A, 1}, 1<<31) || l.Len() != 0 {
		t.Fatalf("huge tombstone: %v", err)
	}
	if n := l.remove(OpID{A, 5}, 1<<20); n != 0 {
		t.Fatalf("remove of tombstones removed %d", n)
	}
}

// TestTextTraces replays the real editing traces as local ops, checks the
// final text, round-trips the encoding, and replays the recorded ops as
// remote ops on a fresh list, which must reach the byte-identical state.
func TestTextTraces(t *testing.T) {
	for _, name := range []string{"automerge-paper", "seph-blog1", "friendsforever_flat"} {
		t.Run(name, func(t *testing.T) {
			tr := loadTextTrace(t, name)
			var ops []textOp
			l := textReplayLocal(tr, &ops)
			if l.String() != tr.end {
				t.Fatalf("final text differs from endContent (len %d vs %d)", l.Len(), utf8.RuneCountInString(tr.end))
			}
			if l.Len() != utf8.RuneCountInString(tr.end) {
				t.Fatalf("Len %d", l.Len())
			}
			checkTextInvariants(t, l)
			enc := l.appendState(nil)
			d, err := decodeTextState(&reader{b: enc})
			if err != nil {
				t.Fatal(err)
			}
			if d.String() != tr.end || !bytes.Equal(d.appendState(nil), enc) {
				t.Fatal("round trip changed the text")
			}
			r := textReplayRemote(ops)
			if !bytes.Equal(r.appendState(nil), enc) {
				t.Fatal("remote replay differs from local")
			}
			t.Logf("%d patches; %s; encoded %d bytes, %d deflated", len(tr.patches), textStats(l), len(enc), textFlateSize(enc))
		})
	}
}

// TestTextChurnCompacts: typing and deleting forever keeps memory bounded by
// the live text and the tombstone runs, not by everything ever typed.
func TestTextChurnCompacts(t *testing.T) {
	l := newTextList()
	ref := []rune{}
	ctr := uint64(1)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 20000; i++ {
		// Type at the end and backspace: tombstones merge into a few runs,
		// so the garbage in the buffer is what must be reclaimed.
		pos := l.Len()
		s := textRandom(rng, 1+rng.IntN(8))
		l.localInsert(OpID{1, ctr}, pos, s)
		ctr += uint64(utf8.RuneCountInString(s))
		ref = append(ref[:pos], append([]rune(s), ref[pos:]...)...)
		for l.Len() > 40 {
			k := 1 + rng.IntN(6)
			p := max(0, l.Len()-k)
			k = min(k, l.Len()-p)
			for _, sp := range l.idsAt(p, k) {
				l.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
			}
			ref = append(ref[:p], ref[p+k:]...)
		}
	}
	if l.String() != string(ref) {
		t.Fatalf("text %q, want %q", l.String(), string(ref))
	}
	checkTextInvariants(t, l)
	t.Logf("%s", textStats(l))
	if limit := 4096 + 2*l.liveBytes + len(l.leaves)*textLeafMax*8 + 64; len(l.buf) > limit {
		t.Fatalf("buffer holds %d bytes for %d live: not compacted", len(l.buf), l.liveBytes)
	}
}

// TestTextConcurrentTraces replays the concurrent traces (real sessions of
// two and three people typing at once): each txn is applied by its agent on
// the merge of its parents, so the list integrates real concurrent ops. All
// agents and a fresh replica that receives every op must reach endContent,
// with byte-identical encodings.
func TestTextConcurrentTraces(t *testing.T) {
	for _, name := range []string{"friendsforever", "clownschool"} {
		t.Run(name, func(t *testing.T) {
			tr := loadTextTrace(t, name)
			if tr.agents == 0 || len(tr.txns) == 0 {
				t.Fatal("not a concurrent trace")
			}
			na := tr.agents
			vv := make([][]int, len(tr.txns))     // per txn: txns of each agent in its history, itself included
			byAgent := make([][]int, na)          // each agent's txns, in order
			ops := make([][]textOp, len(tr.txns)) // the ops each txn made
			lists := make([]*textList, na)
			have := make([][]int, na) // per agent list: txns of each agent applied
			ctr := make([]uint64, na)
			for a := range lists {
				lists[a], have[a], ctr[a] = newTextList(), make([]int, na), 1
			}
			catchUp := func(a int, to []int) {
				var missing []int
				for b := 0; b < na; b++ {
					if have[a][b] > to[b] {
						t.Fatalf("agent %d is ahead of the version to fork at", a)
					}
					missing = append(missing, byAgent[b][have[a][b]:to[b]]...)
				}
				slices.Sort(missing) // txn order is causal order
				for _, m := range missing {
					textApplyOps(t, lists[a], ops[m])
				}
				copy(have[a], to)
			}
			concurrent := 0
			for ti, txn := range tr.txns {
				P := make([]int, na)
				for _, p := range txn.parents {
					if p >= ti {
						t.Fatalf("txn %d: parent %d not earlier", ti, p)
					}
					for b := range P {
						P[b] = max(P[b], vv[p][b])
					}
				}
				a := txn.agent
				if P[a] != len(byAgent[a]) {
					t.Fatalf("txn %d: agent %d does not follow its own previous txn", ti, a)
				}
				if len(txn.parents) > 1 {
					concurrent++
				}
				catchUp(a, P)
				l := lists[a]
				for _, p := range tr.patches[txn.from:txn.to] {
					if p.del > 0 {
						spans := l.idsAt(p.pos, p.del)
						n := 0
						for _, sp := range spans {
							n += int(sp.To - sp.From + 1)
							l.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
						}
						if n != p.del {
							t.Fatalf("txn %d: delete of %d at %d found %d characters", ti, p.del, p.pos, n)
						}
						ops[ti] = append(ops[ti], textOp{id: OpID{ReplicaID(a + 1), ctr[a]}, spans: spans})
						ctr[a]++
					}
					if p.ins != "" {
						if p.pos > l.Len() {
							t.Fatalf("txn %d: insert at %d past the end %d", ti, p.pos, l.Len())
						}
						id := OpID{ReplicaID(a + 1), ctr[a]}
						left, right := l.localInsert(id, p.pos, p.ins)
						ops[ti] = append(ops[ti], textOp{insert: true, id: id, left: left, right: right, s: p.ins})
						ctr[a] += uint64(utf8.RuneCountInString(p.ins))
					}
				}
				P[a]++
				vv[ti] = P
				have[a][a]++
				byAgent[a] = append(byAgent[a], ti)
			}
			all := make([]int, na)
			for b := range all {
				all[b] = len(byAgent[b])
			}
			fresh := newTextList()
			for ti := range ops {
				textApplyOps(t, fresh, ops[ti])
			}
			if fresh.String() != tr.end {
				t.Fatalf("merged text differs from endContent (%d vs %d runes)", fresh.Len(), utf8.RuneCountInString(tr.end))
			}
			enc := fresh.appendState(nil)
			for a := range lists {
				catchUp(a, all)
				checkTextInvariants(t, lists[a])
				if !bytes.Equal(lists[a].appendState(nil), enc) {
					t.Fatalf("agent %d encodes differently from a fresh replay", a)
				}
			}
			t.Logf("%d txns (%d merges) by %d agents; %s", len(tr.txns), concurrent, na, textStats(fresh))
		})
	}
}
