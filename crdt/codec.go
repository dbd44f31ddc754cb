package crdt

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// Low-level binary helpers shared by every encoder in this package. Writers
// append to a []byte; reader consumes one and never panics: every read
// checks bounds and reports ErrMalformed.

func malformed(format string, args ...any) error {
	return fmt.Errorf("crdt: "+format+": %w", append(args, ErrMalformed)...)
}

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

func appendString(b []byte, s string) []byte {
	b = appendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendF64(b []byte, f float64) []byte { return appendU64(b, math.Float64bits(f)) }

// reader decodes from a byte slice. Methods return ErrMalformed-wrapped
// errors on truncation or overflow instead of panicking.
type reader struct {
	b   []byte
	off int
	ops []Op // a change's ops go here when it is big enough (DecodeChangeInto)
}

func (r *reader) len() int { return len(r.b) - r.off }

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, malformed("unexpected end of input")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// uvarint reads a minimally encoded uvarint: an overlong encoding (a
// trailing 0x00 group) is refused, so every value has one encoding and
// decoded input re-encodes to the same bytes.
func (r *reader) uvarint() (uint64, error) {
	if r.off < len(r.b) && r.b[r.off] < 0x80 {
		// One byte: most lengths, tags and counts are.
		v := uint64(r.b[r.off])
		r.off++
		return v, nil
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 || (n > 1 && r.b[r.off+n-1] == 0) {
		return 0, malformed("bad uvarint at offset %d", r.off)
	}
	r.off += n
	return v, nil
}

func (r *reader) varint() (int64, error) {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 || (n > 1 && r.b[r.off+n-1] == 0) {
		return 0, malformed("bad varint at offset %d", r.off)
	}
	r.off += n
	return v, nil
}

// count reads a uvarint used as an element count and checks it against the
// bytes left, given that each element takes at least minBytes, so a tiny
// input can never make a decoder allocate a huge slice.
func (r *reader) count(minBytes int) (int, error) {
	v, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if minBytes < 1 {
		minBytes = 1
	}
	if v > uint64(r.len()/minBytes) {
		return 0, malformed("count %d exceeds remaining input", v)
	}
	return int(v), nil
}

func (r *reader) u64() (uint64, error) {
	if r.len() < 8 {
		return 0, malformed("unexpected end of input")
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v, nil
}

func (r *reader) f64() (float64, error) {
	v, err := r.u64()
	return math.Float64frombits(v), err
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > r.len() {
		return nil, malformed("length %d exceeds remaining input", n)
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s, nil
}

// string reads a uvarint length and that many bytes of valid UTF-8.
func (r *reader) string() (string, error) {
	n, err := r.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(r.len()) {
		return "", malformed("string length %d exceeds remaining input", n)
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	if !utf8.Valid(s) {
		return "", malformed("string is not UTF-8")
	}
	return string(s), nil
}

func (r *reader) elementID() (ElementID, error) {
	var e ElementID
	if r.len() < len(e) {
		return e, malformed("length %d exceeds remaining input", len(e))
	}
	e = ElementID(r.b[r.off : r.off+len(e)])
	r.off += len(e)
	return e, nil
}

func (r *reader) versionVector() (VersionVector, error) {
	n, err := r.count(9)
	if err != nil {
		return nil, err
	}
	v := make(VersionVector, n)
	var prev uint64
	for i := 0; i < n; i++ {
		rep, err := r.u64()
		if err != nil {
			return nil, err
		}
		if rep == 0 || (i > 0 && rep <= prev) {
			return nil, malformed("version vector: replicas not strictly ascending")
		}
		prev = rep
		c, err := r.uvarint()
		if err != nil {
			return nil, err
		}
		if c == 0 {
			return nil, malformed("version vector: zero counter")
		}
		v[ReplicaID(rep)] = c
	}
	return v, nil
}

// commonKeys interns the kinds, property keys and text fields of the schema,
// so decoding an op on them allocates no string (the conversion in a map
// index does not allocate).
var commonKeys = func() map[string]string {
	m := map[string]string{"vote": "vote", "react": "react"}
	for kind, spec := range Kinds {
		m[kind] = kind
		for p := range spec.Props {
			m[p] = p
		}
		for _, f := range spec.TextFields {
			m[f] = f
		}
	}
	return m
}()

// key reads a string like string(), interning common keys.
func (r *reader) key() (string, error) {
	n, err := r.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(r.len()) {
		return "", malformed("string length %d exceeds remaining input", n)
	}
	b := r.b[r.off : r.off+int(n)]
	if int(n) < len(commonKeysByLen) {
		for _, s := range commonKeysByLen[n] {
			if s == string(b) {
				r.off += int(n)
				return s, nil
			}
		}
	}
	return r.string0(b)
}

// commonKeysByLen is commonKeys grouped by length, for key: a few short
// comparisons find a key faster than hashing it does.
var commonKeysByLen = func() (by [33][]string) {
	for k := range commonKeys {
		if len(k) < len(by) {
			by[len(k)] = append(by[len(k)], k)
		}
	}
	for i := range by {
		slices.Sort(by[i]) // a fixed order, whatever the map's
	}
	return by
}()

func (r *reader) string0(b []byte) (string, error) {
	r.off += len(b)
	if !utf8.Valid(b) {
		return "", malformed("string is not UTF-8")
	}
	return string(b), nil
}
