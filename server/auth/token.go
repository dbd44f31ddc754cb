// Package auth signs and checks the bearer tokens that carry a person's
// identity and role on a board. A token is base64url(JSON claims) "."
// base64url(HMAC-SHA256(secret, claims)); nodes of one cluster share the
// secret. Tokens are checked on every WebSocket connection and REST call.
//
// Rejected: JWT libraries (a dependency and algorithm-confusion pitfalls
// for a format we need one fixed variant of) and server-side session rows
// for every link (a lookup on every connection, for no gain in revocation
// that a per-board epoch cannot give — see Claims.Epoch).
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims is what a token says.
type Claims struct {
	Board string `json:"b"`           // board id; "" for a sign-in token valid on every board the user is a member of
	User  string `json:"u"`           // user id
	Name  string `json:"n,omitempty"` // display name
	Role  string `json:"r"`           // owner, editor, commenter, viewer
	Exp   int64  `json:"e"`           // expiry, unix seconds
	Epoch int    `json:"p,omitempty"` // board's link epoch: bumping it revokes older links
}

// Errors.
var (
	ErrInvalid = errors.New("auth: invalid token")
	ErrExpired = errors.New("auth: token expired")
)

// Signer signs and verifies tokens with one secret.
type Signer struct{ key []byte }

// NewSigner returns a signer; the secret must be at least 32 bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("auth: secret must be at least 32 bytes")
	}
	return &Signer{key: append([]byte(nil), secret...)}, nil
}

// NewSecret returns 32 random bytes.
func NewSecret() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// Sign returns a token for the claims.
func (s *Signer) Sign(c Claims) string {
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

func (s *Signer) mac(p string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(p))
	return m.Sum(nil)
}

var strictBase64 = base64.RawURLEncoding.Strict()

// Verify checks a token's signature and expiry and returns its claims.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 4096 {
		return Claims{}, ErrInvalid
	}
	// Strict decoding: the unused low bits of the last character must be
	// zero, so a token has exactly one spelling (lenient decoding accepted
	// four variants of every signature's last character).
	got, err := strictBase64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return Claims{}, ErrInvalid
	}
	payload, err := strictBase64.DecodeString(p)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, ErrInvalid
	}
	if c.Exp != 0 && now.Unix() > c.Exp {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// RandomID returns a random url-safe id of n bytes of entropy.
func RandomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// MAC returns base64url(HMAC-SHA256(secret, s)): a value only nodes
// sharing the secret can compute (pseudonyms, unsubscribe links).
func (s *Signer) MAC(v string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(v))
}
