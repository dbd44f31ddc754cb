package crdt

import (
	"cmp"
	"math"
	"strings"
	"unicode/utf8"
)

// textList is the replicated text of one element field: a list CRDT with
// the non-interleaving behaviour of FugueMax, in the YjsMod integration form
// that diamond-types uses.
//
// # The algorithm
//
// Every character has an id and two origins: the characters that were
// immediately left and right of it when it was typed. A new character is
// placed between its origins; characters already there (inserted
// concurrently) are ordered by the YjsMod rules in integrate. Deleted
// characters stay as tombstones, so that later ops can still name them as
// origins; their content is dropped.
//
// # The structure
//
// Characters are stored as runs: consecutive counters of one replica where
// each character's left origin is the previous character, with one right
// origin and one deleted flag. Typing produces one run per burst: the
// automerge-paper trace (182k characters typed, 105k left) ends as 11.8k
// runs, about 2 MB in all.
//
// Runs sit in leaves of at most textLeafMax runs, and the leaves sit in one
// slice in document order, each with its count of visible characters. A
// cursor remembers a leaf and the visible characters before it; because
// edits are local, finding a position walks a few leaves from the cursor.
// An id finds its leaf through a per-replica index of counter ranges
// (textIndex), and then its run by scanning the leaf.
//
// Rejected:
//   - One item per character (the reference algorithm): 5-10x the memory
//     and an O(n) splice per keystroke.
//   - A balanced tree of runs with parent pointers (diamond-types' content
//     tree): O(log n) worst case, but several times the code, and with edits
//     as local as real typing the two-level slice with a cursor is as fast.
//     Random access on a huge text costs O(leaves): about 300 leaves, a
//     microsecond, at 100k characters; texts on a board are much smaller.
//   - A per-character id index (paged arrays indexed by counter): O(1), but
//     its memory is per character, so a forged snapshot of a few bytes that
//     declares a tombstone run of 2^40 characters would exhaust memory. The
//     range index costs memory per run, whatever the run lengths.
//   - Content as one string per run: typing one character would reallocate
//     the run's string. All content lives in one append-only byte buffer
//     instead; a run names a slice of it, and typing at the end of a run
//     whose bytes end the buffer appends in place. Deleted content becomes
//     garbage in the buffer, which compacts when the garbage outweighs both
//     the live text and the runs (see remove).
type textList struct {
	leaves []*textLeaf // document order; never empty; only leaves[0] may hold no runs
	arena  []*textLeaf // by leaf id; arena[0] is nil so that id 0 means "absent" in the index

	// idx maps ids to leaves. It stays nil while the list has a single leaf
	// (every short text on a board): then the one leaf is scanned instead,
	// and a sticky note costs no map.
	idx     map[ReplicaID]*textIndex
	lastRep ReplicaID
	lastIdx *textIndex

	buf       []byte // content of runs; live runs name slices of it
	live      int    // visible characters
	liveBytes int    // bytes of visible content

	// The cursor: leaf curLeaf has curBefore visible characters before it.
	// Every change of a leaf's count before curLeaf adjusts curBefore, so the
	// cursor is always valid.
	curLeaf, curBefore int

	// The runs find found last, the latest first (see find).
	hints [2]textHint
}

// textLeafMax is the most runs a leaf holds after an operation. Measured on
// the editing traces: 32 and 64 are within a few percent; 64 halves the
// number of leaves the cursor walks on a jump.
const textLeafMax = 64

// textMaxRun bounds a run's length so that it fits the uint32 fields of
// textRun; longer inserts and decoded runs are split (inserts) or refused
// (decoding).
const textMaxRun = math.MaxUint32

type textLeaf struct {
	runs []textRun
	live int    // visible characters in runs
	pos  int    // index in textList.leaves
	id   uint32 // index in textList.arena
}

// textRun is a run of characters: counters id.Counter .. id.Counter+n-1 of
// id.Replica. The first character's origins are left and right; character
// i>0 has left origin id+i-1 and right origin right.
type textRun struct {
	id      OpID
	left    OpID
	right   OpID
	n       uint32 // characters
	off     uint32 // content: buf[off : off+blen], live runs only
	blen    uint32
	deleted bool
}

func (r *textRun) last() OpID { return OpID{r.id.Replica, r.id.Counter + uint64(r.n) - 1} }

// has reports whether the run holds character id.
func (r *textRun) has(id OpID) bool {
	return r.id.Replica == id.Replica && id.Counter-r.id.Counter < uint64(r.n)
}

// textLoc is where a character sits: run `run` of leaf `leaf` (a position in
// textList.leaves), character `off` of that run. Locations compare in
// document order as long as the structure does not change.
type textLoc struct {
	leaf, run, off int
}

func (a textLoc) cmp(b textLoc) int {
	if c := cmp.Compare(a.leaf, b.leaf); c != 0 {
		return c
	}
	if c := cmp.Compare(a.run, b.run); c != 0 {
		return c
	}
	return cmp.Compare(a.off, b.off)
}

