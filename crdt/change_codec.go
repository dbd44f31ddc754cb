package crdt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Binary form of a change (all integers uvarint unless said otherwise):
//
//	change  = version(1 byte = 1) replica(8 bytes LE) start time nops op*
//	op      = header [element(16 bytes)] fields
//	header  = type (low 4 bits) | 0x10 "same element as the previous op" (element omitted)
//	          | 0x20 deleted flag (delete ops only)
//	create  = kind:string
//	set     = key:string value
//	delete  = (nothing)
//	insert  = field:string left:opid right:opid text:string
//	deltext = field:string target:opid count
//	move    = parent(16 bytes) pos:string
//	vote    = key:string voter:string value
//	opid    = 0 (none) | 1 counter (this change's replica) | 2 replica(8 bytes LE) counter
//	string  = length bytes
//	value   = 0 null | 1 false | 2 true | 3 float64(8 bytes LE) | 4 zigzag-varint integer
//	          | 5 scale(1 byte, 1..15) zigzag-varint mantissa (value = mantissa / 10^scale)
//	          | 6 string | 7 JSON text (array or object)
//
// The encoder picks the number form by a fixed rule — an integer when the
// value is one, else the smallest decimal scale that reproduces it exactly,
// else float64 — so equal changes encode to equal bytes.

const changeFormat = 1

// AppendBinary appends the binary form of c.
func (c *Change) AppendBinary(b []byte) []byte {
	b = append(b, changeFormat)
	b = appendU64(b, uint64(c.Replica))
	b = appendUvarint(b, c.Start)
	b = appendUvarint(b, uint64(c.Time))
	b = appendUvarint(b, uint64(len(c.Ops)))
	var prev ElementID
	for i := range c.Ops {
		op := &c.Ops[i]
		h := byte(op.Type)
		same := i > 0 && op.Element == prev
		if same {
			h |= 0x10
		}
		if op.Type == OpDelete && op.Deleted {
			h |= 0x20
		}
		b = append(b, h)
		if !same {
			b = append(b, op.Element[:]...)
		}
		prev = op.Element
		switch op.Type {
		case OpCreate:
			b = appendString(b, op.Key)
		case OpSet:
			b = appendString(b, op.Key)
			b = appendValue(b, op.Value)
		case OpInsertText:
			b = appendString(b, op.Key)
			b = appendOpID(b, op.Left, c.Replica)
			b = appendOpID(b, op.Right, c.Replica)
			b = appendString(b, op.Text)
		case OpDeleteText:
			b = appendString(b, op.Key)
			b = appendOpID(b, op.Target, c.Replica)
			b = appendUvarint(b, op.Count)
		case OpMove:
			b = append(b, op.Parent[:]...)
			b = appendString(b, op.Pos)
		case OpVote:
			b = appendString(b, op.Key)
			b = appendString(b, op.Voter)
			b = appendValue(b, op.Value)
		}
	}
	return b
}

// MarshalBinary returns the binary form of c.
func (c *Change) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil), nil }

// UnmarshalBinary decodes one change and validates it (Validate). On error c
// is left unchanged.
func (c *Change) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	out, err := r.change()
	if err != nil {
		return err
	}
	if r.len() != 0 {
		return malformed("change: %d trailing bytes", r.len())
	}
	*c = out
	return nil
}

// DecodeChange decodes and validates one binary change.
func DecodeChange(data []byte) (Change, error) {
	var c Change
	err := c.UnmarshalBinary(data)
	return c, err
}

// DecodeChangeInto is DecodeChange for a caller that is done with each
// change before it decodes the next, as one that applies it at once: the
// ops are decoded into ops[:0] (grown if too small), so the Change's Ops
// alias ops' array and reusing one buffer makes decoding allocate nothing
// for them. Doc.Apply copies the ops of a change it holds, so a change
// applied this way may be held. The Changes Apply returns alias the array
// too: copy their Ops to keep them past the next decode.
func DecodeChangeInto(data []byte, ops []Op) (Change, error) {
	r := reader{b: data, ops: ops}
	c, err := r.change()
	if err != nil {
		return Change{}, err
	}
	if r.len() != 0 {
		return Change{}, malformed("change: %d trailing bytes", r.len())
	}
	return c, nil
}

