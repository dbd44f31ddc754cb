package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/activity"
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
	// MaxEvents is how many events (one per element and action) a window
	// holds (default 10,000): one change may create tens of thousands of
	// elements, and the window is held, and folded, on the one goroutine
	// of every board's webhooks. Past it, events of new elements are
	// left out and the delivery says "truncated".
	MaxEvents int
	// MaxBytes bounds the JSON of a delivery's events and authors
	// (default 3 MiB, at most outbox.MaxPayloadLen less 64 KiB for the
	// rest of the request): the outbox refuses a larger payload, and a
	// refused window reached none of the board's webhooks. Past it, the
	// window's later events are left out and the delivery says
	// "truncated".
	MaxBytes int
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
	// PerBoard is how many calls of one board's webhooks run at once
	// (default 2), whatever their hosts: one slow receiver may answer to
	// any number of host names.
	PerBoard int
	// DeadPerBoard is how many of a board's deliveries that failed for
	// good are kept as dead letters (default 10; the newest), each
	// without its body or secret (webhook.DeadPayload).
	DeadPerBoard int
	// Timeout bounds one call (default 10s).
	Timeout time.Duration
}

// Defaults fills the zero limits with the stated defaults.
func (l *WebhookLimits) Defaults() {
	if l.MaxPerBoard <= 0 {
		l.MaxPerBoard = 10
	}
	if l.Debounce == 0 {
		l.Debounce = 2 * time.Second
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = 1000
	}
	if l.MaxEvents <= 0 {
		l.MaxEvents = 10000
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 3 << 20
	}
	l.MaxBytes = min(l.MaxBytes, maxBodyBytes)
	if l.MaxPending <= 0 {
		l.MaxPending = 1000
	}
	if l.Concurrency <= 0 {
		l.Concurrency = 8
	}
	if l.PerDestination <= 0 {
		l.PerDestination = 2
	}
	if l.PerBoard <= 0 {
		l.PerBoard = 2
	}
	if l.DeadPerBoard <= 0 {
		l.DeadPerBoard = 10
	}
	if l.Timeout <= 0 {
		l.Timeout = 10 * time.Second
	}
}

// OutboxLanes are the outbox's delivery lanes: mail keeps the outbox's
// default of 4 slots to itself; webhooks get theirs, per destination.
func (l *WebhookLimits) OutboxLanes() map[string]outbox.Lane {
	return map[string]outbox.Lane{
		webhook.Kind: {
			Concurrency:    l.Concurrency,
			PerDestination: l.PerDestination,
			AttemptTimeout: l.Timeout,
			Destination:    webhook.Destination,
			Group:          webhookBoard,
			PerGroup:       l.PerBoard,
			DeadPerGroup:   l.DeadPerBoard,
			DeadPayload:    webhook.DeadPayload,
		},
	}
}

// webhookBoard is the group of a webhook delivery in the outbox: the
// prefix of its ID that names its board, "webhook/<board>/" (as
// QueueWebhooks makes them), or "" for an ID of another form.
func webhookBoard(id string) string {
	rest, ok := strings.CutPrefix(id, "webhook/")
	if !ok {
		return ""
	}
	board, _, ok := strings.Cut(rest, "/")
	if !ok || board == "" {
		return ""
	}
	return "webhook/" + board + "/"
}

// maxBodyBytes is the most WebhookLimits.MaxBytes may be: the outbox's
// bound on a payload, less room for the rest of the request (its URL of
// up to 2,000 bytes, its secret, the body's other fields).
const maxBodyBytes = outbox.MaxPayloadLen - 64<<10

// hookBatch is one window of a board's webhook events since its last
// delivery: the events of its first MaxBatch changes, folded per element
// and action (at most MaxEvents of them), and how many changes there
// were.
type hookBatch struct {
	due       time.Time // when the window ends
	events    []activity.Event
	index     map[eventKey]int // events by element and action: where each is in events
	probes    int              // events looked up while folding: the merge's work, one per event folded
	kept      int              // changes the events describe
	count     int              // changes in the window, described or not
	firstSeq  uint64           // log positions of the window's first and last changes
	lastSeq   uint64
	truncated bool
}

