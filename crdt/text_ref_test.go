package crdt

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"
)

// refText is the naive reference for textList: one item per character in a
// plain slice, O(n) everything, and integrate written as literally as
// possible after reference-crdts' integrateYjsMod. The real list must agree
// with it on the text and on the id, origins and deleted flag of every
// character, in order.
type refText struct {
	chars []refChar
}

type refChar struct {
	id, left, right OpID
	r               rune
	deleted         bool
}

func (d *refText) index(id OpID) int {
	for i := range d.chars {
		if d.chars[i].id == id {
			return i
		}
	}
	return -2
}

func (d *refText) String() string {
	var b []byte
	for _, c := range d.chars {
		if !c.deleted {
			b = utf8.AppendRune(b, c.r)
		}
	}
	return string(b)
}

// itemAtPos is findItemAtPos without stick_end: the index of the pos-th
// visible item, or len(chars) when pos is the visible length.
func (d *refText) itemAtPos(pos int) int {
	i := 0
	for ; i < len(d.chars); i++ {
		if d.chars[i].deleted {
			continue
		}
		if pos == 0 {
			return i
		}
		pos--
	}
	if pos != 0 {
		panic("ref: past the end")
	}
	return i
}

func (d *refText) localInsert(id OpID, pos int, s string) (left, right OpID) {
	i := d.itemAtPos(pos)
	if i > 0 {
		left = d.chars[i-1].id
	}
	if i < len(d.chars) {
		right = d.chars[i].id
	}
	d.integrate(id, left, right, s)
	return left, right
}

func (d *refText) integrate(id, left, right OpID, s string) {
	k := uint64(0)
	for _, r := range s {
		c := refChar{id: OpID{id.Replica, id.Counter + k}, left: left, right: right, r: r}
		if k > 0 {
			c.left = OpID{id.Replica, id.Counter + k - 1}
		}
		d.integrateOne(c)
		k++
	}
}

func (d *refText) pos(id OpID) int {
	if id.IsZero() {
		return -1
	}
	i := d.index(id)
	if i < 0 {
		panic("ref: origin not found")
	}
	return i
}

func (d *refText) posRight(id OpID) int {
	if id.IsZero() {
		return len(d.chars)
	}
	return d.pos(id)
}

func (d *refText) integrateOne(c refChar) {
	left := d.pos(c.left)
	right := d.posRight(c.right)
	dest := left + 1
	scanning := false
	for i := dest; ; i++ {
		if !scanning {
			dest = i
		}
		if i == len(d.chars) || i == right {
			break
		}
		o := d.chars[i]
		oleft := d.pos(o.left)
		oright := d.posRight(o.right)
		if oleft < left {
			break
		} else if oleft == left {
			if oright < right {
				scanning = true
				continue
			} else if oright == right {
				if c.id.Replica < o.id.Replica {
					break
				}
				scanning = false
				continue
			} else {
				scanning = false
				continue
			}
		}
	}
	d.chars = append(d.chars, refChar{})
	copy(d.chars[dest+1:], d.chars[dest:])
	d.chars[dest] = c
}

func (d *refText) idsAt(pos, n int) []OpID {
	var out []OpID
	for i := range d.chars {
		if d.chars[i].deleted {
			continue
		}
		if pos > 0 {
			pos--
			continue
		}
		if n == 0 {
			break
		}
		out = append(out, d.chars[i].id)
		n--
	}
	return out
}

func (d *refText) remove(id OpID) {
	if i := d.index(id); i >= 0 {
		d.chars[i].deleted = true
	}
}

