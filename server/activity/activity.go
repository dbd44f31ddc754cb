// Package activity turns a board's op log into words: what changed since a
// member's last visit and by whom (Since), the text of a digest e-mail
// (Digest), and the end-of-brainstorm summary export (Summarize, with its
// Markdown and JSON forms).
//
// The package reads; it never writes a board. Its inputs are the board's
// current state (a *crdt.Doc) and accepted changes with their author and
// acceptance time (Change, read from the node's op log with FromRecord).
// Everything is deterministic: no clock, no randomness, no map-order
// dependence, so a test or a second node gets the same events and the same
// bytes of e-mail.
//
// A crdt.Doc is not safe for concurrent use: call Since and Summarize where
// the doc is owned (the room's goroutine), or on a copy of it (a snapshot
// loaded with crdt.LoadSnapshot). Digest and Summary are plain values.
//
// How a node uses it. Its changes are op-log entries decoded with
// FromRecord: read by room.ChangesSince (since a visit, for a digest),
// handed over by the room as it accepts them (webhooks: room.Config.
// Accepted), or read whole (the summary).
//
//	events := activity.SinceNames(doc, changes, names)  // what changed since a member's last visit
//	f := activity.NewFold(doc, names); f.Add(&c) …; f.Events() // the same, decoding one change at a time
//	events := activity.SinceNames(doc, others, names)   // a digest: others' changes only, filtered before folding
//	mail := activity.Digest{Board: ..., Events: events, ...}  // Subject, Text, HTML
//	events := activity.Since(doc, window)                // webhooks: one window of accepted changes
//	export := activity.Summarize(doc, changes, names)    // then .Markdown() or .JSON()
//
// A member's own changes are filtered out before SinceNames, not after,
// so that the folding sees the window as the member does (a note they
// added and someone else edited is "edited" for them).
//
// Rejected: computing "what changed" by diffing two snapshots (the board at
// the member's last version and now). A diff says what differs, not who did
// it, needs a second full document in memory, and cannot tell an element
// that was moved and moved back from one never touched. The op log already
// names the author of each change; folding its ops is linear in the window.
package activity

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/storage"
)

// Change is one accepted change with who sent it and when (the node reads
// these from its op log, storage.Record, decoding Data with
// crdt.DecodeChange; FromRecord does it).
type Change struct {
	crdt.Change
	Author   string // user id of the sender; "" for anonymous
	Accepted int64  // unix ms at which the node accepted it
	// More is how many changes of the same author, without creations,
	// this one stands for besides itself (Summarize counts them; Accepted
	// is then the latest of theirs): a reader of a long history keeps one
	// entry per author and per creation, not one per change.
	More int
}

// FromRecord decodes one op log record into a Change. A record whose data
// does not decode gets an error naming its sequence number and replica.
func FromRecord(rec storage.Record) (Change, error) {
	c, err := crdt.DecodeChange(rec.Data)
	if err != nil {
		return Change{}, fmt.Errorf("activity: record %d (replica %016x): %w", rec.Seq, rec.Replica, err)
	}
	if uint64(c.Replica) != rec.Replica || c.Start != rec.Start || (rec.End != 0 && c.End() != rec.End) {
		return Change{}, fmt.Errorf("activity: record %d: header says replica %016x %d..%d, data says %v %d..%d: %w",
			rec.Seq, rec.Replica, rec.Start, rec.End, c.Replica, c.Start, c.End(), crdt.ErrMalformed)
	}
	return Change{Change: c, Author: rec.Author, Accepted: rec.Accepted}, nil
}

// Action says what happened to an element.
type Action string

// The actions, in the order events of one element are listed.
const (
	Added     Action = "added"
	Edited    Action = "edited"
	Moved     Action = "moved"
	Deleted   Action = "deleted"
	Restored  Action = "restored"
	Commented Action = "commented" // a new thread (first comment)
	Replied   Action = "replied"   // a reply in a thread
	Resolved  Action = "resolved"
	Reopened  Action = "reopened"
	Voted     Action = "voted" // a dot vote or a reaction
)