// eventKey is what a window folds events by.
type eventKey struct {
	element string
	action  activity.Action
}

// add folds an accepted batch into the window, describing at most
// maxChanges changes and maxEvents events in all: the rest are only
// counted.
func (b *hookBatch) add(a acceptedBatch, maxChanges, maxEvents int) {
	if b.count == 0 {
		b.firstSeq = a.firstSeq
	}
	b.count += a.count
	b.lastSeq = a.lastSeq
	if a.truncated {
		b.truncated = true
	}
	for _, evs := range a.changes {
		if b.kept >= maxChanges {
			b.truncated = true
			return
		}
		b.kept++
		if !b.merge(evs, maxEvents) {
			b.truncated = true
		}
	}
}

// merge folds later events into the window's: one event per element and
// action, its authors in order of first action, its count summed, its
// text and time the latest. An event of an element and action the window
// does not have yet is left out once it holds maxEvents (false: some
// were). Each event is found by the index, so a change of N elements
// costs O(N), not O(N × the window's events).
func (b *hookBatch) merge(later []activity.Event, maxEvents int) bool {
	if b.index == nil {
		b.index = make(map[eventKey]int)
	}
	all := true
	for _, e := range later {
		b.probes++
		k := eventKey{e.Element, e.Action}
		i, ok := b.index[k]
		if !ok {
			if len(b.events) >= maxEvents {
				all = false
				continue
			}
			b.index[k] = len(b.events)
			b.events = append(b.events, e)
			continue
		}
		x := &b.events[i]
		for _, by := range e.By {
			if !slices.Contains(x.By, by) {
				x.By = append(x.By, by)
			}
		}
		for _, m := range e.Mentions {
			if !slices.Contains(x.Mentions, m) {
				x.Mentions = append(x.Mentions, m)
			}
		}
		x.Count += e.Count
		x.Text, x.Target, x.TargetText, x.At = e.Text, e.Target, e.TargetText, max(x.At, e.At)
		x.On, x.OnText = e.On, e.OnText
	}
	return all
}

// QueueWebhooks enqueues one delivery of an event to each of the board's
// webhooks that wants it. key makes the delivery ids deterministic and
// must sort by age among the board's keys (the oldest deliveries are the
// ones dropped past WebhookLimits.MaxPending).
func (nt *Notifier) QueueWebhooks(ctx context.Context, id storage.BoardID, event, key string, payload map[string]any) {
	hooks := nt.cfg.Boards.Webhooks(ctx, id)
	if len(hooks) == 0 {
		return
	}
	prefix := "webhook/" + id.String() + "/"
	var items []outbox.Item
	for _, wh := range hooks {
		if !wh.Wants(event) {
			continue
		}
		did := prefix + key + "/" + wh.ID
		body := map[string]any{"id": did, "event": event, "board": id.String(), "at": nt.cfg.Now().UnixMilli()}
		for k, v := range payload {
			body[k] = v
		}
		b, _ := json.Marshal(body)
		req, _ := json.Marshal(webhook.Request{ID: did, URL: wh.URL, Event: event, Body: b, Secret: wh.Secret, Format: wh.Format})
		items = append(items, outbox.Item{ID: did, Kind: webhook.Kind, Payload: req})
	}
	if len(items) > 0 {
		if _, err := nt.cfg.Outbox.EnqueueCapped(ctx, prefix, nt.cfg.Webhooks.MaxPending, items...); err != nil {
			nt.cfg.Log.Warn("webhooks: enqueue failed", "board", id.String(), "err", err)
		}
	}
}

// acceptedBatch is one accepted batch of a board's changes, described,
// on its way to the webhook worker.
type acceptedBatch struct {
	board             storage.BoardID
	changes           [][]activity.Event // the events of each change described
	count             int                // changes in the batch
	firstSeq, lastSeq uint64
	truncated         bool // some were not described
}