// chars expands the real list into reference items (content of deleted
// characters is gone, so r is 0 for them).
func (t *textList) chars() []refChar {
	var out []refChar
	for _, lf := range t.leaves {
		for _, r := range lf.runs {
			content := []rune(string(t.buf[r.off : r.off+r.blen]))
			for k := uint64(0); k < uint64(r.n); k++ {
				c := refChar{id: OpID{r.id.Replica, r.id.Counter + k}, left: r.left, right: r.right, deleted: r.deleted}
				if k > 0 {
					c.left = OpID{r.id.Replica, r.id.Counter + k - 1}
				}
				if !r.deleted {
					c.r = content[k]
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// checkTextInvariants verifies the structure: counts, positions, cursor,
// content lengths and the id index.
func checkTextInvariants(tb testing.TB, t *textList) {
	tb.Helper()
	if len(t.leaves) == 0 {
		tb.Fatal("no leaves")
	}
	live, liveBytes, before := 0, 0, 0
	for i, lf := range t.leaves {
		if lf.pos != i || t.arena[lf.id] != lf {
			tb.Fatalf("leaf %d: pos %d id %d out of step", i, lf.pos, lf.id)
		}
		if len(lf.runs) == 0 && len(t.leaves) > 1 {
			tb.Fatalf("leaf %d empty", i)
		}
		if len(lf.runs) > textLeafMax {
			tb.Fatalf("leaf %d has %d runs", i, len(lf.runs))
		}
		if i == t.curLeaf && before != t.curBefore {
			tb.Fatalf("cursor: leaf %d before %d, want %d", i, t.curBefore, before)
		}
		n := 0
		for _, r := range lf.runs {
			if r.n == 0 {
				tb.Fatalf("leaf %d: empty run", i)
			}
			if !r.deleted {
				n += int(r.n)
				liveBytes += int(r.blen)
				if c := utf8.RuneCount(t.buf[r.off : r.off+r.blen]); c != int(r.n) {
					tb.Fatalf("run %v: %d runes of content, want %d", r.id, c, r.n)
				}
			}
			if l, ok := t.find(r.id); !ok || l.leaf != i {
				tb.Fatalf("index: %v in leaf %d, found %v %v", r.id, i, l, ok)
			}
			if l, ok := t.find(r.last()); !ok || l.leaf != i {
				tb.Fatalf("index: %v in leaf %d, found %v %v", r.last(), i, l, ok)
			}
		}
		if n != lf.live {
			tb.Fatalf("leaf %d: live %d, runs say %d", i, lf.live, n)
		}
		live += n
		before += n
	}
	if live != t.live || liveBytes != t.liveBytes {
		tb.Fatalf("live %d/%d bytes %d/%d", t.live, live, t.liveBytes, liveBytes)
	}
	if t.curLeaf >= len(t.leaves) {
		tb.Fatalf("cursor past the leaves")
	}
}

// ---- the differential simulator ----

var (
	textSeeds = flag.Int("textseeds", 0, "run this many random text sessions (seeded from the clock) besides the fixed ones")
	textSeed  = flag.Uint64("textseed", 0, "run only the text session with this seed")
)

// textOp is one op as the caller (Doc) would carry it.
type textOp struct {
	insert      bool
	id          OpID // insert: first character; delete: the op's own id
	left, right OpID
	s           string
	spans       []Span
}

type textSimReplica struct {
	id      ReplicaID
	list    *textList
	ref     *refText
	counter uint64
	log     []textOp
	next    map[ReplicaID]int // per source: how much of its log was delivered here
}

var textAlphabet = []rune("abcdefghij XYZ.,éßø日本語🙂")

func textRandom(rng *rand.Rand, n int) string {
	r := make([]rune, n)
	for i := range r {
		r[i] = textAlphabet[rng.IntN(len(textAlphabet))]
	}
	return string(r)
}

// deliverable reports whether every dependency of op is present.
func (s *textSimReplica) deliverable(op textOp) bool {
	if op.insert {
		return (op.left.IsZero() || s.list.contains(op.left)) && (op.right.IsZero() || s.list.contains(op.right))
	}
	for _, sp := range op.spans {
		if !s.list.containsRange(OpID{sp.Replica, sp.From}, sp.To-sp.From+1) {
			return false
		}
	}
	return true
}

// apply applies a remote op the way Doc does: duplicates are skipped.
func (s *textSimReplica) apply(op textOp) {
	if op.insert {
		if s.list.contains(op.id) {
			return
		}
		s.list.integrate(op.id, op.left, op.right, op.s)
		s.ref.integrate(op.id, op.left, op.right, op.s)
		return
	}
	for _, sp := range op.spans {
		s.list.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
		for c := sp.From; c <= sp.To; c++ {
			s.ref.remove(OpID{sp.Replica, c})
		}
	}
}

func (s *textSimReplica) localOp(tb testing.TB, rng *rand.Rand) {
	n := s.list.Len()
	if n == 0 || rng.IntN(10) < 6 {
		pos := rng.IntN(n + 1)
		if rng.IntN(4) == 0 && len(s.log) > 0 && s.log[len(s.log)-1].insert {
			// Keep typing where the last insert ended, like a person.
			if p, ok := s.list.posOf(OpID{s.id, s.counter - 1}); ok {
				pos = p + 1
			}
		}
		str := textRandom(rng, 1+rng.IntN(5))
		id := OpID{s.id, s.counter}
		s.counter += uint64(utf8.RuneCountInString(str))
		l0, r0 := s.list.originsAt(pos)
		left, right := s.list.localInsert(id, pos, str)
		rl, rr := s.ref.localInsert(id, pos, str)
		if left != rl || right != rr || left != l0 || right != r0 {
			tb.Fatalf("insert at %d: origins %v %v (originsAt %v %v), reference %v %v", pos, left, right, l0, r0, rl, rr)
		}
		s.log = append(s.log, textOp{insert: true, id: id, left: left, right: right, s: str})
		return
	}
	pos := rng.IntN(n)
	k := 1 + rng.IntN(min(4, n-pos))
	spans := s.list.idsAt(pos, k)
	want := s.ref.idsAt(pos, k)
	var got []OpID
	for i, sp := range spans {
		if i > 0 && spans[i-1].Replica == sp.Replica && spans[i-1].To+1 == sp.From {
			tb.Fatalf("idsAt: spans %v not maximal", spans)
		}
		for c := sp.From; c <= sp.To; c++ {
			got = append(got, OpID{sp.Replica, c})
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Fatalf("idsAt(%d,%d) = %v, reference %v", pos, k, got, want)
	}
	for _, sp := range spans {
		if p, vis := s.list.posOf(OpID{sp.Replica, sp.From}); !vis || p < pos || p >= pos+k {
			tb.Fatalf("posOf(%v) = %d %v, want in [%d,%d)", sp, p, vis, pos, pos+k)
		}
		if got := s.list.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1); got != int(sp.To-sp.From+1) {
			tb.Fatalf("remove %v: %d newly deleted", sp, got)
		}
		if p, vis := s.list.posOf(OpID{sp.Replica, sp.From}); vis || p != pos {
			tb.Fatalf("posOf(deleted %v) = %d %v, want %d false", sp, p, vis, pos)
		}
	}
	for _, id := range want {
		s.ref.remove(id)
	}
	s.log = append(s.log, textOp{id: OpID{s.id, s.counter}, spans: spans})
	s.counter++
}

func (s *textSimReplica) check(tb testing.TB, step int) {
	tb.Helper()
	if got, want := s.list.String(), s.ref.String(); got != want {
		tb.Fatalf("step %d replica %v: text %q, reference %q", step, s.id, got, want)
	}
	got, want := s.list.chars(), s.ref.chars
	if len(got) != len(want) {
		tb.Fatalf("step %d replica %v: %d chars, reference %d", step, s.id, len(got), len(want))
	}
	for i := range got {
		w := want[i]
		if w.deleted {
			w.r = 0
		}
		if got[i] != w {
			tb.Fatalf("step %d replica %v: char %d is %+v, reference %+v", step, s.id, i, got[i], w)
		}
	}
	if s.list.Len() != utf8.RuneCountInString(s.ref.String()) {
		tb.Fatalf("Len %d", s.list.Len())
	}
}

// runTextSession runs one seeded multi-replica session, comparing every
// replica with its reference after each step, and checks convergence.
func runTextSession(tb testing.TB, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	nrep := 2 + rng.IntN(3)
	reps := make([]*textSimReplica, nrep)
	for i := range reps {
		// Replica ids in random order of magnitude, so ties go both ways.
		id := ReplicaID(rng.Uint64()>>uint(rng.IntN(60)) | 1)
		reps[i] = &textSimReplica{id: id, list: newTextList(), ref: &refText{}, counter: 1 + uint64(rng.IntN(3)), next: map[ReplicaID]int{}}
	}
	deliverOne := func(dst *textSimReplica) bool {
		order := rng.Perm(nrep)
		for _, k := range order {
			src := reps[k]
			if src == dst {
				continue
			}
			i := dst.next[src.id]
			if i > 0 && rng.IntN(20) == 0 {
				dst.apply(src.log[rng.IntN(i)]) // a duplicate
			}
			if i == len(src.log) || !dst.deliverable(src.log[i]) {
				continue
			}
			dst.apply(src.log[i])
			dst.next[src.id] = i + 1
			return true
		}
		return false
	}
	for step := 0; step < steps; step++ {
		s := reps[rng.IntN(nrep)]
		switch x := rng.IntN(100); {
		case x < 45:
			s.localOp(tb, rng)
		case x < 95:
			for k := rng.IntN(4); k >= 0; k-- {
				deliverOne(s)
			}
		case x < 97:
			c := s.list.clone()
			before := c.String()
			id := OpID{s.id, s.counter}
			left, right := s.list.localInsert(id, 0, "q")
			s.ref.localInsert(id, 0, "q")
			s.log = append(s.log, textOp{insert: true, id: id, left: left, right: right, s: "q"})
			s.counter++
			if c.String() != before {
				tb.Fatalf("step %d: clone changed by an insert into its original", step)
			}
			checkTextInvariants(tb, c)
		default:
			enc := s.list.appendState(nil)
			d, err := decodeTextState(&reader{b: enc})
			if err != nil {
				tb.Fatalf("step %d: decode: %v", step, err)
			}
			if re := d.appendState(nil); !bytes.Equal(re, enc) {
				tb.Fatalf("step %d: re-encoding differs", step)
			}
			s.list = d // go on with the decoded list
		}
		s.check(tb, step)
		if step%16 == 0 {
			checkTextInvariants(tb, s.list)
		}
	}
	// Deliver everything; every replica must then hold the same state.
	for progress := true; progress; {
		progress = false
		for _, s := range reps {
			for deliverOne(s) {
				progress = true
			}
		}
	}
	var enc0 []byte
	for i, s := range reps {
		s.check(tb, steps)
		checkTextInvariants(tb, s.list)
		enc := s.list.appendState(nil)
		if i == 0 {
			enc0 = enc
		} else if !bytes.Equal(enc, enc0) {
			tb.Fatalf("replicas %v and %v differ after delivering everything:\n%q\n%q", reps[0].id, s.id, reps[0].list.String(), s.list.String())
		}
	}
}

func TestTextDifferential(t *testing.T) {
	var seeds []uint64
	switch {
	case *textSeed != 0:
		seeds = []uint64{*textSeed}
	default:
		for s := uint64(1); s <= 40; s++ {
			seeds = append(seeds, s)
		}
		base := uint64(time.Now().UnixNano())
		for i := 0; i < *textSeeds; i++ {
			seeds = append(seeds, base+uint64(i))
		}
	}
	for _, seed := range seeds {
		steps := 400
		if seed%8 == 0 {
			steps = 2500 // long enough for many leaves and the id index
		}
		t.Logf("seed %d (rerun with -textseed=%d)", seed, seed)
		runTextSession(t, seed, steps)
		if t.Failed() {
			return
		}
	}
}