func newTextList() *textList {
	lf := &textLeaf{id: 1}
	return &textList{leaves: []*textLeaf{lf}, arena: []*textLeaf{nil, lf}}
}

// Len returns the number of visible characters (runes).
func (t *textList) Len() int { return t.live }

// String returns the visible text.
func (t *textList) String() string {
	var sb strings.Builder
	sb.Grow(t.liveBytes)
	for _, lf := range t.leaves {
		for i := range lf.runs {
			if r := &lf.runs[i]; !r.deleted {
				sb.Write(t.buf[r.off : r.off+r.blen])
			}
		}
	}
	return sb.String()
}

// ---- finding ids ----

func (t *textList) repIndex(r ReplicaID) *textIndex {
	if r == t.lastRep && t.lastIdx != nil {
		return t.lastIdx
	}
	x := t.idx[r]
	if x != nil {
		t.lastRep, t.lastIdx = r, x
	}
	return x
}

// leafOf returns the leaf that holds character id, or nil.
func (t *textList) leafOf(id OpID) *textLeaf {
	if t.idx == nil {
		return t.leaves[0]
	}
	x := t.repIndex(id.Replica)
	if x == nil {
		return nil
	}
	l, _ := x.get(id.Counter)
	if l == 0 {
		return nil
	}
	return t.arena[l]
}

// find locates character id. It first tries the two runs it found last,
// and the run after each: an insert names as its left origin the character
// typed just before it (often in the run just grown, or just made after the
// one found), and the check of an op's two origins is followed by the
// placing of its text, which looks up the left one again. The hints need no
// invalidation: ids are unique in the list, so a run that holds id is where
// id is, whatever changed since.
func (t *textList) find(id OpID) (textLoc, bool) {
	for h := range t.hints {
		lf, ri := t.hints[h].leaf, t.hints[h].run
		if lf == nil {
			continue
		}
		for i := ri; i < len(lf.runs) && i <= ri+1; i++ {
			if r := &lf.runs[i]; r.has(id) {
				if h != 0 || i != ri {
					t.hints[1], t.hints[0] = t.hints[0], textHint{lf, i}
				}
				return textLoc{lf.pos, i, int(id.Counter - r.id.Counter)}, true
			}
		}
	}
	lf := t.leafOf(id)
	if lf == nil {
		return textLoc{}, false
	}
	for i := range lf.runs {
		if r := &lf.runs[i]; r.has(id) {
			t.hints[1], t.hints[0] = t.hints[0], textHint{lf, i}
			return textLoc{lf.pos, i, int(id.Counter - r.id.Counter)}, true
		}
	}
	return textLoc{}, false
}

// textHint is a run find found (see find).
type textHint struct {
	leaf *textLeaf
	run  int
}

func (t *textList) contains(id OpID) bool {
	_, ok := t.find(id)
	return ok
}

// containsRange reports whether characters id.Counter .. id.Counter+n-1 of
// id.Replica are all in the list (n == 0: true).
func (t *textList) containsRange(id OpID, n uint64) bool {
	if n == 0 {
		return true
	}
	last := id.Counter + n - 1
	if last < id.Counter {
		return false // wraps
	}
	c := id.Counter
	for {
		l, ok := t.find(OpID{id.Replica, c})
		if !ok {
			return false
		}
		r := &t.leaves[l.leaf].runs[l.run]
		end := r.id.Counter + uint64(r.n) - 1 // last counter of the run
		if end >= last {
			return true
		}
		c = end + 1
	}
}

// ---- positions ----

// seekLeaf moves the cursor to leaf li and returns the visible characters
// before it.
func (t *textList) seekLeaf(li int) int {
	for t.curLeaf > li {
		t.curLeaf--
		t.curBefore -= t.leaves[t.curLeaf].live
	}
	for t.curLeaf < li {
		t.curBefore += t.leaves[t.curLeaf].live
		t.curLeaf++
	}
	return t.curBefore
}

// spotAt locates the pos-th visible character, 0 <= pos < Len().
func (t *textList) spotAt(pos int) textLoc {
	li, before := t.curLeaf, t.curBefore
	for pos < before {
		li--
		before -= t.leaves[li].live
	}
	for pos >= before+t.leaves[li].live {
		before += t.leaves[li].live
		li++
	}
	t.curLeaf, t.curBefore = li, before
	k := pos - before
	runs := t.leaves[li].runs
	if lv := t.leaves[li].live; k >= lv/2 {
		// Nearer the end: scan backwards, counting from the leaf's end.
		k -= lv // < 0: characters from the end of the leaf
		for i := len(runs) - 1; i >= 0; i-- {
			r := &runs[i]
			if r.deleted {
				continue
			}
			k += int(r.n)
			if k >= 0 {
				return textLoc{li, i, k}
			}
		}
		panic("crdt: text leaf count out of step with its runs")
	}
	for i := range runs {
		r := &runs[i]
		if r.deleted {
			continue
		}
		if k < int(r.n) {
			return textLoc{li, i, k}
		}
		k -= int(r.n)
	}
	panic("crdt: text leaf count out of step with its runs")
}

