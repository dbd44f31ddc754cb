package outbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/corkboard/corkboard/storage"
)

// Item is one delivery: an e-mail, a webhook call. Producers fill ID, Kind
// and Payload (and NextAt to delay the first attempt); the outbox keeps the
// rest.
type Item struct {
	// ID is unique. Producers make it deterministic (for example
	// "digest/<board>/<user>/<period>") so that a repeated enqueue is a
	// no-op and receivers can deduplicate by it: it becomes the e-mail's
	// Message-ID and the webhook's delivery id.
	ID string
	// Kind selects the Deliverer: "mail" or "webhook".
	Kind string
	// Payload is the deliverer's input, opaque to the outbox (JSON of a
	// mail.Message or a webhook.Request).
	Payload []byte
	// Attempts is how many attempts failed so far.
	Attempts int
	// NextAt is the unix ms of the next attempt. Zero at enqueue means now.
	NextAt int64
	// Created is the unix ms of the enqueue. Zero at enqueue means now.
	Created int64
	// LastError is the error of the last failed attempt, for operators.
	LastError string
	// Dest is the item's destination (Lane.Destination), set by the outbox
	// at enqueue when the lane of its kind has one.
	Dest string
}

// Limits on what an item may hold. They keep a single bad producer from
// filling the store; a digest e-mail is a few tens of KiB.
const (
	MaxIDLen      = 512
	MaxKindLen    = 32
	MaxPayloadLen = 4 << 20
	maxErrorLen   = 1024
)

// ErrInvalid is returned (wrapped) for an item the outbox refuses: an empty
// or oversized ID, Kind or Payload.
var ErrInvalid = errors.New("outbox: invalid item")

// check validates the fields a producer sets.
func (it *Item) check() error {
	switch {
	case it.ID == "":
		return fmt.Errorf("%w: empty id", ErrInvalid)
	case len(it.ID) > MaxIDLen:
		return fmt.Errorf("%w: id longer than %d bytes", ErrInvalid, MaxIDLen)
	case !utf8.ValidString(it.ID):
		return fmt.Errorf("%w: id %q is not UTF-8", ErrInvalid, it.ID)
	case it.Kind == "":
		return fmt.Errorf("%w: item %q has no kind", ErrInvalid, it.ID)
	case len(it.Kind) > MaxKindLen:
		return fmt.Errorf("%w: item %q: kind longer than %d bytes", ErrInvalid, it.ID, MaxKindLen)
	case !validKind(it.Kind):
		return fmt.Errorf("%w: item %q: kind %q is not of a-z, 0-9, '-', '_'", ErrInvalid, it.ID, it.Kind)
	case len(it.Payload) > MaxPayloadLen:
		return fmt.Errorf("%w: item %q: payload of %d bytes exceeds %d", ErrInvalid, it.ID, len(it.Payload), MaxPayloadLen)
	case it.Attempts < 0:
		return fmt.Errorf("%w: item %q: negative attempts", ErrInvalid, it.ID)
	}
	return nil
}

func validKind(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// storedItem is the value of an item in the store. JSON rather than a
// binary layout: the outbox holds few items, each written a handful of
// times, so size and speed do not matter, while an operator can read a
// stuck item with any Pebble tool and a later version can add fields
// without a migration. V is the format; decodeItem refuses any other.
//
// The payload is the last field, so that a pass over the queue reads the
// fields before it (decodeHeader) and stops there: a board's webhook
// backlog may hold megabytes of payloads, which a pass need not parse.
// (Items stored before the payload moved to the end decode the same, at
// full cost.)
type storedItem struct {
	V         int    `json:"v"`
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Attempts  int    `json:"attempts,omitempty"`
	NextAt    int64  `json:"next_at"`
	Created   int64  `json:"created"`
	LastError string `json:"last_error,omitempty"`
	Dest      string `json:"dest,omitempty"`
	Payload   []byte `json:"payload,omitempty"`
}

const itemFormat = 1

// encodeItem returns the stored form of it.
func encodeItem(it Item) []byte {
	b, err := json.Marshal(storedItem{
		V: itemFormat, ID: it.ID, Kind: it.Kind, Payload: it.Payload,
		Attempts: it.Attempts, NextAt: it.NextAt, Created: it.Created, LastError: it.LastError, Dest: it.Dest,
	})
	if err != nil {
		// Marshal of this struct cannot fail: strings are coerced to
		// valid UTF-8 and there is nothing else that could.
		panic(fmt.Sprintf("outbox: encode item: %v", err))
	}
	return b
}

// decodeItem decodes a stored item read under key. It checks that the
// value is whole and consistent with its key; anything else is
// storage.ErrCorrupt.
func decodeItem(key, val []byte) (Item, error) {
	var s storedItem
	if err := json.Unmarshal(val, &s); err != nil {
		return Item{}, fmt.Errorf("outbox item %q: %w: %v", key, storage.ErrCorrupt, err)
	}
	if s.V != itemFormat {
		return Item{}, fmt.Errorf("outbox item %q: %w: format %d, want %d", key, storage.ErrCorrupt, s.V, itemFormat)
	}
	if s.ID != string(key) {
		return Item{}, fmt.Errorf("outbox item %q: %w: holds id %q", key, storage.ErrCorrupt, s.ID)
	}
	it := Item{
		ID: s.ID, Kind: s.Kind, Payload: s.Payload, Attempts: s.Attempts,
		NextAt: s.NextAt, Created: s.Created, LastError: s.LastError, Dest: s.Dest,
	}
	if err := it.check(); err != nil {
		return Item{}, fmt.Errorf("outbox item %q: %w: %v", key, storage.ErrCorrupt, err)
	}
	return it, nil
}

// decodeHeader decodes a stored item without its payload (Payload is nil
// in the result): the fields before `,"payload":`, when the payload is
// last, as encodeItem writes it, so the payload is not parsed. (That byte
// sequence cannot occur inside a JSON string, whose quotes are escaped.)
// Anything it cannot decode that way (an older layout, a corrupt value) is
// left to decodeItem, whose answer it returns with the payload dropped.
func decodeHeader(key, val []byte) (Item, error) {
	whole := func() (Item, error) {
		it, err := decodeItem(key, val)
		it.Payload = nil
		return it, err
	}
	i := bytes.Index(val, []byte(`,"payload":`))
	if i < 0 {
		return whole()
	}
	var s struct {
		V         int    `json:"v"`
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		Attempts  int    `json:"attempts"`
		NextAt    *int64 `json:"next_at"`
		Created   int64  `json:"created"`
		LastError string `json:"last_error"`
		Dest      string `json:"dest"`
	}
	if json.Unmarshal(append(val[:i:i], '}'), &s) != nil || s.NextAt == nil || s.V != itemFormat || s.ID != string(key) {
		return whole()
	}
	it := Item{ID: s.ID, Kind: s.Kind, Attempts: s.Attempts, NextAt: *s.NextAt, Created: s.Created, LastError: s.LastError, Dest: s.Dest}
	if err := it.check(); err != nil {
		return Item{}, fmt.Errorf("outbox item %q: %w: %v", key, storage.ErrCorrupt, err)
	}
	return it, nil
}

// truncateError bounds a stored error message, on a rune boundary.
func truncateError(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	cut := maxErrorLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
