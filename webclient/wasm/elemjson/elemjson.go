// Package elemjson writes elements as the JSON of crdt.ElementJSON for the
// web client's WebAssembly bridge (webclient/wasm), several times faster
// than encoding/json there: opening a board turns every element into JSON
// for the page, and in WebAssembly the reflection of encoding/json, with
// the re-validation of each property's MarshalJSON output, took most of the
// time from "snapshot received" to "first frame drawn" (200 ms for 5,000
// notes). It writes from crdt.ElementParts (Doc.ReadElement), not from
// ElementJSON's maps, which cost as much again on a board of 100,000. The
// output is the same JSON value as json.Marshal's of the ElementJSON (keys
// not sorted: the page does not care about their order); the tests check
// that against encoding/json.
//
// Rejected: a binary layout read by hand in TypeScript (a second encoding
// of elements to keep in step with package crdt), and caching each
// element's JSON in the bridge (memory for every element of every open
// board, to save time only on reopening).
package elemjson

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
)

// Append appends the JSON object of e, with the fields and omissions of
// crdt.ElementJSON's struct tags, from its parts (crdt.Doc.ReadElement):
// the same JSON value as json.Marshal of the element's crdt.ElementJSON.
func Append(b []byte, e *crdt.ElementParts) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, e.ID.String()...)
	b = append(b, `","kind":`...)
	b = AppendString(b, e.Kind)
	if e.Deleted {
		b = append(b, `,"deleted":true`...)
	}
	if e.HasParent {
		b = append(b, `,"parent":"`...)
		b = append(b, e.Parent.String()...)
		b = append(b, '"')
	}
	if e.Pos != "" {
		b = append(b, `,"pos":`...)
		b = AppendString(b, e.Pos)
	}
	if len(e.Props) > 0 {
		b = append(b, `,"props":{`...)
		for i, p := range e.Props {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, p.Key)
			b = append(b, ':')
			b = AppendValue(b, p.Value)
		}
		b = append(b, '}')
	}
	if len(e.Text) > 0 {
		b = append(b, `,"text":{`...)
		for i, t := range e.Text {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, t.Field)
			b = append(b, ':')
			b = AppendString(b, t.Text)
		}
		b = append(b, '}')
	}
	if len(e.Votes) > 0 {
		// Sorted by key, then voter: one object per key.
		b = append(b, `,"votes":{`...)
		for i, v := range e.Votes {
			if i == 0 || v.Key != e.Votes[i-1].Key {
				if i > 0 {
					b = append(b, `},`...)
				}
				b = AppendString(b, v.Key)
				b = append(b, `:{`...)
			} else {
				b = append(b, ',')
			}
			b = AppendString(b, v.Voter)
			b = append(b, ':')
			b = AppendValue(b, v.Value)
		}
		b = append(b, `}}`...)
	}
	return append(b, '}')
}

// AppendValue appends v as JSON, the same value as v.AppendJSON: strings
// through AppendString (crdt.Value's own goes through encoding/json's
// reflection, slow in WebAssembly, and a note has two or three string
// properties), and whole numbers as integers (strconv's shortest float
// formatting is several times slower, and a board's coordinates and sizes
// are mostly whole).
func AppendValue(b []byte, v crdt.Value) []byte {
	switch v.Kind() {
	case crdt.KindString:
		return AppendString(b, v.AsString())
	case crdt.KindNumber:
		// -0 keeps the float form: "0" would read back as +0.
		if n := v.AsNumber(); n == math.Trunc(n) && n > -1e15 && n < 1e15 && (n != 0 || !math.Signbit(n)) {
			return strconv.AppendInt(b, int64(n), 10)
		}
	}
	return v.AppendJSON(b)
}

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hex = "0123456789abcdef"

// AppendDoc appends a JSON array of the doc's elements with these ids
// (nil: every element, in ascending id order), skipping ids never created.
func AppendDoc(b []byte, d *crdt.Doc, ids []crdt.ElementID) []byte {
	if ids == nil {
		ids = d.Elements()
	}
	var p crdt.ElementParts
	b = append(b, '[')
	n := 0
	for _, id := range ids {
		if d.ReadElement(id, &p) {
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = Append(b, &p)
		}
	}
	return append(b, ']')
}