// charBefore returns the id of the character before run ri of leaf li (the
// zero id at the start of the text).
func (t *textList) charBefore(li, ri int) OpID {
	for {
		if ri > 0 {
			return t.leaves[li].runs[ri-1].last()
		}
		if li == 0 {
			return OpID{}
		}
		li--
		ri = len(t.leaves[li].runs)
	}
}

// charAt returns the id of the first character at or after run ri of leaf
// li, or false at the end of the text.
func (t *textList) charAt(li, ri int) (OpID, bool) {
	for ; li < len(t.leaves); li, ri = li+1, 0 {
		if ri < len(t.leaves[li].runs) {
			return t.leaves[li].runs[ri].id, true
		}
	}
	return OpID{}, false
}

// originsAt returns the origins of a local insert at visible position pos,
// 0 <= pos <= Len(): the new text goes right before the pos-th visible
// character, after any tombstones before it (reference-crdts findItemAtPos
// without stick_end).
func (t *textList) originsAt(pos int) (left, right OpID) {
	pos = max(pos, 0)
	if pos >= t.live {
		li := len(t.leaves) - 1
		return t.charBefore(li, len(t.leaves[li].runs)), OpID{}
	}
	l := t.spotAt(pos)
	r := &t.leaves[l.leaf].runs[l.run]
	right = OpID{r.id.Replica, r.id.Counter + uint64(l.off)}
	if l.off > 0 {
		return OpID{r.id.Replica, right.Counter - 1}, right
	}
	return t.charBefore(l.leaf, l.run), right
}

// posOf returns the visible position of character id and whether it is
// visible; for a deleted character, the position it would have. For an id
// not in the list it returns (-1, false).
func (t *textList) posOf(id OpID) (pos int, visible bool) {
	l, ok := t.find(id)
	if !ok {
		return -1, false
	}
	pos = t.seekLeaf(l.leaf)
	runs := t.leaves[l.leaf].runs
	for i := 0; i < l.run; i++ {
		if !runs[i].deleted {
			pos += int(runs[i].n)
		}
	}
	if runs[l.run].deleted {
		return pos, false
	}
	return pos + l.off, true
}

// appendIDsAt appends the ids of visible characters [pos, pos+n) as maximal
// spans; it stops at the end of the text.
func (t *textList) appendIDsAt(dst []Span, pos, n int) []Span {
	if n <= 0 || pos < 0 || pos >= t.live {
		return dst
	}
	first := len(dst)
	l := t.spotAt(pos)
	li, ri, off := l.leaf, l.run, l.off
	for ; n > 0 && li < len(t.leaves); li, ri = li+1, 0 {
		runs := t.leaves[li].runs
		for ; ri < len(runs) && n > 0; ri++ {
			r := &runs[ri]
			if r.deleted {
				continue
			}
			k := min(int(r.n)-off, n)
			from := r.id.Counter + uint64(off)
			to := from + uint64(k) - 1
			off = 0
			n -= k
			if j := len(dst) - 1; j >= first && dst[j].Replica == r.id.Replica && dst[j].To+1 == from {
				dst[j].To = to
				continue
			}
			dst = append(dst, Span{Replica: r.id.Replica, From: from, To: to})
		}
	}
	return dst
}

// idsAt returns the ids of visible characters [pos, pos+n), in document
// order, as maximal spans of consecutive counters of one replica.
func (t *textList) idsAt(pos, n int) []Span { return t.appendIDsAt(nil, pos, n) }

// ---- inserting ----

// localInsert inserts s (valid UTF-8; empty is a no-op) at visible
// position pos (clamped to 0..Len()) as characters id, id+1, ..., and
// returns the origins to send with the op. Like integrate, it panics if an
// id is already present or s is not UTF-8.
func (t *textList) localInsert(id OpID, pos int, s string) (left, right OpID) {
	n := t.mustBeNew(id, s)
	if n == 0 {
		return OpID{}, OpID{}
	}
	pos = max(pos, 0)
	// No concurrency locally: the characters go right at the spot, which
	// is exactly where integrate would put them (its first step meets the
	// right origin at once).
	var li, ri int
	if pos >= t.live {
		li = len(t.leaves) - 1
		ri = len(t.leaves[li].runs)
		left = t.charBefore(li, ri)
	} else {
		l := t.spotAt(pos)
		r := &t.leaves[l.leaf].runs[l.run]
		right = OpID{r.id.Replica, r.id.Counter + uint64(l.off)}
		li, ri = l.leaf, l.run
		if l.off > 0 {
			left = OpID{r.id.Replica, right.Counter - 1}
			t.splitRun(li, ri, l.off)
			ri++
		} else {
			left = t.charBefore(li, ri)
		}
	}
	t.insertRuns(li, ri, id, left, right, s, n)
	return left, right
}

