package activity

import (
	"testing"

	"github.com/corkboard/corkboard/crdt"
)

// testBoard is a board with a server copy and one replica per user. Users
// edit their own replica (a browser tab); deliver hands their changes to the
// server, which logs them with the author and an acceptance time, the way a
// node does. A user who is "offline" keeps editing locally and is delivered
// later, so concurrent edits reach the server interleaved.
type testBoard struct {
	t       testing.TB
	server  *crdt.Doc
	log     []Change
	now     int64 // the server's clock: ms, advanced a minute per edit and per delivery
	users   map[string]*testUser
	offline map[string]bool
}

type testUser struct {
	id      string
	replica crdt.ReplicaID
	doc     *crdt.Doc
	outbox  []crdt.Change
}

func newBoard(t testing.TB) *testBoard {
	t.Helper()
	return &testBoard{t: t, server: crdt.NewDoc(), now: 1_800_000_000_000,
		users: map[string]*testUser{}, offline: map[string]bool{}}
}

// el names an element deterministically: the name's bytes, then a marker
// so that no name is the root.
func el(name string) crdt.ElementID {
	var id crdt.ElementID
	copy(id[:], name)
	id[15] |= 0x80
	return id
}

func (b *testBoard) user(id string) *testUser {
	u := b.users[id]
	if u == nil {
		u = &testUser{id: id, replica: crdt.ReplicaID(len(b.users) + 1), doc: crdt.NewDoc()}
		b.users[id] = u
	}
	return u
}

// pull brings the user's replica up to date with the server.
func (b *testBoard) pull(u *testUser) {
	for _, c := range b.log {
		if _, _, err := u.doc.Apply(c.Change); err != nil {
			b.t.Fatalf("pull %s: %v", u.id, err)
		}
	}
}

// as makes one change as user: on their replica, then (unless offline)
// delivered to the server.
func (b *testBoard) as(user string, edit func(tx *crdt.Tx) error) {
	b.t.Helper()
	u := b.user(user)
	if !b.offline[user] {
		b.pull(u)
	}
	b.now += 60_000
	tx := u.doc.Begin(u.replica, b.now)
	if err := edit(&tx); err != nil {
		tx.Commit()
		b.t.Fatalf("edit by %s: %v", user, err)
	}
	c, ok := tx.Commit()
	if !ok {
		b.t.Fatalf("edit by %s: empty change", user)
	}
	u.outbox = append(u.outbox, c)
	if !b.offline[user] {
		b.deliver(user)
	}
}

// deliver sends the user's outbox to the server, which applies and logs it.
func (b *testBoard) deliver(user string) {
	b.t.Helper()
	u := b.user(user)
	for _, c := range u.outbox {
		b.now += 60_000
		st, applied, err := b.server.Apply(c)
		if err != nil || st != crdt.Applied {
			b.t.Fatalf("server apply of %s's change: %v %v", user, st, err)
		}
		for _, a := range applied {
			b.log = append(b.log, Change{Change: a, Author: user, Accepted: b.now})
		}
	}
	u.outbox = nil
}

// mark returns the log position now: changes after it are "since".
func (b *testBoard) mark() int { return len(b.log) }

func (b *testBoard) since(mark int) []Event { return Since(b.server, b.log[mark:]) }

// Edits, as one-liners.

func note(id, text string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error { return createText(tx, id, "note", text) }
}

func createText(tx *crdt.Tx, id, kind, text string) error {
	if err := tx.Create(el(id), kind); err != nil {
		return err
	}
	return tx.InsertText(el(id), "text", 0, text)
}

func setText(doc *crdt.Doc, id, text string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		if n := doc.TextLen(el(id), "text"); n > 0 {
			if err := tx.DeleteText(el(id), "text", 0, n); err != nil {
				return err
			}
		}
		return tx.InsertText(el(id), "text", 0, text)
	}
}

func appendText(doc *crdt.Doc, id, text string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		return tx.InsertText(el(id), "text", doc.TextLen(el(id), "text"), text)
	}
}

func set(id, key string, v crdt.Value) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error { return tx.Set(el(id), key, v) }
}

func del(id string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error { return tx.Delete(el(id)) }
}

func restore(id string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error { return tx.Restore(el(id)) }
}

func move(id, parent, pos string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		p := crdt.Root
		if parent != "" {
			p = el(parent)
		}
		return tx.Move(el(id), p, pos)
	}
}

func vote(id, voter string, dots float64) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error { return tx.Vote(el(id), "vote", voter, crdt.Number(dots)) }
}

func react(id, voter, emoji string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		v := crdt.Null()
		if emoji != "" {
			v = crdt.String(emoji)
		}
		return tx.Vote(el(id), "react", voter, v)
	}
}

// comment starts a thread on target ("" for none) as author.
func comment(id, target, author, text string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		if err := createText(tx, id, "comment", text); err != nil {
			return err
		}
		if err := tx.Set(el(id), "author", crdt.String(author)); err != nil {
			return err
		}
		if target == "" {
			return nil
		}
		return tx.Set(el(id), "target", crdt.String(el(target).String()))
	}
}

// reply adds a reply to a thread.
func reply(id, thread, pos, author, text string) func(*crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		if err := createText(tx, id, "comment", text); err != nil {
			return err
		}
		if err := tx.Set(el(id), "author", crdt.String(author)); err != nil {
			return err
		}
		return tx.Move(el(id), el(thread), pos)
	}
}

// brief is an event reduced to what most tests compare.
type brief struct {
	Element string
	Action  Action
	By      string // By joined with ","
	Count   int
}

func briefs(evs []Event) []brief {
	out := make([]brief, len(evs))
	for i, ev := range evs {
		by := ""
		for j, u := range ev.By {
			if j > 0 {
				by += ","
			}
			by += u
		}
		out[i] = brief{nameOf(ev.Element), ev.Action, by, ev.Count}
	}
	return out
}

// nameOf turns an element id string made by el back into its name.
func nameOf(s string) string {
	id, err := crdt.ParseElementID(s)
	if err != nil {
		return s
	}
	id[15] &^= 0x80
	n := 0
	for n < len(id) && id[n] != 0 {
		n++
	}
	return string(id[:n])
}
