// Package account holds the people of a Corkboard cluster and their access
// to boards: users (identified by e-mail), sign-in links and sessions,
// board memberships with roles and notification preferences, invites, the
// version each member last saw, and the notification cursors.
//
// Every record is a small JSON document with an Updated time (unix ms). The
// node keeps them in its store's metadata namespaces (see NS*) and copies
// every write to the other nodes over the bus; a node keeps the newer copy
// of a record (ties broken by the bytes), so all nodes converge on the same
// records without a shared database — the same rule as board metadata.
//
// Secrets are never stored: sign-in links, invites and sessions are random
// 256-bit tokens, and records are keyed by the SHA-256 of the token; board
// passwords are hashed with argon2id.
//
// Rejected alternatives:
//   - user ids drawn at random: two nodes signing in the same new e-mail at
//     once would create two users. A user id is derived from the
//     normalised e-mail and a cluster-wide key instead (UserID), so
//     concurrent creations merge and ids do not reveal addresses.
//   - signed, stateless session tokens: they cannot be revoked one by one
//     (sign-out, "sign out everywhere"); a session record lookup per
//     request is cheap against the local store.
//   - bcrypt or scrypt for passwords: argon2id is the memory-hard function
//     current guidance recommends, and golang.org/x/crypto is already a
//     dependency.
package account

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"golang.org/x/crypto/argon2"
)

// Store namespaces of the records (keys in parentheses).
const (
	NSUser     = "user"     // (user id) User
	NSMember   = "member"   // (board id bytes + user id) Member
	NSInvite   = "invite"   // (token hash) Invite
	NSLogin    = "login"    // (token hash) Login
	NSSession  = "session"  // (token hash) Session
	NSSeen     = "seen"     // (board id bytes + user id) Seen
	NSCursor   = "cursor"   // (board id bytes + user id) Cursor
	NSWebhook  = "webhook"  // (board id bytes + webhook id) Webhook
	NSPassword = "password" // (board id bytes) PasswordHash
	NSBallot   = "ballot"   // (board id bytes + voting session + "\x00" + user id) BallotVoter
)

// Roles, from most to least powerful (package protocol names them).
const (
	RoleOwner     = protocol.RoleOwner
	RoleEditor    = protocol.RoleEditor
	RoleCommenter = protocol.RoleCommenter
	RoleViewer    = protocol.RoleViewer
)

// RoleRank orders roles (owner 4 … viewer 1; unknown 0).
func RoleRank(r string) int {
	switch r {
	case RoleOwner:
		return 4
	case RoleEditor:
		return 3
	case RoleCommenter:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// User is a person, identified by e-mail.
type User struct {
	ID      string `json:"id"`
	Email   string `json:"email"`
	Name    string `json:"name"`
	Color   string `json:"color,omitempty"`
	TZ      string `json:"tz,omitempty"` // IANA time zone, e.g. "Asia/Tokyo"
	Created int64  `json:"created"`
	Updated int64  `json:"updated"`
}

// Location is the user's time zone (UTC when unset or unknown).
func (u User) Location() *time.Location { return Location(u.TZ) }

// Location loads an IANA zone, UTC when unset or unknown.
func Location(tz string) *time.Location {
	if tz == "" {
		return time.UTC
	}
	l, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return l
}

// Errors.
var (
	ErrEmail    = errors.New("account: not a valid e-mail address")
	ErrName     = errors.New("account: a name is 1 to 80 characters on one line, without control or text-direction characters")
	ErrTZ       = errors.New("account: unknown time zone")
	ErrColor    = errors.New(`account: a colour is "#rrggbb"`)
	ErrPassword = errors.New("account: a password is 8 to 200 characters")
)

// NormalizeEmail validates an address and returns its canonical form
// (the bare address, lower-cased). The form must itself be an address:
// a quoted local part ("john doe"@example.com) comes out of parsing
// unquoted, john doe@example.com, which is none, and the mail package
// refused every e-mail to it.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 254 || s == "" {
		return "", ErrEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") || strings.ContainsAny(a.Address, "\r\n<>\"") {
		return "", ErrEmail
	}
	addr := strings.ToLower(a.Address)
	if b, err := mail.ParseAddress(addr); err != nil || b.Address != addr {
		return "", ErrEmail
	}
	return addr, nil
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// UserID derives a new user's id from the normalised e-mail address and
// the cluster's user-id key (HMAC-SHA256, first 13 bytes in base32), so
// every node gives one person the same id, and someone who sees user ids
// (votes, authors, presence, member lists) but not the key cannot test a
// guessed address against them. key is at least 32 bytes (the node
// derives it from the cluster secret: api's userIDKey).
//
// Rejected alternatives:
//   - ids drawn at random, with an e-mail → id index record: two nodes
//     creating one address at once need a unique index across the cluster
//     to agree on one id, which the records (last writer wins per key) do
//     not give for two keys.
//   - giving existing users keyed ids: their votes (in the boards' CRDT
//     state), memberships, comments and authorship are recorded under the
//     old id; rewriting them all is a migration of every board. Users
//     created before keyed ids keep their LegacyUserID.
func UserID(key []byte, email string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("corkboard-user\x00" + email))
	return "u_" + strings.ToLower(idEncoding.EncodeToString(m.Sum(nil)[:13]))
}

