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
//	columns, each as uvarint byte length + N values:
//	  rep       replica index per run (absent when R == 1)
//	  len       characters per run
//	  ctr       first counter, minus the end of the previous run of the
//	            same replica (1 before the first)
//	  left      left origin: 0 start of text, 1 last character of the
//	            previous run, 2+k explicit, of replica k
//	  leftCtr   explicit left origins only: run counter - origin counter
//	  right     right origin: 0 end of text, 1 first character of the next
//	            run, 2+k explicit, of replica k
//	  rightCtr  explicit right origins only: origin counter - run counter
//	  deleted   lengths of alternating groups of runs, live first (the
//	            first may be 0, the others not)
//	uvarint length + UTF-8 content of the live runs, concatenated
//
// Columns rather than records because the caller DEFLATEs the snapshot:
// similar numbers next to each other compress several times better. The
// implicit origins (previous/next run) cover most runs of real typing.
//
// Decoding validates everything: counts bounded by the input, ids unique
// and counters without overflow, origins present, left origins before
// their run and right origins after it, content valid UTF-8 of exactly the
// live length, and canonical form (no two runs that should be one, no
// explicit origin where an implicit one applies, no unused replica), so
// that every state has exactly one encoding.
const (
	txColRep = iota
	txColLen
	txColCtr
	txColLeft
	txColLeftCtr
	txColRight
	txColRightCtr
	txColDeleted
	txCols
)

// appendState appends the canonical encoding of the list to b.
func (t *textList) appendState(b []byte) []byte {
	var reps []ReplicaID
	for _, lf := range t.leaves {
		for i := range lf.runs {
			if r := lf.runs[i].id.Replica; len(reps) == 0 || reps[len(reps)-1] != r {
				reps = append(reps, r)
			}
		}
	}
	slices.Sort(reps)
	reps = slices.Compact(reps)
	b = appendUvarint(b, uint64(len(reps)))
	for _, r := range reps {
		b = appendU64(b, uint64(r))
	}

	e := textEncoder{reps: reps, expect: make([]uint64, len(reps))}
	for i := range e.expect {
		e.expect[i] = 1
	}
	e.content = make([]byte, 0, t.liveBytes)
	var cur textRun
	have := false
	for _, lf := range t.leaves {
		for i := range lf.runs {
			m := &lf.runs[i]
			if !m.deleted {
				e.content = append(e.content, t.buf[m.off:m.off+m.blen]...)
			}
			if have && mergeable(&cur, m) {
				cur.n += m.n
				continue
			}
			if have {
				e.run(&cur, m.id, true)
			}
			cur, have = *m, true
		}
	}
	if have {
		e.run(&cur, OpID{}, false)
	}
	b = appendUvarint(b, uint64(e.n))
	if e.n == 0 {
		return b
	}
	e.cols[txColDeleted] = appendUvarint(e.cols[txColDeleted], e.delCount)
	for c := range e.cols {
		if c == txColRep && len(reps) == 1 {
			continue
		}
		b = appendUvarint(b, uint64(len(e.cols[c])))
		b = append(b, e.cols[c]...)
	}
	b = appendUvarint(b, uint64(len(e.content)))
	return append(b, e.content...)
}

type textEncoder struct {
	reps     []ReplicaID
	expect   []uint64 // per replica: end of its previous run
	cols     [txCols][]byte
	content  []byte
	n        int
	prevLast OpID
	delFlag  bool
	delCount uint64
	repHint  int
}

func (e *textEncoder) rep(r ReplicaID) int {
	if e.reps[e.repHint] == r {
		return e.repHint
	}
	i, ok := slices.BinarySearch(e.reps, r)
	if !ok {
		// Origins always name characters of the list (integrate's
		// precondition), whose replicas are all in the table.
		panic("crdt: text origin " + r.String() + " names no character of the list")
	}
	e.repHint = i
	return i
}

