package limit

import (
	"context"
	"time"
)

// Counter counts events for the whole cluster (the node's, over the
// cluster's metadata: meta.Store.CountLimit).
type Counter interface {
	// Count counts one event against key's window of length per and
	// says whether it stays within max; an error counts nothing.
	Count(ctx context.Context, key string, max int, per time.Duration) (bool, error)
	// Uncount gives one back.
	Uncount(ctx context.Context, key string, per time.Duration) error
}

// sharedWait bounds a shared count: past it the node's own count decides.
const sharedWait = 2 * time.Second

// Share makes AllowShared and RefundShared count in c too. Call it before
// the limiter is used.
func (l *Limiter) Share(c Counter) { l.shared = c }

// AllowShared is Allow for a limit whose allowance must not grow with the
// number of nodes (wrong passwords, e-mails to one address): the event is
// counted here first, a cheap gate (an event refused here never costs the
// cluster a write), then in the shared Counter, which must allow it too.
//
// When the shared Counter fails (no quorum, NATS down, its bucket full)
// the node's own count decides: the limit is then per node, as it was
// before it was shared. Rejected: failing closed, which would refuse every
// sign-in link and every password during an outage of the metadata store
// (NATS down, or a node cut off from the quorum) and let whoever can break
// NATS lock everyone out.
func (l *Limiter) AllowShared(ctx context.Context, key string, max int, per time.Duration) bool {
	if !l.Allow(key, max, per) {
		return false
	}
	if l.shared == nil {
		return true
	}
	// Not cancelled with the request: a client that hangs up at once
	// must not turn the shared count into an error (and so skip it).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedWait)
	defer cancel()
	ok, err := l.shared.Count(ctx, key, max, per)
	return ok || err != nil
}

// RefundShared gives back one event counted by AllowShared.
func (l *Limiter) RefundShared(ctx context.Context, key string, per time.Duration) {
	l.Refund(key)
	if l.shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedWait)
	defer cancel()
	l.shared.Uncount(ctx, key, per)
}
