package crdt

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
)

// Exists reports whether the element has been created (deleted or not).
func (d *Doc) Exists(id ElementID) bool { return d.exists(id) }

// Len returns the number of elements created, deleted ones included.
func (d *Doc) Len() int { return len(d.elems) }

// Kind returns the element's kind, "" if it does not exist.
func (d *Doc) Kind(id ElementID) string {
	if e := d.elems[id]; e != nil {
		return e.kind.v.AsString()
	}
	return ""
}

// IsDeleted reports whether the element is deleted (tombstoned).
func (d *Doc) IsDeleted(id ElementID) bool {
	e := d.elems[id]
	return e != nil && e.deleted.v.AsBool()
}

// Get returns a property's value, and whether it was ever written.
func (d *Doc) Get(id ElementID, key string) (Value, bool) {
	if e := d.elems[id]; e != nil {
		if r := e.prop(key); r != nil {
			return r.v, true
		}
	}
	return Value{}, false
}

// PropStamp returns the stamp of the write that decided a property.
func (d *Doc) PropStamp(id ElementID, key string) (Stamp, bool) {
	if e := d.elems[id]; e != nil {
		if r := e.prop(key); r != nil {
			return r.s, true
		}
	}
	return Stamp{}, false
}

// Keys returns the element's property keys, sorted.
func (d *Doc) Keys(id ElementID) []string {
	e := d.elems[id]
	if e == nil {
		return nil
	}
	keys := make([]string, len(e.props))
	for i := range e.props {
		keys[i] = e.props[i].key
	}
	slices.Sort(keys)
	return keys
}

// Text returns the visible content of a text field ("" if none).
func (d *Doc) Text(id ElementID, field string) string {
	if e := d.elems[id]; e != nil {
		if t := e.text(field); t != nil {
			return t.String()
		}
	}
	return ""
}

// TextLen returns the length of a text field in runes.
func (d *Doc) TextLen(id ElementID, field string) int {
	if e := d.elems[id]; e != nil {
		if t := e.text(field); t != nil {
			return t.Len()
		}
	}
	return 0
}

// TextFields returns the element's text field names, sorted.
func (d *Doc) TextFields(id ElementID) []string {
	e := d.elems[id]
	if e == nil {
		return nil
	}
	out := make([]string, len(e.texts))
	for i := range e.texts {
		out[i] = e.texts[i].key
	}
	slices.Sort(out)
	return out
}

// Parent returns the element's parent (Root when it was never moved) and
// its position key among its siblings.
func (d *Doc) Parent(id ElementID) (ElementID, string) {
	p, pos, _ := d.tree.parentOf(id)
	return p, pos
}

// Children returns the elements whose parent is p, deleted ones included,
// in sibling order (position key, then element id).
func (d *Doc) Children(p ElementID) []ElementID {
	if p != Root {
		return d.tree.children(p)
	}
	var out []ElementID
	for id := range d.elems {
		if parent, _, moved := d.tree.parentOf(id); !moved || parent == Root {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b ElementID) int {
		_, pa, _ := d.tree.parentOf(a)
		_, pb, _ := d.tree.parentOf(b)
		return CompareSiblings(pa, a, pb, b)
	})
	return out
}

// IsAncestor reports whether a is a proper ancestor of n in the tree.
func (d *Doc) IsAncestor(a, n ElementID) bool {
	if a == Root {
		return n != Root
	}
	return d.tree.isAncestor(a, n)
}