var actionRank = map[Action]int{Added: 0, Edited: 1, Moved: 2, Deleted: 3, Restored: 4,
	Commented: 5, Replied: 6, Resolved: 7, Reopened: 8, Voted: 9}

// Event is what one or more changes did to one element.
type Event struct {
	Element  string   `json:"element"`            // element id (string form used by the JSON API)
	Kind     string   `json:"kind"`               // element kind
	Action   Action   `json:"action"`             // what happened
	By       []string `json:"by"`                 // user ids, in order of first action ("" is anonymous)
	Count    int      `json:"count"`              // how many changes folded into this event
	Text     string   `json:"text,omitempty"`     // short preview of the element's current text (≤ 120 runes)
	Target   string   `json:"target,omitempty"`   // comments: the element the thread is pinned to; replies: the thread
	Mentions []string `json:"mentions,omitempty"` // mentions found in comment text added by these changes
	At       int64    `json:"at"`                 // latest Accepted, unix ms

	// TargetText previews the target's current text, for readers (the
	// digest) that have no document at hand.
	TargetText string `json:"targetText,omitempty"`
	// On is, for a comment or a reply, the element its thread is pinned
	// to (a reply's Target is its thread, a comment, which names no
	// idea); OnText previews its current text. Empty for a thread pinned
	// to a point of the board.
	On     string `json:"on,omitempty"`
	OnText string `json:"onText,omitempty"`
}

// Since lists what the changes (everything after a baseline version; the
// caller passes those not covered by the baseline version vector, in log
// order) did to the board whose current state is doc: one event per
// (element, action), folded, ordered by the element's first change in the
// window and then by action. Mentions are "@word" tokens; SinceNames matches
// them against display names instead.
func Since(doc *crdt.Doc, changes []Change) []Event {
	return SinceNames(doc, changes, nil)
}

// SinceNames is Since with mentions matched against the members' display
// names (user id → display name; see Mentions). Event.Mentions then holds
// the display names as given in names.
//
// Folding rules, from what a reader wants to see:
//
//   - An element added in the window is one "added" event (for a comment,
//     "commented" or "replied"), whatever else happened to it; its By
//     lists the creator first, then whoever else edited or moved it. Added
//     and now deleted (or hidden under a deleted parent) is dropped.
//   - An element deleted in the window, and still deleted, is one "deleted"
//     event; its earlier edits are not listed.
//   - Deleted and restored in the window cancel out, as do resolved and
//     reopened. The state before the window is not in the log window, so it
//     is inferred from the first write in the window (by stamp): a write
//     of "deleted" means it was alive before.
//   - Elements under a deleted ancestor are hidden with it: no events.
//   - A vote counts when the voter's vote is still live: a vote given and
//     withdrawn in the window, or only withdrawn, is not listed.
//   - Property writes of x or y and tree moves are "moved"; every other
//     property and text edit is "edited".
func SinceNames(doc *crdt.Doc, changes []Change, names map[string]string) []Event {
	f := NewFold(doc, names)
	for i := range changes {
		f.Add(&changes[i])
	}
	return f.Events()
}

// Fold is SinceNames one change at a time: Add each change in log order,
// then Events. A caller that decodes the log as it folds it holds one
// decoded change at a time instead of the whole window (GET /changes: a
// window may be 32 MiB of changes, several times that decoded). The
// document is read by Add and Events alike, and must not change between.
type Fold struct {
	w     window
	names map[string]string
	seen  map[crdt.OpID]bool
	n     int // changes added, duplicates included
}

// NewFold starts folding changes made to doc (its current state), with
// mentions matched against names as SinceNames does.
func NewFold(doc *crdt.Doc, names map[string]string) *Fold {
	return &Fold{w: window{doc: doc, elems: map[crdt.ElementID]*elemTrack{}}, names: names, seen: map[crdt.OpID]bool{}}
}