// LegacyUserID is the id users created before keyed ids were given: an
// unkeyed hash of the address, which anyone can compute. Sign-in still
// finds those users under it (their votes and memberships use it); no new
// user is created under it.
func LegacyUserID(email string) string {
	h := sha256.Sum256([]byte("corkboard-user\x00" + email))
	return "u_" + strings.ToLower(idEncoding.EncodeToString(h[:13]))
}

// DefaultName is the part of the address before "@".
func DefaultName(email string) string {
	name, _, _ := strings.Cut(email, "@")
	if name == "" {
		return "Someone"
	}
	return name
}

// CheckName validates a display name: 1 to 80 characters on one line,
// without control characters (NUL, ESC, …; line and paragraph
// separators) nor the invisible marks that reverse or isolate the
// direction of the text around them (U+202E "RIGHT-TO-LEFT OVERRIDE" and
// its kin): a name is shown beside other people's words in pages,
// e-mails and summaries, and such a mark in it turns what follows
// around ("Ana\u202Egnp.exe" reads "Anaexe.png"). Rejected: removing
// them silently (the person would see another name than the one typed).
func CheckName(s string) error {
	n := utf8.RuneCountInString(s)
	if n < 1 || n > 80 || !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return ErrName
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || bidiControl(r) {
			return ErrName
		}
	}
	return nil
}

// bidiControl says whether r is one of Unicode's explicit directional
// formatting characters (UAX #9).
func bidiControl(r rune) bool {
	return r == '\u061c' || r == '\u200e' || r == '\u200f' || '\u202a' <= r && r <= '\u202e' || '\u2066' <= r && r <= '\u2069'
}

// CheckTZ validates an IANA zone name ("" is allowed: UTC).
func CheckTZ(tz string) error {
	if tz == "" {
		return nil
	}
	if len(tz) > 64 {
		return ErrTZ
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return ErrTZ
	}
	return nil
}

// CheckColor validates "#rrggbb" ("" is allowed).
func CheckColor(c string) error {
	if c == "" {
		return nil
	}
	if len(c) != 7 || c[0] != '#' {
		return ErrColor
	}
	if _, err := hex.DecodeString(c[1:]); err != nil {
		return ErrColor
	}
	return nil
}

// BallotVoter records that a user cast a ballot in an anonymous voting
// session (POST …/voting/vote): the ballot's change names no author, so
// this is how the session's close finds the pseudonyms to reveal of
// voters who are no member and wrote nothing else (password guests, link
// holders). It says who voted, never for what.
type BallotVoter struct {
	At int64 `json:"at"` // the first ballot, unix ms
}

// BallotKey is the key of user's BallotVoter record in a board's voting
// session.
func BallotKey(board [16]byte, session, user string) []byte {
	return BoardKey(board, session+"\x00"+user)
}

