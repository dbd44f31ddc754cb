// Package outbox is the node's durable queue of deliveries: e-mails and
// webhook calls that must survive a restart, an SMTP outage or a receiver
// that is down for an hour.
//
// # Storage
//
// Items live in the node's store, in three metadata namespaces, each keyed
// by the item's ID:
//
//	outbox       items waiting for delivery (the stored form is in item.go)
//	outbox-dead  items given up on: a permanent error, or MaxAttempts failures
//	outbox-done  one marker per delivered item: varint unix ms of delivery
//
// Enqueueing is one atomic, durable ApplyMeta, so a producer can queue its
// items in the same batch as its own writes (Writes): a digest cursor and
// the digest e-mail either both move or neither does.
//
// # Exactly once, with the receiver's help
//
// An item is removed from "outbox" only after its deliverer reported
// success, in the same batch that writes its "outbox-done" marker. So no
// item is lost: a crash, an outage or a full disk leaves it queued and it is
// tried again. But a crash (or a failed store write) after a successful send
// and before that batch sends it again, with the same ID: the same
// Message-ID header for an e-mail, the same Corkboard-Delivery header for a
// webhook. Receivers deduplicate by that id; at most the items in flight at
// the crash (the slots of every lane) are sent twice. No other design does
// better: the send and the store write are in two systems, and one of them
// has to happen first. Sending after removal would lose mail on a crash
// instead, which is worse than a rare duplicate that mail clients already
// thread together.
//
// The markers make a repeated enqueue of a delivered ID a no-op for
// Config.KeepDone (7 days by default), after which they are pruned; an ID
// that is pending or dead is never queued twice either. Enqueue serialises
// its check-then-write with other Enqueue calls; a producer that applies
// Writes itself gets the check as of the Writes call (two producers racing
// on one new ID outside Enqueue may both queue it, and the second write
// replaces the first).
//
// # Scheduling
//
// A pass scans the pending namespace and starts the due items (NextAt <=
// now), oldest NextAt first. A failed attempt sets NextAt with exponential
// backoff and jitter. Rejected: a second, time-ordered index key (NextAt,
// ID) per item, which saves the scan but has to be kept in step with the
// item on every write and still needs the by-ID key for deduplication. The
// outbox of one node holds tens or hundreds of items, not millions, and a
// pass runs when something is due or was kicked, so the scan is cheap; if
// it ever is not, the index can be added behind the same API. Two things
// keep it cheap when a webhook backlog is large: a pass reads each item's
// header, not its payload (stored last; see storedItem), and items queued
// by Enqueue are handed to Run and started without a pass at all, so a
// sign-in e-mail does not wait for a read of the whole queue. A pass runs
// when an attempt ends, at the earliest NextAt, and on Kick.
//
// # Lanes
//
// Every kind is a lane of its own, with its own delivery slots
// (Lane.Concurrency, default Config.Concurrency): a receiver that hangs
// holds slots of its kind only, so twenty webhooks pointing at a black
// hole never delay a sign-in e-mail. Within a lane, a Lane.Destination
// function groups items by receiver (the host of a webhook URL), and a
// destination gets at most Lane.PerDestination slots. A destination whose
// attempts fail with a transient error is backed off as a whole, with the
// same exponential backoff as an item, counted in its consecutive
// failures: its due items wait without holding a slot and without each
// spending an attempt against a receiver known to be down; the first
// success (or any answer that is not a transient failure) clears it. The
// destination state is in memory: a restart forgets it, which costs at
// most one more round of attempts per dead destination.
//
// A Lane.Group function groups items by owner (the board of a webhook
// delivery, from its ID), and a group gets at most Lane.PerGroup slots,
// whatever its destinations: a destination is a host name, and one
// receiver may answer to any number of names (wildcard DNS), so the
// per-destination bound alone let one board's slow receiver hold every
// slot of the lane. Rejected: resolving names to addresses for the
// bound (a name resolves at dial time, maybe differently, and one server
// has many addresses too).
//
// Rejected: one shared pool with a priority for mail (a hung webhook still
// holds the slot the next e-mail needs, the finding this design fixes);
// a pool per destination with no lane limit (an owner with many hosts
// would still take every goroutine and socket the node has).
//
// # Dead letters
//
// Dead letters are bounded per group (Lane.DeadPerGroup, the newest kept)
// and keep what Lane.DeadPayload keeps of the payload: a board owner
// whose receivers refuse everything made up to 30 dead letters every 2 s,
// each with its whole payload (up to MaxPayloadLen) and the webhook's
// secret, and nothing ever removed them. A dead letter dropped from its
// group no longer keeps its ID from being queued again; producers' IDs
// are not reused. Their count by kind is kept (counted once at New), so
// a metrics scrape does not read them all.
//
// # Bounded groups
//
// EnqueueCapped keeps at most a given number of pending items under an ID
// prefix (a board's webhook deliveries), dropping the oldest past it and
// counting them in Stats.Dropped, so a receiver that is down for a day
// cannot grow the store without bound.
package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corkboard/corkboard/storage"
)

