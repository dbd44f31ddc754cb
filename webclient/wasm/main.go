//go:build js && wasm

// Command wasm is package crdt compiled to WebAssembly for the web client:
// the browser runs the very same CRDT as the nodes, not a second
// implementation. It exposes a small API on globalThis.corkboardCRDT (see
// webclient/src/crdt.ts for its TypeScript side):
//
//	newDoc() → handle               an empty doc
//	handle.setReplica(hex)          the replica local edits are made by (resets undo)
//	handle.edit(opsJSON, nowMs[, undoable]) one local change → result
//	                                (undoable false: not an undo step, see edit)
//	handle.undo(nowMs), redo(nowMs) → result; canUndo(), canRedo()
//	handle.applyBatch(bytes)        a node's 0x02 message body (a batch) → applied JSON
//	handle.applyChange(bytes)       one binary change (re-applying the outbox) → applied JSON
//	handle.loadSnapshot(bytes)      replace the state with a snapshot (0x03 body, or persisted)
//	handle.loadSnapshotStep(bytes|undefined, budget) → done
//	                                the same in steps of about budget bytes: bytes start a
//	                                load, undefined goes on; the doc is replaced at the last
//	                                step and untouched before (crdt.SnapshotLoader)
//	handle.reset()                  an empty doc again, no replica (after a refused change)
//	handle.snapshot(raw) → bytes    the canonical snapshot (raw: uncompressed, for IndexedDB)
//	handle.version() → JSON         the version vector {"<replica hex>": counter}
//	handle.elements(idsJSON) → JSON  crdt.ElementJSON of the ids ("" or "null": all)
//	handle.elementsPage(start, n) → JSON  every element, a page at a time: start 0 takes the
//	                                ids in ascending order, later pages read the rest of them;
//	                                "[]" past the end
//	handle.checkOps(opsJSON) → JSON the indices of ops a node would refuse (see checkOps)
//	handle.text(id, field) → string
//	handle.changeInfo(bytes)        {replica, start, end} of a binary change
//	handle.changeJSON(bytes) → JSON the JSON form of a binary change (debugging)
//
// A result is {change: Uint8Array, start: number, ids: string[]} or null
// when nothing changed, plus error: string when an op failed (the ops
// before it are applied and in the change: a Tx cannot be rolled back).
// Every other failure throws a JS Error.
//
// Values cross the boundary as JSON text, parsed by package crdt itself;
// elements go out through package elemjson, a fast writer of the same JSON
// as encoding/json's (checked against it by its tests).
package main

import (
	"encoding/json"
	"errors"
	"strconv"
	"syscall/js"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/webclient/wasm/elemjson"
)

// handle is one doc and the undo manager of the local replica.
type handle struct {
	doc     *crdt.Doc
	replica crdt.ReplicaID
	undo    *crdt.UndoManager
	loader  *crdt.SnapshotLoader // a load in steps under way (loadSnapshotStep)
	pageIDs []crdt.ElementID     // the elements being read a page at a time (elementsPage)
}

// localOp is one local edit, as the TypeScript side writes it. Text
// positions are in runes (Unicode code points).
type localOp struct {
	Op     string          `json:"op"` // create set delete restore insertText deleteText move vote
	El     string          `json:"el"`
	Kind   string          `json:"kind"`
	Key    string          `json:"key"`
	Value  json.RawMessage `json:"value"`
	Field  string          `json:"field"`
	Pos    int             `json:"pos"`
	Text   string          `json:"text"`
	Count  int             `json:"count"`
	Parent string          `json:"parent"`
	Key2   string          `json:"posKey"` // move: fractional position key
	Voter  string          `json:"voter"`
}

var uint8Array = js.Global().Get("Uint8Array")

func bytesToJS(b []byte) js.Value {
	a := uint8Array.New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

func bytesFromJS(v js.Value) []byte {
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// throw panics with a JS Error, which the wrapper turns into an exception.
type jsError struct{ msg string }

func throw(msg string) { panic(jsError{msg}) }

// fn wraps a Go function so that a jsError panic becomes a thrown JS Error.
func fn(f func(args []js.Value) any) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) (out any) {
		defer func() {
			if r := recover(); r != nil {
				// Returned as a value and rethrown by the TypeScript side:
				// a panic across syscall/js would end the Go program, and
				// with it every later call.
				out = js.Global().Get("Error").New(panicMessage(r))
			}
		}()
		return f(args)
	})
}

func panicMessage(r any) string {
	switch e := r.(type) {
	case jsError:
		return e.msg
	case error:
		return "crdt panic: " + e.Error()
	case string:
		return "crdt panic: " + e
	}
	return "crdt panic"
}