// Member is a user's membership of a board.
type Member struct {
	Board     string `json:"board"`
	User      string `json:"user"`
	Role      string `json:"role"`
	Notify    Prefs  `json:"notify"`
	InvitedBy string `json:"invitedBy,omitempty"`
	// Guest marks a visitor member, who came in with the board's password
	// (or chose notifications on a public board): their role is the
	// board's PublicRole (Role is the one it was when they came in), at
	// most Cap, and ends when the board becomes members-only. An invite,
	// or the owner raising their role, makes them a full member with a
	// role of their own.
	Guest bool `json:"guest,omitempty"`
	// Cap is the role the owner last set for this user ("": none), the
	// highest any grant that is no decision of the owner's about them may
	// give: an invite link (handed to many), an e-mailed invite made
	// before CapAt. A visitor member the owner demoted stays a visitor,
	// with the lower of PublicRole and Cap. The cap outlives leaving and
	// coming in again with the password; an e-mailed invite made after it
	// lifts it, and the owner setting the role sets it anew.
	Cap   string `json:"cap,omitempty"`
	CapAt int64  `json:"capAt,omitempty"` // the membership's Updated when Cap was set
	// Epoch is the board's link epoch when a guest member came in: a new
	// password, revoked links or narrower access (a new epoch) ends it.
	Epoch  int   `json:"epoch,omitempty"`
	Joined int64 `json:"joined"`
	// Removed is a tombstone: removal wins over an older grant. Nothing
	// edits a removed membership, so its Updated is when it ended.
	Removed bool `json:"removed,omitempty"`
	// Left marks a removal by the member themselves (leaving), not by the
	// owner: an invite link they hold may bring them back.
	Left bool `json:"left,omitempty"`
	// RemovedAt is when the owner last removed this user from the board
	// (the membership's Updated then), kept by the visitor membership a
	// join with the password makes afterwards and by leaving it; it is
	// cleared when the owner takes the removal back (an e-mailed invite
	// made after it, the owner raising the role).
	RemovedAt int64 `json:"removedAt,omitempty"`
	Updated   int64 `json:"updated"`
}

// OwnerRemoval is when the owner removed this user from the board (0:
// never, or taken back): RemovedAt, or the Updated of a removal by the
// owner recorded before RemovedAt was.
func (m Member) OwnerRemoval() int64 {
	if m.RemovedAt == 0 && m.Removed && !m.Left {
		return m.Updated
	}
	return m.RemovedAt
}

// Invite is an invitation by e-mail, keyed by its token's hash.
type Invite struct {
	ID      string `json:"id"` // public id (for listing and revoking)
	Hash    string `json:"-"`
	Board   string `json:"board"`
	Email   string `json:"email"`
	Role    string `json:"role"`
	By      string `json:"by"`
	Created int64  `json:"created"`
	Expires int64  `json:"expires"`
	Revoked bool   `json:"revoked,omitempty"`
	Used    int64  `json:"used,omitempty"` // when accepted (an e-mailed invite may be used once)
	// Link marks an invite link (no e-mail): the owner copies it and hands
	// it out; whoever opens it must sign in first, and becomes a member.
	// It never signs anyone in. Uses counts who joined through it.
	Link    bool  `json:"link,omitempty"`
	Uses    int   `json:"uses,omitempty"`
	Updated int64 `json:"updated"`
}

// Login is a one-time sign-in link, keyed by its token's hash.
type Login struct {
	Email   string `json:"email"`
	Next    string `json:"next,omitempty"` // path to open after signing in
	Created int64  `json:"created"`
	Expires int64  `json:"expires"`
	Used    int64  `json:"used,omitempty"`
	Updated int64  `json:"updated"`
}

// Session is a signed-in browser (or API client), keyed by its token's hash.
type Session struct {
	User    string `json:"user"`
	Created int64  `json:"created"`
	Expires int64  `json:"expires"`
	Revoked bool   `json:"revoked,omitempty"`
	Updated int64  `json:"updated"`
}

// Seen is the version of a board a member last saw.
//
// The version is kept in Packed, the vector's canonical binary form
// (crdt.VersionVector.MarshalBinary: some 10 bytes a replica, base64 in
// the record's JSON), which records written before it kept in Version as
// a JSON object (some 28 bytes a replica, each replica id a key the
// encoder sorts and formats: 1.3 ms to encode at 1,000 replicas, where
// Packed takes tens of microseconds). Read it with Vector. A node from
// before Packed reads a record of it as holding no version, and shows
// that member the board's whole history as new while a cluster is being
// upgraded.
type Seen struct {
	Board string `json:"board"`
	User  string `json:"user"`
	// Packed is the version's canonical binary form.
	Packed []byte `json:"packed,omitempty"`
	// Version is the version of a record written before Packed, which
	// leaves it out.
	Version crdt.VersionVector `json:"version,omitempty"`
	At      int64              `json:"at"`
	Updated int64              `json:"updated"`
}