func (r *reader) change() (Change, error) {
	var c Change
	v, err := r.byte()
	if err != nil {
		return c, err
	}
	if v != changeFormat {
		return c, malformed("change: unknown format version %d", v)
	}
	rep, err := r.u64()
	if err != nil {
		return c, err
	}
	c.Replica = ReplicaID(rep)
	if c.Start, err = r.uvarint(); err != nil {
		return c, err
	}
	t, err := r.uvarint()
	if err != nil {
		return c, err
	}
	c.Time = Timestamp(t)
	n, err := r.count(2)
	if err != nil {
		return c, err
	}
	if n == 0 || n > MaxOps {
		return c, malformed("change: %d ops", n)
	}
	if cap(r.ops) >= n {
		c.Ops = r.ops[:n]
		// Each op below sets only its type's fields: the rest must be
		// zero, not what the buffer held, for check(true) skips the
		// test of which fields are set.
		clear(c.Ops)
	} else {
		c.Ops = make([]Op, n)
	}
	var prev ElementID
	for i := range c.Ops {
		op := &c.Ops[i]
		h, err := r.byte()
		if err != nil {
			return c, err
		}
		op.Type = OpType(h & 0x0f)
		if h&0xc0 != 0 || (h&0x20 != 0 && op.Type != OpDelete) {
			return c, malformed("change: op %d: bad header %#x", i, h)
		}
		if h&0x10 != 0 {
			if i == 0 {
				return c, malformed("change: first op cannot reuse an element")
			}
			op.Element = prev
		} else if op.Element, err = r.elementID(); err != nil {
			return c, err
		} else if i > 0 && op.Element == prev {
			return c, malformed("change: op %d repeats the element without the flag", i)
		}
		prev = op.Element
		switch op.Type {
		case OpCreate:
			op.Key, err = r.key()
		case OpSet:
			if op.Key, err = r.key(); err == nil {
				op.Value, err = r.value()
			}
		case OpDelete:
			op.Deleted = h&0x20 != 0
		case OpInsertText:
			if op.Key, err = r.key(); err != nil {
				break
			}
			if op.Left, err = r.opID(c.Replica); err != nil {
				break
			}
			if op.Right, err = r.opID(c.Replica); err != nil {
				break
			}
			op.Text, err = r.string()
		case OpDeleteText:
			if op.Key, err = r.key(); err != nil {
				break
			}
			if op.Target, err = r.opID(c.Replica); err != nil {
				break
			}
			op.Count, err = r.uvarint()
		case OpMove:
			if op.Parent, err = r.elementID(); err == nil {
				op.Pos, err = r.string()
			}
		case OpVote:
			if op.Key, err = r.key(); err != nil {
				break
			}
			if op.Voter, err = r.string(); err != nil {
				break
			}
			op.Value, err = r.value()
		default:
			return c, malformed("change: op %d: unknown type %d", i, op.Type)
		}
		if err != nil {
			return c, fmt.Errorf("change: op %d: %w", i, err)
		}
	}
	if err := c.check(true); err != nil {
		return Change{}, err
	}
	return c, nil
}

func appendOpID(b []byte, id OpID, self ReplicaID) []byte {
	switch {
	case id.IsZero():
		return append(b, 0)
	case id.Replica == self:
		b = append(b, 1)
	default:
		b = append(b, 2)
		b = appendU64(b, uint64(id.Replica))
	}
	return appendUvarint(b, id.Counter)
}

func (r *reader) opID(self ReplicaID) (OpID, error) {
	tag, err := r.byte()
	if err != nil {
		return OpID{}, err
	}
	var id OpID
	switch tag {
	case 0:
		return id, nil
	case 1:
		id.Replica = self
	case 2:
		rep, err := r.u64()
		if err != nil {
			return id, err
		}
		if rep == 0 || ReplicaID(rep) == self {
			return id, malformed("op id: non-canonical replica")
		}
		id.Replica = ReplicaID(rep)
	default:
		return id, malformed("op id: bad tag %d", tag)
	}
	if id.Counter, err = r.uvarint(); err != nil {
		return id, err
	}
	if id.Counter == 0 {
		return id, malformed("op id: zero counter")
	}
	return id, nil
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// appendValue writes v in its shortest canonical binary form.
func appendValue(b []byte, v Value) []byte {
	switch v.kind {
	case KindNull:
		return append(b, 0)
	case KindBool:
		if v.num != 0 {
			return append(b, 2)
		}
		return append(b, 1)
	case KindString:
		return appendString(append(b, 6), v.str)
	case KindJSON:
		return appendString(append(b, 7), v.str)
	}
	f := v.num
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && !(f == 0 && math.Signbit(f)) {
		return appendVarint(append(b, 4), int64(f))
	}
	if m, scale, ok := decimalForm(f); ok {
		b = append(b, 5, byte(scale))
		return appendVarint(b, m)
	}
	return appendF64(append(b, 3), f)
}

// decimalForm finds m and scale (1..15) with m / 10^scale == f exactly,
// trying scales from 1 up: most numbers on a whiteboard (coordinates like
// 1234.56) have one. Whatever it returns decodes to f exactly (checked),
// and it is a pure function of f, so encodings stay canonical.
func decimalForm(f float64) (int64, int, bool) {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, 0, false
	}
	for scale := 1; scale <= 15; scale++ {
		m := f * pow10[scale]
		if m != math.Trunc(m) {
			continue
		}
		if math.Abs(m) >= 1<<53 {
			return 0, 0, false
		}
		if float64(int64(m))/pow10[scale] == f {
			return int64(m), scale, true
		}
	}
	return 0, 0, false
}