// Add folds the next change of the window; it keeps nothing of c but
// what the events need (authors, times, inserted comment text).
func (f *Fold) Add(c *Change) {
	i := f.n
	f.n++
	key := crdt.OpID{Replica: c.Replica, Counter: c.Start}
	if f.seen[key] {
		return // the same change passed twice counts once
	}
	f.seen[key] = true
	f.w.fold(i, c)
}

// Events lists what the changes added so far did (SinceNames).
func (f *Fold) Events() []Event {
	var nameList []string
	if f.names != nil {
		nameList = displayNames(f.names)
	}
	var out []Event
	for _, t := range f.w.order {
		out = append(out, f.w.events(t, nameList)...)
	}
	return out
}

// touch is one change's part in an action on an element.
type touch struct {
	action Action
	by     string
	change int
	at     int64
}

// boolWrite is one write of a boolean register (tombstone, resolved).
type boolWrite struct {
	stamp crdt.Stamp
	value bool
	by    string
	chg   int
	at    int64
}

type voteWrite struct {
	key, voter string
	chg        int
	at         int64
}

type elemTrack struct {
	id       crdt.ElementID
	first    int  // index of the first change touching it
	created  bool // created in the window
	touches  []touch
	tomb     []boolWrite
	resolved []boolWrite
	votes    []voteWrite
	inserted strings.Builder // text inserted into a comment, in log order
}

type window struct {
	doc   *crdt.Doc
	elems map[crdt.ElementID]*elemTrack
	order []*elemTrack
	// previews are the elements' previews made for this window's events,
	// each made once: every comment and reply names the element its
	// thread is pinned to, and thousands of them on one note of
	// megabytes read and folded its whole text once each.
	previews map[crdt.ElementID]string
}

// preview is preview(w.doc, id), made once per window.
func (w *window) preview(id crdt.ElementID) string {
	if p, ok := w.previews[id]; ok {
		return p
	}
	if w.previews == nil {
		w.previews = map[crdt.ElementID]string{}
	}
	p := preview(w.doc, id)
	w.previews[id] = p
	return p
}

func (w *window) track(id crdt.ElementID, chg int) *elemTrack {
	t := w.elems[id]
	if t == nil {
		t = &elemTrack{id: id, first: chg}
		w.elems[id] = t
		w.order = append(w.order, t)
	}
	return t
}

func (w *window) fold(chg int, c *Change) {
	ctr := c.Start
	for i := range c.Ops {
		op := &c.Ops[i]
		stamp := crdt.Stamp{TS: c.Time + crdt.Timestamp(ctr-c.Start), Replica: c.Replica}
		if op.Type == crdt.OpInsertText {
			ctr += uint64(utf8.RuneCountInString(op.Text))
		} else {
			ctr++
		}
		if !w.doc.Exists(op.Element) {
			continue // not in this state of the board: nothing to say
		}
		t := w.track(op.Element, chg)
		add := func(a Action) {
			t.touches = append(t.touches, touch{a, c.Author, chg, c.Accepted})
		}
		switch op.Type {
		case crdt.OpCreate:
			t.created = true
			add(Added)
		case crdt.OpSet:
			switch {
			case op.Key == "resolved" && w.doc.Kind(op.Element) == "comment":
				t.resolved = append(t.resolved, boolWrite{stamp, op.Value.AsBool(), c.Author, chg, c.Accepted})
			case op.Key == "x" || op.Key == "y":
				add(Moved)
			default:
				add(Edited)
			}
		case crdt.OpDelete:
			t.tomb = append(t.tomb, boolWrite{stamp, op.Deleted, c.Author, chg, c.Accepted})
		case crdt.OpInsertText:
			add(Edited)
			t.inserted.WriteString(op.Text)
		case crdt.OpDeleteText:
			add(Edited)
		case crdt.OpMove:
			add(Moved)
		case crdt.OpVote:
			t.votes = append(t.votes, voteWrite{op.Key, op.Voter, chg, c.Accepted})
		}
	}
}

// builder folds touches into one event.
type builder struct {
	ev       Event
	lastChg  int
	hasTouch bool
}

