package crdt

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// fullCanonical is the reader's full check of a JSON value: valid, and
// JSONValue's canonical form is the text itself.
func fullCanonical(s string) bool {
	v := Value{kind: KindJSON, str: s}
	if v.valid() != nil {
		return false
	}
	c, err := JSONValue([]byte(s))
	return err == nil && c.str == s
}

// checkPlain fails when plainCanonicalJSON accepts a text the full check
// refuses (it must never), or refuses a text that is plain (want).
func checkPlain(t *testing.T, s string, want bool) {
	t.Helper()
	got := plainCanonicalJSON(s)
	if got && !fullCanonical(s) {
		t.Fatalf("plainCanonicalJSON accepts %q, which is not canonical", s)
	}
	if want && !got {
		t.Fatalf("plainCanonicalJSON refuses plain canonical %q", s)
	}
}

func TestPlainCanonicalJSON(t *testing.T) {
	for _, s := range []string{
		`[]`, `{}`, `[0]`, `[-0]`, `[1.5e10,1E+2,-0.25e-3]`, `[true,false,null]`,
		`{"anchor":[0.5,0.5],"el":"01900000-0000-7000-8000-000000000001"}`, `{"x":12,"y":-4}`,
		`[[],{},[[1]],{"a":{"b":[]}}]`, `["plain text, with: punctuation!"]`,
		strings.Repeat("[", 64) + strings.Repeat("]", 64),
	} {
		checkPlain(t, s, true)
	}
	// Canonical, or not, but outside the plain subset: left to the full check.
	for _, s := range []string{
		``, `1`, `"s"`, `null`, `[ 1]`, `[1 ]`, `[1,]`, `[01]`, `[1.]`, `[.5]`, `[1e]`, `[+1]`, `[-]`,
		`{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a"}`, `{"a":}`, `{a:1}`, `[tru]`, `[nul]`, `["a\"b"]`, `["\u0041"]`,
		`["<"]`, `["&"]`, `["é"]`, `["\n"]`, "[\"\x01\"]", `[1][2]`, `[1`, `{"a":1`, `["a`,
		strings.Repeat("[", 65) + strings.Repeat("]", 65),
	} {
		if plainCanonicalJSON(s) {
			t.Errorf("plainCanonicalJSON accepts %q", s)
		}
	}
}

// TestPlainCanonicalJSONRandom compares plainCanonicalJSON with the full
// check on random texts built from JSON's pieces, canonical or nearly so
// (keys out of order, spaces, escapes, odd numbers). The seed is logged.
func TestPlainCanonicalJSONRandom(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x63616e6f))
	pieces := []string{"a", "b", "ab", "B", "el", "x y", "<", "&", "é", `\"`, `\u0041`, `\n`, "\t", "~", ""}
	nums := []string{"0", "-0", "1", "12.5", "1e5", "1E+05", "-2.5e-3", "01", "1.", ".5", "+1", "-", "1e", "0.0", "100"}
	var gen func(depth int) string
	gen = func(depth int) string {
		k := rng.IntN(10)
		if depth > 3 {
			k = 4 + rng.IntN(6)
		}
		switch k {
		case 0, 1:
			n := rng.IntN(4)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = gen(depth + 1)
			}
			sep := ","
			if rng.IntN(20) == 0 {
				sep = ", "
			}
			return "[" + strings.Join(parts, sep) + "]"
		case 2, 3:
			n := rng.IntN(4)
			keys := make([]string, n)
			for i := range keys {
				keys[i] = pieces[rng.IntN(len(pieces))]
			}
			if rng.IntN(3) > 0 {
				// Mostly sorted: canonical unless a key repeats or needs escaping.
				for i := 1; i < len(keys); i++ {
					for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
						keys[j], keys[j-1] = keys[j-1], keys[j]
					}
				}
			}
			parts := make([]string, n)
			for i, key := range keys {
				parts[i] = `"` + key + `":` + gen(depth+1)
			}
			return "{" + strings.Join(parts, ",") + "}"
		case 4, 5:
			return nums[rng.IntN(len(nums))]
		case 6:
			return strconv.FormatFloat(rng.NormFloat64()*1000, 'g', -1, 64)
		case 7:
			return `"` + pieces[rng.IntN(len(pieces))] + `"`
		case 8:
			return []string{"true", "false", "null", "tru", "nul"}[rng.IntN(5)]
		}
		return `"` + pieces[rng.IntN(len(pieces))] + pieces[rng.IntN(len(pieces))] + `"`
	}
	plain, full := 0, 0
	for i := 0; i < 20000; i++ {
		s := gen(0)
		if s[0] != '[' && s[0] != '{' {
			s = "[" + s + "]"
		}
		got := plainCanonicalJSON(s)
		canon := fullCanonical(s)
		if got && !canon {
			t.Fatalf("plainCanonicalJSON accepts %q, which is not canonical", s)
		}
		if got {
			plain++
		}
		if canon {
			full++
		}
		// Every canonical text without escapes or characters outside the
		// plain subset is accepted.
		if canon && !got && isPlainText(s) && json.Valid([]byte(s)) {
			t.Fatalf("plainCanonicalJSON refuses plain canonical %q", s)
		}
	}
	t.Logf("%d canonical, %d of them accepted by the plain check", full, plain)
	if plain < 1000 {
		t.Fatalf("only %d plain texts: the generator is off", plain)
	}
}

// isPlainText: printable ASCII without backslashes, <, > and &, nesting under 64.
func isPlainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' || c == '<' || c == '>' || c == '&' || c == ' ' {
			return false
		}
	}
	return true
}

// FuzzPlainCanonicalJSON: plainCanonicalJSON never accepts what the full
// check refuses.
func FuzzPlainCanonicalJSON(f *testing.F) {
	for _, s := range []string{`[]`, `{"a":1,"b":[true,null]}`, `[1.5e3,-0]`, `{"b":1,"a":2}`, `["<"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if plainCanonicalJSON(s) && !fullCanonical(s) {
			t.Fatalf("plainCanonicalJSON accepts %q, which is not canonical", s)
		}
	})
}