func (r *reader) value() (Value, error) {
	tag, err := r.byte()
	if err != nil {
		return Value{}, err
	}
	switch tag {
	case 0:
		return Null(), nil
	case 1:
		return Bool(false), nil
	case 2:
		return Bool(true), nil
	case 3:
		f, err := r.f64()
		if err != nil {
			return Value{}, err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Value{}, malformed("value: number is not finite")
		}
		return Number(f), nil
	case 4:
		i, err := r.varint()
		if err != nil {
			return Value{}, err
		}
		// A double holds every integer below 2^53 exactly, and no other
		// range: a larger one would be rounded, and the sender's copy,
		// which has the integer, would diverge from everyone else's.
		if i >= 1<<53 || i <= -(1<<53) {
			return Value{}, malformed("value: integer %d is not below 2^53 in absolute value", i)
		}
		return Number(float64(i)), nil
	case 5:
		scale, err := r.byte()
		if err != nil {
			return Value{}, err
		}
		if scale < 1 || scale > 15 {
			return Value{}, malformed("value: decimal scale %d", scale)
		}
		m, err := r.varint()
		if err != nil {
			return Value{}, err
		}
		if m >= 1<<53 || m <= -(1<<53) { // rounded as a double, as above
			return Value{}, malformed("value: decimal mantissa %d is not below 2^53 in absolute value", m)
		}
		return Number(float64(m) / pow10[scale]), nil
	case 6, 7:
		s, err := r.string()
		if err != nil {
			return Value{}, err
		}
		if len(s) > MaxValueLen {
			return Value{}, malformed("value: longer than %d bytes", MaxValueLen)
		}
		if tag == 6 {
			return String(s), nil
		}
		v := Value{kind: KindJSON, str: s}
		if plainCanonicalJSON(s) {
			return v, nil // valid and canonical (the common case, checked in one pass)
		}
		if err := v.valid(); err != nil {
			return Value{}, err
		}
		// Only canonical JSON is accepted, so a value has one encoding.
		canon, err := JSONValue([]byte(s))
		if err != nil || canon.str != s {
			return Value{}, malformed("value: JSON text is not canonical")
		}
		return v, nil
	}
	return Value{}, malformed("value: bad tag %d", tag)
}

// EncodeBatch encodes several changes as one message: uvarint n, then n
// length-prefixed binary changes.
func EncodeBatch(changes []Change) []byte {
	b := appendUvarint(nil, uint64(len(changes)))
	var tmp []byte
	for i := range changes {
		tmp = changes[i].AppendBinary(tmp[:0])
		b = appendUvarint(b, uint64(len(tmp)))
		b = append(b, tmp...)
	}
	return b
}

// AppendBatch appends to dst the batch of changes already encoded (by
// Change.AppendBinary), in the format of EncodeBatch: what a node that holds
// changes as bytes (its op log) sends without decoding them.
func AppendBatch(dst []byte, encoded [][]byte) []byte {
	n := binary.MaxVarintLen64
	for _, e := range encoded {
		n += len(e) + binary.MaxVarintLen32
	}
	dst = slices.Grow(dst, n)
	dst = appendUvarint(dst, uint64(len(encoded)))
	for _, e := range encoded {
		dst = appendUvarint(dst, uint64(len(e)))
		dst = append(dst, e...)
	}
	return dst
}

// DecodeBatch decodes a batch made by EncodeBatch. It returns every change
// or an error: never a partial batch.
func DecodeBatch(data []byte) ([]Change, error) { return DecodeBatchLimit(data, 0) }

