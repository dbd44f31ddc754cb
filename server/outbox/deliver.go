package outbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/corkboard/corkboard/storage"
)

// Delivery: the run loop, lanes and slots, attempts, back-off, pruning.

// RunDue makes one pass: it attempts every item due now (NextAt <= Now())
// that is not already being attempted, within the limits of its lane, and
// returns when those attempts have ended, with how many succeeded. Items
// of a destination that is backed off are left for a later pass. The error
// is a store error (reading the queue, recording an outcome), not a
// delivery failure: those are recorded on the items.
func (o *Outbox) RunDue(ctx context.Context) (delivered int, err error) {
	o.prune(ctx)
	var (
		n      int
		errs   []error
		active int
		tried  = map[string]bool{}
		ended  = make(chan error)
	)
	wait := func() {
		err := <-ended
		active--
		if err == nil {
			n++
		} else if !errors.Is(err, errNotDelivered) {
			errs = append(errs, err)
		}
	}
	for {
		due, _, err := o.scan(ctx)
		if err != nil {
			errs = append(errs, err)
			for active > 0 {
				wait()
			}
			return n, errors.Join(errs...)
		}
		for _, it := range due {
			if tried[it.ID] {
				continue
			}
			started, _ := o.start(ctx, it, func(ok bool, err error) {
				if err == nil && !ok {
					err = errNotDelivered
				}
				ended <- err
			})
			if started {
				tried[it.ID] = true
				active++
			}
		}
		if active == 0 {
			return n, errors.Join(errs...)
		}
		if ctx.Err() != nil {
			for active > 0 {
				wait()
			}
			return n, ctx.Err()
		}
		// A slot frees up: look again for what it lets start.
		wait()
	}
}

// errNotDelivered marks, inside RunDue, an attempt that failed without a
// store error.
var errNotDelivered = errors.New("not delivered")

// Run delivers until ctx ends: it starts due items as the slots of their
// lanes and destinations free up, then sleeps until the earliest NextAt
// (or end of a destination's backoff), a Kick, or the end of an attempt.
// It returns after the attempts it started have ended (they see ctx
// cancelled), so the caller may close the store then. An attempt cut short
// by ctx is not counted as a failure: the item stays as it was.
func (o *Outbox) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	full, next := true, int64(0)
	var fresh []Item
	for {
		var due []Item
		if full {
			// Items enqueued from here on are handed over again; those
			// before are in the store for the scan.
			o.mu.Lock()
			o.fresh, o.rescan = nil, false
			o.mu.Unlock()
			o.prune(ctx)
			var err error
			due, next, err = o.scan(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				o.log.Error("outbox: reading the queue", "err", err)
				next = o.cfg.Now().Add(o.cfg.MinBackoff).UnixMilli()
			}
		} else {
			// Only newly enqueued items: start them, no scan. One that
			// cannot start now is found by the scan after the next
			// attempt ends, or when the timer fires.
			now := o.cfg.Now().UnixMilli()
			for _, it := range fresh {
				if it.NextAt <= now {
					due = append(due, it)
				} else if next == 0 || it.NextAt < next {
					next = it.NextAt
				}
			}
		}
		for _, it := range due {
			if ctx.Err() != nil {
				break
			}
			wg.Add(1)
			started, retryAt := o.start(ctx, it, func(_ bool, err error) {
				defer wg.Done()
				if err != nil && ctx.Err() == nil {
					o.log.Error("outbox: recording an outcome", "id", it.ID, "err", err)
				}
				// A slot is free: the next pass may start what waited.
				o.Kick()
			})
			if !started {
				wg.Done()
			}
			if retryAt != 0 && (next == 0 || retryAt < next) {
				next = retryAt
			}
		}
		var wake <-chan time.Time
		if next != 0 {
			d := time.Duration(next-o.cfg.Now().UnixMilli()) * time.Millisecond
			timer.Reset(max(d, 0))
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-o.kick:
			o.mu.Lock()
			full, fresh = o.rescan, o.fresh
			o.fresh, o.rescan = nil, false
			o.mu.Unlock()
		case <-wake:
			full = true
		}
	}
}