// Elements returns the ids of all created elements, deleted ones included,
// in ascending id order.
func (d *Doc) Elements() []ElementID {
	out := make([]ElementID, 0, len(d.elems))
	for id, e := range d.elems {
		if !e.kind.s.IsZero() {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b ElementID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// Vote is one voter's register on an element.
type Vote struct {
	Voter string
	Value Value
}

// Votes returns the non-withdrawn votes under key on the element, sorted by
// voter. A vote is withdrawn when its value is null, false, 0 or "".
func (d *Doc) Votes(id ElementID, key string) []Vote {
	e := d.elems[id]
	if e == nil {
		return nil
	}
	var out []Vote
	for _, vr := range e.votes { // sorted by key, then voter
		if vr.k.key == key && counts(vr.v) {
			out = append(out, Vote{vr.k.voter, vr.v})
		}
	}
	return out
}

// Tally returns the number of distinct voters with a live vote under key,
// and the sum of their dots (Dots: a string, a reaction, gives none).
func (d *Doc) Tally(id ElementID, key string) (voters int, sum float64) {
	e := d.elems[id]
	if e == nil {
		return 0, 0
	}
	for _, vr := range e.votes {
		if vr.k.key == key && counts(vr.v) {
			voters++
			n, _ := Dots(vr.v)
			sum += n
		}
	}
	return voters, sum
}

// MaxDots is the most dots one vote may give (one voter's register on one
// element).
const MaxDots = 1000

// Dots reads a vote value as dots, the one rule every reader of a vote
// uses (the room's voting budget, the voting result, the summary, Tally):
//
//   - null, false: 0 dots (a withdrawn vote), valid;
//   - true: 1 dot (a plain "+1"), valid;
//   - a whole number from 0 to MaxDots: that many dots, valid;
//   - any other number (negative, fractional, larger): 0 dots, not valid;
//   - a string: 0 dots, not valid.
//
// A string is a reaction (an emoji under the key "react", which the web
// client writes), never a count: it gives no dots, and a room that keeps a
// dot budget refuses it as a dot vote. It still counts as a live vote
// (Votes) when not empty. Rejected: counting a string as one dot, as true
// does (the summary and Tally did, the voting result did not). Then a
// reaction written under "vote" would add a dot no budget charged (a
// budget cannot price an arbitrary string), and the web client, which
// counts numbers only, would show another tally. An invalid number gives
// 0 for the same reason: a board without voting rules accepts any number,
// and a vote of -5 or 10^9 must not move a tally.
func Dots(v Value) (float64, bool) {
	switch v.Kind() {
	case KindNull:
		return 0, true
	case KindBool:
		if v.AsBool() {
			return 1, true
		}
		return 0, true
	case KindNumber:
		if n := v.AsNumber(); n >= 0 && n <= MaxDots && n == math.Trunc(n) {
			return n, true
		}
	}
	return 0, false
}

func counts(v Value) bool {
	switch v.Kind() {
	case KindNull:
		return false
	case KindBool:
		return v.AsBool()
	case KindNumber:
		return v.AsNumber() != 0
	case KindString:
		return v.AsString() != ""
	}
	return true
}

// ElementJSON is the JSON view of one element, for REST and debugging.
type ElementJSON struct {
	ID      ElementID                   `json:"id"`
	Kind    string                      `json:"kind"`
	Deleted bool                        `json:"deleted,omitempty"`
	Parent  *ElementID                  `json:"parent,omitempty"`
	Pos     string                      `json:"pos,omitempty"`
	Props   map[string]Value            `json:"props,omitempty"`
	Text    map[string]string           `json:"text,omitempty"`
	Votes   map[string]map[string]Value `json:"votes,omitempty"`
}

// ElementParts is one element's state as ElementJSON gives it, in slices
// instead of maps, for a reader of many elements: ReadElement fills it and
// reuses its slices from one element to the next. The web client's bridge
// writes every element of a board as JSON from it (webclient/wasm), where
// the two or three maps ElementJSON makes per element were most of the
// time; ElementJSON itself is built from it, so the two cannot differ.
type ElementParts struct {
	ID      ElementID
	Kind    string
	Deleted bool
	// HasParent: the element was moved under Parent, an element (not the
	// board's root); Pos is its position key when it was moved at all.
	HasParent bool
	Parent    ElementID
	Pos       string
	Props     []PropEntry // in the element's order; each key once
	Text      []TextEntry
	Votes     []VoteEntry // live votes only, by key, then voter
}

// PropEntry is one property of ElementParts.
type PropEntry struct {
	Key   string
	Value Value
}

// TextEntry is one text field of ElementParts.
type TextEntry struct {
	Field, Text string
}

// VoteEntry is one live vote of ElementParts.
type VoteEntry struct {
	Key, Voter string
	Value      Value
}

// ReadElement fills p with the element's state; false (p untouched) when
// it was never created.
func (d *Doc) ReadElement(id ElementID, p *ElementParts) bool {
	e := d.elems[id]
	if e == nil || e.kind.s.IsZero() {
		return false
	}
	*p = ElementParts{ID: id, Kind: e.kind.v.AsString(), Deleted: e.deleted.v.AsBool(), Props: p.Props[:0], Text: p.Text[:0], Votes: p.Votes[:0]}
	if parent, pos, moved := d.tree.parentOf(id); moved {
		if parent != Root {
			p.HasParent, p.Parent = true, parent
		}
		p.Pos = pos
	}
	for _, pr := range e.props {
		p.Props = append(p.Props, PropEntry{pr.key, pr.v})
	}
	for _, t := range e.texts {
		p.Text = append(p.Text, TextEntry{t.key, t.list.String()})
	}
	for _, vr := range e.votes {
		if counts(vr.reg.v) {
			p.Votes = append(p.Votes, VoteEntry{vr.k.key, vr.k.voter, vr.reg.v})
		}
	}
	return true
}

// ElementJSON returns the JSON view of an element (from ReadElement).
func (d *Doc) ElementJSON(id ElementID) (ElementJSON, bool) {
	var p ElementParts
	if !d.ReadElement(id, &p) {
		return ElementJSON{}, false
	}
	out := ElementJSON{ID: id, Kind: p.Kind, Deleted: p.Deleted, Pos: p.Pos}
	if p.HasParent {
		parent := p.Parent
		out.Parent = &parent
	}
	if len(p.Props) > 0 {
		out.Props = make(map[string]Value, len(p.Props))
		for _, pr := range p.Props {
			out.Props[pr.Key] = pr.Value
		}
	}
	if len(p.Text) > 0 {
		out.Text = make(map[string]string, len(p.Text))
		for _, t := range p.Text {
			out.Text[t.Field] = t.Text
		}
	}
	for _, v := range p.Votes {
		if out.Votes == nil {
			out.Votes = map[string]map[string]Value{}
		}
		if out.Votes[v.Key] == nil {
			out.Votes[v.Key] = map[string]Value{}
		}
		out.Votes[v.Key][v.Voter] = v.Value
	}
	return out, true
}

// MarshalJSON renders the board's current state: its version and every
// element (deleted ones flagged), in ascending id order.
func (d *Doc) MarshalJSON() ([]byte, error) {
	type boardJSON struct {
		Version  VersionVector `json:"version"`
		Elements []ElementJSON `json:"elements"`
	}
	out := boardJSON{Version: d.vv.vector(), Elements: []ElementJSON{}}
	for _, id := range d.Elements() {
		e, _ := d.ElementJSON(id)
		out.Elements = append(out.Elements, e)
	}
	return json.Marshal(out)
}

// EachVote calls fn with every vote register under key on the created
// elements (deleted ones included), withdrawn ones too, in no particular
// order. It reads only.
func (d *Doc) EachVote(key string, fn func(el ElementID, voter string, v Value)) {
	for id, e := range d.elems {
		if e.kind.s.IsZero() {
			continue
		}
		for i := range e.votes {
			if vr := &e.votes[i]; vr.k.key == key {
				fn(id, vr.k.voter, vr.v)
			}
		}
	}
}

// VoteChanges calls fn for each vote op under key in c, in order, with the
// value of its register (element, key, voter) before and after that op as
// applying c to the doc now would leave them: an op older than the
// register's last write (by Stamp) changes nothing, as last writer wins,
// and each op sees what the change's earlier ops wrote. Ops the doc
// already has (counters within its version vector) are skipped, as Apply
// skips them. i is the op's index in c; fn returns false to stop. It reads
// only: servers use it to weigh a change's votes before admitting it.
func (d *Doc) VoteChanges(c *Change, key string, fn func(i int, op *Op, before, after Value) bool) {
	have := d.vv.get(c.Replica)
	type regKey struct {
		el    ElementID
		voter string
	}
	var wrote map[regKey]reg // registers written by earlier ops of c
	ctr := c.Start
	for i := range c.Ops {
		op := &c.Ops[i]
		at := ctr
		ctr += op.span()
		if op.Type != OpVote || op.Key != key || at <= have {
			continue
		}
		k := regKey{op.Element, op.Voter}
		cur, ok := wrote[k]
		if !ok {
			if e := d.elem(op.Element); e != nil {
				if r := e.vote(voteKey{key, op.Voter}); r != nil {
					cur = *r
				}
			}
		}
		before := cur.v
		if s := c.stampAt(at); cur.s.Less(s) {
			cur = reg{s: s, v: op.Value}
			if wrote == nil {
				wrote = map[regKey]reg{}
			}
			wrote[k] = cur
		}
		if !fn(i, op, before, cur.v) {
			return
		}
	}
}
