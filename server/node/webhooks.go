package node

import (
	"time"

	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/server/webhook"
	"github.com/corkboard/corkboard/storage"
)

// WebhookLimits bound what a board's webhooks may cost the node. Webhook
// URLs are chosen by board owners, who may be anonymous: every figure here
// is a bound on what one of them can make the node hold or do.
type WebhookLimits struct {
	// MaxPerBoard is how many webhooks a board may have (default 10);
	// one more is refused with 409.
	MaxPerBoard int
	// Debounce is the window over which a board's changes are coalesced
	// into one delivery per webhook and event class (default 2s; negative:
	// none, every accepted batch is delivered on its own).
	Debounce time.Duration
	// MaxBatch is how many changes one delivery describes (default 1000);
	// past it the delivery counts them and says "truncated".
	MaxBatch int
	// MaxPending is how many deliveries of one board may wait in the
	// outbox (default 1000); past it the oldest are dropped, counted in
	// the outbox's dropped metric.
	MaxPending int
	// Concurrency is how many webhook calls run at once (default 8), in a
	// lane of their own: e-mail has its own 4 and never waits for them.
	Concurrency int
	// PerDestination is how many calls to one host run at once (default
	// 2). A host whose calls keep failing is backed off as a whole.
	PerDestination int
	// Timeout bounds one call (default 10s).
	Timeout time.Duration
}

func (l *WebhookLimits) defaults() {
	if l.MaxPerBoard <= 0 {
		l.MaxPerBoard = 10
	}
	if l.Debounce == 0 {
		l.Debounce = 2 * time.Second
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = 1000
	}
	if l.MaxPending <= 0 {
		l.MaxPending = 1000
	}
	if l.Concurrency <= 0 {
		l.Concurrency = 8
	}
	if l.PerDestination <= 0 {
		l.PerDestination = 2
	}
	if l.Timeout <= 0 {
		l.Timeout = 10 * time.Second
	}
}

// outboxLanes are the outbox's delivery lanes: mail keeps the outbox's
// default of 4 slots to itself; webhooks get theirs, per destination.
func (l *WebhookLimits) outboxLanes() map[string]outbox.Lane {
	return map[string]outbox.Lane{
		webhook.Kind: {
			Concurrency:    l.Concurrency,
			PerDestination: l.PerDestination,
			AttemptTimeout: l.Timeout,
			Destination:    webhook.Destination,
		},
	}
}

// maxBatchBytes bounds the encoded changes a window holds for one board,
// whatever MaxBatch says: a change may be up to a WebSocket message (1 MiB
// by default), and the window holds them in memory.
const maxBatchBytes = 8 << 20

// hookBatch is what the webhook worker gathered for a board since its
// last delivery: the first MaxBatch records (at most maxBatchBytes of
// them), and how many there were.
type hookBatch struct {
	due       time.Time // when the window ends
	recs      []storage.Record
	bytes     int    // of the kept records' Data
	count     int    // records in the window, kept or not
	firstSeq  uint64 // log positions of the window's first and last records
	lastSeq   uint64
	truncated bool
}

// add adds accepted records to the batch, keeping at most max of them:
// the rest are only counted (their Data would be held for nothing).
func (b *hookBatch) add(recs []storage.Record, max int) {
	for _, r := range recs {
		if b.count == 0 {
			b.firstSeq = r.Seq
		}
		b.count++
		b.lastSeq = r.Seq
		if !b.truncated && len(b.recs) < max && b.bytes+len(r.Data) <= maxBatchBytes {
			b.recs = append(b.recs, r)
			b.bytes += len(r.Data)
		} else {
			b.truncated = true
		}
	}
}