func (b *builder) add(by string, chg int, at int64) {
	if !slices.Contains(b.ev.By, by) {
		b.ev.By = append(b.ev.By, by)
	}
	if !b.hasTouch || chg != b.lastChg {
		b.ev.Count++
	}
	b.hasTouch, b.lastChg = true, chg
	b.ev.At = max(b.ev.At, at)
}

// flipped says whether a boolean register changed over the window, given
// its writes in the window, whether the element was created in it (then the
// register started false) and its value now.
func flipped(writes []boolWrite, created, now bool) bool {
	if len(writes) == 0 {
		return false
	}
	before := false
	if !created {
		first := slices.MinFunc(writes, func(a, b boolWrite) int { return a.stamp.Compare(b.stamp) })
		before = !first.value
	}
	return before != now
}

func (w *window) events(t *elemTrack, names []string) []Event {
	d := w.doc
	id := t.id
	kind := d.Kind(id)
	hidden := hiddenByAncestor(d, id)
	deleted := d.IsDeleted(id)
	if hidden || (t.created && deleted) {
		return nil
	}
	base := Event{Element: id.String(), Kind: kind, Text: w.preview(id)}
	newBuilder := func(a Action) *builder {
		ev := base
		ev.Action = a
		ev.By = []string{}
		return &builder{ev: ev}
	}
	var out []*builder
	if deleted {
		if !flipped(t.tomb, false, true) {
			return nil // deleted before the window and still deleted
		}
		b := newBuilder(Deleted)
		for _, wr := range t.tomb {
			if wr.value {
				b.add(wr.by, wr.chg, wr.at)
			}
		}
		return []Event{b.ev}
	}

	isComment := kind == "comment"
	if t.created {
		a := Added
		if isComment {
			a = Commented
			if p, _ := d.Parent(id); p != crdt.Root && d.Kind(p) == "comment" {
				a = Replied
			}
		}
		b := newBuilder(a)
		// The creator first: the create op is the first touch of the element.
		for _, tc := range t.touches {
			if tc.action == Added {
				b.add(tc.by, tc.change, tc.at)
			}
		}
		for _, tc := range t.touches {
			if tc.action != Added {
				b.add(tc.by, tc.change, tc.at)
			}
		}
		for _, wr := range t.tomb {
			b.add(wr.by, wr.chg, wr.at)
		}
		if isComment {
			b.ev.Mentions = Mentions(d.Text(id, "text"), names)
		}
		out = append(out, b)
	} else {
		if flipped(t.tomb, false, false) {
			b := newBuilder(Restored)
			for _, wr := range t.tomb {
				if !wr.value {
					b.add(wr.by, wr.chg, wr.at)
				}
			}
			out = append(out, b)
		}
		for _, a := range []Action{Edited, Moved} {
			var b *builder
			for _, tc := range t.touches {
				if tc.action != a {
					continue
				}
				if b == nil {
					b = newBuilder(a)
				}
				b.add(tc.by, tc.change, tc.at)
			}
			if b == nil {
				continue
			}
			if a == Edited && isComment {
				// Only mentions typed in the window: those in the current
				// text that the inserted text also spells out.
				typed := Mentions(t.inserted.String(), names)
				for _, m := range Mentions(d.Text(id, "text"), names) {
					if slices.ContainsFunc(typed, func(s string) bool { return strings.EqualFold(s, m) }) {
						b.ev.Mentions = append(b.ev.Mentions, m)
					}
				}
			}
			out = append(out, b)
		}
	}
	if isComment {
		now := false
		if v, ok := d.Get(id, "resolved"); ok {
			now = v.AsBool()
		}
		if flipped(t.resolved, t.created, now) {
			a := Reopened
			if now {
				a = Resolved
			}
			b := newBuilder(a)
			for _, wr := range t.resolved {
				if wr.value == now {
					b.add(wr.by, wr.chg, wr.at)
				}
			}
			out = append(out, b)
		}
	}
	if len(t.votes) > 0 {
		var b *builder
		for _, v := range t.votes {
			if !liveVote(d, id, v.key, v.voter) {
				continue
			}
			if b == nil {
				b = newBuilder(Voted)
			}
			b.add(v.voter, v.chg, v.at)
		}
		if b != nil {
			out = append(out, b)
		}
	}
	evs := make([]Event, 0, len(out))
	for _, b := range out {
		ev := b.ev
		if isComment {
			ev.Target, ev.TargetText = commentTarget(d, id, w.preview)
			ev.On, ev.OnText = threadPin(d, id, w.preview)
		}
		evs = append(evs, ev)
	}
	slices.SortStableFunc(evs, func(a, b Event) int { return actionRank[a.Action] - actionRank[b.Action] })
	return evs
}

