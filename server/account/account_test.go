package account

import (
	"strings"
	"testing"
	"time"
)

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"Ana@Example.COM":       "ana@example.com",
		"  bo@example.org ":     "bo@example.org",
		"x+tag@sub.example.net": "x+tag@sub.example.net",
	} {
		got, err := NormalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ana", "Ana <ana@example.com>", "a@b\r\nBcc: x@y", strings.Repeat("a", 250) + "@example.com", "@example.com",
		`"john doe"@example.com`, `"a@b"@example.com`} {
		if got, err := NormalizeEmail(bad); err == nil {
			t.Errorf("NormalizeEmail(%q) = %q, want an error", bad, got)
		}
	}
}

func TestUserIDStableAndDistinct(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	a, _ := NormalizeEmail("Ana@Example.com")
	b, _ := NormalizeEmail("ana@example.com")
	if UserID(key, a) != UserID(key, b) {
		t.Fatalf("one person, two ids: %s %s", UserID(key, a), UserID(key, b))
	}
	if UserID(key, "ana@example.com") == UserID(key, "bo@example.com") {
		t.Fatal("two people, one id")
	}
	if !strings.HasPrefix(UserID(key, a), "u_") || len(UserID(key, a)) != 23 {
		t.Fatalf("id %q", UserID(key, a))
	}
}

// TestUserIDNeedsTheKey: an id cannot be recomputed from a guessed
// address without the key (the unkeyed hash ids used to be).
func TestUserIDNeedsTheKey(t *testing.T) {
	k1, k2 := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("j", 32))
	id := UserID(k1, "ana@example.com")
	if id == LegacyUserID("ana@example.com") || id == UserID(k2, "ana@example.com") {
		t.Fatalf("id %s is computable without the cluster's key", id)
	}
	if len(LegacyUserID("ana@example.com")) != 23 {
		t.Fatal("legacy id changed form")
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Fatal("right password refused")
	}
	for _, wrong := range []string{"correct horse batterY", "", "correct horse battery "} {
		if CheckPassword(h, wrong) {
			t.Fatalf("wrong password %q accepted", wrong)
		}
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("a 5-character password was accepted")
	}
	// Tampered or malformed hashes never match.
	for _, bad := range []string{"", "$argon2i$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		strings.Replace(h, "t=2", "t=3", 1), h[:len(h)-4], "$argon2id$v=19$m=4294967295,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if CheckPassword(bad, "correct horse battery") {
			t.Fatalf("malformed hash %q matched", bad)
		}
	}
}

func FuzzCheckPassword(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "pw")
	f.Add("$argon2id$v=19$m=0,t=0,p=0$$", "")
	f.Fuzz(func(t *testing.T, enc, pw string) {
		// Cap the cost the fuzzer may ask for.
		if strings.Contains(enc, "m=") && !strings.Contains(enc, "m=64,") && !strings.Contains(enc, "m=8,") {
			return
		}
		CheckPassword(enc, pw) // must not panic
	})
}

func TestTokens(t *testing.T) {
	a, ha := NewToken()
	b, hb := NewToken()
	if a == b || ha == hb {
		t.Fatal("tokens repeat")
	}
	if !ValidToken(a) || HashToken(a) != ha || len(ha) != 64 {
		t.Fatalf("token %q hash %q", a, ha)
	}
	for _, bad := range []string{"", a[:42], a + "x", strings.Repeat("!", 43)} {
		if ValidToken(bad) {
			t.Fatalf("ValidToken(%q)", bad)
		}
	}
}

func TestRoles(t *testing.T) {
	if RoleRank("admin") != 0 {
		t.Fatal("unknown role ranked")
	}
}

