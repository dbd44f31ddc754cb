package storage

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// The decoders read bytes from disk, which may be anything after a bug or
// bit rot: they must never panic, must say ErrCorrupt, and what they accept
// must encode back to something that decodes the same.
//
// go test runs the seeds; go test -fuzz=FuzzX ./storage/ explores.

func FuzzDecodeKeys(f *testing.F) {
	b := BoardID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, k := range [][]byte{
		nil, {}, {0xff}, storeFormatKey,
		headKey(b), logKey(b, 1), logKey(b, math.MaxUint64), snapKey(b, 7),
		indexKey(b, 3, 9), indexReplicaPrefix(b, 3),
		metaKey("member", []byte("b1/alice")), metaKey("x", nil), {spaceMeta, 'A', 0, 'k'}, {spaceMeta, 0},
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k []byte) {
		if got, err := decodeHeadKey(k); err == nil {
			if !bytes.Equal(headKey(got), k) {
				t.Fatalf("head key %x decodes to %s, which encodes to %x", k, got, headKey(got))
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("head key: %v", err)
		}
		if got, seq, err := decodeLogKey(k); err == nil {
			if !bytes.Equal(logKey(got, seq), k) {
				t.Fatalf("log key %x does not round-trip", k)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("log key: %v", err)
		}
		if got, seq, err := decodeSnapKey(k); err == nil {
			if !bytes.Equal(snapKey(got, seq), k) {
				t.Fatalf("snapshot key %x does not round-trip", k)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("snapshot key: %v", err)
		}
		if got, replica, start, err := decodeIndexKey(k); err == nil {
			if !bytes.Equal(indexKey(got, replica, start), k) {
				t.Fatalf("index key %x does not round-trip", k)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("index key: %v", err)
		}
		if ns, key, err := decodeMetaKey(k); err == nil {
			if checkNamespace(ns) != nil || !bytes.Equal(metaKey(ns, key), k) {
				t.Fatalf("meta key %x decodes to %q %x, which does not round-trip", k, ns, key)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("meta key: %v", err)
		}
		// prefixEnd bounds every key with the prefix from above.
		if end := prefixEnd(k); end != nil {
			if bytes.Compare(end, k) <= 0 || bytes.HasPrefix(end, k) && len(k) > 0 {
				t.Fatalf("prefixEnd(%x) = %x", k, end)
			}
			if ext := append(bytes.Clone(k), 0xff, 0xff); bytes.Compare(ext, end) >= 0 {
				t.Fatalf("prefixEnd(%x) = %x is not above %x", k, end, ext)
			}
		} else if strings.Trim(string(k), "\xff") != "" {
			t.Fatalf("prefixEnd(%x) = nil", k)
		}
	})
}

func FuzzDecodeRecordValue(f *testing.F) {
	for _, r := range []Record{
		{Replica: 1, Start: 1, End: 1},
		{Replica: math.MaxUint64, Start: 5, End: 900, Author: "alice", Accepted: -1, Data: []byte("change")},
		{Replica: 0, Start: math.MaxUint64, End: math.MaxUint64, Accepted: math.MinInt64, Data: []byte{0}},
	} {
		f.Add(encodeRecordValue(nil, &r))
	}
	f.Add([]byte{})
	f.Add([]byte{recordFormat})
	f.Add([]byte{recordFormat, 1, 0})                                                             // start 0
	f.Add([]byte{recordFormat, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 2}) // end overflows
	f.Add([]byte{recordFormat, 1, 1, 0, 200, 'a'})                                                // author past the end
	f.Add([]byte{2, 1, 1, 0, 0, 0})                                                               // unknown format
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeRecordValue(7, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if r.Seq != 7 || r.Start == 0 || r.End < r.Start {
			t.Fatalf("accepted a record that breaks the contract: %+v", r)
		}
		if len(r.Data) > len(v) {
			t.Fatalf("data longer than the value")
		}
		again, err := decodeRecordValue(7, encodeRecordValue(nil, &r))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if again.Replica != r.Replica || again.Start != r.Start || again.End != r.End ||
			again.Author != r.Author || again.Accepted != r.Accepted || !bytes.Equal(again.Data, r.Data) {
			t.Fatalf("round trip changed %+v into %+v", r, again)
		}
		if size := recordValueSize(&r); size < len(encodeRecordValue(nil, &r)) {
			t.Fatalf("recordValueSize %d below the encoded size", size)
		}
	})
}

func FuzzDecodeSmallValues(f *testing.F) {
	f.Add(encodeIndexValue(3, 10, 20), uint64(10))
	f.Add(encodeIndexValue(math.MaxUint64, 1, math.MaxUint64), uint64(1))
	f.Add(encodeHeadValue(1), uint64(0))
	f.Add([]byte{0x80}, uint64(0))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, uint64(2))
	f.Fuzz(func(t *testing.T, v []byte, start uint64) {
		if seq, end, err := decodeIndexValue(v, start); err == nil {
			if seq == 0 || end < start {
				t.Fatalf("index value %x: seq %d end %d for start %d", v, seq, end, start)
			}
			if s2, e2, err := decodeIndexValue(encodeIndexValue(seq, start, end), start); err != nil || s2 != seq || e2 != end {
				t.Fatalf("index value round trip: %d %d %v", s2, e2, err)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("index value: %v", err)
		}
		if first, err := decodeHeadValue(v); err == nil {
			if first == 0 {
				t.Fatalf("head value %x: first 0", v)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("head value: %v", err)
		}
	})
}

func FuzzParseBoardID(f *testing.F) {
	f.Add("00000000-0000-0000-0000-000000000000")
	f.Add("0123ABCD-ef01-4567-89ab-cdef01234567")
	f.Add("0123abcd0ef01045670890ab0cdef01234567")
	f.Add("{0123abcd-ef01-4567-89ab-cdef01234567}")
	f.Add("0123abcd-ef01-4567-89ab-cdef0123456g")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBoardID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if got := b.String(); got != strings.ToLower(s) {
			t.Fatalf("ParseBoardID(%q).String() = %q", s, got)
		}
	})
}