// Vector is the version the record holds: Packed's, or an older record's
// Version.
func (s *Seen) Vector() (crdt.VersionVector, error) {
	if s.Packed == nil {
		if s.Version == nil {
			return crdt.VersionVector{}, nil
		}
		return s.Version, nil
	}
	var v crdt.VersionVector
	if err := v.UnmarshalBinary(s.Packed); err != nil {
		return nil, err
	}
	return v, nil
}

// Holds says whether the record holds the version whose canonical binary
// form is packed.
func (s *Seen) Holds(packed []byte) bool {
	if s.Packed != nil {
		return string(s.Packed) == string(packed)
	}
	var v crdt.VersionVector
	return v.UnmarshalBinary(packed) == nil && s.Version.Compare(v) == crdt.Equal
}

// Cursor is how far a member has been notified of a board's changes.
type Cursor struct {
	Board   string             `json:"board"`
	User    string             `json:"user"`
	Version crdt.VersionVector `json:"version"` // changes up to here were reported (or skipped)
	Sent    int64              `json:"sent"`    // last e-mail, unix ms
	Day     string             `json:"day"`     // local date of the last digest, "2006-01-02"
	// What of the board itself was told (Notices): the voting session and
	// state, the deadline set, the deadline warned of as near.
	Voting       string `json:"voting,omitempty"`
	Deadline     int64  `json:"deadline,omitempty"`
	DeadlineNear int64  `json:"deadlineNear,omitempty"`
	Updated      int64  `json:"updated"`
}

// Webhook is a board's subscription of an HTTP endpoint to its events.
type Webhook struct {
	ID      string   `json:"id"`
	Board   string   `json:"board"`
	URL     string   `json:"url"`
	Secret  string   `json:"secret,omitempty"` // HMAC key; shown once, at creation
	Events  []string `json:"events"`           // element, comment, vote, deadline ("" = all)
	Format  string   `json:"format,omitempty"` // how calls are signed: "" (Corkboard-Signature) or "standard" (Standard Webhooks; a "whsec_" secret)
	Created int64    `json:"created"`
	Deleted bool     `json:"deleted,omitempty"`
	Updated int64    `json:"updated"`
}

// WebhookEvents are the events a webhook may subscribe to.
var WebhookEvents = []string{"element", "comment", "vote", "deadline"}

// Wants says whether the webhook subscribes to an event.
func (w Webhook) Wants(ev string) bool {
	if len(w.Events) == 0 {
		return true
	}
	for _, e := range w.Events {
		if e == ev {
			return true
		}
	}
	return false
}

// PasswordHash is a board's password, hashed.
type PasswordHash struct {
	Hash    string `json:"hash"` // PHC string; "" = no password
	Updated int64  `json:"updated"`
}

// BoardKey is a record key under a board: the board's 16 id bytes, then
// the rest.
func BoardKey(board [16]byte, rest string) []byte {
	return append(append(make([]byte, 0, 16+len(rest)), board[:]...), rest...)
}

// NewToken returns a random token (43 characters, base64url) and the hash
// under which its record is kept.
func NewToken() (token, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken is the key of a token's record.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ValidToken says whether s looks like a token from NewToken.
func ValidToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// Argon2id parameters: OWASP's baseline (19 MiB, 2 passes, 1 lane), which
// keeps a check near 100 ms on a small server and bounds the memory a burst
// of join attempts takes (the node also runs at most two at once). RFC
// 9106's 64 MiB × 3 passes was rejected: 4× the cost per attempt for a
// secret that is rate-limited anyway. Hashes carry their parameters, so
// they can be raised later.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id into a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	if n := utf8.RuneCountInString(pw); n < 8 || n > 200 {
		return "", ErrPassword
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword says whether pw matches a hash from HashPassword. A
// malformed hash never matches.
func CheckPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
