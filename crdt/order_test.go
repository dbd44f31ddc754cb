package crdt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// keyVectors were recorded from the npm package fractional-indexing 4.0.0:
// generateKeyBetween(a || null, b || null). The first block is the package's
// own test table; the rest probe carries, borrows, fractions and the ends of
// the integer range.
var keyVectors = []struct{ a, b, want string }{
	{"", "", "a0"},
	{"a0", "", "a1"},
	{"", "a0", "Zz"},
	{"a0", "a1", "a0V"},
	{"", "Zz", "Zy"},
	{"Zz", "", "a0"},
	{"a1", "", "a2"},
	{"a1", "a2", "a1V"},
	{"a0V", "a1", "a0l"},
	{"Zz", "a0", "ZzV"},
	{"Zz", "a1", "a0"},
	{"", "Y00", "Xzzz"},
	{"bzz", "", "c000"},
	{"a0", "a0V", "a0G"},
	{"a0", "a0G", "a08"},
	{"b125", "b129", "b127"},
	{"a0", "a1V", "a1"},
	{"Zz", "a01", "a0"},
	{"", "a0V", "a0"},
	{"", "b999", "b99"},
	{"", "A000000000000000000000000001", "A000000000000000000000000000V"},
	{"zzzzzzzzzzzzzzzzzzzzzzzzzzy", "", "zzzzzzzzzzzzzzzzzzzzzzzzzzz"},
	{"zzzzzzzzzzzzzzzzzzzzzzzzzzz", "", "zzzzzzzzzzzzzzzzzzzzzzzzzzzV"},

	{"az", "", "b00"},
	{"", "Z0", "Yzz"},
	{"Y00", "", "Y01"},
	{"Yzz", "", "Z0"},
	{"a0", "a01", "a00V"},
	{"a01", "a02", "a01V"},
	{"a0z", "a1", "a0zV"},
	{"a0zz", "a1", "a0zzV"},
	{"a0", "a00001", "a00000V"},
	{"a1", "a1001", "a1000V"},
	{"a0zzzzy", "a1", "a0zzzzz"},
	{"", "A000000000000000000000000000V", "A000000000000000000000000000G"},
	{"A000000000000000000000000000V", "", "A00000000000000000000000001"},
	{"Zy", "Zz", "ZyV"},
	{"a5", "b00", "a6"},
	{"azz", "", "b00"},
	{"a0V", "a0W", "a0VV"},
	{"a0Vz", "a0W", "a0VzV"},
	{"a0VzV", "a0W", "a0Vzl"},
	{"a01", "a1", "a0W"},
	{"", "a1", "a0"},
	{"", "b00", "az"},
	{"", "b01", "b00"},
	{"b00", "b01", "b00V"},
	{"zzzzzzzzzzzzzzzzzzzzzzzzzzz", "zzzzzzzzzzzzzzzzzzzzzzzzzzzV", "zzzzzzzzzzzzzzzzzzzzzzzzzzzG"},
	{"a0", "zzzzzzzzzzzzzzzzzzzzzzzzzzz", "a1"},
	{"A000000000000000000000000000V", "a0", "A00000000000000000000000001"},
	{"Zz", "b00", "a0"},
	{"a0x", "a0y", "a0xV"},
	{"a0x", "a0z", "a0y"},
	{"a0xz", "a0y", "a0xzV"},
	{"a0y", "a0yV", "a0yG"},
	{"Xzzz", "Y00", "XzzzV"},
	{"a08", "a0G", "a0C"},
	{"a0G", "a0V", "a0O"},
	{"Zx", "Zy1", "Zy"},
	{"Zz1", "a0", "ZzW"},
	{"azy", "azz", "azyV"},
	{"azzV", "", "b00"},
	{"a0", "a0000000001", "a0000000000V"},

	// Deliberate difference: the package returns "A" + 26 zeros here, a key
	// it then rejects as invalid.
	{"", "A00000000000000000000000001", "A00000000000000000000000000V"},
}

func TestKeyBetweenVectors(t *testing.T) {
	for _, v := range keyVectors {
		got, err := KeyBetween(v.a, v.b)
		if err != nil || got != v.want {
			t.Errorf("KeyBetween(%q, %q) = %q, %v; want %q", v.a, v.b, got, err, v.want)
			continue
		}
		if err := ValidKey(got); err != nil {
			t.Errorf("KeyBetween(%q, %q) = %q: %v", v.a, v.b, got, err)
		}
	}
}

