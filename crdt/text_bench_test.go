package crdt

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The editing traces of josephg/editing-traces, kept in shared/traces next
// to the module (see its README). Positions count code points, as
// textList does, so patches apply as they are.

type textPatch struct {
	pos, del int
	ins      string
}

type textTrace struct {
	end     string
	patches []textPatch
	txns    []textTxn // concurrent traces only
	agents  int
}

// textTxn is a txn of a concurrent trace: its patches are
// patches[from:to], made by agent on the merge of its parents.
type textTxn struct {
	parents  []int
	agent    int
	from, to int
}

var textTraces sync.Map // name -> *textTrace

// loadTextTrace reads a sequential trace, or skips the test when the traces
// are absent. The traces are megabytes of JSON; a small scanner for their
// fixed shape reads them ten times faster than encoding/json into values,
// which keeps the tests quick.
func loadTextTrace(tb testing.TB, name string) *textTrace {
	tb.Helper()
	if v, ok := textTraces.Load(name); ok {
		return v.(*textTrace)
	}
	path := filepath.Join("..", "..", "shared", "traces", name+".json.gz")
	f, err := os.Open(path)
	if err != nil {
		tb.Skipf("editing trace %s not found (%v); the traces live in shared/traces next to the module", name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	tr, err := textParseTrace(data)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	textTraces.Store(name, tr)
	return tr
}

func textParseTrace(data []byte) (*textTrace, error) {
	sc := textTraceScanner{b: data}
	tr := &textTrace{}
	i := bytes.Index(data, []byte(`"endContent"`))
	if i < 0 {
		return nil, fmt.Errorf("no endContent")
	}
	sc.i = i + len(`"endContent"`)
	sc.expect(':')
	tr.end = sc.str()
	if i := bytes.Index(data, []byte(`"numAgents"`)); i >= 0 {
		sc.i = i + len(`"numAgents"`)
		sc.expect(':')
		tr.agents = sc.int()
		sc.i = 0
	}
	for sc.err == nil {
		i := bytes.Index(sc.b[sc.i:], []byte(`"patches"`))
		if i < 0 {
			break
		}
		if tr.agents > 0 {
			// The txn's other fields come before its patches.
			txn := textTxn{from: len(tr.patches)}
			obj := sc.b[sc.i : sc.i+i]
			if j := bytes.Index(obj, []byte(`"parents"`)); j >= 0 {
				sub := textTraceScanner{b: obj, i: j + len(`"parents"`)}
				sub.expect(':')
				sub.expect('[')
				for sub.err == nil && sub.peek() != ']' {
					txn.parents = append(txn.parents, sub.int())
					if sub.peek() == ',' {
						sub.i++
					}
				}
				sc.err = sub.err
			}
			if j := bytes.Index(obj, []byte(`"agent"`)); j >= 0 {
				sub := textTraceScanner{b: obj, i: j + len(`"agent"`)}
				sub.expect(':')
				txn.agent = sub.int()
				if sc.err == nil {
					sc.err = sub.err
				}
			}
			tr.txns = append(tr.txns, txn)
		}
		sc.i += i + len(`"patches"`)
		sc.expect(':')
		sc.expect('[')
		if sc.peek() == ']' {
			sc.i++
			if n := len(tr.txns); n > 0 {
				tr.txns[n-1].to = len(tr.patches)
			}
			continue
		}
		for sc.err == nil {
			var p textPatch
			sc.expect('[')
			p.pos = sc.int()
			sc.expect(',')
			p.del = sc.int()
			sc.expect(',')
			p.ins = sc.str()
			sc.expect(']')
			tr.patches = append(tr.patches, p)
			if sc.peek() == ',' {
				sc.i++
				continue
			}
			sc.expect(']')
			break
		}
		if n := len(tr.txns); n > 0 {
			tr.txns[n-1].to = len(tr.patches)
		}
	}
	return tr, sc.err
}

type textTraceScanner struct {
	b   []byte
	i   int
	err error
}

func (s *textTraceScanner) peek() byte {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\n' || s.b[s.i] == '\r' || s.b[s.i] == '\t') {
		s.i++
	}
	if s.i == len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *textTraceScanner) expect(c byte) {
	if s.peek() != c && s.err == nil {
		s.err = fmt.Errorf("offset %d: want %q", s.i, c)
	}
	s.i++
}

func (s *textTraceScanner) int() int {
	s.peek()
	n, start := 0, s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	if s.i == start && s.err == nil {
		s.err = fmt.Errorf("offset %d: want a number", s.i)
	}
	return n
}

func (s *textTraceScanner) str() string {
	s.expect('"')
	start, esc := s.i, false
	for s.i < len(s.b) && s.b[s.i] != '"' {
		if s.b[s.i] == '\\' {
			esc = true
			s.i++
		}
		s.i++
	}
	if s.i >= len(s.b) {
		s.err = fmt.Errorf("unterminated string")
		return ""
	}
	s.i++
	if !esc {
		return string(s.b[start : s.i-1])
	}
	var out string
	if err := json.Unmarshal(s.b[start-1:s.i], &out); err != nil && s.err == nil {
		s.err = err
	}
	return out
}

const textTraceReplica = ReplicaID(0x5eed)

// textReplayLocal applies every patch as local ops of one replica: deletes
// through idsAt + remove, inserts through localInsert. Each insert takes
// one counter per character and each delete one counter, as in a Doc. ops,
// if non-nil, receives the ops for a remote replay.
func textReplayLocal(tr *textTrace, ops *[]textOp) *textList {
	t := newTextList()
	ctr := uint64(1)
	for _, p := range tr.patches {
		if p.del > 0 {
			spans := t.idsAt(p.pos, p.del)
			for _, sp := range spans {
				t.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
			}
			if ops != nil {
				*ops = append(*ops, textOp{id: OpID{textTraceReplica, ctr}, spans: spans})
			}
			ctr++
		}
		if p.ins != "" {
			id := OpID{textTraceReplica, ctr}
			l, r := t.localInsert(id, p.pos, p.ins)
			if ops != nil {
				*ops = append(*ops, textOp{insert: true, id: id, left: l, right: r, s: p.ins})
			}
			ctr += uint64(len([]rune(p.ins)))
		}
	}
	return t
}

// textReplayRemote applies recorded ops to a fresh list as remote ops.
func textReplayRemote(ops []textOp) *textList {
	t := newTextList()
	for i := range ops {
		op := &ops[i]
		if op.insert {
			t.integrate(op.id, op.left, op.right, op.s)
			continue
		}
		for _, sp := range op.spans {
			t.remove(OpID{sp.Replica, sp.From}, sp.To-sp.From+1)
		}
	}
	return t
}

func textFlateSize(b []byte) int {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	w.Write(b)
	w.Close()
	return out.Len()
}

func BenchmarkTextTraceLocal(b *testing.B) {
	for _, name := range []string{"automerge-paper", "seph-blog1", "friendsforever_flat"} {
		b.Run(name, func(b *testing.B) {
			tr := loadTextTrace(b, name)
			b.ReportAllocs()
			var t *textList
			for b.Loop() {
				t = textReplayLocal(tr, nil)
			}
			if t.String() != tr.end {
				b.Fatal("wrong final text")
			}
			b.ReportMetric(float64(len(tr.patches)), "patches")
		})
	}
}

func BenchmarkTextTraceRemote(b *testing.B) {
	for _, name := range []string{"automerge-paper", "seph-blog1", "friendsforever_flat"} {
		b.Run(name, func(b *testing.B) {
			tr := loadTextTrace(b, name)
			var ops []textOp
			textReplayLocal(tr, &ops)
			b.ReportAllocs()
			var t *textList
			for b.Loop() {
				t = textReplayRemote(ops)
			}
			if t.String() != tr.end {
				b.Fatal("wrong final text")
			}
		})
	}
}

func BenchmarkTextDecode(b *testing.B) {
	for _, name := range []string{"automerge-paper", "seph-blog1", "friendsforever_flat"} {
		b.Run(name, func(b *testing.B) {
			tr := loadTextTrace(b, name)
			enc := textReplayLocal(tr, nil).appendState(nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := decodeTextState(&reader{b: enc}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(enc)), "bytes")
			b.ReportMetric(float64(textFlateSize(enc)), "flate-bytes")
		})
	}
}

func BenchmarkTextEncode(b *testing.B) {
	tr := loadTextTrace(b, "automerge-paper")
	t := textReplayLocal(tr, nil)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = t.appendState(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

// textStats describes a list's memory, for tuning.
func textStats(t *textList) string {
	runs, capRuns, ix := 0, 0, 0
	for _, lf := range t.leaves {
		runs += len(lf.runs)
		capRuns += cap(lf.runs)
	}
	for _, x := range t.idx {
		for _, ch := range x.chunks {
			ix += cap(ch)
		}
	}
	return fmt.Sprintf("%d leaves, %d runs (cap %d, %d KB), index %d entries (%d KB), buf %d KB",
		len(t.leaves), runs, capRuns, capRuns*64/1024, ix, ix*16/1024, cap(t.buf)/1024)
}

// BenchmarkDocTraceRemote is the contract's trace-remote workload inside
// the package: every patch of the trace as its own encoded change, decoded
// and applied one at a time to a fresh Doc, as a node does.
func BenchmarkDocTraceRemote(b *testing.B) {
	tr := loadTextTrace(b, "automerge-paper")
	note := ElementID{1}
	src := NewDoc()
	tx := src.Begin(1, 0)
	tx.Create(note, "note")
	c, _ := tx.Commit()
	all := c.AppendBinary(nil)
	ends := []int{len(all)}
	for _, p := range tr.patches {
		tx := src.Begin(1, 0)
		if p.del > 0 {
			if err := tx.DeleteText(note, "text", p.pos, p.del); err != nil {
				b.Fatal(err)
			}
		}
		if p.ins != "" {
			if err := tx.InsertText(note, "text", p.pos, p.ins); err != nil {
				b.Fatal(err)
			}
		}
		c, _ := tx.Commit()
		all = c.AppendBinary(all)
		ends = append(ends, len(all))
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(all)))
	var d *Doc
	for b.Loop() {
		d = NewDoc()
		from := 0
		for _, end := range ends {
			if _, st, _, err := d.ApplyBinary(all[from:end:end]); err != nil || st != Applied {
				b.Fatal(st, err)
			}
			from = end
		}
	}
	if d.Text(note, "text") != tr.end {
		b.Fatal("wrong final text")
	}
	b.ReportMetric(float64(len(ends)), "changes")
}