// commentTarget returns what a comment hangs on: its thread for a reply,
// the pinned element for a thread's first comment; and that one's preview
// (by preview).
func commentTarget(d *crdt.Doc, id crdt.ElementID, preview func(crdt.ElementID) string) (string, string) {
	if p, _ := d.Parent(id); p != crdt.Root && d.Kind(p) == "comment" {
		return p.String(), preview(p)
	}
	v, ok := d.Get(id, "target")
	if !ok || v.AsString() == "" {
		return "", ""
	}
	target, err := crdt.ParseElementID(v.AsString())
	if err != nil {
		return v.AsString(), ""
	}
	return target.String(), preview(target)
}

// threadPin returns the element the thread of comment id is pinned to
// (the target of the thread's first comment, above any replies) and its
// preview (by preview); "" for a thread pinned to a point.
func threadPin(d *crdt.Doc, id crdt.ElementID, preview func(crdt.ElementID) string) (string, string) {
	for steps := 0; steps <= d.Len(); steps++ {
		p, _ := d.Parent(id)
		if p == crdt.Root || d.Kind(p) != "comment" {
			break
		}
		id = p
	}
	v, ok := d.Get(id, "target")
	if !ok || v.AsString() == "" {
		return "", ""
	}
	target, err := crdt.ParseElementID(v.AsString())
	if err != nil || target == crdt.Root {
		return "", ""
	}
	return target.String(), preview(target)
}

func liveVote(d *crdt.Doc, id crdt.ElementID, key, voter string) bool {
	for _, v := range d.Votes(id, key) {
		if v.Voter == voter {
			return true
		}
	}
	return false
}

// hiddenByAncestor reports whether a proper ancestor of id is deleted.
func hiddenByAncestor(d *crdt.Doc, id crdt.ElementID) bool {
	cur := id
	for steps := 0; steps <= d.Len(); steps++ {
		p, _ := d.Parent(cur)
		if p == crdt.Root {
			return false
		}
		if d.IsDeleted(p) {
			return true
		}
		cur = p
	}
	return true // a cycle cannot happen; if it ever did, hide rather than spin
}

// visible reports whether the element is on the board: created, not
// deleted, not under a deleted ancestor.
func visible(d *crdt.Doc, id crdt.ElementID) bool {
	return d.Exists(id) && !d.IsDeleted(id) && !hiddenByAncestor(d, id)
}

// PreviewLen is the most runes a preview holds.
const PreviewLen = 120

// textField names the text that describes an element of each kind.
func textField(kind string) string {
	switch kind {
	case "frame":
		return "title"
	case "connector":
		return "label"
	}
	return "text"
}

// elementText returns the element's full describing text, whitespace runs
// folded to one space.
func elementText(d *crdt.Doc, id crdt.ElementID) string {
	if textRead != nil {
		textRead(id)
	}
	kind := d.Kind(id)
	s := d.Text(id, textField(kind))
	if s == "" && kind == "image" {
		if v, ok := d.Get(id, "alt"); ok {
			s = v.AsString()
		}
	}
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// textRead, when set (by tests), is told of each element's text read.
var textRead func(crdt.ElementID)

// preview returns the element's text cut to PreviewLen runes (an ellipsis
// marks a cut).
func preview(d *crdt.Doc, id crdt.ElementID) string {
	return truncate(elementText(d, id), PreviewLen)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:n-1]), unicode.IsSpace) + "…"
}
