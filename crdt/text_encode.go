package crdt

import (
	"math"
	"slices"
	"unicode/utf8"
)

// The canonical encoding of a textList.
//
// It is a pure function of the logical state: the characters in document
// order with their ids, origins, deleted flags and (live ones only) content.
// Characters are grouped into maximal logical runs (consecutive counters of
// one replica, each character's left origin the previous one, one right
// origin, one deleted flag, at most textMaxRun long), whatever the runs
// happen to be in memory, so replicas that applied the same ops in different
// orders write the same bytes.
//
// Layout (all integers varints, signed ones zigzag):
//
//	uvarint R, then R replica ids (8 bytes LE, strictly ascending)
//	uvarint N (runs); N == 0 ends the encoding (and then R == 0)
//	columns, each as uvarint byte length + one value per run (or per
//	explicit origin):
//	  rep       replica index of the run (absent when R == 1)
//	  len       characters in the run
//	  left      left origin: 0 start of text; 2d the last character of
//	            the run d runs back; 2k+1 explicit, of replica k
//	  leftCtr   explicit left origins: counter - end of the previous run
//	            of replica k (1 before the first)
//	  ctr       first counter - prediction: left origin + 1 when the left
//	            origin is of the same replica, else the end of the
//	            previous run of this replica (1 before the first)
//	  right     right origin: 0 end of text; 2d the first character of the
//	            run d runs ahead; 2k+1 explicit, of replica k
//	  rightCtr  explicit right origins: counter - the run's counter
//	  deleted   lengths of alternating groups of runs, live first (the
//	            first may be 0, the others not)
//	uvarint length + UTF-8 content of the live runs, concatenated
//
// Why so: a character is placed right after its left origin, which the
// insert split off from what followed it, so a left origin is nearly always
// the last character of some run and a right origin the first of one (in
// the editing traces, always); a run distance is a small number where an id
// is two large ones. Explicit ids remain for origins inside a run, which
// concurrent inserts can make. Counters follow the left origin because a
// typist's next run usually continues where the cursor was. Columns rather
// than records because the caller DEFLATEs the snapshot: like numbers side
// by side compress several times better. On automerge-paper this takes the
// deflated text from 76 KB (ids as counter deltas) to 60 KB, of which
// 27 KB is the content itself.
//
// Decoding validates everything: counts bounded by the input, ids unique
// and counters without overflow, origins present, left origins before
// their run and right origins after it, content valid UTF-8 of exactly the
// live length, and canonical form (no two runs that should be one, no
// explicit origin where a distance applies, no unused replica), so that
// every state has exactly one encoding.
const (
	textColRep = iota
	textColLen
	textColLeft
	textColLeftCtr
	textColCtr
	textColRight
	textColRightCtr
	textColDeleted
	textCols
)

