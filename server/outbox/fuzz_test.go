package outbox

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/corkboard/corkboard/storage"
)

// FuzzDecodeItem: any stored bytes decode to a valid item or to
// ErrCorrupt, never a panic, and a decoded item survives re-encoding. The
// header alone (decodeHeader, what a pass reads) decodes the same item
// less its payload, whenever the whole does.
func FuzzDecodeItem(f *testing.F) {
	f.Add([]byte("a"), encodeItem(Item{ID: "a", Kind: "mail", Payload: []byte(`{"x":1}`), Attempts: 2, NextAt: 5, Created: 1, LastError: "451"}))
	f.Add([]byte("a"), []byte(`{"v":1,"id":"a","kind":"mail"}`))
	f.Add([]byte("a"), []byte(`{"v":2,"id":"a","kind":"mail"}`))
	f.Add([]byte("b"), []byte(`{"v":1,"id":"a","kind":"mail","attempts":-1}`))
	f.Add([]byte(""), []byte(`null`))
	f.Add([]byte("a"), []byte(`{"v":1,"id":"a","kind":"mail","next_at":3,"payload":"!!"}`))
	f.Add([]byte("a"), []byte(`{"v":1,"id":"a","kind":"mail","payload":"eyJ4IjoxfQ==","next_at":3}`))
	f.Fuzz(func(t *testing.T, key, val []byte) {
		h, herr := decodeHeader(key, val)
		if herr != nil && !errors.Is(herr, storage.ErrCorrupt) {
			t.Fatalf("header error %v does not wrap ErrCorrupt", herr)
		}
		if herr == nil && (h.check() != nil || h.ID != string(key) || h.Payload != nil) {
			t.Fatalf("decoded an invalid header %+v", h)
		}
		it, err := decodeItem(key, val)
		if err == nil {
			// What the outbox writes, the header reads the same.
			canon := encodeItem(it)
			h, herr := decodeHeader(key, canon)
			want := it
			want.Payload = nil
			if herr != nil || !reflect.DeepEqual(h, want) {
				t.Fatalf("header of %s: %+v, %v; want %+v", canon, h, herr, want)
			}
		}
		if err != nil {
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if it.check() != nil || it.ID != string(key) {
			t.Fatalf("decoded an invalid item %+v", it)
		}
		again, err := decodeItem(key, encodeItem(it))
		if err != nil {
			t.Fatalf("re-encoded item does not decode: %v", err)
		}
		if !bytes.Equal(again.Payload, it.Payload) {
			t.Fatalf("payload changed")
		}
		again.Payload, it.Payload = nil, nil
		if !reflect.DeepEqual(again, it) {
			t.Fatalf("round trip: %+v != %+v", again, it)
		}
	})
}
