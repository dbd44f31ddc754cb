package crdt

import (
	"bytes"
	"fmt"
	"strings"
)

// Order keys (fractional indexes) place elements in z-order and siblings in
// the tree. A key is a string that compares as plain bytes, and between any
// two keys there is always room for another, so a replica positions an
// element by making one key between its neighbours' keys, with no
// coordination and without renumbering anyone else.
//
// The format is the one of the JavaScript package fractional-indexing
// (rocicorp, from David Greenspan's "Implementing Fractional Indexing"), with
// its default base-62 digits, because the web client makes keys with that
// package and both sides must accept, and make, the same keys:
//
//	key      = integer fraction
//	integer  = head digit{n}   head 'a'..'z': n = 1..26 (head - 'a' + 1)
//	                           head 'Z'..'A': n = 1..26 ('Z' - head + 1)
//	fraction = digit*          never ending in '0'
//	digit    = '0'..'9' | 'A'..'Z' | 'a'..'z'   (values 0..61, ascending bytes)
//
// The head says how long the integer part is: positive integers lengthen
// upwards from "a0" (a0 .. az, b00 .. bzz, ...), negative ones downwards
// from "Zz" (Zz .. Z0, Yzz .. Y00, ...). Appending at either end therefore
// only bumps the integer part and keys grow by one character per factor of
// 62; only insertion between two close keys uses the fraction. The single key
// "A" followed by 26 zeros is invalid (nothing could precede it).
//
// KeyBetween returns exactly what the package's generateKeyBetween returns
// and KeysBetween exactly what generateNKeysBetween returns (order_test.go
// checks vectors and whole insertion sequences recorded from version 4.0.0),
// with these deliberate differences:
//   - "" stands for the package's null (an open end): "" is never a key.
//   - a >= b is an error; the package (since 4.0) swaps a > b silently.
//     A swapped call here is a bug in the caller, which we prefer to hear of.
//   - Before "A" + 25 zeros + "1" it returns "A" + 26 zeros + "V"; the
//     package returns "A" + 26 zeros, which is not a valid key.
//   - ValidKey rejects bytes that are not base-62 digits; the package maps
//     them to digit 0 and goes on. It never makes such keys, so this only
//     turns away keys no honest client makes.
//
// No length limit is imposed: repeatedly inserting at the same spot grows a
// key by about one character per six insertions (2,000 insertions right after
// the first key make 335-character keys), and a limit the JS package does not
// know would reject ops a client has already applied locally. Total op size
// is bounded by the op and change limits instead.
//
// Rejected: keys as []byte or a numeric type. Strings compare with the
// built-in operators, are immutable (safe to share between the log and the
// state), and are what the wire and JSON carry anyway.

// keyDigits are the base-62 digits in ascending byte order.
const keyDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const (
	keyBase     = len(keyDigits)
	keyMaxIntLn = 27 // head + 26 digits, heads 'A' and 'z'
)

// keySmallestInt is the integer part that no key may equal: "A" + 26 zeros.
const keySmallestInt = "A00000000000000000000000000"

// keyDigitVal maps a byte to its digit value plus one; 0 marks a non-digit.
var keyDigitVal = func() (t [256]uint8) {
	for i := 0; i < len(keyDigits); i++ {
		t[keyDigits[i]] = uint8(i + 1)
	}
	return t
}()

func keyDigit(c byte) int { return int(keyDigitVal[c]) - 1 }

// keyIntLen returns the length of the integer part announced by head, or 0
// if head is not a head.
func keyIntLen(head byte) int {
	switch {
	case head >= 'a' && head <= 'z':
		return int(head-'a') + 2
	case head >= 'A' && head <= 'Z':
		return int('Z'-head) + 2
	}
	return 0
}

// keyQuote renders a key for an error message, cut short if long.
func keyQuote(k string) string {
	const limit = 40
	if len(k) > limit {
		return fmt.Sprintf("%q...(%d bytes)", k[:limit], len(k))
	}
	return fmt.Sprintf("%q", k)
}