func parseID(s string) crdt.ElementID {
	id, err := crdt.ParseElementID(s)
	if err != nil {
		throw(err.Error())
	}
	return id
}

func (h *handle) needReplica() {
	if h.replica == 0 {
		throw("crdt: no replica set")
	}
}

// result renders a committed change for JS.
func result(c crdt.Change, ok bool, err error) any {
	if !ok {
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		return nil
	}
	out := map[string]any{
		"change": bytesToJS(c.AppendBinary(nil)),
		"start":  float64(c.Start),
		"ids":    idsOf([]crdt.Change{c}),
	}
	if err != nil {
		out["error"] = err.Error()
	}
	return out
}

// idsOf lists the elements the changes touch, each once, as JS strings.
func idsOf(cs []crdt.Change) []any {
	seen := map[crdt.ElementID]bool{}
	var out []any
	for i := range cs {
		for j := range cs[i].Ops {
			el := cs[i].Ops[j].Element
			if !seen[el] {
				seen[el] = true
				out = append(out, el.String())
			}
		}
	}
	return out
}

// edit makes one local change. An undoable change is a step of the undo
// manager; one that is not (undoable false) leaves the undo and redo stacks
// alone. The web client stamps a new element's "author" that way, in a
// change of its own right after the one creating it: undoing the creation
// then deletes the element without also writing author = null, a value the
// node refuses ("author" must name the sender), which would throw the
// replica out. Letting the undo manager skip such properties was rejected
// because package crdt knows nothing of servers' rules.
func (h *handle) edit(opsJSON string, nowMs int64, undoable bool) any {
	h.needReplica()
	var ops []localOp
	if err := json.Unmarshal([]byte(opsJSON), &ops); err != nil {
		throw("edit: " + err.Error())
	}
	var tx crdt.Tx
	if undoable {
		tx = h.undo.Begin(nowMs)
	} else {
		tx = h.doc.Begin(h.replica, nowMs)
	}
	var err error
	for i := range ops {
		if err = h.add(&tx, &ops[i]); err != nil {
			err = errors.New("op " + strconv.Itoa(i) + " (" + ops[i].Op + "): " + err.Error())
			break
		}
	}
	c, ok := tx.Commit()
	return result(c, ok, err)
}

func (h *handle) add(tx *crdt.Tx, o *localOp) (err error) {
	defer func() {
		// A bad id in the middle of a transaction must not leave it open.
		if r := recover(); r != nil {
			e, ok := r.(jsError)
			if !ok {
				panic(r)
			}
			err = errors.New(e.msg)
		}
	}()
	el := parseID(o.El)
	switch o.Op {
	case "create":
		return tx.Create(el, o.Kind)
	case "set", "vote":
		v := crdt.Null()
		if len(o.Value) > 0 {
			if v, err = crdt.JSONValue(o.Value); err != nil {
				return err
			}
		}
		if o.Op == "vote" {
			return tx.Vote(el, o.Key, o.Voter, v)
		}
		return tx.Set(el, o.Key, v)
	case "delete":
		return tx.Delete(el)
	case "restore":
		return tx.Restore(el)
	case "insertText":
		return tx.InsertText(el, o.Field, o.Pos, o.Text)
	case "deleteText":
		return tx.DeleteText(el, o.Field, o.Pos, o.Count)
	case "move":
		parent := crdt.Root
		if o.Parent != "" {
			parent = parseID(o.Parent)
		}
		return tx.Move(el, parent, o.Key2)
	}
	return errors.New("unknown op " + strconv.Quote(o.Op))
}