// scan reads the queue: the due items not in flight (oldest NextAt first,
// without their payloads: start reads the item again whole)
// and the earliest NextAt of the others not in flight (0 if none). Stored
// items that do not decode are moved to the dead letters, raw, so that an
// operator can look at them and they stop failing every pass.
func (o *Outbox) scan(ctx context.Context) (due []Item, next int64, err error) {
	now := o.cfg.Now().UnixMilli()
	type raw struct{ key, val []byte }
	var corrupt []raw
	var cerrs []error
	err = o.store.ScanMeta(ctx, NSPending, nil, func(k, v []byte) error {
		it, err := decodeHeader(k, v)
		if err != nil {
			corrupt = append(corrupt, raw{k, v})
			cerrs = append(cerrs, err)
			return nil
		}
		if o.isInflight(it.ID) {
			return nil
		}
		if it.NextAt <= now {
			due = append(due, it)
		} else if next == 0 || it.NextAt < next {
			next = it.NextAt
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: scan: %w", err)
	}
	for i, c := range corrupt {
		if err := o.quarantine(ctx, c.key, c.val, cerrs[i]); err != nil {
			return nil, 0, err
		}
	}
	slices.SortFunc(due, func(a, b Item) int {
		return cmp.Or(cmp.Compare(a.NextAt, b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	return due, next, nil
}

// quarantine moves a stored item that does not decode to the dead
// letters, raw, so that an operator can look at it and it stops failing
// every pass.
func (o *Outbox) quarantine(ctx context.Context, key, val []byte, cause error) error {
	o.log.Error("outbox: moving an undecodable item to the dead letters", "key", fmt.Sprintf("%q", key), "err", cause)
	dead := Item{ID: string(key), Kind: "corrupt", Payload: val, Created: o.cfg.Now().UnixMilli(), LastError: truncateError(cause.Error())}
	o.deadMu.Lock()
	err := o.store.ApplyMeta(ctx, []storage.MetaWrite{
		{NS: NSPending, Key: key, Delete: true},
		{NS: NSDead, Key: key, Val: encodeItem(dead)},
	})
	if err == nil {
		o.deadAdded(dead.Kind, 1)
	}
	o.deadMu.Unlock()
	if err != nil {
		return fmt.Errorf("outbox: quarantine %q: %w", key, err)
	}
	o.dead.Add(1)
	o.byKind(dead.Kind).dead.Add(1)
	return nil
}

func (o *Outbox) isInflight(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.inflight[id]
}

// lane returns the lane of kind, with its defaults filled in.
func (o *Outbox) lane(kind string) Lane {
	l := o.cfg.Lanes[kind]
	if l.Concurrency <= 0 {
		l.Concurrency = o.cfg.Concurrency
	}
	if l.AttemptTimeout <= 0 {
		l.AttemptTimeout = o.cfg.AttemptTimeout
	}
	return l
}

// slot is what a started attempt holds: its claim on the item, a slot of
// its lane and one of its destination.
type slot struct {
	id, kind, dest string // dest: the destination key, "" if none
	group          string // the group key, "" if none
	timeout        time.Duration
}

// groupOf is the group of an item's ID in lane l ("" if none): the
// Lane.Group's answer, if it is a prefix of the ID.
func groupOf(l Lane, id string) string {
	if l.Group == nil {
		return ""
	}
	if g := l.Group(id); g != "" && strings.HasPrefix(id, g) {
		return g
	}
	return ""
}

// start starts an attempt of an item found by scan, in a goroutine that
// calls done with the outcome of attempt once the slot is released. It
// does not start it (false) when the item is in flight, its lane, its
// destination or its group has no free slot, its destination is backed off (retryAt is
// then the unix ms at which that ends), or the item is no longer queued
// and due.
func (o *Outbox) start(ctx context.Context, it Item, done func(delivered bool, err error)) (started bool, retryAt int64) {
	l := o.lane(it.Kind)
	s := slot{id: it.ID, kind: it.Kind, timeout: l.AttemptTimeout}
	if it.Dest != "" {
		s.dest = it.Kind + "\x00" + it.Dest
	}
	if g := groupOf(l, it.ID); g != "" && l.PerGroup > 0 {
		s.group = it.Kind + "\x00" + g
	}
	now := o.cfg.Now().UnixMilli()
	o.mu.Lock()
	switch {
	case o.inflight[it.ID], o.running[it.Kind] >= l.Concurrency:
		o.mu.Unlock()
		return false, 0
	case s.dest != "" && l.PerDestination > 0 && o.destBusy[s.dest] >= l.PerDestination:
		o.mu.Unlock()
		return false, 0
	case s.group != "" && o.groupBusy[s.group] >= l.PerGroup:
		o.mu.Unlock()
		return false, 0
	case s.dest != "" && o.dests[s.dest] != nil && o.dests[s.dest].until > now:
		until := o.dests[s.dest].until
		o.mu.Unlock()
		return false, until
	}
	o.inflight[it.ID] = true
	o.running[it.Kind]++
	if s.dest != "" {
		o.destBusy[s.dest]++
	}
	if s.group != "" {
		o.groupBusy[s.group]++
	}
	o.mu.Unlock()
	fresh, ok := o.reread(ctx, it)
	if !ok {
		o.release(s)
		return false, 0
	}
	go func() {
		ok, err := o.attempt(ctx, fresh, s)
		o.release(s)
		done(ok, err)
	}()
	return true, 0
}

// reread reads a claimed item found by scan again: the scan's view may
// predate an attempt that ended (and released its claim) while the scan
// ran, and that attempt may have removed the item or moved its NextAt. The
// attempt writes the store before it releases the claim, so once the claim
// is ours the store has its outcome. Returns the fresh item and true if it
// is still queued and due.
func (o *Outbox) reread(ctx context.Context, scanned Item) (Item, bool) {
	v, err := o.store.GetMeta(ctx, NSPending, []byte(scanned.ID))
	if err == nil {
		it, err := decodeItem([]byte(scanned.ID), v)
		if err == nil && it.NextAt <= o.cfg.Now().UnixMilli() {
			return it, true
		}
		if err != nil {
			// Its header decoded (scan) but not the whole of it.
			if qerr := o.quarantine(ctx, []byte(scanned.ID), v, err); qerr != nil {
				o.log.Error("outbox: quarantine failed", "err", qerr)
			}
		}
	}
	return Item{}, false
}

// release gives back what start took.
func (o *Outbox) release(s slot) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.inflight, s.id)
	if o.running[s.kind]--; o.running[s.kind] <= 0 {
		delete(o.running, s.kind)
	}
	if s.dest != "" {
		if o.destBusy[s.dest]--; o.destBusy[s.dest] <= 0 {
			delete(o.destBusy, s.dest)
		}
	}
	if s.group != "" {
		if o.groupBusy[s.group]--; o.groupBusy[s.group] <= 0 {
			delete(o.groupBusy, s.group)
		}
	}
}

// destOutcome records how an attempt to a destination went: a transient
// failure backs the destination off (consecutive failures count like an
// item's attempts), anything else clears it.
func (o *Outbox) destOutcome(dest string, transient bool) {
	if dest == "" {
		return
	}
	if !transient {
		o.mu.Lock()
		delete(o.dests, dest)
		o.mu.Unlock()
		return
	}
	o.mu.Lock()
	d := o.dests[dest]
	if d == nil {
		d = &destination{}
		o.dests[dest] = d
	}
	d.failures++
	failures := d.failures
	o.mu.Unlock()
	until := o.cfg.Now().Add(o.backoff(failures)).UnixMilli()
	o.mu.Lock()
	d.until = max(d.until, until)
	o.mu.Unlock()
}

// BackedOff returns the destinations of kind that are backed off now, with
// the unix ms at which that ends: for operators and tests.
func (o *Outbox) BackedOff(kind string) map[string]int64 {
	now := o.cfg.Now().UnixMilli()
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int64{}
	for k, d := range o.dests {
		if k, ok := strings.CutPrefix(k, kind+"\x00"); ok && d.until > now {
			out[k] = d.until
		}
	}
	return out
}

func (o *Outbox) deliverer(kind string) Deliverer {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deliverers[kind]
}

// deliver calls d, turning a panic into an error: one bad payload must not
// take the node down, and it is retried (and dead-lettered) like any other
// failure.
func deliver(ctx context.Context, d Deliverer, it Item) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("deliverer panicked: %v", r)
		}
	}()
	return d.Deliver(ctx, it)
}

// attempt delivers a claimed item once and records the outcome: removal
// with a done marker, a retry with backoff, or a dead letter. delivered
// reports success; err is a store error recording the outcome (a delivered
// item whose removal failed stays queued and is sent again).
func (o *Outbox) attempt(ctx context.Context, it Item, s slot) (delivered bool, err error) {
	var derr error
	if d := o.deliverer(it.Kind); d == nil {
		derr = fmt.Errorf("no deliverer registered for kind %q", it.Kind)
	} else {
		actx, cancel := context.WithTimeout(ctx, s.timeout)
		derr = deliver(actx, d, it)
		cancel()
	}
	if derr == nil || ctx.Err() == nil {
		o.destOutcome(s.dest, derr != nil && !IsPermanent(derr))
	}
	now := o.cfg.Now()
	key := []byte(it.ID)
	// The outcome is recorded even while shutting down: the send happened.
	wctx := context.WithoutCancel(ctx)
	if derr == nil {
		writes := []storage.MetaWrite{{NS: NSPending, Key: key, Delete: true}}
		if o.cfg.KeepDone > 0 {
			writes = append(writes, storage.MetaWrite{NS: NSDone, Key: key, Val: binary.AppendVarint(nil, now.UnixMilli())})
		}
		if err := o.store.ApplyMeta(wctx, writes); err != nil {
			return false, fmt.Errorf("outbox: record delivery of %q: %w", it.ID, err)
		}
		o.delivered.Add(1)
		o.byKind(it.Kind).delivered.Add(1)
		return true, nil
	}
	if ctx.Err() != nil {
		return false, nil
	}
	it.Attempts++
	it.LastError = truncateError(derr.Error())
	if IsPermanent(derr) || it.Attempts >= o.cfg.MaxAttempts {
		if err := o.bury(wctx, it); err != nil {
			return false, fmt.Errorf("outbox: record dead letter %q: %w", it.ID, err)
		}
		o.dead.Add(1)
		o.byKind(it.Kind).dead.Add(1)
		o.log.Error("outbox: delivery failed for good", "id", it.ID, "kind", it.Kind, "attempts", it.Attempts, "err", derr)
		return false, nil
	}
	it.NextAt = now.Add(o.backoff(it.Attempts)).UnixMilli()
	if err := o.store.PutMeta(wctx, NSPending, key, encodeItem(it)); err != nil {
		return false, fmt.Errorf("outbox: record failed attempt of %q: %w", it.ID, err)
	}
	o.retried.Add(1)
	o.byKind(it.Kind).retried.Add(1)
	o.log.Warn("outbox: delivery failed, will retry", "id", it.ID, "kind", it.Kind, "attempts", it.Attempts,
		"next", time.UnixMilli(it.NextAt).UTC().Format(time.RFC3339), "err", derr)
	return false, nil
}

// bury moves an item that failed for good from the queue to the dead
// letters, with what its lane's DeadPayload keeps of its payload, and
// deletes its group's oldest dead letters past the lane's DeadPerGroup
// (the item itself, if its ID is the smallest: it is then not kept).
//
// The group's dead letters are found by a scan of its prefix, which the
// bound keeps short. Rejected: a bound on all the dead letters of a kind
// (one board's failures would push out every other board's).
func (o *Outbox) bury(ctx context.Context, it Item) error {
	l := o.lane(it.Kind)
	key := []byte(it.ID)
	if l.DeadPayload != nil {
		it.Payload = l.DeadPayload(it)
	}
	writes := []storage.MetaWrite{{NS: NSPending, Key: key, Delete: true}}
	o.deadMu.Lock()
	defer o.deadMu.Unlock()
	keep, gone := true, map[string]int{} // gone: dead letters deleted, by kind
	if g := groupOf(l, it.ID); g != "" && l.DeadPerGroup > 0 {
		type letter struct {
			key  []byte
			kind string
		}
		var letters []letter // ascending by ID
		mine := letter{key, it.Kind}
		err := o.store.ScanMeta(ctx, NSDead, []byte(g), func(k, v []byte) error {
			if string(k) == it.ID {
				return nil
			}
			if mine.key != nil && string(k) > it.ID {
				letters, mine.key = append(letters, mine), nil
			}
			kind := "corrupt"
			if h, err := decodeHeader(k, v); err == nil {
				kind = h.Kind
			}
			letters = append(letters, letter{bytes.Clone(k), kind})
			return nil
		})
		if err != nil {
			return err
		}
		if mine.key != nil {
			letters = append(letters, mine)
		}
		for _, d := range letters[:max(len(letters)-l.DeadPerGroup, 0)] {
			if string(d.key) == it.ID {
				keep = false
				continue
			}
			writes = append(writes, storage.MetaWrite{NS: NSDead, Key: d.key, Delete: true})
			gone[d.kind]++
		}
	}
	if keep {
		writes = append(writes, storage.MetaWrite{NS: NSDead, Key: key, Val: encodeItem(it)})
	}
	if err := o.store.ApplyMeta(ctx, writes); err != nil {
		return err
	}
	if keep {
		o.deadAdded(it.Kind, 1)
	}
	for kind, n := range gone {
		o.deadAdded(kind, -n)
	}
	return nil
}

// countDead counts the stored dead letters by kind, once (New): from then
// on their count is kept as they are written and deleted. If the store
// cannot be read, CountsByKind scans them instead.
func (o *Outbox) countDead() {
	n := make(map[string]int)
	err := o.store.ScanMeta(context.Background(), NSDead, nil, func(k, v []byte) error {
		kind := "corrupt"
		if it, err := decodeHeader(k, v); err == nil {
			kind = it.Kind
		}
		n[kind]++
		return nil
	})
	if err != nil {
		o.log.Warn("outbox: counting the dead letters", "err", err)
		return
	}
	o.deadMu.Lock()
	o.deadByKind, o.deadCounted = n, true
	o.deadMu.Unlock()
}

// deadAdded counts d more dead letters of kind (under deadMu).
func (o *Outbox) deadAdded(kind string, d int) {
	if !o.deadCounted {
		return
	}
	if o.deadByKind[kind] += d; o.deadByKind[kind] <= 0 {
		delete(o.deadByKind, kind)
	}
}

// backoff is the delay after the given number of failed attempts (>= 1):
// MinBackoff doubled per earlier failure, capped at MaxBackoff, then drawn
// uniformly from [d/2, d].
func (o *Outbox) backoff(attempts int) time.Duration {
	d := o.cfg.MinBackoff
	for i := 1; i < attempts && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	o.mu.Lock()
	j := o.rng.Int64N(int64(d/2) + 1)
	o.mu.Unlock()
	return d - d/2 + time.Duration(j)
}

// pruneEvery is how often done markers older than KeepDone are deleted.
const pruneEvery = time.Hour

// prune deletes expired done markers, at most once per pruneEvery. A
// failure is logged and tried again next time: stale markers only delay a
// re-enqueue of the same ID.
func (o *Outbox) prune(ctx context.Context) {
	if o.cfg.KeepDone < 0 {
		return
	}
	now := o.cfg.Now()
	o.mu.Lock()
	if !o.lastPrune.IsZero() && now.Sub(o.lastPrune) < pruneEvery {
		o.mu.Unlock()
		return
	}
	o.lastPrune = now
	o.mu.Unlock()
	cutoff := now.Add(-o.cfg.KeepDone).UnixMilli()
	var writes []storage.MetaWrite
	err := o.store.ScanMeta(ctx, NSDone, nil, func(k, v []byte) error {
		if at, n := binary.Varint(v); n <= 0 || at < cutoff {
			writes = append(writes, storage.MetaWrite{NS: NSDone, Key: k, Delete: true})
		}
		return nil
	})
	for len(writes) > 0 && err == nil {
		batch := writes[:min(len(writes), 1000)]
		writes = writes[len(batch):]
		err = o.store.ApplyMeta(ctx, batch)
	}
	if err != nil && ctx.Err() == nil {
		o.log.Warn("outbox: pruning delivered markers", "err", err)
	}
}

// CountsByKind returns how many items are queued and how many are dead
// letters, by kind: for gauges. The queue is scanned, decoding each
// item's header but not its payload (decodeHeader); the dead letters'
// count is the one kept (countDead). An item that does not decode counts
// under "corrupt".
func (o *Outbox) CountsByKind(ctx context.Context) (pending, dead map[string]int, err error) {
	count := func(ns string) (map[string]int, error) {
		n := make(map[string]int)
		err := o.store.ScanMeta(ctx, ns, nil, func(k, v []byte) error {
			kind := "corrupt"
			if it, err := decodeHeader(k, v); err == nil {
				kind = it.Kind
			}
			n[kind]++
			return nil
		})
		return n, err
	}
	if pending, err = count(NSPending); err != nil {
		return nil, nil, fmt.Errorf("outbox: count: %w", err)
	}
	o.deadMu.Lock()
	if o.deadCounted {
		dead = maps.Clone(o.deadByKind)
	}
	o.deadMu.Unlock()
	if dead != nil {
		return pending, dead, nil
	}
	if dead, err = count(NSDead); err != nil {
		return nil, nil, fmt.Errorf("outbox: count: %w", err)
	}
	return pending, dead, nil
}

// Counts returns how many items are queued and how many are dead letters,
// without decoding them: for a gauge. A full scan of both namespaces.
func (o *Outbox) Counts(ctx context.Context) (pending, dead int, err error) {
	count := func(ns string) (int, error) {
		n := 0
		err := o.store.ScanMeta(ctx, ns, nil, func(k, v []byte) error {
			n++
			return nil
		})
		return n, err
	}
	if pending, err = count(NSPending); err != nil {
		return 0, 0, fmt.Errorf("outbox: count: %w", err)
	}
	if dead, err = count(NSDead); err != nil {
		return 0, 0, fmt.Errorf("outbox: count: %w", err)
	}
	return pending, dead, nil
}