// appendState appends the canonical encoding of the list to b.
func (t *textList) appendState(b []byte) []byte {
	// Pass 1: the logical runs, and for every run in memory the index of
	// the logical run it belongs to (to turn origins into run distances).
	nmem := 0
	for _, lf := range t.leaves {
		nmem += len(lf.runs)
	}
	canon := make([]textRun, 0, nmem/2+1)
	memCanon := make([]int32, nmem)
	content := make([]byte, 0, t.liveBytes)
	k := 0
	for _, lf := range t.leaves {
		for i := range lf.runs {
			m := &lf.runs[i]
			if !m.deleted {
				content = append(content, t.buf[m.off:m.off+m.blen]...)
			}
			if j := len(canon) - 1; j >= 0 && textMergeable(&canon[j], m) {
				canon[j].n += m.n
			} else {
				canon = append(canon, *m)
			}
			memCanon[k] = int32(len(canon) - 1)
			k++
		}
	}
	leafBase := make([]int, len(t.leaves)) // memory runs before each leaf
	for i, n := 1, 0; i < len(t.leaves); i++ {
		n += len(t.leaves[i-1].runs)
		leafBase[i] = n
	}
	canonOf := func(id OpID) int {
		l, ok := t.find(id)
		if !ok {
			// Origins always name characters of the list (integrate's
			// precondition).
			panic("crdt: text origin " + id.String() + " names no character of the list")
		}
		return int(memCanon[leafBase[l.leaf]+l.run])
	}

	reps := make([]ReplicaID, 0, 4)
	for i := range canon {
		if r := canon[i].id.Replica; len(reps) == 0 || reps[len(reps)-1] != r {
			reps = append(reps, r)
		}
	}
	slices.Sort(reps)
	reps = slices.Compact(reps)
	b = appendUvarint(b, uint64(len(reps)))
	for _, r := range reps {
		b = appendU64(b, uint64(r))
	}
	b = appendUvarint(b, uint64(len(canon)))
	if len(canon) == 0 {
		return b
	}

	// Pass 2: the columns.
	var cols [textCols][]byte
	expect := make([]uint64, len(reps))
	for i := range expect {
		expect[i] = 1
	}
	repHint := 0
	repOf := func(r ReplicaID) int {
		if reps[repHint] != r {
			repHint, _ = slices.BinarySearch(reps, r)
		}
		return repHint
	}
	delFlag, delCount := false, uint64(0)
	for i := range canon {
		r := &canon[i]
		ri := repOf(r.id.Replica)
		if len(reps) > 1 {
			cols[textColRep] = appendUvarint(cols[textColRep], uint64(ri))
		}
		cols[textColLen] = appendUvarint(cols[textColLen], uint64(r.n))

		pred := expect[ri]
		switch {
		case r.left.IsZero():
			cols[textColLeft] = append(cols[textColLeft], 0)
		default:
			if r.left.Replica == r.id.Replica {
				pred = r.left.Counter + 1
			}
			if j := canonOf(r.left); j < i && canon[j].last() == r.left {
				cols[textColLeft] = appendUvarint(cols[textColLeft], 2*uint64(i-j))
			} else {
				lr := repOf(r.left.Replica)
				cols[textColLeft] = appendUvarint(cols[textColLeft], 2*uint64(lr)+1)
				cols[textColLeftCtr] = appendVarint(cols[textColLeftCtr], int64(r.left.Counter-expect[lr]))
			}
		}
		cols[textColCtr] = appendVarint(cols[textColCtr], int64(r.id.Counter-pred))
		expect[ri] = r.id.Counter + uint64(r.n)

		switch {
		case r.right.IsZero():
			cols[textColRight] = append(cols[textColRight], 0)
		default:
			if j := canonOf(r.right); j > i && canon[j].id == r.right {
				cols[textColRight] = appendUvarint(cols[textColRight], 2*uint64(j-i))
			} else {
				cols[textColRight] = appendUvarint(cols[textColRight], 2*uint64(repOf(r.right.Replica))+1)
				cols[textColRightCtr] = appendVarint(cols[textColRightCtr], int64(r.right.Counter-r.id.Counter))
			}
		}

		if r.deleted == delFlag {
			delCount++
		} else {
			cols[textColDeleted] = appendUvarint(cols[textColDeleted], delCount)
			delFlag, delCount = r.deleted, 1
		}
	}
	cols[textColDeleted] = appendUvarint(cols[textColDeleted], delCount)
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

// textOrigin is an explicit origin to check once all ids are known.
type textOrigin struct {
	run   int32
	right bool
	id    OpID
}

// textSpan is a run's counter range, for the duplicate and origin checks.
type textSpan struct {
	rep        ReplicaID
	start, end uint64 // end exclusive
	run        int32
}

// decodeTextState decodes what appendState wrote. It never panics; errors
// wrap ErrMalformed.
func decodeTextState(r *reader) (*textList, error) {
	var dec textDecoder
	return dec.decode(r)
}

// skipTextState returns the bytes of the text state at r and moves past
// them, reading only its header and lengths: decode checks the rest. It
// refuses what decode would refuse in the header.
func skipTextState(r *reader) ([]byte, error) {
	start := r.off
	nrep, err := r.count(8)
	if err != nil {
		return nil, err
	}
	if _, err := r.bytes(8 * nrep); err != nil {
		return nil, err
	}
	nruns, err := r.count(4)
	if err != nil {
		return nil, err
	}
	if nruns != 0 {
		for c := 0; c < textCols; c++ {
			if c == textColRep && nrep == 1 {
				continue
			}
			n, err := r.count(1)
			if err != nil {
				return nil, err
			}
			if _, err := r.bytes(n); err != nil {
				return nil, err
			}
		}
		clen, err := r.count(1)
		if err != nil {
			return nil, err
		}
		if _, err := r.bytes(clen); err != nil {
			return nil, err
		}
	}
	return r.b[start:r.off:r.off], nil
}

// textDecoder decodes text states one after another, sharing what they can:
// scratch space for the checks, and (with bulk set) slabs that the decoded
// lists are carved from. A snapshot of a big board holds tens of thousands
// of texts, and one allocation for each of a list's ten parts was a third of
// loading it. The zero value allocates each list's parts exactly.
type textDecoder struct {
	bulk      bool
	reps      []ReplicaID
	expect    []uint64
	repUsed   []bool
	spans     []textSpan
	origins   []textOrigin
	rightDist []int32
	lists     slab[textList]
	leaves    slab[textLeaf]
	ptrs      slab[*textLeaf]
	runs      slab[textRun]
	bytes     slab[byte]
}

// scratch returns s resized to n elements, zeroed.
func scratch[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func (dec *textDecoder) decode(r *reader) (*textList, error) {
	nrep, err := r.count(8)
	if err != nil {
		return nil, err
	}
	reps := scratch(dec.reps, nrep)
	dec.reps = reps
	for i := range reps {
		v, err := r.u64()
		if err != nil {
			return nil, err
		}
		if v == 0 || (i > 0 && ReplicaID(v) <= reps[i-1]) {
			return nil, malformed("text: replicas not strictly ascending")
		}
		reps[i] = ReplicaID(v)
	}
	nruns, err := r.count(4)
	if err != nil {
		return nil, err
	}
	if nruns > math.MaxInt32 {
		return nil, malformed("text: too many runs")
	}
	if nruns == 0 {
		if nrep != 0 {
			return nil, malformed("text: replicas without runs")
		}
		return newTextList(), nil
	}
	if nrep == 0 {
		return nil, malformed("text: runs without replicas")
	}
	var cols [textCols]reader
	for c := range cols {
		if c == textColRep && nrep == 1 {
			continue
		}
		n, err := r.count(1)
		if err != nil {
			return nil, err
		}
		b, _ := r.bytes(n)
		cols[c] = reader{b: b}
	}
	clen, err := r.count(1)
	if err != nil {
		return nil, err
	}
	if clen > math.MaxUint32/2 {
		return nil, malformed("text: content too long")
	}
	content, _ := r.bytes(clen)
	ascii := true
	for _, c := range content {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii && !utf8.Valid(content) {
		return nil, malformed("text: content is not UTF-8")
	}

	runs := dec.runs.take(nruns, dec.bulk)
	spans := scratch(dec.spans, nruns)
	dec.spans = spans
	origins := dec.origins[:0]
	var rightDist []int32 // per run: the run its right origin starts, or -1
	expect := scratch(dec.expect, nrep)
	dec.expect = expect
	repUsed := scratch(dec.repUsed, nrep)
	dec.repUsed = repUsed
	for i := range expect {
		expect[i] = 1
	}
	var (
		off, live int
		delFlag   bool
		delLeft   uint64
	)
	if delLeft, err = cols[textColDeleted].uvarint(); err != nil {
		return nil, err
	}
	for i := range runs {
		run := &runs[i]
		ri := 0
		if nrep > 1 {
			v, err := cols[textColRep].uvarint()
			if err != nil {
				return nil, err
			}
			if v >= uint64(nrep) {
				return nil, malformed("text: replica index %d out of range", v)
			}
			ri = int(v)
		}
		repUsed[ri] = true
		n, err := cols[textColLen].uvarint()
		if err != nil {
			return nil, err
		}
		if n == 0 || n > textMaxRun {
			return nil, malformed("text: run length %d", n)
		}
		run.n = uint32(n)

		pred := expect[ri]
		tag, err := cols[textColLeft].uvarint()
		if err != nil {
			return nil, err
		}
		switch {
		case tag == 0:
		case tag&1 == 0:
			if tag/2 > uint64(i) {
				return nil, malformed("text: left origin before the first run")
			}
			run.left = runs[i-int(tag/2)].last()
		case tag/2 < uint64(nrep):
			d, err := cols[textColLeftCtr].varint()
			if err != nil {
				return nil, err
			}
			run.left = OpID{reps[tag/2], expect[tag/2] + uint64(d)}
			origins = append(origins, textOrigin{int32(i), false, run.left})
		default:
			return nil, malformed("text: bad left origin %d", tag)
		}
		if !run.left.IsZero() && run.left.Replica == reps[ri] {
			pred = run.left.Counter + 1
		}
		d, err := cols[textColCtr].varint()
		if err != nil {
			return nil, err
		}
		c := pred + uint64(d)
		if c == 0 || c+n < c || c+n == math.MaxUint64 {
			return nil, malformed("text: counter out of range")
		}
		expect[ri] = c + n
		run.id = OpID{reps[ri], c}
		spans[i] = textSpan{reps[ri], c, c + n, int32(i)}

		tag, err = cols[textColRight].uvarint()
		if err != nil {
			return nil, err
		}
		switch {
		case tag == 0:
		case tag&1 == 0:
			if tag/2 >= uint64(nruns-i) {
				return nil, malformed("text: right origin after the last run")
			}
			if rightDist == nil {
				rightDist = scratch(dec.rightDist, nruns)
				dec.rightDist = rightDist
				for k := range rightDist {
					rightDist[k] = -1
				}
			}
			rightDist[i] = int32(i + int(tag/2))
		case tag/2 < uint64(nrep):
			d, err := cols[textColRightCtr].varint()
			if err != nil {
				return nil, err
			}
			run.right = OpID{reps[tag/2], c + uint64(d)}
			origins = append(origins, textOrigin{int32(i), true, run.right})
		default:
			return nil, malformed("text: bad right origin %d", tag)
		}

		for delLeft == 0 { // only the first group may be empty
			if delLeft, err = cols[textColDeleted].uvarint(); err != nil {
				return nil, err
			}
			if delLeft == 0 {
				return nil, malformed("text: empty group of deleted flags")
			}
			delFlag = !delFlag
		}
		delLeft--
		run.deleted = delFlag
		if !delFlag {
			start := off
			if ascii {
				off += int(n)
				if off > len(content) {
					return nil, malformed("text: content shorter than live runs")
				}
			} else {
				for k := n; k > 0; k-- {
					if off >= len(content) {
						return nil, malformed("text: content shorter than live runs")
					}
					off++
					for off < len(content) && content[off]&0xC0 == 0x80 {
						off++
					}
				}
			}
			run.off, run.blen = uint32(start), uint32(off-start)
			live += int(n)
		}
	}
	if delLeft != 0 {
		return nil, malformed("text: deleted flags cover more than the runs")
	}
	if off != len(content) {
		return nil, malformed("text: content longer than live runs")
	}
	for c := range cols {
		if cols[c].len() != 0 {
			return nil, malformed("text: %d trailing bytes in column %d", cols[c].len(), c)
		}
	}
	for _, u := range repUsed {
		if !u {
			return nil, malformed("text: unused replica")
		}
	}
	if rightDist != nil {
		for i, j := range rightDist {
			if j >= 0 {
				runs[i].right = runs[j].id
			}
		}
	}
	for i := 1; i < nruns; i++ {
		if textMergeable(&runs[i-1], &runs[i]) {
			return nil, malformed("text: runs %d and %d are one run", i-1, i)
		}
	}

	// Ids unique; origins present, left before and right after their run.
	slices.SortFunc(spans, func(a, b textSpan) int {
		if a.rep != b.rep {
			if a.rep < b.rep {
				return -1
			}
			return 1
		}
		if a.start < b.start {
			return -1
		}
		if a.start > b.start {
			return 1
		}
		return 0
	})
	for i := 1; i < len(spans); i++ {
		if spans[i].rep == spans[i-1].rep && spans[i].start < spans[i-1].end {
			return nil, malformed("text: duplicate id %v", OpID{spans[i].rep, spans[i].start})
		}
	}
	for _, o := range origins {
		j, ok := findTextSpan(spans, o.id)
		if !ok {
			return nil, malformed("text: origin %v not in the text", o.id)
		}
		if (!o.right && j >= o.run) || (o.right && j <= o.run) {
			return nil, malformed("text: origin %v on the wrong side of its run", o.id)
		}
		if (!o.right && runs[j].last() == o.id) || (o.right && runs[j].id == o.id) {
			return nil, malformed("text: explicit origin %v where a distance applies", o.id)
		}
	}

	dec.origins = origins[:0]

	// Build the leaves straight over the decoded runs: each leaf's slice has
	// its capacity capped, so growing one copies it out instead of writing
	// over its neighbour (or over the next list carved from the same slab).
	const fill = textLeafMax * 3 / 4
	nleaves := (nruns + fill - 1) / fill
	t := &dec.lists.take(1, dec.bulk)[0]
	*t = textList{
		leaves:    dec.ptrs.take(nleaves, dec.bulk),
		arena:     dec.ptrs.take(nleaves+1, dec.bulk),
		buf:       dec.bytes.take(len(content), dec.bulk),
		live:      live,
		liveBytes: len(content),
	}
	copy(t.buf, content)
	block := dec.leaves.take(nleaves, dec.bulk)
	for k := range block {
		lf := &block[k]
		a, b := k*fill, min((k+1)*fill, nruns)
		lf.runs = runs[a:b:b]
		lf.pos, lf.id = k, uint32(k+1)
		for i := range lf.runs {
			if !lf.runs[i].deleted {
				lf.live += int(lf.runs[i].n)
			}
		}
		t.leaves[k], t.arena[k+1] = lf, lf
	}
	if nleaves > 1 {
		t.buildIndexFromSpans(spans, fill)
	}
	return t, nil
}

// findTextSpan returns the run holding id, given spans sorted by (rep, start).
func findTextSpan(spans []textSpan, id OpID) (int32, bool) {
	lo, hi := 0, len(spans)
	for lo < hi { // first span with (rep, start) > (id.Replica, id.Counter)
		m := int(uint(lo+hi) >> 1)
		if s := &spans[m]; s.rep < id.Replica || (s.rep == id.Replica && s.start <= id.Counter) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, false
	}
	s := &spans[lo-1]
	if s.rep != id.Replica || id.Counter >= s.end {
		return 0, false
	}
	return s.run, true
}

// buildIndexFromSpans builds the id index of a freshly decoded list whose
// run i sits in leaf i/fill+1, from spans sorted by (rep, start).
func (t *textList) buildIndexFromSpans(spans []textSpan, fill int) {
	t.idx = make(map[ReplicaID]*textIndex)
	for i := 0; i < len(spans); {
		j := i
		for j < len(spans) && spans[j].rep == spans[i].rep {
			j++
		}
		ents := make([]textIxEntry, 1, 2*(j-i)+2)
		var end uint64
		for _, s := range spans[i:j] {
			leaf := uint32(int(s.run)/fill + 1)
			if s.start > end && ents[len(ents)-1].leaf != 0 {
				ents = append(ents, textIxEntry{end, 0})
			}
			if ents[len(ents)-1].leaf != leaf { // counters start at 1: never at the {0, 0} head
				ents = append(ents, textIxEntry{s.start, leaf})
			}
			end = s.end
		}
		ents = append(ents, textIxEntry{end, 0})
		const per = textIxChunkMax * 3 / 4
		x := &textIndex{}
		for a := 0; a < len(ents); a += per {
			b := min(a+per, len(ents))
			x.chunks = append(x.chunks, ents[a:b:b])
			x.firsts = append(x.firsts, ents[a].start)
		}
		t.idx[spans[i].rep] = x
		i = j
	}
}