// run writes logical run r; next is the first character after it.
func (e *textEncoder) run(r *textRun, next OpID, hasNext bool) {
	ri := e.rep(r.id.Replica)
	if len(e.reps) > 1 {
		e.cols[txColRep] = appendUvarint(e.cols[txColRep], uint64(ri))
	}
	e.cols[txColLen] = appendUvarint(e.cols[txColLen], uint64(r.n))
	e.cols[txColCtr] = appendVarint(e.cols[txColCtr], int64(r.id.Counter-e.expect[ri]))
	e.expect[ri] = r.id.Counter + uint64(r.n)

	switch {
	case r.left.IsZero():
		e.cols[txColLeft] = append(e.cols[txColLeft], 0)
	case e.n > 0 && r.left == e.prevLast:
		e.cols[txColLeft] = append(e.cols[txColLeft], 1)
	default:
		e.cols[txColLeft] = appendUvarint(e.cols[txColLeft], uint64(2+e.rep(r.left.Replica)))
		e.cols[txColLeftCtr] = appendVarint(e.cols[txColLeftCtr], int64(r.id.Counter-r.left.Counter))
	}
	switch {
	case r.right.IsZero():
		e.cols[txColRight] = append(e.cols[txColRight], 0)
	case hasNext && r.right == next:
		e.cols[txColRight] = append(e.cols[txColRight], 1)
	default:
		e.cols[txColRight] = appendUvarint(e.cols[txColRight], uint64(2+e.rep(r.right.Replica)))
		e.cols[txColRightCtr] = appendVarint(e.cols[txColRightCtr], int64(r.right.Counter-r.id.Counter))
	}

	if r.deleted == e.delFlag {
		e.delCount++
	} else {
		e.cols[txColDeleted] = appendUvarint(e.cols[txColDeleted], e.delCount)
		e.delFlag, e.delCount = r.deleted, 1
	}
	e.prevLast = r.last()
	e.n++
}

// txOrigin is an explicit origin to check once all ids are known.
type txOrigin struct {
	run   int32
	right bool
	id    OpID
}

// txSpan is a run's counter range, for the duplicate and origin checks.
type txSpan struct {
	rep        ReplicaID
	start, end uint64 // end exclusive
	run        int32
}

