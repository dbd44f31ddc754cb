package meta

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/account"
)

// Every bucket and key of the cluster's metadata. A key is its record's
// namespace, a dot, and the record's store key in unpadded base64url
// (JetStream keys allow [-_=.A-Za-z0-9] only; store keys are bytes):
//
//	bucket        namespaces (store key)                              history  expiry
//	cb_boards     board (board id)                                    16       none (a deleted board is a tombstone)
//	cb_accounts   user (user id), member (board id + user id),        4        none
//	              invite (token hash), seen, cursor (board id +
//	              user id), webhook (board id + webhook id),
//	              password (board id)
//	cb_sessions   session, login (token hash)                         1        bucket MaxAge 31 days (a session lasts 30)
//	cb_idem       idem (board id + user id + 0x00 + Idempotency-Key)  1        bucket MaxAge 24 hours
//	cb_claims     replica (board id + replica id)                     1        none; Create only, so a claim is never overwritten
//	cb_leases     lease name (plain text, e.g. "notifier")            1        bucket MaxAge = LeaseTTL
//	cb_limits     w.<sha256 of window and key> (limits.go; no view)   1        bucket MaxAge 24 hours, MaxBytes 64 MiB
//
// The node's Pebble keeps a copy of every namespace (the view, under the
// same namespaces as before the buckets existed), so reads on the hot path
// never leave the node.

// NSBoard and NSClaim are the namespaces of board settings and replica
// claims; the account namespaces are account.NS*.
const (
	NSBoard = "board"
	NSClaim = "replica"
	// NSIdem: the write API's Idempotency-Key records (board id + user id
	// + 0x00 + key), in cb_idem: they expire after a day.
	NSIdem = "idem"
)

// BucketConfig describes one bucket.
type BucketConfig struct {
	Name    string
	History int
	// MaxAge expires every value this long after it was written (0:
	// never).
	MaxAge time.Duration
	// MaxBytes bounds the bucket's size: past it, writes of new records
	// fail (0: no bound; JetStream only).
	MaxBytes int64
	// NS are the namespaces it holds.
	NS []string
}

// LeaseTTL is how long a lease lasts without renewal.
const LeaseTTL = 15 * time.Second

const leaseBucket = "cb_leases"

// Buckets lists the metadata buckets.
var Buckets = []BucketConfig{
	{Name: "cb_boards", History: 16, NS: []string{NSBoard}},
	{Name: "cb_accounts", History: 4, NS: []string{account.NSUser, account.NSMember, account.NSInvite, account.NSSeen, account.NSCursor, account.NSWebhook, account.NSPassword, account.NSBallot}},
	{Name: "cb_sessions", History: 1, MaxAge: 31 * 24 * time.Hour, NS: []string{account.NSSession, account.NSLogin}},
	{Name: "cb_idem", History: 1, MaxAge: 24 * time.Hour, NS: []string{NSIdem}},
	{Name: "cb_claims", History: 1, NS: []string{NSClaim}},
}

var leaseConfig = BucketConfig{Name: leaseBucket, History: 1, MaxAge: LeaseTTL}

// bucketOf names the bucket of a namespace ("" if none).
func bucketOf(ns string) string {
	for _, b := range Buckets {
		for _, n := range b.NS {
			if n == ns {
				return b.Name
			}
		}
	}
	return ""
}

// kvKey is the bucket key of a record.
func kvKey(ns string, key []byte) string {
	return ns + "." + base64.RawURLEncoding.EncodeToString(key)
}

// parseKey splits a bucket key into its record's namespace and store key.
func parseKey(k string) (ns string, key []byte, ok bool) {
	ns, enc, ok := strings.Cut(k, ".")
	if !ok || ns == "" || bucketOf(ns) == "" {
		return "", nil, false
	}
	key, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(key) == 0 {
		return "", nil, false
	}
	return ns, key, true
}

// Errors of a Bucket.
var (
	ErrNotFound = errors.New("meta: no such key")
	ErrExists   = errors.New("meta: key exists or changed since read")
	// ErrUnavailable: the metadata store cannot take writes now (no
	// quorum, no connection); the write was not made.
	ErrUnavailable = errors.New("meta: metadata store unavailable")
)

// Entry is one revision of a key.
type Entry struct {
	Key     string
	Value   []byte
	Rev     uint64
	Deleted bool
	Created time.Time
}

// Bucket is one key-value bucket: a JetStream one (JetStream), or one in
// this process for tests of several nodes (Memory). Revisions grow in the
// order writes were stored; a key's revision names its latest write.
type Bucket interface {
	// Get returns the key's latest value; ErrNotFound if it has none (or
	// it was deleted or expired).
	Get(ctx context.Context, key string) (Entry, error)
	// Create writes the key if it has no value; ErrExists otherwise.
	Create(ctx context.Context, key string, val []byte) (uint64, error)
	// Update writes the key if its latest revision is still rev;
	// ErrExists otherwise.
	Update(ctx context.Context, key string, val []byte, rev uint64) (uint64, error)
	// Put writes the key unconditionally.
	Put(ctx context.Context, key string, val []byte) (uint64, error)
	// Delete deletes the key (a delete marker, seen by watchers).
	Delete(ctx context.Context, key string) error
	// Watch calls fn with every write from revision from on (0: the
	// latest of every key, then every later write), in revision order, on
	// one goroutine, until stop is called. After a lost connection it
	// resumes where it was. caughtUp is called once, on that goroutine,
	// after fn had every write the bucket held when the watch started.
	Watch(from uint64, fn func(Entry), caughtUp func()) (stop func(), err error)
	// History returns the key's kept revisions, oldest first.
	History(ctx context.Context, key string) ([]Entry, error)
	// Last is the latest revision of any key (0: never written).
	Last(ctx context.Context) (uint64, error)
}

// Backend opens buckets, creating them when missing.
type Backend interface {
	Bucket(ctx context.Context, cfg BucketConfig) (Bucket, error)
}