// keysVectors were recorded from generateNKeysBetween of fractional-indexing
// 4.0.0; long results are given as the SHA-256 of the keys joined by "\n".
var keysVectors = []struct {
	a, b string
	n    int
	want string
}{
	{"", "", 5, "a0 a1 a2 a3 a4"},
	{"a4", "", 10, "a5 a6 a7 a8 a9 aA aB aC aD aE"},
	{"", "a0", 5, "Zv Zw Zx Zy Zz"},
	{"a0", "a2", 20, "sha:9d4c18b6532eb715144fb273dcd8fee61891b964d8f961720304d738e4378696"},
	{"a0", "a1", 62, "sha:1c099a9193f0a4deea951e3cf398c2498fe36c184a143f22ef806db66a060a8d"},
	{"a0", "a1", 100, "sha:f23c0f04bf64b633b2f49376424910bda23f5ae497577a4cb682bfd5dd082fca"},
	{"Zz", "a0", 7, "Zz8 ZzG ZzO ZzV Zzd Zzl Zzt"},
	{"a0V", "a0W", 3, "a0VG a0VV a0Vl"},
	{"b125", "b129", 9, "b125G b125V b126 b126V b127 b127G b127V b128 b128V"},
	{"", "", 70, "sha:acd1f9ecbebab83b04e6cd3664fc0fc164d39429020bdde92646ead06fb2b4af"},
	{"", "A000000000000000000000000001", 3, "A0000000000000000000000000008 A000000000000000000000000000G A000000000000000000000000000V"},
	{"zzzzzzzzzzzzzzzzzzzzzzzzzzy", "", 3, "zzzzzzzzzzzzzzzzzzzzzzzzzzz zzzzzzzzzzzzzzzzzzzzzzzzzzzV zzzzzzzzzzzzzzzzzzzzzzzzzzzl"},
}

func keysDigest(keys []string) string {
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return hex.EncodeToString(sum[:])
}

func TestKeysBetweenVectors(t *testing.T) {
	for _, v := range keysVectors {
		keys, err := KeysBetween(v.a, v.b, v.n)
		if err != nil {
			t.Errorf("KeysBetween(%q, %q, %d): %v", v.a, v.b, v.n, err)
			continue
		}
		got := strings.Join(keys, " ")
		if strings.HasPrefix(v.want, "sha:") {
			got = "sha:" + keysDigest(keys)
		}
		if got != v.want {
			t.Errorf("KeysBetween(%q, %q, %d) = %s; want %s", v.a, v.b, v.n, got, v.want)
		}
		keyCheckAscending(t, v.a, v.b, keys)
	}
}

func keyCheckAscending(t *testing.T, a, b string, keys []string) {
	t.Helper()
	prev := a
	for i, k := range keys {
		if err := ValidKey(k); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if prev != "" && k <= prev {
			t.Fatalf("key %d %q not after %q", i, k, prev)
		}
		prev = k
	}
	if b != "" && len(keys) > 0 && keys[len(keys)-1] >= b {
		t.Fatalf("last key %q not before %q", keys[len(keys)-1], b)
	}
}

func TestKeysBetweenEdges(t *testing.T) {
	if keys, err := KeysBetween("a0", "a1", 0); err != nil || len(keys) != 0 {
		t.Errorf("n=0: %q, %v", keys, err)
	}
	if _, err := KeysBetween("a0", "a1", -1); !errors.Is(err, ErrMalformed) {
		t.Errorf("n=-1: %v", err)
	}
	if _, err := KeysBetween("a1", "a0", 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("descending bounds, n=0: %v", err)
	}
	if _, err := KeysBetween("a00", "", 3); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad bound: %v", err)
	}
	// Spread, not nested: 1000 keys in a narrow gap stay short.
	keys, err := KeysBetween("a0V", "a0W", 1000)
	if err != nil {
		t.Fatal(err)
	}
	keyCheckAscending(t, "a0V", "a0W", keys)
	for _, k := range keys {
		if len(k) > len("a0V")+3 {
			t.Fatalf("key %q too long for 1000 keys in one gap", k)
		}
	}
}

