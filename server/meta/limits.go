package meta

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Cluster-wide rate-limit counters: the shared side of package limit, for
// the limits whose allowance must not grow with the number of nodes
// (wrong passwords, e-mails to one address).
//
// Each (key, window) is one record of cb_limits: a fixed window of length
// per, aligned to the Unix epoch on the Store's clock, whose value is the
// count so far (decimal). CountLimit reads it and writes count+1 with
// compare-and-set (Create for the window's first event, Update at the
// read revision), and reads again on conflict, so two nodes counting at
// once never lose an event. A refused event writes nothing.
//
// cb_limits is not watched and has no view: counters are read from the
// bucket only, by the node that counts, and must never be copied into
// every node's Pebble. Its bound: bucket MaxAge LimitMaxWindow (a record
// outlives its window, since it is written inside it and per <=
// LimitMaxWindow) and MaxBytes limitMaxBytes (past it JetStream refuses
// new records, CountLimit fails and package limit falls back to the
// node's own count). Keys are hashes: the bucket never holds the
// caller's key (an e-mail address) in clear.
//
// Rejected: a sliding log of timestamps per key (a record grows with
// every event, and its CAS conflicts get costlier); a sliding-window
// estimate from the previous window's count (stricter than the documented
// limits: five wrong passwords at 12:00 would still refuse a right one at
// 12:16); per-key TTLs (in JetStream a TTL is set by the message that
// writes it, and the buckets' client sets it on Create only, so an Update
// would make the record immortal); a sweeper deleting old windows (a
// lease and a goroutine for what MaxAge does); and the watched buckets
// (every node would copy every counter into its view, forever, and a
// count read from a view one watch delivery behind would let parallel
// guesses on two nodes both pass).
const (
	limitBucketName = "cb_limits"
	// LimitMaxWindow is the longest window CountLimit counts, and how
	// long cb_limits keeps a record after its last write.
	LimitMaxWindow = 24 * time.Hour
	// limitMaxBytes bounds cb_limits (about 100 bytes a record).
	limitMaxBytes = 64 << 20
)

// LimitBucket is cb_limits' configuration.
var LimitBucket = BucketConfig{Name: limitBucketName, History: 1, MaxAge: LimitMaxWindow, MaxBytes: limitMaxBytes}

// limitBucket opens cb_limits once the Store is connected; ErrUnavailable
// at once before that, and while the node is not Fresh (cut off from the
// quorum, a write would only time out): the caller falls back, it does
// not wait.
func (s *Store) limitBucket(ctx context.Context) (Bucket, error) {
	if !s.Fresh() {
		return nil, fmt.Errorf("%w: not connected to the quorum", ErrUnavailable)
	}
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	if s.limits == nil {
		b, err := s.backend.Bucket(ctx, LimitBucket)
		if err != nil {
			return nil, err
		}
		s.limits = b
	}
	return s.limits, nil
}

// limitKey is the record of key's window of length per that holds now.
func (s *Store) limitKey(key []byte, per time.Duration) (string, error) {
	if per <= 0 || per > LimitMaxWindow {
		return "", fmt.Errorf("meta: limit window %v not in (0, %v]", per, LimitMaxWindow)
	}
	start := s.now().UnixNano() / int64(per)
	h := sha256.New()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(per))
	binary.BigEndian.PutUint64(b[8:], uint64(start))
	h.Write(b[:])
	h.Write(key)
	return "w." + base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

// CountLimit counts one event against key's current window of length per
// (at most LimitMaxWindow) for the whole cluster, and says whether the
// window stays within max with it; a refused event is not counted. An
// error (no quorum, no connection, the bucket full, too much contention)
// counts nothing.
func (s *Store) CountLimit(ctx context.Context, key []byte, max int, per time.Duration) (bool, error) {
	k, err := s.limitKey(key, per)
	if err != nil {
		return false, err
	}
	b, err := s.limitBucket(ctx)
	if err != nil {
		return false, err
	}
	for range maxRetries {
		e, err := b.Get(ctx, k)
		var n int
		switch {
		case err == nil:
			if n, err = strconv.Atoi(string(e.Value)); err != nil {
				n = max // unreadable: count it as spent
			}
		case !errors.Is(err, ErrNotFound):
			return false, err
		}
		if n >= max {
			return false, nil
		}
		val := []byte(strconv.Itoa(n + 1))
		if e.Rev == 0 {
			_, err = b.Create(ctx, k, val)
		} else {
			_, err = b.Update(ctx, k, val, e.Rev)
		}
		if errors.Is(err, ErrExists) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("%w: %s: too much contention", ErrUnavailable, k)
}

// UncountLimit gives back one event counted by CountLimit in key's
// current window (if the window has turned since, the new one's, and only
// if it has one).
func (s *Store) UncountLimit(ctx context.Context, key []byte, per time.Duration) error {
	k, err := s.limitKey(key, per)
	if err != nil {
		return err
	}
	b, err := s.limitBucket(ctx)
	if err != nil {
		return err
	}
	for range maxRetries {
		e, err := b.Get(ctx, k)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(e.Value))
		if err != nil || n <= 0 {
			return nil
		}
		_, err = b.Update(ctx, k, []byte(strconv.Itoa(n-1)), e.Rev)
		if !errors.Is(err, ErrExists) {
			return err
		}
	}
	return fmt.Errorf("%w: %s: too much contention", ErrUnavailable, k)
}