// originsBefore returns the origins that put new text right before
// character id in the list's full order (tombstones included): the
// character before it, and id. Undo gives deleted text back there, next to
// the characters it replaces, so that what was anchored to them (a later
// insert of one's own, redone) finds it on the right side. id must be in
// the list.
func (t *textList) originsBefore(id OpID) (left, right OpID) {
	l, ok := t.find(id)
	if !ok {
		panic("crdt: text: " + id.String() + " not present")
	}
	if l.off > 0 {
		return OpID{id.Replica, id.Counter - 1}, id
	}
	return t.charBefore(l.leaf, l.run), id
}

// mustBeNew returns the runes in s, and panics if s is not UTF-8 or any id
// of its characters is already in the list: either would corrupt the list
// (and its encoding), and the caller promised to check.
func (t *textList) mustBeNew(id OpID, s string) int {
	if !utf8.ValidString(s) {
		panic("crdt: text insert: content is not UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return 0
	}
	end := id.Counter + uint64(n)
	if end < id.Counter || end == math.MaxUint64 {
		panic("crdt: text insert: counter overflows")
	}
	present := false
	if t.idx == nil {
		for i := range t.leaves[0].runs {
			r := &t.leaves[0].runs[i]
			if r.id.Replica == id.Replica && r.id.Counter < end && id.Counter < r.id.Counter+uint64(r.n) {
				present = true
				break
			}
		}
	} else if x := t.repIndex(id.Replica); x != nil && !x.freeFrom(id.Counter) {
		// Ranges are merged only within a chunk: walk until a present
		// range or the end.
		for c := id.Counter; ; {
			l, e := x.get(c)
			if l != 0 {
				present = true
			}
			if l != 0 || e >= end {
				break
			}
			c = e
		}
	}
	if present {
		panic("crdt: text insert: id " + id.String() + " already present")
	}
	return n
}

// integrate inserts s (valid UTF-8; empty is a no-op) as characters id,
// id+1, ... with the given origins. Preconditions, checked by the caller:
// left and right are zero or in the list, and no id of the new characters
// is. It panics if they do not hold, or s is not UTF-8.
func (t *textList) integrate(id OpID, left, right OpID, s string) {
	n := t.mustBeNew(id, s)
	if n == 0 {
		return
	}

	// Fast path: nothing was inserted between the origins since the op was
	// made (always so for ops replayed in causal order by one writer).
	var li, ri int
	if left.IsZero() {
		li, ri = 0, 0
	} else {
		l, ok := t.find(left)
		if !ok {
			panic("crdt: text insert: left origin " + left.String() + " not present")
		}
		li, ri = l.leaf, l.run
		if r := &t.leaves[li].runs[ri]; l.off+1 < int(r.n) {
			// left is inside a run: the next character is left+1.
			if next := (OpID{left.Replica, left.Counter + 1}); next == right {
				t.splitRun(li, ri, l.off+1)
				t.insertRuns(li, ri+1, id, left, right, s, n)
				return
			}
			t.integrateSlow(id, left, right, s, n)
			return
		}
		ri++
	}
	next, ok := t.charAt(li, ri)
	if (!ok && right.IsZero()) || (ok && next == right) {
		t.insertRuns(li, ri, id, left, right, s, n)
		return
	}
	t.integrateSlow(id, left, right, s, n)
}

// integrateSlow is the YjsMod scan (reference-crdts integrateYjsMod), run by
// run: walk from just after left towards right; items whose left origin is
// before ours end the scan; items with our left origin are ordered by their
// right origins, then by replica id; items whose left origin is after ours
// are their children and are skipped. Within a run, characters after the
// first have the previous character as left origin, so the whole rest of a
// run is skipped at once.
func (t *textList) integrateSlow(id OpID, left, right OpID, s string, n int) {
	// Make run boundaries after left and before right, so the scan walks
	// whole runs and can insert before any of them.
	if !left.IsZero() {
		l := t.mustFind(left)
		if r := &t.leaves[l.leaf].runs[l.run]; l.off+1 < int(r.n) {
			t.splitRun(l.leaf, l.run, l.off+1)
			t.fitLeaf(l.leaf)
		}
	}
	var rightLoc textLoc
	if !right.IsZero() {
		l := t.mustFind(right)
		if l.off > 0 {
			t.splitRun(l.leaf, l.run, l.off)
			t.fitLeaf(l.leaf)
		}
		rightLoc = t.mustFind(right)
	}
	// The scan start: the run after left.
	var leftLoc textLoc
	li, ri := 0, 0
	if !left.IsZero() {
		leftLoc = t.mustFind(left)
		li, ri = leftLoc.leaf, leftLoc.run+1
	}

	destLi, destRi := li, ri
	scanning := false
scan:
	for {
		if ri == len(t.leaves[li].runs) {
			if li+1 == len(t.leaves) {
				if !scanning {
					destLi, destRi = li, ri
				}
				break // end of the text
			}
			li, ri = li+1, 0
			continue
		}
		if !scanning {
			destLi, destRi = li, ri
		}
		o := &t.leaves[li].runs[ri]
		if !right.IsZero() && li == rightLoc.leaf && ri == rightLoc.run {
			break
		}
		c := t.cmpLeft(o.left, left, leftLoc)
		if c < 0 {
			break
		}
		if c == 0 {
			switch t.cmpRight(o.right, right, rightLoc) {
			case -1:
				scanning = true
			case 0:
				if id.Replica < o.id.Replica {
					break scan // raw conflict: the smaller replica goes first
				}
				scanning = false
			case 1:
				scanning = false
			}
		}
		ri++
	}
	t.insertRuns(destLi, destRi, id, left, right, s, n)
}

func (t *textList) mustFind(id OpID) textLoc {
	l, ok := t.find(id)
	if !ok {
		panic("crdt: text insert: origin " + id.String() + " not present")
	}
	return l
}

// cmpLeft compares the document position of left origin x with left (at
// leftLoc); the zero id is the start of the text.
func (t *textList) cmpLeft(x, left OpID, leftLoc textLoc) int {
	switch {
	case x == left:
		return 0
	case x.IsZero():
		return -1
	case left.IsZero():
		return 1
	}
	return t.mustFind(x).cmp(leftLoc)
}

// cmpRight compares right origins; the zero id is the end of the text.
func (t *textList) cmpRight(x, right OpID, rightLoc textLoc) int {
	switch {
	case x == right:
		return 0
	case x.IsZero():
		return 1
	case right.IsZero():
		return -1
	}
	return t.mustFind(x).cmp(rightLoc)
}

// insertRuns puts characters id.. (content s, n runes, left origin left)
// before run ri of leaf li (ri may be len(runs)). It extends the run before
// that point when the new characters continue it, as typing does.
func (t *textList) insertRuns(li, ri int, id OpID, left, right OpID, s string, n int) {
	if ri == 0 && li > 0 {
		// Same point, but at the end of the previous leaf, so that typing
		// at a leaf boundary can extend the run before it.
		li--
		ri = len(t.leaves[li].runs)
	}
	for len(s) > 0 {
		// A run holds at most textMaxRun characters; a longer insert
		// becomes several runs, each continuing the previous one.
		k, kb := n, len(s)
		if uint64(k) > textMaxRun || uint64(kb) > textMaxRun {
			k, kb = 0, 0
			for k < textMaxRun/4 {
				_, size := utf8.DecodeRuneInString(s[kb:])
				kb += size
				k++
			}
		}
		lf := t.leaves[li]
		if ri > 0 && t.extends(&lf.runs[ri-1], id, left, right, k, kb) {
			p := &lf.runs[ri-1]
			t.buf = append(t.buf, s[:kb]...)
			p.n += uint32(k)
			p.blen += uint32(kb)
		} else {
			off := len(t.buf)
			t.buf = append(t.buf, s[:kb]...)
			lf.runs = append(lf.runs, textRun{})
			copy(lf.runs[ri+1:], lf.runs[ri:])
			lf.runs[ri] = textRun{id: id, left: left, right: right, n: uint32(k), off: uint32(off), blen: uint32(kb)}
			ri++
		}
		t.liveBytes += kb
		t.addLive(li, k)
		if t.idx != nil {
			t.indexRange(id.Replica, id.Counter, uint64(k), lf.id)
		}
		left = OpID{id.Replica, id.Counter + uint64(k) - 1}
		id.Counter += uint64(k)
		s = s[kb:]
		n -= k
		if len(lf.runs) > textLeafMax {
			ri = t.splitLeaf(li, ri)
			if ri > len(t.leaves[li].runs) {
				ri -= len(t.leaves[li].runs)
				li++
			}
		}
	}
}

// extends reports whether new live characters id.. (left origin left,
// right origin right) continue run p, so that p can grow instead of a new
// run being made: p must end with left and its bytes must end the buffer.
func (t *textList) extends(p *textRun, id OpID, left, right OpID, k, kb int) bool {
	return !p.deleted && p.id.Replica == id.Replica && p.id.Counter+uint64(p.n) == id.Counter &&
		p.last() == left && p.right == right && int(p.off+p.blen) == len(t.buf) &&
		uint64(p.n)+uint64(k) <= textMaxRun && uint64(p.blen)+uint64(kb) <= textMaxRun
}

func (t *textList) addLive(li, d int) {
	t.leaves[li].live += d
	t.live += d
	if li < t.curLeaf {
		t.curBefore += d
	}
}

// byteOffset returns the byte offset of rune k in live run r.
func (t *textList) byteOffset(r *textRun, k int) uint32 {
	if r.blen == r.n {
		return uint32(k) // ASCII
	}
	b := t.buf[r.off : r.off+r.blen]
	i := 0
	for ; k > 0; k-- {
		_, size := utf8.DecodeRune(b[i:])
		i += size
	}
	return uint32(i)
}

// splitRun splits run ri of leaf li before its character k, 0 < k < n. It
// may leave the leaf over textLeafMax; callers split the leaf after.
func (t *textList) splitRun(li, ri, k int) {
	lf := t.leaves[li]
	lf.runs = append(lf.runs, textRun{})
	copy(lf.runs[ri+1:], lf.runs[ri:])
	a, b := &lf.runs[ri], &lf.runs[ri+1]
	if !a.deleted {
		bo := t.byteOffset(a, k)
		b.off += bo
		b.blen -= bo
		a.blen = bo
	}
	b.id.Counter += uint64(k)
	b.left = OpID{a.id.Replica, b.id.Counter - 1}
	b.n -= uint32(k)
	a.n = uint32(k)
}

// splitLeaf splits leaf li, which holds more than textLeafMax runs, in two
// and returns ri unchanged (a point in the old leaf, which may now be past
// its end: the caller carries it into the next leaf).
func (t *textList) splitLeaf(li, ri int) int {
	lf := t.leaves[li]
	h := len(lf.runs) / 2
	if li == len(t.leaves)-1 && ri >= len(lf.runs)-1 {
		// Appending at the end of the text: leave the old leaf nearly
		// full, as a B-tree does on sequential inserts.
		h = len(lf.runs) - 2
	}
	nl := &textLeaf{id: uint32(len(t.arena)), pos: li + 1}
	t.arena = append(t.arena, nl)
	nl.runs = make([]textRun, len(lf.runs)-h, textLeafMax+4)
	copy(nl.runs, lf.runs[h:])
	clear(lf.runs[h:])
	lf.runs = lf.runs[:h]
	for i := range nl.runs {
		if !nl.runs[i].deleted {
			nl.live += int(nl.runs[i].n)
		}
	}
	lf.live -= nl.live
	t.leaves = append(t.leaves, nil)
	copy(t.leaves[li+2:], t.leaves[li+1:])
	t.leaves[li+1] = nl
	for j := li + 2; j < len(t.leaves); j++ {
		t.leaves[j].pos = j
	}
	if t.curLeaf > li {
		t.curLeaf++
	}
	if t.idx == nil {
		t.buildIndex()
	} else {
		for i := range nl.runs {
			r := &nl.runs[i]
			t.indexRange(r.id.Replica, r.id.Counter, uint64(r.n), nl.id)
		}
	}
	return ri
}

// fitLeaf splits leaf li if it holds too many runs.
func (t *textList) fitLeaf(li int) {
	if len(t.leaves[li].runs) > textLeafMax {
		t.splitLeaf(li, 0)
	}
}

func (t *textList) buildIndex() {
	t.idx = make(map[ReplicaID]*textIndex)
	for _, lf := range t.leaves {
		for i := range lf.runs {
			r := &lf.runs[i]
			t.indexRange(r.id.Replica, r.id.Counter, uint64(r.n), lf.id)
		}
	}
}

func (t *textList) indexRange(rep ReplicaID, from, n uint64, leaf uint32) {
	x := t.repIndex(rep)
	if x == nil {
		x = newTextIndex()
		t.idx[rep] = x
		t.lastRep, t.lastIdx = rep, x
	}
	x.assign(from, from+n, leaf)
}

// ---- deleting ----

// remove marks characters id.Counter .. id.Counter+n-1 of id.Replica
// deleted and returns how many were visible before. Already deleted and
// absent characters are skipped (the caller checks containsRange first).
func (t *textList) remove(id OpID, n uint64) int {
	removed := 0
	c, end := id.Counter, id.Counter+n
	if end < c {
		end = math.MaxUint64
	}
	for c < end {
		l, ok := t.find(OpID{id.Replica, c})
		if !ok {
			c = t.nextPresent(id.Replica, c, end)
			continue
		}
		r := &t.leaves[l.leaf].runs[l.run]
		m := min(uint64(r.n)-uint64(l.off), end-c)
		if !r.deleted {
			t.deleteIn(l, int(m))
			removed += int(m)
		}
		c += m
	}
	// Compact once the garbage outweighs the live text and the runs, so the
	// O(runs) pass is paid for by that many deleted bytes, and the garbage
	// stays below the memory the list needs anyway.
	if g := len(t.buf) - t.liveBytes; g > 4096 && g > t.liveBytes && g > len(t.leaves)*textLeafMax*8 {
		t.compact()
	}
	return removed
}

// nextPresent returns the smallest counter > c of replica rep that may be
// in the list, or end.
func (t *textList) nextPresent(rep ReplicaID, c, end uint64) uint64 {
	next := end
	if t.idx != nil {
		if x := t.repIndex(rep); x != nil {
			if _, e := x.get(c); e > c && e < next {
				next = e
			}
		}
		return next
	}
	for _, r := range t.leaves[0].runs {
		if r.id.Replica == rep && r.id.Counter > c && r.id.Counter < next {
			next = r.id.Counter
		}
	}
	return next
}

// deleteIn deletes characters [l.off, l.off+m) of live run l.
func (t *textList) deleteIn(l textLoc, m int) {
	li, ri := l.leaf, l.run
	if l.off > 0 {
		t.splitRun(li, ri, l.off)
		ri++
	}
	lf := t.leaves[li]
	if m < int(lf.runs[ri].n) {
		t.splitRun(li, ri, m)
	}
	r := &lf.runs[ri]
	r.deleted = true
	t.liveBytes -= int(r.blen)
	r.off, r.blen = 0, 0
	t.addLive(li, -m)
	// Merge with deleted neighbours that continue it (backspacing over a
	// typed run leaves one tombstone run, not one per character).
	if ri+1 < len(lf.runs) && textMergeable(r, &lf.runs[ri+1]) {
		r.n += lf.runs[ri+1].n
		lf.runs = append(lf.runs[:ri+1], lf.runs[ri+2:]...)
	}
	if ri > 0 && textMergeable(&lf.runs[ri-1], r) {
		lf.runs[ri-1].n += r.n
		lf.runs = append(lf.runs[:ri], lf.runs[ri+1:]...)
	}
	t.fitLeaf(li)
}

// textMergeable reports whether run b continues run a as one logical run
// (content contiguity is not checked: callers merge tombstones, or only
// compare logically).
func textMergeable(a, b *textRun) bool {
	return a.deleted == b.deleted && a.id.Replica == b.id.Replica &&
		a.id.Counter+uint64(a.n) == b.id.Counter && b.left == a.last() && a.right == b.right &&
		uint64(a.n)+uint64(b.n) <= textMaxRun
}

// compact copies the content of live runs to a new buffer, dropping that of
// deleted characters. It never writes to the old buffer (clone relies on
// that).
func (t *textList) compact() {
	nb := make([]byte, 0, t.liveBytes+t.liveBytes/4)
	for _, lf := range t.leaves {
		for i := range lf.runs {
			if r := &lf.runs[i]; !r.deleted {
				off := len(nb)
				nb = append(nb, t.buf[r.off:r.off+r.blen]...)
				r.off = uint32(off)
			}
		}
	}
	t.buf = nb
}

// clone returns an independent deep copy.
func (t *textList) clone() *textList {
	c := &textList{
		leaves:    make([]*textLeaf, len(t.leaves)),
		arena:     make([]*textLeaf, len(t.arena)),
		live:      t.live,
		liveBytes: t.liveBytes,
		curLeaf:   t.curLeaf,
		curBefore: t.curBefore,
	}
	for i, lf := range t.leaves {
		nl := &textLeaf{live: lf.live, pos: lf.pos, id: lf.id}
		nl.runs = make([]textRun, len(lf.runs), max(len(lf.runs), min(2*len(lf.runs), textLeafMax+4)))
		copy(nl.runs, lf.runs)
		c.leaves[i] = nl
		c.arena[lf.id] = nl
	}
	c.buf = t.buf
	c.compact() // a fresh buffer, without garbage
	if t.idx != nil {
		c.idx = make(map[ReplicaID]*textIndex, len(t.idx))
		for r, x := range t.idx {
			c.idx[r] = x.clone()
		}
	}
	return c
}

// ---- the id index ----

// textIndex maps the counters of one replica to the leaves that hold
// them: a partition of the counter space into ranges, each with a leaf id (0:
// not in this list). Entries sit in a chunked sorted list (chunks of at most
// textIxChunkMax), so that moving a run to a new leaf rewrites one small chunk.
// Adjacent ranges of one leaf are merged within a chunk, so the index has
// about one entry per place where a replica's counters change leaf, not one
// per character.
//
// Rejected: one sorted slice (a leaf split rewrites ranges of old counters in
// the middle: an O(entries) memmove, measured at seconds on the traces), and
// a map from run start to leaf (an id inside a run needs a predecessor
// search).
type textIndex struct {
	chunks [][]textIxEntry // every chunk non-empty; chunks[0][0].start == 0
	firsts []uint64        // firsts[i] == chunks[i][0].start
	hint   int             // last chunk used: lookups are local
}

// textIxEntry says counters [start, next entry's start) are in leaf `leaf`.
type textIxEntry struct {
	start uint64
	leaf  uint32
}

const textIxChunkMax = 128

func newTextIndex() *textIndex {
	return &textIndex{chunks: [][]textIxEntry{{{0, 0}}}, firsts: []uint64{0}}
}

func (x *textIndex) chunkOf(c uint64) int {
	h := x.hint
	if x.firsts[h] <= c && (h+1 == len(x.firsts) || c < x.firsts[h+1]) {
		return h
	}
	lo, hi := 0, len(x.firsts) // largest i with firsts[i] <= c
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if x.firsts[m] <= c {
			lo = m
		} else {
			hi = m
		}
	}
	x.hint = lo
	return lo
}