// DecodeBatchLimit is DecodeBatch for a batch of at most maxOps ops in all
// (0: no bound): past it, it stops with an error, having decoded at most
// maxOps + MaxOps ops. An op takes a few bytes encoded and a couple of
// hundred decoded, so a megabyte of tiny ops from a client would
// otherwise decode to a hundred megabytes before anything could refuse it.
func DecodeBatchLimit(data []byte, maxOps int) ([]Change, error) {
	r := reader{b: data}
	total := 0
	n, err := r.count(8)
	if err != nil {
		return nil, err
	}
	out := make([]Change, 0, n)
	for i := 0; i < n; i++ {
		l, err := r.uvarint()
		if err != nil {
			return nil, err
		}
		body, err := r.bytes(int(min(l, uint64(r.len()+1))))
		if err != nil {
			return nil, err
		}
		c, err := DecodeChange(body)
		if err != nil {
			return nil, fmt.Errorf("batch: change %d: %w", i, err)
		}
		if total += len(c.Ops); maxOps > 0 && total > maxOps {
			return nil, malformed("batch: more than %d ops", maxOps)
		}
		out = append(out, c)
	}
	if r.len() != 0 {
		return nil, malformed("batch: %d trailing bytes", r.len())
	}
	return out, nil
}

// ---- JSON form ----
//
// The JSON form is for REST, debugging and tests. Ids are strings: replica
// ids 16 hex digits, element ids UUIDs, op ids "counter@replica". The HLC
// time is {"ms": wall milliseconds, "l": logical} because a Timestamp does
// not fit a JavaScript number.

type jsonTime struct {
	Ms uint64 `json:"ms"`
	L  uint16 `json:"l"`
}

type jsonChange struct {
	Replica ReplicaID `json:"replica"`
	Start   uint64    `json:"start"`
	Time    jsonTime  `json:"time"`
	Ops     []jsonOp  `json:"ops"`
}

type jsonOp struct {
	Op      string          `json:"op"`
	El      ElementID       `json:"el"`
	Kind    string          `json:"kind,omitempty"`
	Key     string          `json:"key,omitempty"`
	Field   string          `json:"field,omitempty"`
	Value   json.RawMessage `json:"value,omitempty"`
	Deleted *bool           `json:"deleted,omitempty"`
	Left    *jsonOpID       `json:"left,omitempty"`
	Right   *jsonOpID       `json:"right,omitempty"`
	Text    string          `json:"text,omitempty"`
	Target  *jsonOpID       `json:"target,omitempty"`
	Count   uint64          `json:"count,omitempty"`
	Parent  *ElementID      `json:"parent,omitempty"`
	Pos     string          `json:"pos,omitempty"`
	Voter   string          `json:"voter,omitempty"`
}

type jsonOpID OpID

func (id jsonOpID) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatUint(id.Counter, 10) + "@" + id.Replica.String()), nil
}

func (id *jsonOpID) UnmarshalText(b []byte) error {
	c, r, ok := strings.Cut(string(b), "@")
	if !ok {
		return malformed("op id %q: want counter@replica", b)
	}
	n, err := strconv.ParseUint(c, 10, 64)
	if err != nil || n == 0 {
		return malformed("op id %q: bad counter", b)
	}
	rep, err := ParseReplicaID(r)
	if err != nil {
		return err
	}
	*id = jsonOpID{Replica: rep, Counter: n}
	return nil
}

func optID(id OpID) *jsonOpID {
	if id.IsZero() {
		return nil
	}
	j := jsonOpID(id)
	return &j
}

func (p *jsonOpID) get() OpID {
	if p == nil {
		return OpID{}
	}
	return OpID(*p)
}

// MarshalJSON renders the change in its JSON form.
func (c Change) MarshalJSON() ([]byte, error) {
	jc := c.jsonHead()
	jc.Ops = make([]jsonOp, len(c.Ops))
	for i := range c.Ops {
		jc.Ops[i] = jsonOpOf(&c.Ops[i])
	}
	return json.Marshal(jc)
}