// ValidKey reports whether k is a well-formed order key; the error wraps
// ErrMalformed. The empty string is not a key.
func ValidKey(k string) error {
	if k == "" {
		return malformed("order key is empty")
	}
	n := keyIntLen(k[0])
	if n == 0 {
		return malformed("order key %s: bad head %q", keyQuote(k), k[0])
	}
	if len(k) < n {
		return malformed("order key %s: integer part shorter than its head says (%d)", keyQuote(k), n)
	}
	for i := 1; i < len(k); i++ {
		if keyDigitVal[k[i]] == 0 {
			return malformed("order key %s: byte %q at %d is not a base-62 digit", keyQuote(k), k[i], i)
		}
	}
	if len(k) > n && k[len(k)-1] == '0' {
		return malformed("order key %s: fraction ends in '0'", keyQuote(k))
	}
	if k == keySmallestInt {
		return malformed("order key %s: the smallest integer is not a key", keyQuote(k))
	}
	return nil
}

// KeyBetween returns a key strictly between a and b; "" stands for an open
// end, so KeyBetween("", "") is the first key ("a0"), KeyBetween(k, "") is
// after k and KeyBetween("", k) before it. When both are set a < b is
// required. Errors wrap ErrMalformed. The result is the shortest reasonable
// key (an integer part alone when one fits), and deterministic: replicas that
// insert between the same neighbours at once make the same key, and their
// elements are then ordered by element id (see CompareSiblings).
func KeyBetween(a, b string) (string, error) {
	if a != "" {
		if err := ValidKey(a); err != nil {
			return "", err
		}
	}
	if b != "" {
		if err := ValidKey(b); err != nil {
			return "", err
		}
	}
	if a != "" && b != "" && a >= b {
		return "", malformed("key between %s and %s: bounds not ascending", keyQuote(a), keyQuote(b))
	}
	return keyBetween(a, b)
}

// keyBetween is KeyBetween on keys already validated and ordered.
func keyBetween(a, b string) (string, error) {
	switch {
	case a == "" && b == "":
		return "a0", nil
	case a == "":
		ib := b[:keyIntLen(b[0])]
		fb := b[len(ib):]
		if ib == keySmallestInt {
			// Nothing below this integer: go into its fraction
			// (fb is not empty, since b itself is not the smallest).
			return keyMidpoint(ib, "", fb, false), nil
		}
		if fb != "" {
			return ib, nil
		}
		d, ok := keyDecrementInt(ib)
		if !ok {
			return "", malformed("key before %s: no smaller integer", keyQuote(b)) // unreachable: smallest handled above
		}
		if d == keySmallestInt {
			// The smallest integer is not a key by itself (the JS
			// package returns it here all the same, and then rejects it).
			return keyMidpoint(d, "", "", true), nil
		}
		return d, nil
	case b == "":
		ia := a[:keyIntLen(a[0])]
		if i, ok := keyIncrementInt(ia); ok {
			return i, nil
		}
		// The largest integer: only the fraction can grow.
		return keyMidpoint(ia, a[len(ia):], "", true), nil
	}
	ia := a[:keyIntLen(a[0])]
	ib := b[:keyIntLen(b[0])]
	if ia == ib {
		return keyMidpoint(ia, a[len(ia):], b[len(ib):], false), nil
	}
	i, ok := keyIncrementInt(ia)
	if !ok {
		return "", malformed("key after %s: no larger integer", keyQuote(a)) // unreachable: ia < ib
	}
	if i < b {
		return i, nil
	}
	return keyMidpoint(ia, a[len(ia):], "", true), nil
}

// keyMidpoint returns prefix followed by a fraction strictly between
// fractions a and b (b open when bOpen). Fractions are digit strings read as
// base-62 numbers after a point, with no trailing '0'; a may be empty (zero),
// b is not empty unless open, and a < b. The result has no trailing '0'.
//
// It walks both digit strings once: copy their common prefix (a padded with
// zeros), then, if the next digits leave room, take the rounded-up middle
// digit; if they are consecutive, either b's shorter digit is already between
// (when b goes on), or a's digit is kept and the rest of a is followed with
// an open upper end.
func keyMidpoint(prefix, a, b string, bOpen bool) string {
	out := make([]byte, 0, len(prefix)+max(len(a), len(b))+2)
	out = append(out, prefix...)
	for {
		if !bOpen {
			n := 0
			for n < len(b) {
				ca := byte('0')
				if n < len(a) {
					ca = a[n]
				}
				if ca != b[n] {
					break
				}
				n++
			}
			// n < len(b) holds: a < b and b has no trailing '0'.
			out = append(out, b[:n]...)
			a = a[min(n, len(a)):]
			b = b[n:]
		}
		da, db := 0, keyBase
		if a != "" {
			da = keyDigit(a[0])
		}
		if !bOpen {
			db = keyDigit(b[0])
		}
		if db-da > 1 {
			return string(append(out, keyDigits[(da+db+1)/2]))
		}
		if !bOpen && len(b) > 1 {
			return string(append(out, b[0]))
		}
		out = append(out, keyDigits[da])
		if a != "" {
			a = a[1:]
		}
		b, bOpen = "", true
	}
}