// checkOps returns the indices of the ops (local edits, as for edit) that
// are malformed or do not fit the schema, judged as package crdt and the
// nodes judge them (Change.Validate, Doc.CheckSchema), each with the
// create ops of the list in front of it so that new elements have their
// kinds. The client drops those ops before making a change from input it
// does not control (a paste): a refused change would make it start over as
// a new replica. Checking each op on its own, rather than the list as one
// change, says which ops to drop instead of only the first.
func (h *handle) checkOps(opsJSON string) []any {
	h.needReplica()
	var ops []localOp
	if err := json.Unmarshal([]byte(opsJSON), &ops); err != nil {
		throw("checkOps: " + err.Error())
	}
	conv := make([]crdt.Op, len(ops))
	ok := make([]bool, len(ops))
	creates := map[crdt.ElementID]crdt.Op{}
	for i := range ops {
		conv[i], ok[i] = toOp(&ops[i])
		if ok[i] && conv[i].Type == crdt.OpCreate {
			if _, dup := creates[conv[i].Element]; !dup {
				creates[conv[i].Element] = conv[i]
			}
		}
	}
	bad := []any{}
	for i := range ops {
		if !ok[i] {
			bad = append(bad, i)
			continue
		}
		op := conv[i]
		one := crdt.Change{Replica: h.replica, Start: 1, Time: 1, Ops: []crdt.Op{op}}
		if one.Validate() != nil {
			bad = append(bad, i)
			continue
		}
		var ctx []crdt.Op
		if cr, found := creates[op.Element]; found && op.Type != crdt.OpCreate {
			ctx = append(ctx, cr)
		}
		if op.Type == crdt.OpMove {
			if cr, found := creates[op.Parent]; found {
				ctx = append(ctx, cr)
			}
		}
		c := crdt.Change{Replica: h.replica, Start: 1, Time: 1, Ops: append(ctx, op)}
		if h.doc.CheckSchema(&c) != nil {
			bad = append(bad, i)
		}
	}
	return bad
}

// toOp converts a local edit to the op it stands for, as far as checking
// needs (text positions are not resolved); false when it cannot be one.
func toOp(o *localOp) (op crdt.Op, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, isJS := r.(jsError); !isJS {
				panic(r)
			}
			ok = false
		}
	}()
	el := parseID(o.El)
	switch o.Op {
	case "create":
		return crdt.Op{Type: crdt.OpCreate, Element: el, Key: o.Kind}, true
	case "set":
		v := crdt.Null()
		if len(o.Value) > 0 {
			var err error
			if v, err = crdt.JSONValue(o.Value); err != nil {
				return op, false
			}
		}
		return crdt.Op{Type: crdt.OpSet, Element: el, Key: o.Key, Value: v}, true
	case "insertText":
		return crdt.Op{Type: crdt.OpInsertText, Element: el, Key: o.Field, Text: o.Text}, o.Pos >= 0
	case "move":
		parent := crdt.Root
		if o.Parent != "" {
			parent = parseID(o.Parent)
		}
		return crdt.Op{Type: crdt.OpMove, Element: el, Parent: parent, Pos: o.Key2}, true
	case "delete", "restore":
		return crdt.Op{Type: crdt.OpDelete, Element: el, Deleted: o.Op == "delete"}, true
	}
	return op, false
}

// applied renders what applying remote changes did.
func applied(cs []crdt.Change, held int) any {
	return map[string]any{"ids": idsOf(cs), "applied": len(cs), "held": held}
}

func (h *handle) applyBatch(b []byte) any {
	changes, err := crdt.DecodeBatch(b)
	if err != nil {
		throw(err.Error())
	}
	var all []crdt.Change
	held := 0
	for _, c := range changes {
		st, done, err := h.doc.Apply(c)
		if err != nil {
			continue // structurally invalid: skipped, as the Go client does
		}
		if st == crdt.Held {
			held++
		}
		all = append(all, done...)
	}
	return applied(all, held)
}

func (h *handle) applyChange(b []byte) any {
	c, err := crdt.DecodeChange(b)
	if err != nil {
		throw(err.Error())
	}
	st, done, err := h.doc.Apply(c)
	if err != nil {
		throw(err.Error())
	}
	held := 0
	if st == crdt.Held {
		held = 1
	}
	return applied(done, held)
}

func (h *handle) elements(idsJSON string) string {
	var ids []crdt.ElementID
	if idsJSON != "" && idsJSON != "null" {
		var ss []string
		if err := json.Unmarshal([]byte(idsJSON), &ss); err != nil {
			throw("elements: " + err.Error())
		}
		ids = make([]crdt.ElementID, 0, len(ss))
		for _, s := range ss {
			ids = append(ids, parseID(s))
		}
	}
	// Written by elemjson rather than encoding/json: opening a big board
	// spends most of its time here (see package elemjson).
	n := len(ids)
	if ids == nil {
		n = h.doc.Len()
	}
	return string(elemjson.AppendDoc(make([]byte, 0, 256*n+2), h.doc, ids))
}