// AppendJSON appends the change's JSON form (the bytes MarshalJSON
// renders) to dst, op by op, and stops once dst is longer than limit: ok
// false, and dst holds a part of the change (the caller drops it). A
// change's JSON is up to some 200 bytes an op more than its binary form
// (an op of a few bytes names its element's UUID and its op ids in
// full), so a caller bounding what it makes counts as it goes rather
// than after a change of 65,536 ops.
func (c Change) AppendJSON(dst []byte, limit int) (_ []byte, ok bool) {
	jc := c.jsonHead()
	jc.Ops = []jsonOp{}
	head, err := json.Marshal(jc)
	if err != nil {
		return dst, false
	}
	dst = append(dst, head[:len(head)-2]...) // without "]}"
	for i := range c.Ops {
		b, err := json.Marshal(jsonOpOf(&c.Ops[i]))
		if err != nil {
			return dst, false
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst = append(dst, b...); len(dst) > limit {
			return dst, false
		}
	}
	dst = append(dst, ']', '}')
	return dst, len(dst) <= limit
}

func (c Change) jsonHead() jsonChange {
	return jsonChange{Replica: c.Replica, Start: c.Start, Time: jsonTime{c.Time.WallMs(), c.Time.Logical()}}
}

func jsonOpOf(op *Op) jsonOp {
	var j jsonOp
	j.Op = op.Type.String()
	j.El = op.Element
	switch op.Type {
	case OpCreate:
		j.Kind = op.Key
	case OpSet, OpVote:
		j.Key = op.Key
		j.Value = op.Value.AppendJSON(nil)
		j.Voter = op.Voter
	case OpDelete:
		d := op.Deleted
		j.Deleted = &d
	case OpInsertText:
		j.Field, j.Left, j.Right, j.Text = op.Key, optID(op.Left), optID(op.Right), op.Text
	case OpDeleteText:
		j.Field, j.Target, j.Count = op.Key, optID(op.Target), op.Count
	case OpMove:
		if op.Parent != Root {
			p := op.Parent
			j.Parent = &p
		}
		j.Pos = op.Pos
	}
	return j
}

// UnmarshalJSON parses the JSON form strictly (unknown fields are errors)
// and validates the change.
func (c *Change) UnmarshalJSON(b []byte) error {
	var jc jsonChange
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jc); err != nil {
		return fmt.Errorf("crdt: change JSON: %v: %w", err, ErrMalformed)
	}
	out := Change{Replica: jc.Replica, Start: jc.Start, Time: MakeTimestamp(jc.Time.Ms, jc.Time.L)}
	if jc.Time.Ms >= 1<<48 {
		return malformed("change JSON: time.ms out of range")
	}
	out.Ops = make([]Op, len(jc.Ops))
	for i := range jc.Ops {
		j := &jc.Ops[i]
		op := &out.Ops[i]
		op.Element = j.El
		t := OpType(0)
		for k, name := range opTypeNames {
			if name == j.Op && k > 0 {
				t = OpType(k)
			}
		}
		if t == 0 {
			return malformed("change JSON: op %d: unknown op %q", i, j.Op)
		}
		op.Type = t
		// Fields that do not belong to the op type are refused by Validate
		// (they land in Op fields that must stay zero) or here.
		stray := false
		switch t {
		case OpCreate:
			op.Key = j.Kind
			stray = j.Key != "" || j.Field != ""
		case OpSet, OpVote:
			op.Key = j.Key
			if j.Value == nil {
				return malformed("change JSON: op %d: value missing", i)
			}
			v, err := JSONValue(j.Value)
			if err != nil {
				return fmt.Errorf("change JSON: op %d: %w", i, err)
			}
			op.Value = v
			op.Voter = j.Voter
			stray = j.Kind != "" || j.Field != ""
		case OpDelete:
			if j.Deleted == nil {
				return malformed("change JSON: op %d: deleted missing", i)
			}
			op.Deleted = *j.Deleted
			stray = j.Kind != "" || j.Key != "" || j.Field != ""
		case OpInsertText:
			op.Key, op.Left, op.Right, op.Text = j.Field, j.Left.get(), j.Right.get(), j.Text
			stray = j.Kind != "" || j.Key != ""
		case OpDeleteText:
			op.Key, op.Target, op.Count = j.Field, j.Target.get(), j.Count
			stray = j.Kind != "" || j.Key != ""
		case OpMove:
			if j.Parent != nil {
				op.Parent = *j.Parent
				if op.Parent == Root {
					return malformed("change JSON: op %d: parent: use null for the root", i)
				}
			}
			op.Pos = j.Pos
			stray = j.Kind != "" || j.Key != "" || j.Field != ""
		}
		if stray || (t != OpSet && t != OpVote && j.Value != nil) || (t != OpDelete && j.Deleted != nil) ||
			(t != OpInsertText && (j.Left != nil || j.Right != nil || j.Text != "")) ||
			(t != OpDeleteText && (j.Target != nil || j.Count != 0)) ||
			(t != OpMove && (j.Parent != nil || j.Pos != "")) || (t != OpVote && j.Voter != "") {
			return malformed("change JSON: op %d: field that %s does not use", i, t)
		}
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*c = out
	return nil
}