// entryOf returns the chunk and entry holding counter c, and the end
// (exclusive; MaxUint64 for the last) of that entry's range.
func (x *textIndex) entryOf(c uint64) (ci, ei int, end uint64) {
	ci = x.chunkOf(c)
	ch := x.chunks[ci]
	lo, hi := 0, len(ch)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if ch[m].start <= c {
			lo = m
		} else {
			hi = m
		}
	}
	switch {
	case lo+1 < len(ch):
		end = ch[lo+1].start
	case ci+1 < len(x.chunks):
		end = x.firsts[ci+1]
	default:
		end = math.MaxUint64
	}
	return ci, lo, end
}

// freeFrom reports, in O(1), whether the index ends with counters c and
// above absent: always so for a replica's next counters.
func (x *textIndex) freeFrom(c uint64) bool {
	ch := x.chunks[len(x.chunks)-1]
	last := ch[len(ch)-1]
	return last.leaf == 0 && last.start <= c
}

// get returns the leaf of counter c and the end of the range it is in.
func (x *textIndex) get(c uint64) (leaf uint32, end uint64) {
	ci, ei, end := x.entryOf(c)
	return x.chunks[ci][ei].leaf, end
}

// assign maps counters [a, b) to leaf.
func (x *textIndex) assign(a, b uint64, leaf uint32) {
	// Fast path, typing: [a, b) are the replica's next counters and go to
	// the leaf of the counters just before them, so the last range grows.
	if ch := x.chunks[len(x.chunks)-1]; len(ch) > 1 {
		if last := &ch[len(ch)-1]; last.leaf == 0 && last.start == a && ch[len(ch)-2].leaf == leaf && b > a {
			last.start = b
			return
		}
	}
	for a < b {
		ci, ei, e := x.entryOf(a)
		ch := x.chunks[ci]
		end := min(b, e)
		v, s := ch[ei].leaf, ch[ei].start
		if v == leaf {
			a = end
			continue
		}
		// Replace [s,e)->v by [s,a)->v, [a,end)->leaf, [end,e)->v.
		var rep [3]textIxEntry
		k, j := 0, 0
		if s < a {
			rep[k] = textIxEntry{s, v}
			k++
		}
		j = k
		rep[k] = textIxEntry{a, leaf}
		k++
		if end < e {
			rep[k] = textIxEntry{end, v}
			k++
		}
		if k > 1 {
			ch = append(ch, rep[:k-1]...)
			copy(ch[ei+k:], ch[ei+1:])
		}
		copy(ch[ei:], rep[:k])
		j += ei
		// Merge with same-leaf neighbours inside the chunk.
		if j+1 < len(ch) && ch[j+1].leaf == leaf {
			ch = append(ch[:j+1], ch[j+2:]...)
		}
		if j > 0 && ch[j-1].leaf == leaf {
			ch = append(ch[:j], ch[j+1:]...)
		}
		x.chunks[ci] = ch
		if len(ch) > textIxChunkMax {
			h := len(ch) / 2
			nc := make([]textIxEntry, len(ch)-h, textIxChunkMax+4)
			copy(nc, ch[h:])
			x.chunks[ci] = ch[:h]
			x.chunks = append(x.chunks, nil)
			copy(x.chunks[ci+2:], x.chunks[ci+1:])
			x.chunks[ci+1] = nc
			x.firsts = append(x.firsts, 0)
			copy(x.firsts[ci+2:], x.firsts[ci+1:])
			x.firsts[ci+1] = nc[0].start
		}
		a = end
	}
}

