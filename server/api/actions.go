package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/corkboard/corkboard/crdt"
	"github.com/google/uuid"
)

// What each write-API action does to a copy of the board (elements.go).

// apply applies one action to the copy; it returns the id of an element it
// made.
func apply(d *crdt.Doc, tx *crdt.Tx, a action, user, voter string) (string, error) {
	el := func() (crdt.ElementID, error) {
		e, err := crdt.ParseElementID(a.Element)
		if err != nil {
			return e, fmt.Errorf("element: %v", err)
		}
		if !d.Exists(e) {
			return e, fmt.Errorf("element %s: no such element", a.Element)
		}
		return e, nil
	}
	switch a.Op {
	case "create", "comment":
		kind := a.Kind
		var target crdt.ElementID
		if a.Op == "comment" {
			t, err := el()
			if err != nil {
				return "", err
			}
			target, kind = t, "comment"
			if a.Text == nil || strings.TrimSpace(*a.Text) == "" {
				return "", errors.New("text: a comment needs text")
			}
		}
		spec, known := crdt.Kinds[kind]
		if !known {
			return "", fmt.Errorf("kind %q: not one of the schema's kinds", kind)
		}
		var id crdt.ElementID
		if a.Element != "" && a.Op == "create" {
			e, err := crdt.ParseElementID(a.Element)
			if err != nil {
				return "", fmt.Errorf("element: %v", err)
			}
			if d.Exists(e) {
				return "", fmt.Errorf("element %s exists", a.Element)
			}
			id = e
		} else {
			id = crdt.ElementID(uuid.New())
		}
		if err := tx.Create(id, kind); err != nil {
			return "", err
		}
		if _, ok := spec.Props["author"]; ok {
			if err := tx.Set(id, "author", crdt.String(user)); err != nil {
				return "", err
			}
		}
		if a.Op == "comment" {
			if d.Kind(target) == "comment" {
				// A reply: under its thread's first comment.
				root := target
				if p, _ := d.Parent(target); d.Kind(p) == "comment" {
					root = p
				}
				if err := tx.Move(id, root, afterLast(d, root)); err != nil {
					return "", err
				}
			} else if err := tx.Set(id, "target", crdt.String(target.String())); err != nil {
				return "", err
			}
		}
		if err := setAll(d, tx, id, spec, a); err != nil {
			return "", err
		}
		if a.Parent != nil {
			if err := move(d, tx, id, a); err != nil {
				return "", err
			}
		}
		return id.String(), nil
	case "update":
		id, err := el()
		if err != nil {
			return "", err
		}
		return "", setAll(d, tx, id, crdt.Kinds[d.Kind(id)], a)
	case "delete":
		id, err := el()
		if err != nil {
			return "", err
		}
		return "", tx.Delete(id)
	case "restore":
		e, err := crdt.ParseElementID(a.Element)
		if err != nil {
			return "", fmt.Errorf("element: %v", err)
		}
		return "", tx.Restore(e)
	case "vote", "unvote":
		id, err := el()
		if err != nil {
			return "", err
		}
		key := a.Key
		if key == "" {
			key = "vote"
		}
		if key != "vote" && key != "react" {
			return "", fmt.Errorf("key %q: vote or react", key)
		}
		v := crdt.Bool(true)
		if a.Op == "unvote" {
			v = crdt.Null()
		} else if a.Value != nil {
			v = *a.Value
		}
		if key == "react" {
			// A reaction is the person's own, in the open: cast under the
			// voting session's pseudonym, it would tie the pseudonym to the
			// person whose change carries it.
			return "", tx.Vote(id, key, user, v)
		}
		return "", tx.Vote(id, key, voter, v)
	case "move":
		id, err := el()
		if err != nil {
			return "", err
		}
		if a.Parent == nil {
			return "", errors.New("parent: required (\"\" for the board)")
		}
		return "", move(d, tx, id, a)
	}
	return "", fmt.Errorf("op %q: one of create, update, delete, restore, comment, vote, unvote, move", a.Op)
}

// setAll writes an action's props and text on id.
func setAll(d *crdt.Doc, tx *crdt.Tx, id crdt.ElementID, spec crdt.KindSpec, a action) error {
	for k, v := range a.Props {
		if k == "author" || k == "target" {
			return fmt.Errorf("props.%s: set by the server", k)
		}
		if err := tx.Set(id, k, v); err != nil {
			return fmt.Errorf("props.%s: %v", k, err)
		}
	}
	if a.Text == nil {
		return nil
	}
	field := a.Field
	if field == "" {
		if len(spec.TextFields) == 0 {
			return errors.New("text: this kind has no text")
		}
		field = spec.TextFields[0]
	}
	// Replace the whole text: delete what is there, insert the new.
	if n := len([]rune(d.Text(id, field))); n > 0 {
		if err := tx.DeleteText(id, field, 0, n); err != nil {
			return fmt.Errorf("text: %v", err)
		}
	}
	if *a.Text != "" {
		if err := tx.InsertText(id, field, 0, *a.Text); err != nil {
			return fmt.Errorf("text: %v", err)
		}
	}
	return nil
}

// move places id under the action's parent, at its pos or last.
func move(d *crdt.Doc, tx *crdt.Tx, id crdt.ElementID, a action) error {
	parent := crdt.Root
	if *a.Parent != "" {
		p, err := crdt.ParseElementID(*a.Parent)
		if err != nil {
			return fmt.Errorf("parent: %v", err)
		}
		parent = p
	}
	pos := a.Pos
	if pos == "" {
		pos = afterLast(d, parent)
	}
	return tx.Move(id, parent, pos)
}

// afterLast is a position key after parent's last child.
func afterLast(d *crdt.Doc, parent crdt.ElementID) string {
	last := ""
	for _, c := range d.Children(parent) {
		if _, p := d.Parent(c); p > last {
			last = p
		}
	}
	k, err := crdt.KeyBetween(last, "")
	if err != nil {
		return ""
	}
	return k
}