func TestPrefsCheck(t *testing.T) {
	p := Prefs{Mode: NotifyEach}
	if err := p.Check(); err != nil || p.BatchMinutes != 30 {
		t.Fatalf("%v %+v", err, p)
	}
	for _, bad := range []Prefs{{Mode: "sometimes"}, {Mode: NotifyDigest, DigestHour: 24}, {Mode: NotifyEach, BatchMinutes: -1}, {Mode: NotifyEach, QuietFrom: -1}} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestQuietHours(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 23, h, 30, 0, 0, time.UTC) }
	night := Prefs{QuietFrom: 22, QuietTo: 7}
	for h, want := range map[int]bool{21: false, 22: true, 23: true, 0: true, 6: true, 7: false, 12: false} {
		if got := night.Quiet(at(h)); got != want {
			t.Errorf("22→7 at %d: %v", h, got)
		}
	}
	day := Prefs{QuietFrom: 9, QuietTo: 17}
	if !day.Quiet(at(9)) || day.Quiet(at(17)) || day.Quiet(at(8)) {
		t.Error("9→17")
	}
	if (Prefs{QuietFrom: 5, QuietTo: 5}).Quiet(at(5)) {
		t.Error("equal hours mean no quiet hours")
	}
}

func TestDecide(t *testing.T) {
	tokyo := Location("Asia/Tokyo")
	// 23:00 UTC on the 22nd is 08:00 on the 23rd in Tokyo.
	now := time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC)
	digest := Prefs{Mode: NotifyDigest, DigestHour: 8, BatchMinutes: 30}
	cases := []struct {
		name    string
		p       Prefs
		c       Cursor
		loc     *time.Location
		now     time.Time
		pending bool
		ment    bool
		want    Decision
	}{
		{"digest due at the local hour", digest, Cursor{Day: "2026-11-22"}, tokyo, now, true, false, Send},
		{"digest already sent today", digest, Cursor{Day: "2026-11-23"}, tokyo, now, true, false, Wait},
		{"digest before the hour", digest, Cursor{Day: "2026-11-22"}, tokyo, now.Add(-time.Hour), true, false, Wait},
		{"digest with nothing new advances the day", digest, Cursor{Day: "2026-11-22"}, tokyo, now, false, false, Advance},
		{"digest in UTC is not due yet", digest, Cursor{Day: "2026-11-22"}, time.UTC, now, true, false, Wait},
		{"each: batch window not over", Prefs{Mode: NotifyEach, BatchMinutes: 30}, Cursor{Sent: now.Add(-10 * time.Minute).UnixMilli()}, time.UTC, now, true, false, Wait},
		{"each: batch window over", Prefs{Mode: NotifyEach, BatchMinutes: 30}, Cursor{Sent: now.Add(-31 * time.Minute).UnixMilli()}, time.UTC, now, true, false, Send},
		{"each: nothing pending", Prefs{Mode: NotifyEach, BatchMinutes: 30}, Cursor{}, time.UTC, now, false, false, Wait},
		{"each: quiet hours hold it", Prefs{Mode: NotifyEach, BatchMinutes: 30, QuietFrom: 22, QuietTo: 7}, Cursor{}, time.UTC, now, true, false, Wait},
		{"mentions: a mention", Prefs{Mode: NotifyMentions, BatchMinutes: 5}, Cursor{}, time.UTC, now, true, true, Send},
		{"mentions: no mention skips", Prefs{Mode: NotifyMentions, BatchMinutes: 5}, Cursor{}, time.UTC, now, true, false, Advance},
		{"off", Prefs{Mode: NotifyOff}, Cursor{}, time.UTC, now, true, true, Advance},
	}
	for _, c := range cases {
		if got := c.p.Decide(c.now, c.loc, c.c, c.pending, c.ment); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// A new cursor does not get a digest at once.
	day := Today(now, tokyo, digest)
	if got := digest.Decide(now, tokyo, Cursor{Day: day}, true, false); got != Wait {
		t.Errorf("a member who joined at the digest hour got one at once (%v)", got)
	}
	if got := digest.Decide(now.Add(24*time.Hour), tokyo, Cursor{Day: day}, true, false); got != Send {
		t.Errorf("next day: %v", got)
	}
}

// BenchmarkCheckPassword: the cost of one password check (argon2id, 19 MiB,
// 2 passes), which bounds how fast a node can answer join attempts.
func BenchmarkCheckPassword(b *testing.B) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !CheckPassword(h, "correct horse battery") {
			b.Fatal("refused")
		}
	}
}
