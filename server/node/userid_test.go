package node_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
)

// TestUserIDsHideAddresses: whoever sees a user id (a vote, an author, a
// member list) and guesses the address cannot confirm it by computing the
// id, yet two nodes of one cluster give one address one id, and a user
// created before keyed ids keeps their id and record when signing in.
func TestUserIDsHideAddresses(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{7}, 32)

	// A user from before keyed ids, with a name of their choosing.
	legacy := account.User{ID: account.LegacyUserID("old@example.com"), Email: "old@example.com", Name: "Old Timer", Created: 1, Updated: 5}
	raw, _ := json.Marshal(legacy)
	bk, err := mb.Bucket(context.Background(), meta.Buckets[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bk.Put(context.Background(), account.NSUser+"."+base64.RawURLEncoding.EncodeToString([]byte(legacy.ID)), raw); err != nil {
		t.Fatal(err)
	}

	a := newAsyncEnv(t, secStart, func(c *node.Config) { c.NodeID, c.Bus, c.Secret, c.Meta = "a", hub.Node("a"), secret, mb })
	b := newAsyncEnv(t, secStart, func(c *node.Config) { c.NodeID, c.Bus, c.Secret, c.Meta = "b", hub.Node("b"), secret, mb })

	// Node b creates the user; node a, signing the same address in, finds
	// the same id (it derives the same key, or reads the stored one).
	onB := b.userID(b.signIn("ana@example.com"))
	onA := a.userID(a.signIn("ana@example.com"))
	if onA != onB {
		t.Fatalf("one address, two ids: %s on a, %s on b", onA, onB)
	}
	// The attacker's computation: the unkeyed hash of the guess.
	if onA == account.LegacyUserID("ana@example.com") {
		t.Fatalf("a new user's id %s is the unkeyed hash of their address", onA)
	}
	// A second new address, first seen on node a.
	bo := a.userID(a.signIn("bo@example.com"))
	if bo == account.LegacyUserID("bo@example.com") || bo == onA || b.userID(b.signIn("bo@example.com")) != bo {
		t.Fatalf("bo's id %s: guessable, shared or not the same on both nodes", bo)
	}

	// The legacy user keeps their id and record, on either node.
	for _, e := range []*asyncEnv{a, b} {
		me := e.must(200, "GET", "/v1/me", e.signIn("old@example.com"), nil)["user"].(map[string]any)
		if me["id"] != legacy.ID || me["name"] != "Old Timer" {
			t.Fatalf("the legacy user signed in as %v, want id %s named Old Timer", me, legacy.ID)
		}
	}
}