// keyIncrementInt returns the next integer part after x, false if x is the
// largest ("z" and 26 'z's).
func keyIncrementInt(x string) (string, bool) {
	d := []byte(x)
	for i := len(d) - 1; i >= 1; i-- {
		if d[i] != 'z' {
			d[i] = keyDigits[keyDigit(d[i])+1]
			return string(d), true
		}
		d[i] = '0'
	}
	// Every digit carried: move to the next head, one digit longer for
	// positive heads, one shorter for negative ones; Z0 is followed by a0.
	switch h := x[0]; {
	case h == 'z':
		return "", false
	case h == 'Z':
		return "a0", true
	case h >= 'a':
		d[0] = h + 1
		return string(append(d, '0')), true
	default:
		d[0] = h + 1
		return string(d[:len(d)-1]), true
	}
}

// keyDecrementInt returns the integer part before x, false if x is the
// smallest ("A" and 26 '0's).
func keyDecrementInt(x string) (string, bool) {
	d := []byte(x)
	for i := len(d) - 1; i >= 1; i-- {
		if d[i] != '0' {
			d[i] = keyDigits[keyDigit(d[i])-1]
			return string(d), true
		}
		d[i] = 'z'
	}
	switch h := x[0]; {
	case h == 'A':
		return "", false
	case h == 'a':
		return "Zz", true
	case h <= 'Z':
		d[0] = h - 1
		return string(append(d, 'z')), true
	default:
		d[0] = h - 1
		return string(d[:len(d)-1]), true
	}
}

// KeysBetween returns n ascending keys strictly between a and b ("" for an
// open end, as in KeyBetween). With an open end they are consecutive
// integers (short keys, room left around each); between two keys they are
// spread by bisection: the middle key first, then each half recursively, so
// keys grow by about log62(n) + 1 characters over the longer bound (1000
// keys between "a0V" and "a0W" take at most 6 characters), not by the n/6
// of n keys each made after the last. Errors wrap
// ErrMalformed; n < 0 is an error, n == 0 returns no keys.
func KeysBetween(a, b string, n int) ([]string, error) {
	if n < 0 {
		return nil, malformed("keys between: negative count %d", n)
	}
	// Validate even when n is 0, so bad bounds never go unnoticed.
	first, err := KeyBetween(a, b)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	if n == 0 {
		return out, nil
	}
	switch {
	case b == "":
		out[0] = first
		for i := 1; i < n; i++ {
			if out[i], err = keyBetween(out[i-1], ""); err != nil {
				return nil, err
			}
		}
	case a == "":
		out[n-1] = first
		for i := n - 2; i >= 0; i-- {
			if out[i], err = keyBetween("", out[i+1]); err != nil {
				return nil, err
			}
		}
	default:
		if err := keysBisect(out, a, b, first); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keysBisect fills out with len(out) keys between a and b, both set; mid is
// keyBetween(a, b), already computed by the caller. The middle slot (index
// len/2, as the JS package splits) takes mid.
func keysBisect(out []string, a, b, mid string) error {
	if len(out) == 0 {
		return nil
	}
	m := len(out) / 2
	out[m] = mid
	if m > 0 {
		left, err := keyBetween(a, mid)
		if err != nil {
			return err
		}
		if err := keysBisect(out[:m], a, mid, left); err != nil {
			return err
		}
	}
	if m+1 < len(out) {
		right, err := keyBetween(mid, b)
		if err != nil {
			return err
		}
		if err := keysBisect(out[m+1:], mid, b, right); err != nil {
			return err
		}
	}
	return nil
}

// CompareSiblings orders two elements by their order keys as bytes, then by
// element id bytes, so elements that got the same key concurrently still
// have one order on every replica. It returns -1, 0 or +1. The empty key
// (an element that was never positioned) sorts before every key.
func CompareSiblings(keyA string, idA ElementID, keyB string, idB ElementID) int {
	if c := strings.Compare(keyA, keyB); c != 0 {
		return c
	}
	return bytes.Compare(idA[:], idB[:])
}
