package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"
	"sync/atomic"
	"time"
)

// sharedLimits is the cluster's count of the limits package limit shares
// (limit.Limiter.AllowShared): records in the metadata bucket cb_limits
// (meta.Store.CountLimit). Keys are HMAC-SHA256 under a key derived from
// the node's secret, which the nodes of a cluster share: the bucket never
// holds an e-mail or client address, and its keys cannot be tested
// against a list of addresses without the secret.
type sharedLimits struct {
	n      *Node
	key    []byte
	log    *slog.Logger
	warned atomic.Int64 // unix ns of the last warning
}

func newSharedLimits(n *Node, secret []byte) *sharedLimits {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("corkboard rate-limit keys"))
	return &sharedLimits{n: n, key: m.Sum(nil), log: n.log.With("part", "limit")}
}

func (s *sharedLimits) hash(key string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(key))
	return m.Sum(nil)
}

// failed logs, at most once a minute, that the node counts alone.
func (s *sharedLimits) failed(err error) {
	now, last := time.Now().UnixNano(), s.warned.Load()
	if now-last > int64(time.Minute) && s.warned.CompareAndSwap(last, now) {
		s.log.Warn("limit: the cluster-wide count failed; this node counts alone", "err", err)
	}
}

func (s *sharedLimits) Count(ctx context.Context, key string, max int, per time.Duration) (bool, error) {
	if s.n.meta == nil {
		return true, nil
	}
	ok, err := s.n.meta.CountLimit(ctx, s.hash(key), max, per)
	if err != nil {
		s.failed(err)
	}
	return ok, err
}

func (s *sharedLimits) Uncount(ctx context.Context, key string, per time.Duration) error {
	if s.n.meta == nil {
		return nil
	}
	err := s.n.meta.UncountLimit(ctx, s.hash(key), per)
	if err != nil {
		s.failed(err)
	}
	return err
}
