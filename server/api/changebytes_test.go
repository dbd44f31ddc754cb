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