// keyScenarios replay insertion sequences and compare them, as a digest of
// the whole list, with the same sequences run through the npm package
// (fractional-indexing 4.0.0, the positions drawn from the same Park-Miller
// generator, seed 12345: pos = next() % (len+1) and so on).
func TestKeyScenariosMatchNPM(t *testing.T) {
	cases := []struct {
		name   string
		steps  int
		pick   func(n int, next func() int) int
		digest string
		maxLen int
		first  string
		last   string
	}{
		{"random", 3000, func(n int, next func() int) int { return next() % (n + 1) },
			"721e9649920437750f3bb47e85f2768366622d45af2aa01afa3ba96eb1b329fd", 6, "Zv", "aD"},
		{"append", 5000, func(n int, _ func() int) int { return n },
			"368a8746a52bb48070bab6dbd8a8053c556c9b864ec124dd2c7d2741a5fc6133", 4, "a0", "c0Hd"},
		{"prepend", 5000, func(int, func() int) int { return 0 },
			"89c4c607f99e1f21b44f722bcd5ee251620727361fe7ae7f2c869edfbf2b2409", 4, "XziN", "a0"},
		{"afterfirst", 2000, func(n int, _ func() int) int { return min(1, n) },
			"487ddbc46a056d9604d776f20e7aafd5d1bbb17b4b86f1f2fc3794a17f12b5c3", 335, "a0", "a1"},
		{"beforelast", 2000, func(n int, _ func() int) int { return max(0, n-1) },
			"a41764925378769ccec0bd4df01be6407336c73f4dd4dbaa72abdab4aaa3b903", 402, "Zz", "a0"},
		{"front-heavy", 3000, func(n int, next func() int) int { return next() % (min(n, 3) + 1) },
			"47032c3a26e87c08d2aafe9f98659903743034b35c07f40f9925949ecbfb2644", 6, "YpC", "a3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seed := 12345
			next := func() int { seed = seed * 48271 % 2147483647; return seed }
			var list []string
			for i := 0; i < c.steps; i++ {
				pos := c.pick(len(list), next)
				var a, b string
				if pos > 0 {
					a = list[pos-1]
				}
				if pos < len(list) {
					b = list[pos]
				}
				k, err := KeyBetween(a, b)
				if err != nil {
					t.Fatalf("step %d: KeyBetween(%q, %q): %v", i, a, b, err)
				}
				list = slices.Insert(list, pos, k)
			}
			maxLen := 0
			for _, k := range list {
				maxLen = max(maxLen, len(k))
			}
			if d := keysDigest(list); d != c.digest || maxLen != c.maxLen || list[0] != c.first || list[len(list)-1] != c.last {
				t.Errorf("got digest %s, max length %d, first %q, last %q; want %s, %d, %q, %q",
					d, maxLen, list[0], list[len(list)-1], c.digest, c.maxLen, c.first, c.last)
			}
		})
	}
}