// OnAccepted is room.Config.Accepted. For a board with webhooks, it
// describes the accepted changes right away, on the room's goroutine,
// against doc as they left it (at most WebhookLimits.MaxBatch of them),
// and hands the events to the webhook worker without blocking the room (a
// full queue drops the batch, logged: webhooks are at most as durable as
// this hand-off; the outbox is durable from the enqueue on). So an event
// says what the change did when it was made, and the worker never loads
// the board again to tell it.
func (nt *Notifier) OnAccepted(board storage.BoardID, recs []storage.Record, doc *crdt.Doc) {
	if len(recs) == 0 || !nt.hasWebhooks(board) {
		return
	}
	a := acceptedBatch{board: board, count: len(recs), firstSeq: recs[0].Seq, lastSeq: recs[len(recs)-1].Seq}
	keep := recs
	if len(keep) > nt.cfg.Webhooks.MaxBatch {
		keep, a.truncated = keep[:nt.cfg.Webhooks.MaxBatch], true
	}
	// Each change on its own, so a window can describe exactly its first
	// MaxBatch changes however they were batched. At most MaxEvents events
	// in all wait in the hand-off (a window holds no more): a change of
	// 40,000 elements is 40,000 events.
	events := 0
	for _, rec := range keep {
		if events >= nt.cfg.Webhooks.MaxEvents {
			a.truncated = true
			break
		}
		if c, err := activity.FromRecord(rec); err == nil {
			evs := activity.Since(doc, []activity.Change{c})
			if left := nt.cfg.Webhooks.MaxEvents - events; len(evs) > left {
				evs, a.truncated = evs[:left], true
			}
			events += len(evs)
			a.changes = append(a.changes, evs)
		}
	}
	select {
	case nt.accepted <- a:
	default:
		nt.cfg.Log.Warn("webhooks: queue full, events dropped", "board", board.String(), "changes", len(recs))
	}
}

// hasWebhooks says whether a board has webhooks, from a cache of the
// view's answer that WebhooksChanged clears.
func (nt *Notifier) hasWebhooks(board storage.BoardID) bool {
	nt.mu.Lock()
	has, ok := nt.hooked[board]
	nt.mu.Unlock()
	if ok {
		return has
	}
	has = len(nt.cfg.Boards.Webhooks(context.Background(), board)) > 0
	nt.mu.Lock()
	if len(nt.hooked) >= maxHookedCache {
		clear(nt.hooked)
	}
	nt.hooked[board] = has
	nt.mu.Unlock()
	return has
}

// maxHookedCache bounds hasWebhooks' cache (cleared when full).
const maxHookedCache = 100000

// WebhooksChanged clears what hasWebhooks knows of a board: one of its
// webhooks was made or deleted, on this node or another.
func (nt *Notifier) WebhooksChanged(board storage.BoardID) {
	nt.mu.Lock()
	delete(nt.hooked, board)
	nt.mu.Unlock()
}