// decodeTextState decodes what appendState wrote. It never panics; errors
// wrap ErrMalformed.
func decodeTextState(r *reader) (*textList, error) {
	nrep, err := r.count(8)
	if err != nil {
		return nil, err
	}
	reps := make([]ReplicaID, nrep)
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
	var cols [txCols]reader
	for c := range cols {
		if c == txColRep && nrep == 1 {
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

	runs := make([]textRun, nruns)
	spans := make([]txSpan, nruns)
	var origins []txOrigin
	expect := make([]uint64, nrep)
	repUsed := make([]bool, nrep)
	for i := range expect {
		expect[i] = 1
	}
	var (
		off, live     int
		delFlag       bool
		delLeft       uint64
		prevRightExpl bool
		prevRightNext bool
	)
	if delLeft, err = cols[txColDeleted].uvarint(); err != nil {
		return nil, err
	}
	for i := range runs {
		ri := 0
		if nrep > 1 {
			v, err := cols[txColRep].uvarint()
			if err != nil {
				return nil, err
			}
			if v >= uint64(nrep) {
				return nil, malformed("text: replica index %d out of range", v)
			}
			ri = int(v)
		}
		repUsed[ri] = true
		n, err := cols[txColLen].uvarint()
		if err != nil {
			return nil, err
		}
		if n == 0 || n > textMaxRun {
			return nil, malformed("text: run length %d", n)
		}
		d, err := cols[txColCtr].varint()
		if err != nil {
			return nil, err
		}
		c := expect[ri] + uint64(d)
		if c == 0 || c+n < c || c+n == math.MaxUint64 {
			return nil, malformed("text: counter out of range")
		}
		expect[ri] = c + n
		run := &runs[i]
		run.id = OpID{reps[ri], c}
		run.n = uint32(n)
		spans[i] = txSpan{reps[ri], c, c + n, int32(i)}

		// The previous run's right origin may be this run.
		if i > 0 {
			if prevRightNext {
				runs[i-1].right = run.id
			} else if prevRightExpl && runs[i-1].right == run.id {
				return nil, malformed("text: explicit right origin where implicit applies")
			}
		}

		tag, err := cols[txColLeft].uvarint()
		if err != nil {
			return nil, err
		}
		switch {
		case tag == 0:
		case tag == 1:
			if i == 0 {
				return nil, malformed("text: first run continues nothing")
			}
			run.left = runs[i-1].last()
		case tag-2 < uint64(nrep):
			d, err := cols[txColLeftCtr].varint()
			if err != nil {
				return nil, err
			}
			run.left = OpID{reps[tag-2], c - uint64(d)}
			if i > 0 && run.left == runs[i-1].last() {
				return nil, malformed("text: explicit left origin where implicit applies")
			}
			origins = append(origins, txOrigin{int32(i), false, run.left})
		default:
			return nil, malformed("text: bad left origin tag %d", tag)
		}

		tag, err = cols[txColRight].uvarint()
		if err != nil {
			return nil, err
		}
		prevRightExpl, prevRightNext = false, false
		switch {
		case tag == 0:
		case tag == 1:
			if i == nruns-1 {
				return nil, malformed("text: last run has a next run as origin")
			}
			prevRightNext = true
		case tag-2 < uint64(nrep):
			d, err := cols[txColRightCtr].varint()
			if err != nil {
				return nil, err
			}
			run.right = OpID{reps[tag-2], c + uint64(d)}
			prevRightExpl = true
			origins = append(origins, txOrigin{int32(i), true, run.right})
		default:
			return nil, malformed("text: bad right origin tag %d", tag)
		}

		for delLeft == 0 { // only the first group may be empty
			if delLeft, err = cols[txColDeleted].uvarint(); err != nil {
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
	for i := 1; i < nruns; i++ {
		if mergeable(&runs[i-1], &runs[i]) {
			return nil, malformed("text: runs %d and %d are one run", i-1, i)
		}
	}

	// Ids unique; origins present, left before and right after their run.
	slices.SortFunc(spans, func(a, b txSpan) int {
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
		j, ok := findSpan(spans, o.id)
		if !ok {
			return nil, malformed("text: origin %v not in the text", o.id)
		}
		if (!o.right && j >= o.run) || (o.right && j <= o.run) {
			return nil, malformed("text: origin %v on the wrong side of its run", o.id)
		}
	}

	// Build the leaves straight over the decoded runs: each leaf's slice has
	// its capacity capped, so growing one copies it out instead of writing
	// over its neighbour.
	const fill = textLeafMax * 3 / 4
	nleaves := (nruns + fill - 1) / fill
	t := &textList{
		leaves:    make([]*textLeaf, nleaves),
		arena:     make([]*textLeaf, nleaves+1),
		buf:       append([]byte(nil), content...),
		live:      live,
		liveBytes: len(content),
	}
	block := make([]textLeaf, nleaves)
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

// findSpan returns the run holding id, given spans sorted by (rep, start).
func findSpan(spans []txSpan, id OpID) (int32, bool) {
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
func (t *textList) buildIndexFromSpans(spans []txSpan, fill int) {
	t.idx = make(map[ReplicaID]*replicaIndex)
	for i := 0; i < len(spans); {
		j := i
		for j < len(spans) && spans[j].rep == spans[i].rep {
			j++
		}
		ents := make([]ixEntry, 1, 2*(j-i)+2)
		var end uint64
		for _, s := range spans[i:j] {
			leaf := uint32(int(s.run)/fill + 1)
			if s.start > end && ents[len(ents)-1].leaf != 0 {
				ents = append(ents, ixEntry{end, 0})
			}
			if ents[len(ents)-1].leaf != leaf { // counters start at 1: never at the {0, 0} head
				ents = append(ents, ixEntry{s.start, leaf})
			}
			end = s.end
		}
		ents = append(ents, ixEntry{end, 0})
		const per = ixChunkMax * 3 / 4
		x := &replicaIndex{}
		for a := 0; a < len(ents); a += per {
			b := min(a+per, len(ents))
			x.chunks = append(x.chunks, ents[a:b:b])
			x.firsts = append(x.firsts, ents[a].start)
		}
		t.idx[spans[i].rep] = x
		i = j
	}
}
