package api

import (
	"fmt"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/limit"
)

// A signed-in person past their day's bytes of changes, sending from an
// address that has bytes left (they spent theirs at home, and are now at
// the office): every batch is refused, and the client sends it again
// every second or two. The address's bytes were counted before the
// person's refused, and kept: the person's refusals spent the day's bytes
// of everyone behind the office's address, in an hour. A batch the
// person's bytes refuse is not counted against the address.
func TestChangeBytesPersonRefusalNotChargedToAddress(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) }
	const quota = 1 << 20
	srv := New(Config{Now: now, Limits: limit.New(now), Quotas: Quotas{ChangeBytesPerDay: quota}})
	if !srv.ChangeBytesAllowed("198.51.100.1", "u_ana", quota) {
		t.Fatal("a person's first day's bytes refused")
	}
	for range 100 { // at the office: 100 batches of 100 KB, all refused
		if srv.ChangeBytesAllowed("203.0.113.7", "u_ana", 100<<10) {
			t.Fatal("a batch past the person's day's bytes was taken")
		}
	}
	if !srv.ChangeBytesAllowed("203.0.113.7", "", quota) {
		t.Fatal("the office's address lost its day's bytes to a person's refused batches")
	}
}

// One person behind a shared address (an office's NAT) spends the
// address's day of change bytes without signing in, in seconds, to a
// board of their own. A signed-in person was counted against the address
// as well, so nobody behind it, signed in or not, wrote a change for a
// day. A signed-in person's bytes are counted against their account
// alone: they write on; other anonymous senders behind the address share
// its spent bytes.
func TestChangeBytesSharedAddressSpentSignedInWriteOn(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) }
	const quota = 1 << 20
	srv := New(Config{Now: now, Limits: limit.New(now), Quotas: Quotas{ChangeBytesPerDay: quota}})
	const office = "203.0.113.7"
	if !srv.ChangeBytesAllowed(office, "", quota) {
		t.Fatal("the address's day's bytes refused")
	}
	if srv.ChangeBytesAllowed(office, "", 1) {
		t.Fatal("an anonymous batch past the address's day's bytes was taken")
	}
	for _, u := range []string{"u_ana", "u_ben"} {
		if !srv.ChangeBytesAllowed(office, u, 100<<10) {
			t.Fatalf("%s, signed in behind the spent address, was refused", u)
		}
	}
	if !srv.ChangeBytesAllowed(office, "u_ana", quota-100<<10) || srv.ChangeBytesAllowed(office, "u_ana", 1) {
		t.Fatal("a signed-in person's own day's bytes are not counted")
	}
}

// Accounts cost a sign-in e-mail each (20 an hour from one address, from
// a catch-all domain): counted by their accounts alone, one address
// wrote a day's bytes per account, 480 a day. The signed-in people of an
// address share a pool of 10 days' bytes: past it, the next account is
// refused and keeps its own bytes, while the address's anonymous senders
// keep theirs.
func TestChangeBytesManyAccountsFromOneAddress(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) }
	const quota = 1 << 20
	srv := New(Config{Now: now, Limits: limit.New(now), Quotas: Quotas{ChangeBytesPerDay: quota}})
	const ip = "198.51.100.9"
	taken := 0
	for i := range 30 {
		if srv.ChangeBytesAllowed(ip, fmt.Sprintf("u_%02d", i), quota) {
			taken++
		}
	}
	if taken != signedInPoolDays {
		t.Fatalf("30 accounts from one address each wrote a day's bytes: %d taken, want %d", taken, signedInPoolDays)
	}
	if !srv.ChangeBytesAllowed("203.0.113.1", "u_29", quota) {
		t.Fatal("an account refused by its address's pool was charged its own bytes")
	}
	if !srv.ChangeBytesAllowed(ip, "", quota) {
		t.Fatal("the address's anonymous bytes went to its signed-in people")
	}
}

// A refusal says when the bytes may be sent again: when the day that
// refused them ends. A signed-in person past their own day, whose
// address's pool of signed-in bytes is spent too and ends later, is told
// the later end: told the earlier, the client sent the batch then and was
// refused again.
func TestChangeBytesRetryIsTheLaterDaysEnd(t *testing.T) {
	at := time.Date(2026, 12, 4, 4, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	const quota = 1 << 20
	srv := New(Config{Now: now, Limits: limit.New(now), Quotas: Quotas{ChangeBytesPerDay: quota}})
	const office = "203.0.113.7"
	// Ana spends her own day at home at 04:00.
	if ok, _ := srv.AllowChangeBytes("198.51.100.1", "u_ana", quota); !ok {
		t.Fatal("Ana's day refused")
	}
	ok, retry := srv.AllowChangeBytes(office, "u_ana", 10)
	if ok || retry != 24*time.Hour {
		t.Fatalf("past her own day: %v, retry in %v; want refused, retry when her day ends (24h)", ok, retry)
	}
	// Ten others spend the office's pool at 10:00.
	at = at.Add(6 * time.Hour)
	for i := range signedInPoolDays {
		if ok, _ := srv.AllowChangeBytes(office, fmt.Sprintf("u_%d", i), quota); !ok {
			t.Fatalf("person %d refused within the pool", i)
		}
	}
	ok, retry = srv.AllowChangeBytes(office, "u_ben", 10)
	if ok || retry != 24*time.Hour {
		t.Fatalf("Ben past the office's pool: %v, retry in %v; want refused, in 24h", ok, retry)
	}
	// At 03:00 the next day, Ana's own day ends in an hour, the pool's in seven.
	at = at.Add(17 * time.Hour)
	ok, retry = srv.AllowChangeBytes(office, "u_ana", 10)
	if ok || retry != 7*time.Hour {
		t.Fatalf("Ana past her own day and the pool: %v, retry in %v; want the later end (7h)", ok, retry)
	}
}