func (x *textIndex) clone() *textIndex {
	c := &textIndex{chunks: make([][]textIxEntry, len(x.chunks)), firsts: append([]uint64(nil), x.firsts...)}
	for i, ch := range x.chunks {
		c.chunks[i] = append(make([]textIxEntry, 0, len(ch)+len(ch)/4), ch...)
	}
	return c
}

// runsBetween bounds the runs an insert with origins a and b walks when
// it takes the slow path (integrateSlow): the runs between the one holding
// a (zero: the text's start) and the one holding b (zero, or b not after a:
// the text's end), plus the two a split at a or b may make. It stops
// counting past limit. ok is false if a or b is not in the text.
func (t *textList) runsBetween(a, b OpID, limit int) (n int, ok bool) {
	li, ri := 0, 0 // the first run counted
	if !a.IsZero() {
		la, found := t.find(a)
		if !found {
			return 0, false
		}
		li, ri = la.leaf, la.run+1
	}
	endLi, endRi := len(t.leaves)-1, len(t.leaves[len(t.leaves)-1].runs) // the first run not counted
	if !b.IsZero() {
		lb, found := t.find(b)
		if !found {
			return 0, false
		}
		if lb.leaf > li || lb.leaf == li && lb.run >= ri {
			endLi, endRi = lb.leaf, lb.run
		}
	}
	n = 2
	for ; li <= endLi && n <= limit; li, ri = li+1, 0 {
		if li == endLi {
			n += max(endRi-ri, 0)
		} else {
			n += max(len(t.leaves[li].runs)-ri, 0)
		}
	}
	return n, true
}