func TestValidKey(t *testing.T) {
	good := []string{"a0", "Zz", "a0V", "b00", "zzzzzzzzzzzzzzzzzzzzzzzzzzz", "A000000000000000000000000000V",
		"A00000000000000000000000001", "Y00", "a0000000001"}
	for _, k := range good {
		if err := ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	bad := []string{
		"",                            // empty: the open end, not a key
		"a",                           // integer part too short
		"b0",                          // ditto
		"zzz",                         // ditto
		"a00",                         // fraction ends in '0'
		"a0V0",                        // ditto
		"0",                           // bad head
		"01",                          // bad head
		"-a0",                         // bad head
		"a!",                          // not a digit
		"a0 ",                         // not a digit
		"a0\xff",                      // not a digit
		"a0\x00",                      // not a digit
		"A00000000000000000000000000", // the smallest integer
	}
	for _, k := range bad {
		if err := ValidKey(k); !errors.Is(err, ErrMalformed) {
			t.Errorf("ValidKey(%q) = %v, want ErrMalformed", k, err)
		}
		if _, err := KeyBetween(k, ""); k != "" && !errors.Is(err, ErrMalformed) {
			t.Errorf("KeyBetween(%q, \"\") = %v, want ErrMalformed", k, err)
		}
		if _, err := KeyBetween("", k); k != "" && !errors.Is(err, ErrMalformed) {
			t.Errorf("KeyBetween(\"\", %q) = %v, want ErrMalformed", k, err)
		}
	}
	// Long keys are reported cut short.
	long := "a0" + strings.Repeat("V", 1000) + "!"
	if err := ValidKey(long); err == nil || len(err.Error()) > 200 {
		t.Errorf("ValidKey(long) = %v", err)
	}
}

func TestKeyBetweenOrderErrors(t *testing.T) {
	for _, ab := range [][2]string{{"a1", "a0"}, {"a0", "a0"}, {"a0V", "a0V"}, {"b00", "a0"}} {
		if k, err := KeyBetween(ab[0], ab[1]); !errors.Is(err, ErrMalformed) {
			t.Errorf("KeyBetween(%q, %q) = %q, %v; want ErrMalformed", ab[0], ab[1], k, err)
		}
	}
}

// The integer parts form one sequence from "A" + 26 zeros to "z" + 26 'z's;
// increment and decrement walk it both ways across every change of head.
func TestKeyIntegerSteps(t *testing.T) {
	walk := []string{"Yzy", "Yzz", "Z0", "Z1"}
	for i := 0; i+1 < len(walk); i++ {
		if got, _ := keyIncrementInt(walk[i]); got != walk[i+1] {
			t.Errorf("inc(%q) = %q, want %q", walk[i], got, walk[i+1])
		}
		if got, _ := keyDecrementInt(walk[i+1]); got != walk[i] {
			t.Errorf("dec(%q) = %q, want %q", walk[i+1], got, walk[i])
		}
	}
	pairs := [][2]string{{"Zz", "a0"}, {"az", "b00"}, {"bzz", "c000"}, {"B" + strings.Repeat("z", 25), "C" + strings.Repeat("0", 24)},
		{"y" + strings.Repeat("z", 25), "z" + strings.Repeat("0", 26)}}
	for _, p := range pairs {
		if got, ok := keyIncrementInt(p[0]); !ok || got != p[1] {
			t.Errorf("inc(%q) = %q, %v; want %q", p[0], got, ok, p[1])
		}
		if got, ok := keyDecrementInt(p[1]); !ok || got != p[0] {
			t.Errorf("dec(%q) = %q, %v; want %q", p[1], got, ok, p[0])
		}
	}
	if _, ok := keyIncrementInt("zzzzzzzzzzzzzzzzzzzzzzzzzzz"); ok {
		t.Error("inc(largest) succeeded")
	}
	if _, ok := keyDecrementInt(keySmallestInt); ok {
		t.Error("dec(smallest) succeeded")
	}
	// A long walk across heads from both ends of "a0": strictly monotone,
	// every step a valid key, and inverse of each other.
	for _, dir := range []int{1, -1} {
		k := "a0"
		for i := 0; i < 300000; i++ {
			var next string
			var ok bool
			if dir > 0 {
				next, ok = keyIncrementInt(k)
			} else {
				next, ok = keyDecrementInt(k)
			}
			if !ok || ValidKey(next) != nil || (dir > 0) != (next > k) {
				t.Fatalf("step %d from %q: %q, %v", i, k, next, ok)
			}
			var back string
			if dir > 0 {
				back, _ = keyDecrementInt(next)
			} else {
				back, _ = keyIncrementInt(next)
			}
			if back != k {
				t.Fatalf("step %d: %q and back gives %q", i, k, back)
			}
			k = next
		}
	}
}

// Random insertions between neighbours: every key valid, the list strictly
// ascending, and each new key strictly between its neighbours.
func TestKeyRandomInsertions(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x6b657973))
		var list []string
		for i := 0; i < 2000; i++ {
			pos := r.IntN(len(list) + 1)
			if r.IntN(4) == 0 && len(list) > 0 {
				pos = min(len(list), r.IntN(3)) // hammer one spot too
			}
			var a, b string
			if pos > 0 {
				a = list[pos-1]
			}
			if pos < len(list) {
				b = list[pos]
			}
			var k string
			if n := r.IntN(4); n > 1 {
				keys, err := KeysBetween(a, b, n)
				if err != nil {
					t.Fatalf("seed %d: KeysBetween(%q, %q, %d): %v", seed, a, b, n, err)
				}
				keyCheckAscending(t, a, b, keys)
				list = slices.Insert(list, pos, keys...)
				continue
			}
			k, err := KeyBetween(a, b)
			if err != nil {
				t.Fatalf("seed %d: KeyBetween(%q, %q): %v", seed, a, b, err)
			}
			if ValidKey(k) != nil || (a != "" && k <= a) || (b != "" && k >= b) {
				t.Fatalf("seed %d: KeyBetween(%q, %q) = %q", seed, a, b, k)
			}
			list = slices.Insert(list, pos, k)
		}
		if !slices.IsSorted(list) {
			t.Fatalf("seed %d: list not sorted", seed)
		}
		for i := 1; i < len(list); i++ {
			if list[i] == list[i-1] {
				t.Fatalf("seed %d: duplicate key %q", seed, list[i])
			}
		}
	}
}