func (h *handle) object() js.Value {
	o := js.Global().Get("Object").New()
	set := func(name string, f func(args []js.Value) any) { o.Set(name, fn(f)) }
	set("setReplica", func(a []js.Value) any {
		r, err := crdt.ParseReplicaID(a[0].String())
		if err != nil {
			throw(err.Error())
		}
		h.replica = r
		h.undo = crdt.NewUndoManager(h.doc, r)
		return nil
	})
	set("edit", func(a []js.Value) any {
		undoable := len(a) < 3 || a[2].Type() != js.TypeBoolean || a[2].Bool()
		return h.edit(a[0].String(), int64(a[1].Float()), undoable)
	})
	set("undo", func(a []js.Value) any {
		h.needReplica()
		c, ok := h.undo.Undo(int64(a[0].Float()))
		return result(c, ok, nil)
	})
	set("redo", func(a []js.Value) any {
		h.needReplica()
		c, ok := h.undo.Redo(int64(a[0].Float()))
		return result(c, ok, nil)
	})
	set("canUndo", func(a []js.Value) any { return h.undo != nil && h.undo.CanUndo() })
	set("canRedo", func(a []js.Value) any { return h.undo != nil && h.undo.CanRedo() })
	set("applyBatch", func(a []js.Value) any { return h.applyBatch(bytesFromJS(a[0])) })
	set("applyChange", func(a []js.Value) any { return h.applyChange(bytesFromJS(a[0])) })
	set("loadSnapshot", func(a []js.Value) any {
		h.loader = nil
		d, err := crdt.LoadSnapshot(bytesFromJS(a[0]))
		if err != nil {
			throw(err.Error())
		}
		// In place, so the undo manager keeps pointing at this doc (as
		// server/client does after a snapshot).
		*h.doc = *d
		return nil
	})
	set("loadSnapshotStep", func(a []js.Value) any {
		if a[0].Type() != js.TypeUndefined {
			h.loader = crdt.NewSnapshotLoader(bytesFromJS(a[0]))
		}
		if h.loader == nil {
			throw("loadSnapshotStep: no load under way")
		}
		done, err := h.loader.Step(a[1].Int())
		if err != nil {
			h.loader = nil
			throw(err.Error())
		}
		if !done {
			return false
		}
		*h.doc = *h.loader.Doc() // in place, as loadSnapshot
		h.loader = nil
		return true
	})
	set("elementsPage", func(a []js.Value) any {
		start, n := a[0].Int(), a[1].Int()
		if start == 0 {
			h.pageIDs = h.doc.Elements()
		}
		if start < 0 || n <= 0 || start >= len(h.pageIDs) {
			h.pageIDs = nil
			return "[]"
		}
		ids := h.pageIDs[start:min(start+n, len(h.pageIDs))]
		return string(elemjson.AppendDoc(make([]byte, 0, 256*len(ids)+2), h.doc, ids))
	})
	set("reset", func(a []js.Value) any {
		// A fresh empty doc (after a refused change: start over).
		*h.doc = *crdt.NewDoc()
		h.replica, h.undo, h.loader = 0, nil, nil
		return nil
	})
	set("snapshot", func(a []js.Value) any {
		if len(a) > 0 && a[0].Truthy() {
			// Uncompressed: faster to make, for local storage.
			return bytesToJS(h.doc.SnapshotRaw())
		}
		return bytesToJS(h.doc.Snapshot())
	})
	set("version", func(a []js.Value) any {
		b, _ := json.Marshal(h.doc.Version())
		return string(b)
	})
	set("elements", func(a []js.Value) any {
		s := ""
		if len(a) > 0 && a[0].Type() == js.TypeString {
			s = a[0].String()
		}
		return h.elements(s)
	})
	set("text", func(a []js.Value) any { return h.doc.Text(parseID(a[0].String()), a[1].String()) })
	set("checkOps", func(a []js.Value) any {
		b, _ := json.Marshal(h.checkOps(a[0].String()))
		return string(b)
	})
	set("held", func(a []js.Value) any { return h.doc.Held() })
	set("changeInfo", func(a []js.Value) any {
		c, err := crdt.DecodeChange(bytesFromJS(a[0]))
		if err != nil {
			throw(err.Error())
		}
		return map[string]any{"replica": c.Replica.String(), "start": float64(c.Start), "end": float64(c.End())}
	})
	set("changeJSON", func(a []js.Value) any {
		c, err := crdt.DecodeChange(bytesFromJS(a[0]))
		if err != nil {
			throw(err.Error())
		}
		b, _ := json.Marshal(c)
		return string(b)
	})
	return o
}

func main() {
	api := js.Global().Get("Object").New()
	api.Set("newDoc", fn(func(a []js.Value) any {
		h := &handle{doc: crdt.NewDoc()}
		return h.object()
	}))
	js.Global().Set("corkboardCRDT", api)
	if cb := js.Global().Get("corkboardCRDTReady"); cb.Type() == js.TypeFunction {
		cb.Invoke()
	}
	select {} // serve calls from JS forever
}
