package auth_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/auth"
)

func signer(t *testing.T, secret []byte) *auth.Signer {
	t.Helper()
	s, err := auth.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	keyA = bytes.Repeat([]byte{0xa1}, 32)
	keyB = bytes.Repeat([]byte{0xb2}, 32)
	now  = time.Unix(1_800_000_000, 0)
)

func claims() auth.Claims {
	return auth.Claims{Board: "0190a4f2-0000-7000-8000-000000000001", User: "user-1", Name: "Ann", Role: "editor",
		Exp: now.Add(time.Hour).Unix(), Epoch: 2}
}

func TestSignVerify(t *testing.T) {
	s := signer(t, keyA)
	c := claims()
	tok := s.Sign(c)
	got, err := s.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("claims = %+v, want %+v", got, c)
	}
	// Signing is deterministic, and different claims give different tokens.
	if s.Sign(c) != tok {
		t.Fatal("signing the same claims twice gave two tokens")
	}
	c2 := c
	c2.Role = "owner"
	if s.Sign(c2) == tok {
		t.Fatal("different claims, same token")
	}
	// The same secret in another signer (another node) verifies it.
	if _, err := signer(t, append([]byte(nil), keyA...)).Verify(tok, now); err != nil {
		t.Fatalf("another node with the same secret: %v", err)
	}
	// Exp 0 never expires.
	c.Exp = 0
	if _, err := s.Verify(s.Sign(c), now.Add(100*365*24*time.Hour)); err != nil {
		t.Fatalf("token without expiry: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	tok := signer(t, keyA).Sign(claims())
	if _, err := signer(t, keyB).Verify(tok, now); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("verify with another key: %v, want ErrInvalid", err)
	}
}

func TestExpiry(t *testing.T) {
	s := signer(t, keyA)
	c := claims()
	tok := s.Sign(c)
	exp := time.Unix(c.Exp, 0)
	if _, err := s.Verify(tok, exp); err != nil {
		t.Fatalf("at the expiry second: %v", err)
	}
	if _, err := s.Verify(tok, exp.Add(time.Second)); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("a second after expiry: %v, want ErrExpired", err)
	}
	// An expired token is refused even though its signature is good.
	c.Exp = now.Add(-time.Minute).Unix()
	if _, err := s.Verify(s.Sign(c), now); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("expired token: %v, want ErrExpired", err)
	}
}

func TestTamper(t *testing.T) {
	s := signer(t, keyA)
	tok := s.Sign(claims())
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatalf("token %q has no dot", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	// Raise the role in the claims, keep the signature.
	forged := bytes.Replace(raw, []byte(`"r":"editor"`), []byte(`"r":"owner"`), 1)
	if bytes.Equal(forged, raw) {
		t.Fatalf("claims %s have no role to change", raw)
	}
	cases := map[string]string{
		"role raised":        base64.RawURLEncoding.EncodeToString(forged) + "." + sig,
		"no signature":       payload + ".",
		"no dot":             payload + sig,
		"empty":              "",
		"signature only":     "." + sig,
		"bad base64 payload": "!!" + payload[2:] + "." + sig,
		"bad base64 sig":     payload + "." + "!!" + sig[2:],
		"truncated sig":      payload + "." + sig[:len(sig)-4],
		"extra sig bytes":    payload + "." + sig + "AAAA",
		"swapped":            sig + "." + payload,
		"too long":           payload + strings.Repeat("A", 5000) + "." + sig,
	}
	// Every single-character change of the token is refused.
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(tok) {
		if tok[i] == '.' {
			continue
		}
		for _, r := range []byte{alphabet[(strings.IndexByte(alphabet, tok[i])+1)%64], alphabet[(strings.IndexByte(alphabet, tok[i])+33)%64]} {
			cases[fmt.Sprintf("char %d -> %c", i, r)] = tok[:i] + string(r) + tok[i+1:]
		}
	}
	for name, bad := range cases {
		if _, err := s.Verify(bad, now); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("%s: Verify(%q) = %v, want ErrInvalid", name, bad, err)
		}
	}
}

func TestNewSigner(t *testing.T) {
	if _, err := auth.NewSigner(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte secret was accepted")
	}
	a, b := auth.NewSecret(), auth.NewSecret()
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("NewSecret gave %x and %x", a, b)
	}
	// The signer keeps its own copy of the secret.
	key := append([]byte(nil), keyA...)
	s := signer(t, key)
	tok := s.Sign(claims())
	key[0] ^= 0xff
	if _, err := s.Verify(tok, now); err != nil {
		t.Fatalf("changing the caller's secret slice changed the signer: %v", err)
	}
	if id := auth.RandomID(9); len(id) != 12 || strings.ContainsAny(id, "+/=") {
		t.Fatalf("RandomID(9) = %q", id)
	}
}