// Appending at the end, or prepending, only moves through the integers:
// 62 one-digit keys, then 62² two-digit ones, and so on.
func TestKeyLengthGrowth(t *testing.T) {
	last, first := "", ""
	for i := 1; i <= 250000; i++ {
		var err error
		if last, err = KeyBetween(last, ""); err != nil {
			t.Fatal(err)
		}
		if first, err = KeyBetween("", first); err != nil {
			t.Fatal(err)
		}
		// i keys need ceil(log62(i)) digits at most, plus the head.
		limit := 2
		for n := 62; n < i; n *= 62 {
			limit++
		}
		if len(last) > limit || len(first) > limit {
			t.Fatalf("after %d appends: %q, %q (limit %d)", i, first, last, limit)
		}
	}
	// 62 + 62² + 62³ = 242234 keys fit in heads a, b, c; the rest take d.
	if len(last) != 5 || last[0] != 'd' || len(first) != 5 || first[0] != 'W' {
		t.Errorf("after 250000: first %q, last %q", first, last)
	}
}

func TestCompareSiblings(t *testing.T) {
	x, y := ElementID{1}, ElementID{2}
	cases := []struct {
		ka   string
		ia   ElementID
		kb   string
		ib   ElementID
		want int
	}{
		{"a0", y, "a1", x, -1},
		{"a1", x, "a0", y, 1},
		{"a0", x, "a0", y, -1},
		{"a0", y, "a0", x, 1},
		{"a0", x, "a0", x, 0},
		{"", y, "a0", x, -1},
		{"", x, "", y, -1},
		{"Zz", x, "a0", x, -1},
		{"a0", x, "a0V", x, -1},
	}
	for _, c := range cases {
		if got := CompareSiblings(c.ka, c.ia, c.kb, c.ib); got != c.want {
			t.Errorf("CompareSiblings(%q, %v, %q, %v) = %d, want %d", c.ka, c.ia, c.kb, c.ib, got, c.want)
		}
	}
}

func FuzzKeyBetween(f *testing.F) {
	for _, v := range keyVectors {
		f.Add(v.a, v.b, uint8(1))
	}
	f.Add("a0", "a00", uint8(0))
	f.Add("a1", "a0", uint8(3))
	f.Add("A000000000000000000000000000", "", uint8(2))
	f.Add("a0", "a0000000000000000000000000001", uint8(7))
	f.Fuzz(func(t *testing.T, a, b string, n uint8) {
		k, err := KeyBetween(a, b)
		okA := a == "" || ValidKey(a) == nil
		okB := b == "" || ValidKey(b) == nil
		ordered := a == "" || b == "" || a < b
		if okA && okB && ordered {
			if err != nil {
				t.Fatalf("KeyBetween(%q, %q): %v", a, b, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("KeyBetween(%q, %q) = %q, %v; want ErrMalformed", a, b, k, err)
		}
		if err != nil {
			return
		}
		if ValidKey(k) != nil || (a != "" && k <= a) || (b != "" && k >= b) {
			t.Fatalf("KeyBetween(%q, %q) = %q", a, b, k)
		}
		keys, err := KeysBetween(a, b, int(n%16))
		if err != nil || len(keys) != int(n%16) {
			t.Fatalf("KeysBetween(%q, %q, %d) = %q, %v", a, b, n%16, keys, err)
		}
		keyCheckAscending(t, a, b, keys)
	})
}