// The metadata namespaces of the outbox (see the package doc).
const (
	NSPending = "outbox"
	NSDead    = "outbox-dead"
	NSDone    = "outbox-done"
)

// Deliverer sends one item. It returns nil only when the receiver took the
// item. An error wrapped with Permanent moves the item to the dead letters
// at once; any other error is retried with backoff. Deliver must honour
// ctx: it is cancelled on shutdown and after Config.AttemptTimeout.
type Deliverer interface {
	Deliver(ctx context.Context, it Item) error
}

// DelivererFunc adapts a function to Deliverer.
type DelivererFunc func(ctx context.Context, it Item) error

// Deliver implements Deliverer.
func (f DelivererFunc) Deliver(ctx context.Context, it Item) error { return f(ctx, it) }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (a refused address,
// a payload that does not decode, a webhook answering 410). Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Config configures an Outbox. The zero value is a sensible production
// configuration.
type Config struct {
	// Now is the clock. Nil means time.Now. Tests pass a fake clock and
	// drive passes with RunDue.
	Now func() time.Time
	// Log receives one line per failed attempt and dead letter. Nil means
	// slog.Default().
	Log *slog.Logger
	// MaxAttempts is how many failed attempts move an item to the dead
	// letters. Zero means 20, which with the default backoff is about
	// 17 hours of retrying.
	MaxAttempts int
	// MinBackoff is the delay after the first failure; it doubles with
	// each further failure up to MaxBackoff. Each delay is then drawn
	// uniformly from its upper half (jitter), so items that failed together
	// do not all come back in the same instant. Zero means 30s and 1h.
	MinBackoff, MaxBackoff time.Duration
	// Concurrency is how many deliveries of one kind run at once, for the
	// kinds Lanes does not configure. Zero means 4.
	Concurrency int
	// AttemptTimeout bounds one attempt. Zero means 2 minutes.
	AttemptTimeout time.Duration
	// Lanes configure the delivery lane of a kind (see the package doc).
	// A kind not listed gets Concurrency slots and no destinations.
	Lanes map[string]Lane
	// KeepDone is how long a delivered item's ID is remembered, so that
	// enqueueing it again is a no-op. Zero means 7 days; negative means
	// not at all.
	KeepDone time.Duration
	// Seed seeds the jitter. Zero means a random seed.
	Seed uint64
}

// Lane configures the deliveries of one kind.
type Lane struct {
	// Concurrency is how many deliveries of the kind run at once. Zero
	// means Config.Concurrency.
	Concurrency int
	// AttemptTimeout bounds one attempt. Zero means Config.AttemptTimeout.
	AttemptTimeout time.Duration
	// Destination names an item's receiver (for webhooks, the URL's
	// host). It is called once, at enqueue, and its answer kept with the
	// item (Item.Dest). Nil, or an empty name, means the item has no
	// destination: only Concurrency applies to it.
	Destination func(Item) string
	// PerDestination is how many deliveries to one destination run at
	// once. Zero means no limit but Concurrency.
	PerDestination int
	// Group names the group of an item by its ID: a prefix of the ID (for
	// webhooks, "webhook/<board>/", the board's deliveries), or "" for
	// none. Nil means no groups.
	Group func(id string) string
	// PerGroup is how many deliveries of one group run at once. Zero
	// means no limit but Concurrency and PerDestination.
	PerGroup int
	// DeadPerGroup is how many dead letters of one group are kept: past
	// it, those with the smallest IDs are deleted (producers make a
	// group's IDs sort by age, as for EnqueueCapped). Zero means no
	// limit.
	DeadPerGroup int
	// DeadPayload is what a dead letter of the kind keeps of its item's
	// payload (nil: all of it). A webhook's dead letter keeps where it
	// went, not its body (up to MaxPayloadLen) or its secret.
	DeadPayload func(Item) []byte
}

// Stats are counters since New, for metrics.
type Stats struct {
	Enqueued  uint64 // items written by Writes (and Enqueue)
	Skipped   uint64 // items not written: their ID was pending, dead or recently delivered
	Delivered uint64 // successful attempts
	Retried   uint64 // failed attempts that will be retried
	Dead      uint64 // items moved to the dead letters (corrupt stored items included)
	Dropped   uint64 // pending items deleted undelivered by EnqueueCapped to stay under its cap
}

// Outbox is a durable delivery queue on a store. Its methods are safe for
// concurrent use.
type Outbox struct {
	store storage.Store
	cfg   Config
	log   *slog.Logger
	kick  chan struct{}

	// enqMu serialises Enqueue's check-then-write.
	enqMu sync.Mutex

	mu         sync.Mutex
	deliverers map[string]Deliverer
	inflight   map[string]bool
	running    map[string]int          // attempts in flight by kind
	destBusy   map[string]int          // attempts in flight by destination key (kind + "\x00" + destination)
	groupBusy  map[string]int          // attempts in flight by group key (kind + "\x00" + group)
	dests      map[string]*destination // destinations with failures, by destination key
	fresh      []Item                  // enqueued since Run last looked: started without a scan
	rescan     bool                    // Run must scan the queue (a Kick, an attempt ended)
	rng        *rand.Rand
	lastPrune  time.Time

	// deadMu serialises the writes of the dead letters (and their count
	// and bound with them); it is taken before mu.
	deadMu      sync.Mutex
	deadByKind  map[string]int // dead letters stored, by kind, if deadCounted
	deadCounted bool           // deadByKind was counted at New; else CountsByKind scans

	enqueued, skipped, delivered, retried, dead, dropped atomic.Uint64
	kinds                                                sync.Map // kind → *kindCounters
}

// destination is the backoff state of a receiver that failed.
type destination struct {
	failures int   // consecutive transient failures
	until    int64 // unix ms before which its items are not started
}

// New returns an outbox on store. Register deliverers, then call Run.
func New(store storage.Store, cfg Config) *Outbox {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 20
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 2 * time.Minute
	}
	if cfg.KeepDone == 0 {
		cfg.KeepDone = 7 * 24 * time.Hour
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	o := &Outbox{
		store:      store,
		cfg:        cfg,
		log:        cfg.Log,
		kick:       make(chan struct{}, 1),
		deliverers: make(map[string]Deliverer),
		inflight:   make(map[string]bool),
		running:    make(map[string]int),
		destBusy:   make(map[string]int),
		groupBusy:  make(map[string]int),
		dests:      make(map[string]*destination),
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	o.countDead()
	return o
}

// Register sets the deliverer of kind. Items of a kind with no deliverer
// stay queued and count failed attempts, so register before Run.
func (o *Outbox) Register(kind string, d Deliverer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deliverers[kind] = d
}

// Stats returns the counters.
func (o *Outbox) Stats() Stats {
	return Stats{
		Enqueued:  o.enqueued.Load(),
		Skipped:   o.skipped.Load(),
		Delivered: o.delivered.Load(),
		Retried:   o.retried.Load(),
		Dead:      o.dead.Load(),
		Dropped:   o.dropped.Load(),
	}
}

// kindCounters are the counters of Stats for one kind.
type kindCounters struct {
	enqueued, skipped, delivered, retried, dead, dropped atomic.Uint64
}

// byKind returns the counters of kind, creating them. Kinds are few (the
// producers' constants), so the map stays small.
func (o *Outbox) byKind(kind string) *kindCounters {
	if c, ok := o.kinds.Load(kind); ok {
		return c.(*kindCounters)
	}
	c, _ := o.kinds.LoadOrStore(kind, new(kindCounters))
	return c.(*kindCounters)
}

// StatsByKind returns the counters of Stats for each item kind seen since
// New ("corrupt" for the undecodable items moved to the dead letters).
// Their sums are Stats.
func (o *Outbox) StatsByKind() map[string]Stats {
	out := make(map[string]Stats)
	o.kinds.Range(func(k, v any) bool {
		c := v.(*kindCounters)
		out[k.(string)] = Stats{Enqueued: c.enqueued.Load(), Skipped: c.skipped.Load(), Delivered: c.delivered.Load(),
			Retried: c.retried.Load(), Dead: c.dead.Load(), Dropped: c.dropped.Load()}
		return true
	})
	return out
}

// Writes returns the store writes that queue items, for the caller to apply
// with storage.Store.ApplyMeta in one batch with its own writes, then Kick.
// It validates every item (an invalid one fails the call, nothing is
// returned) and leaves out items whose ID is pending, dead or delivered
// within KeepDone, and repeats of an ID within items. Attempts and
// LastError are reset; zero Created and NextAt become now.
func (o *Outbox) Writes(items ...Item) ([]storage.MetaWrite, error) {
	writes, _, err := o.writes(context.Background(), items)
	return writes, err
}

// writes returns the writes that queue items, and the items as written.
func (o *Outbox) writes(ctx context.Context, items []Item) ([]storage.MetaWrite, []Item, error) {
	for i := range items {
		if err := items[i].check(); err != nil {
			return nil, nil, err
		}
	}
	now := o.cfg.Now().UnixMilli()
	var writes []storage.MetaWrite
	var queued []Item
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if seen[it.ID] {
			o.skipped.Add(1)
			o.byKind(it.Kind).skipped.Add(1)
			continue
		}
		seen[it.ID] = true
		known, err := o.known(ctx, it.ID, now)
		if err != nil {
			return nil, nil, fmt.Errorf("outbox: check %q: %w", it.ID, err)
		}
		if known {
			o.skipped.Add(1)
			o.byKind(it.Kind).skipped.Add(1)
			continue
		}
		it.Attempts, it.LastError = 0, ""
		if d := o.cfg.Lanes[it.Kind].Destination; d != nil {
			it.Dest = d(it)
		}
		if it.Created == 0 {
			it.Created = now
		}
		if it.NextAt == 0 {
			it.NextAt = now
		}
		writes = append(writes, storage.MetaWrite{NS: NSPending, Key: []byte(it.ID), Val: encodeItem(it)})
		queued = append(queued, it)
		o.byKind(it.Kind).enqueued.Add(1)
	}
	o.enqueued.Add(uint64(len(writes)))
	return writes, queued, nil
}

// known reports whether id is pending, dead, or was delivered within
// KeepDone. It reads pending first and the markers after: delivery removes
// the item and writes its marker in one batch, so an item delivered between
// the two reads is seen by the second.
func (o *Outbox) known(ctx context.Context, id string, now int64) (bool, error) {
	key := []byte(id)
	if _, err := o.store.GetMeta(ctx, NSPending, key); err == nil {
		return true, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, err
	}
	if o.cfg.KeepDone > 0 {
		if v, err := o.store.GetMeta(ctx, NSDone, key); err == nil {
			if at, n := binary.Varint(v); n > 0 && at >= now-o.cfg.KeepDone.Milliseconds() {
				return true, nil
			}
		} else if !errors.Is(err, storage.ErrNotFound) {
			return false, err
		}
	}
	if _, err := o.store.GetMeta(ctx, NSDead, key); err == nil {
		return true, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, err
	}
	return false, nil
}

// Enqueue queues items durably (one ApplyMeta of Writes) and wakes the
// worker. Items whose ID is pending, dead or recently delivered are left
// out; that is not an error.
func (o *Outbox) Enqueue(ctx context.Context, items ...Item) error {
	o.enqMu.Lock()
	defer o.enqMu.Unlock()
	writes, queued, err := o.writes(ctx, items)
	if err != nil {
		return err
	}
	if len(writes) == 0 {
		return nil
	}
	if err := o.store.ApplyMeta(ctx, writes); err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	o.queued(queued)
	return nil
}

// EnqueueCapped is Enqueue for a group of items that must stay bounded (a
// board's webhook deliveries): every item's ID starts with prefix, and
// after the enqueue at most limit items under prefix are pending. Past it,
// the pending items with the smallest IDs are deleted undelivered, so
// producers make the IDs under a prefix sort by age (oldest first). Items
// being attempted are not deleted (an attempt that then fails puts its
// item back, so the bound is limit plus the lane's concurrency); if that
// is not enough, the first of the new items are left out instead. Dropped
// items are counted in Stats.Dropped and returned.
//
// Rejected: dropping the newest (a receiver back after an outage wants the
// latest state more than the oldest changes); a byte budget (a limit on
// count with MaxPayloadLen per item already bounds the bytes).
func (o *Outbox) EnqueueCapped(ctx context.Context, prefix string, limit int, items ...Item) (dropped int, err error) {
	if prefix == "" || limit <= 0 {
		return 0, fmt.Errorf("%w: a capped enqueue needs a prefix and a positive limit", ErrInvalid)
	}
	for _, it := range items {
		if !strings.HasPrefix(it.ID, prefix) {
			return 0, fmt.Errorf("%w: item %q is not under %q", ErrInvalid, it.ID, prefix)
		}
	}
	o.enqMu.Lock()
	defer o.enqMu.Unlock()
	writes, queued, err := o.writes(ctx, items)
	if err != nil || len(writes) == 0 {
		return 0, err
	}
	var pending [][]byte // ascending
	err = o.store.ScanMeta(ctx, NSPending, []byte(prefix), func(k, _ []byte) error {
		pending = append(pending, k)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: enqueue: %w", err)
	}
	fresh := len(writes)
	excess := len(pending) + fresh - limit
	for _, k := range pending {
		if excess <= 0 {
			break
		}
		if o.isInflight(string(k)) {
			continue
		}
		writes = append(writes, storage.MetaWrite{NS: NSPending, Key: k, Delete: true})
		excess--
		dropped++
	}
	if excess > 0 {
		// Every older item is in flight: leave out the first new ones
		// (writes holds the new items first, then the deletions).
		excess = min(excess, fresh)
		writes = writes[excess:]
		queued = queued[excess:]
		dropped += excess
	}
	// The dropped items are counted under the kind of the new ones: a
	// prefix holds one producer's items, of one kind.
	if len(writes) == 0 {
		o.dropped.Add(uint64(dropped))
		o.byKind(items[0].Kind).dropped.Add(uint64(dropped))
		return dropped, nil
	}
	if err := o.store.ApplyMeta(ctx, writes); err != nil {
		return 0, fmt.Errorf("outbox: enqueue: %w", err)
	}
	o.dropped.Add(uint64(dropped))
	o.byKind(items[0].Kind).dropped.Add(uint64(dropped))
	if dropped > 0 {
		o.log.Warn("outbox: over the cap, oldest pending items dropped", "prefix", prefix, "limit", limit, "dropped", dropped)
	}
	o.queued(queued)
	return dropped, nil
}

// Kick wakes Run for a pass over the queue, after an ApplyMeta of Writes
// done by the caller. It never blocks.
func (o *Outbox) Kick() {
	o.mu.Lock()
	o.rescan = true
	o.mu.Unlock()
	o.wake()
}

// maxFresh bounds the items Run is handed directly; past it, it scans.
const maxFresh = 1024

// queued hands items just written by Enqueue to Run, which starts them
// without a pass over the whole queue: a pass reads every pending item,
// and a sign-in e-mail should not wait for a read of a webhook backlog.
func (o *Outbox) queued(items []Item) {
	o.mu.Lock()
	if len(o.fresh)+len(items) <= maxFresh {
		o.fresh = append(o.fresh, items...)
	} else {
		o.rescan = true
	}
	o.mu.Unlock()
	o.wake()
}

func (o *Outbox) wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Pending returns the queued items, by ID. Stored items that do not decode
// are left out and reported in the error (wrapping storage.ErrCorrupt),
// together with the items that do.
func (o *Outbox) Pending(ctx context.Context) ([]Item, error) {
	return o.list(ctx, NSPending)
}

// Dead returns the dead letters, by ID, with their last error.
func (o *Outbox) Dead(ctx context.Context) ([]Item, error) {
	return o.list(ctx, NSDead)
}

func (o *Outbox) list(ctx context.Context, ns string) ([]Item, error) {
	var items []Item
	var bad []error
	err := o.store.ScanMeta(ctx, ns, nil, func(k, v []byte) error {
		it, err := decodeItem(k, v)
		if err != nil {
			bad = append(bad, err)
			return nil
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		return items, fmt.Errorf("outbox: list %s: %w", ns, err)
	}
	return items, errors.Join(bad...)
}

// Retry moves a dead letter back to the queue, due now, with its attempts
// reset: for an operator who fixed the cause. A dead letter whose payload
// its lane's DeadPayload cut (a webhook's) fails again for good. storage.ErrNotFound if there
// is no dead letter id.
func (o *Outbox) Retry(ctx context.Context, id string) error {
	o.enqMu.Lock()
	defer o.enqMu.Unlock()
	v, err := o.store.GetMeta(ctx, NSDead, []byte(id))
	if err != nil {
		return fmt.Errorf("outbox: retry %q: %w", id, err)
	}
	it, err := decodeItem([]byte(id), v)
	if err != nil {
		return fmt.Errorf("outbox: retry: %w", err)
	}
	it.Attempts, it.LastError, it.NextAt = 0, "", o.cfg.Now().UnixMilli()
	o.deadMu.Lock()
	err = o.store.ApplyMeta(ctx, []storage.MetaWrite{
		{NS: NSDead, Key: []byte(id), Delete: true},
		{NS: NSPending, Key: []byte(id), Val: encodeItem(it)},
	})
	if err == nil {
		o.deadAdded(it.Kind, -1)
	}
	o.deadMu.Unlock()
	if err != nil {
		return fmt.Errorf("outbox: retry %q: %w", id, err)
	}
	o.Kick()
	return nil
}