// WebhookWorker turns accepted changes into webhook deliveries, debounced:
// a board's changes are gathered from the first one for
// WebhookLimits.Debounce, then delivered as one POST per webhook and event
// class (element, comment, vote) carrying all of them, folded as in
// /changes. So a webhook gets at most three POSTs per window however busy
// the board, and a receiver that is down costs the outbox a few items per
// window, not one per change.
//
// The window is held in memory, like the hand-off queue before it: the
// changes of the last window before a crash or shutdown are not
// delivered. Rejected: a durable per-board cursor of what was delivered
// (like the e-mail notifier's), which survives restarts but is a
// replicated write per board per window and needs a leader; webhooks were
// never promised more than the hand-off gives.
func (nt *Notifier) WebhookWorker(ctx context.Context) {
	lim := nt.cfg.Webhooks
	batches := map[storage.BoardID]*hookBatch{}
	var first time.Time // the earliest end of a window; zero: no window open
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var wake <-chan time.Time
		if !first.IsZero() {
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case a := <-nt.accepted:
			if lim.Debounce < 0 {
				b := &hookBatch{}
				b.add(a, lim.MaxBatch, lim.MaxEvents)
				nt.deliverBatch(ctx, a.board, b)
				continue
			}
			b := batches[a.board]
			if b == nil {
				b = &hookBatch{due: time.Now().Add(lim.Debounce)}
				batches[a.board] = b
				if first.IsZero() || b.due.Before(first) {
					first = b.due
					timer.Reset(max(time.Until(first), 0))
				}
			}
			b.add(a, lim.MaxBatch, lim.MaxEvents)
		case <-wake:
			now := time.Now()
			first = time.Time{}
			for board, b := range batches {
				if !b.due.After(now) {
					delete(batches, board)
					nt.deliverBatch(ctx, board, b)
				} else if first.IsZero() || b.due.Before(first) {
					first = b.due
				}
			}
			if !first.IsZero() {
				timer.Reset(max(time.Until(first), 0))
			}
		}
	}
}

// deliverBatch queues the deliveries of one window of a board's changes.
func (nt *Notifier) deliverBatch(ctx context.Context, board storage.BoardID, b *hookBatch) {
	for _, c := range b.bodies(nt.cfg.Webhooks.MaxBytes) {
		key := fmt.Sprintf("%016x-%016x/%s", b.firstSeq, b.lastSeq, c.class)
		nt.QueueWebhooks(ctx, board, c.class, key, map[string]any{
			"events": c.events, "authors": c.authors, "changes": c.changes, "truncated": c.truncated,
			"seq": []uint64{b.firstSeq, b.lastSeq},
		})
	}
}

// classBody is what one delivery of a window says: its class's events
// (a JSON array), their authors and changes.
type classBody struct {
	class     string
	events    json.RawMessage
	authors   []string
	changes   int
	truncated bool
}

// bodies splits the window's events by class (element, comment, vote),
// each class's events and authors encoded within maxBytes of JSON: the
// events past it are left out, and the class's delivery says truncated.
// Each event is encoded once, here, so the bound is on the bytes the
// receiver gets (a note of 120 '<' is 720 bytes of JSON, escaped).
//
// Rejected: a bound on the window's bytes kept as events are folded in
// (an event's JSON changes as later changes fold into it: its authors,
// its text), and cutting the encoded payload after the fact (a receiver
// would get invalid JSON, or none).
func (b *hookBatch) bodies(maxBytes int) []classBody {
	classes := map[string][]activity.Event{}
	for _, e := range b.events {
		cls := "element"
		switch {
		case e.Action == activity.Voted:
			cls = "vote"
		case e.Kind == "comment":
			cls = "comment"
		}
		classes[cls] = append(classes[cls], e)
	}
	var out []classBody
	for _, cls := range slices.Sorted(maps.Keys(classes)) {
		c := classBody{class: cls, authors: []string{}, truncated: b.truncated}
		buf := []byte{'['}
		seen := map[string]bool{}
		size := 0
		for _, e := range classes[cls] {
			ej, err := json.Marshal(e)
			if err != nil {
				continue
			}
			cost := len(ej) + 1
			var fresh []string
			for _, by := range e.By {
				if !seen[by] && !slices.Contains(fresh, by) {
					bj, _ := json.Marshal(by)
					cost += len(bj) + 1
					fresh = append(fresh, by)
				}
			}
			if size+cost > maxBytes {
				c.truncated = true
				break
			}
			size += cost
			if len(buf) > 1 {
				buf = append(buf, ',')
			}
			buf = append(buf, ej...)
			for _, by := range fresh {
				seen[by] = true
				c.authors = append(c.authors, by)
			}
			c.changes += e.Count
		}
		c.events = append(buf, ']')
		out = append(out, c)
	}
	return out
}
