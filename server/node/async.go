package node

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/activity"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/server/webhook"
	"github.com/corkboard/corkboard/storage"
)

// The asynchronous side of a board: "since your last visit", the summary
// export, e-mail notifications and digests, webhooks, and the deadline.
//
// Notifications are computed from the op log, not from a queue of events:
// each member has a cursor (the version vector up to which they were told,
// replicated like every account record). A notifier pass compares it with
// the board's version, lists what others did since (package activity) and,
// when the member's preferences say so, enqueues one e-mail in the durable
// outbox in the same store batch that advances the cursor: a crash either
// loses both (the next pass redoes them) or keeps both. One node of a
// cluster — the one with the smallest id among the live nodes — runs the
// passes; e-mail ids derive from the cursor, so two nodes that both think
// they lead (during a partition) enqueue the same ids, which receivers
// deduplicate by Message-ID.
//
// Rejected: an e-mail per accepted change from the accepting node (no
// batching across nodes, and a digest would need a second mechanism), and
// a per-member event queue (a write per member per change, for a reader
// that only needs "what changed since").

// sendMail enqueues an e-mail in the durable outbox.
func (n *Node) sendMail(ctx context.Context, id, to, subject, text, html string) error {
	it, err := mail.NewItem(mail.Message{ID: id, From: n.cfg.Mail.From, To: to, Subject: subject, Text: text, HTML: html})
	if err != nil {
		return err
	}
	return n.outbox.Enqueue(ctx, it)
}

// maxActivity bounds the changes read to describe what happened since a
// version (a member away for a very long time on a very busy board).
const maxActivity = 200000

var errTooMuchActivity = fmt.Errorf("more than %d changes since that version: load the board instead", maxActivity)

// changesSince reads the accepted changes a version lacks, in log order,
// and the board's current version.
func (n *Node) changesSince(ctx context.Context, id storage.BoardID, rm *room.Room, since crdt.VersionVector) ([]activity.Change, crdt.VersionVector, error) {
	var version crdt.VersionVector
	if err := rm.Query(ctx, func(d *crdt.Doc) { version = d.Version() }); err != nil {
		return nil, nil, err
	}
	got, err := room.ChangesSince(ctx, n.store, id, since, version, room.Limit{Changes: maxActivity})
	switch {
	case err != nil:
		return nil, nil, err
	case got.More:
		return nil, nil, errTooMuchActivity
	case got.Trimmed:
		return nil, nil, fmt.Errorf("changes since that version: %w", storage.ErrTrimmed)
	}
	out := make([]activity.Change, 0, len(got.Entries))
	for _, e := range got.Entries {
		c, err := activity.FromRecord(e)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, c)
	}
	return out, version, nil
}

// names maps the board's people to display names: the owner, the members
// and the authors of the given changes.
func (n *Node) names(ctx context.Context, id storage.BoardID, m *BoardMeta, changes []activity.Change) map[string]string {
	ms, _ := n.members(ctx, id)
	users := []string{m.Owner}
	for _, mem := range ms {
		users = append(users, mem.User)
	}
	return n.addNames(ctx, n.userNames(ctx, users), changes)
}

// addNames adds the authors of changes missing from names.
func (n *Node) addNames(ctx context.Context, names map[string]string, changes []activity.Change) map[string]string {
	var more []string
	for _, c := range changes {
		if _, ok := names[c.Author]; !ok && c.Author != "" {
			more = append(more, c.Author)
		}
	}
	for u, name := range n.userNames(ctx, more) {
		names[u] = name
	}
	return names
}

// userNames reads the display names of users that have a record.
func (n *Node) userNames(ctx context.Context, users []string) map[string]string {
	out := map[string]string{}
	for _, u := range users {
		if _, done := out[u]; done {
			continue
		}
		var usr account.User
		if n.getRecord(ctx, account.NSUser, []byte(u), &usr) == nil {
			out[u] = usr.Name
		}
	}
	return out
}

// GET /v1/boards/{board}/changes?since=<version JSON>: what changed since
// a version (default: the caller's last visit), by whom.
func (n *Node) boardChanges(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := n.enter(w, r)
	if !ok {
		return
	}
	since := crdt.VersionVector{}
	var seenAt int64
	if s := r.URL.Query().Get("since"); s != "" {
		if err := json.Unmarshal([]byte(s), &since); err != nil {
			writeError(w, 400, protocol.CodeMalformed, `since: a JSON object {"<replica>": counter}`)
			return
		}
	} else if who.Via == viaSession {
		var seen account.Seen
		if n.getRecord(r.Context(), account.NSSeen, account.BoardKey(id, who.User.ID), &seen) == nil {
			since, seenAt = seen.Version, seen.At
		}
	}
	rm, err := n.rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	changes, version, err := n.changesSince(r.Context(), id, rm, since)
	if err != nil {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	}
	names := n.names(r.Context(), id, m, changes)
	var events []activity.Event
	if err := rm.Query(r.Context(), func(d *crdt.Doc) { events = activity.SinceNames(d, changes, names) }); err != nil {
		writeError(w, 503, protocol.CodeInternal, "board unavailable, retry")
		return
	}
	if events == nil {
		events = []activity.Event{}
	}
	writeJSON(w, 200, map[string]any{"since": since, "seenAt": seenAt, "version": version, "events": events, "names": names})
}

// PUT /v1/boards/{board}/seen {"version"}: records the caller's visit
// (the web client sends it as it leaves; the node records it too when a
// signed-in member's connection ends).
func (n *Node) putSeen(w http.ResponseWriter, r *http.Request) {
	id, _, who, ok := n.enter(w, r)
	if !ok {
		return
	}
	if who.Via != viaSession {
		writeError(w, 403, protocol.CodeForbidden, "visits are recorded for signed-in people")
		return
	}
	var req struct {
		Version crdt.VersionVector `json:"version"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if err := n.recordSeen(r.Context(), id, who.User.ID, req.Version); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	w.WriteHeader(204)
}

// recordSeen stores a member's last-seen version.
func (n *Node) recordSeen(ctx context.Context, id storage.BoardID, user string, v crdt.VersionVector) error {
	var s account.Seen
	return n.updateRecord(ctx, account.NSSeen, account.BoardKey(id, user), &s, func(bool) error {
		s = account.Seen{Board: id.String(), User: user, Version: v, At: n.cfg.Now().UnixMilli(), Updated: n.stamp(s.Updated)}
		return nil
	})
}

// GET /v1/boards/{board}/summary?format=md|json: the ideas ranked by
// votes with their comments, each mindmap as an outline, who took part.
func (n *Node) boardSummary(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := n.enter(w, r)
	if !ok {
		return
	}
	rm, err := n.rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	// The whole history, for who took part and who created what: only
	// creations are kept of each change, so a board with a long history
	// costs a scan, not its history in memory.
	var changes []activity.Change
	err = n.store.ScanOps(r.Context(), id, 1, func(rec storage.Record) error {
		c, err := activity.FromRecord(rec)
		if err != nil {
			return err
		}
		creates := c.Ops[:0:0]
		for _, op := range c.Ops {
			if op.Type == crdt.OpCreate {
				creates = append(creates, op)
			}
		}
		c.Ops = creates
		changes = append(changes, c)
		return nil
	})
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	names := n.names(r.Context(), id, m, changes)
	var s activity.Summary
	if err := rm.Query(r.Context(), func(d *crdt.Doc) { s = activity.Summarize(d, changes, names) }); err != nil {
		writeError(w, 503, protocol.CodeInternal, "board unavailable, retry")
		return
	}
	s.Board = m.Name
	s.Generated = n.cfg.Now().UnixMilli()
	switch r.URL.Query().Get("format") {
	case "", "json":
		writeJSON(w, 200, s)
	case "md", "markdown":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "summary-"+m.ID+".md"))
		w.Write([]byte(s.Markdown()))
	default:
		writeError(w, 400, protocol.CodeMalformed, "format: md or json")
	}
}

// ---- webhooks ----

// POST /v1/boards/{board}/webhooks {"url", "events"} (owner): the answer
// shows the signing secret once.
func (n *Node) createWebhook(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := n.enterOwner(w, r, "only the owner may manage webhooks")
	if !ok {
		return
	}
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events,omitempty"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(req.URL) > 2000 {
		writeError(w, 400, protocol.CodeMalformed, "url: an http(s) URL")
		return
	}
	for _, e := range req.Events {
		if !slices.Contains(account.WebhookEvents, e) {
			writeError(w, 400, protocol.CodeMalformed, "events: of "+strings.Join(account.WebhookEvents, ", "))
			return
		}
	}
	// The count and the write under one lock, so that parallel requests
	// cannot pass the cap together.
	max := n.cfg.Webhooks.MaxPerBoard
	now := n.cfg.Now().UnixMilli()
	wh := account.Webhook{ID: auth.RandomID(9), Board: m.ID, URL: req.URL, Secret: auth.RandomID(24), Events: req.Events, Created: now, Updated: now}
	full, err := func() (bool, error) {
		n.lockRecords()
		defer n.unlockRecords()
		if len(n.webhooks(r.Context(), id)) >= max {
			return true, nil
		}
		return false, n.putRecordLocked(r.Context(), account.NSWebhook, account.BoardKey(id, wh.ID), &wh)
	}()
	switch {
	case full:
		writeError(w, 409, protocol.CodeTooLarge, fmt.Sprintf("a board has at most %d webhooks: delete one first", max))
	case err != nil:
		writeError(w, 500, protocol.CodeInternal, err.Error())
	default:
		writeJSON(w, 201, map[string]any{"webhook": wh})
	}
}

func (n *Node) webhooks(ctx context.Context, id storage.BoardID) []account.Webhook {
	var out []account.Webhook
	n.store.ScanMeta(ctx, account.NSWebhook, id[:], func(_, val []byte) error {
		var wh account.Webhook
		if json.Unmarshal(val, &wh) == nil && !wh.Deleted {
			out = append(out, wh)
		}
		return nil
	})
	return out
}

// GET /v1/boards/{board}/webhooks (owner); secrets are not shown.
func (n *Node) listWebhooks(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := n.enterOwner(w, r, "only the owner may manage webhooks")
	if !ok {
		return
	}
	out := []account.Webhook{}
	for _, wh := range n.webhooks(r.Context(), id) {
		wh.Secret = ""
		out = append(out, wh)
	}
	writeJSON(w, 200, map[string]any{"webhooks": out})
}

// DELETE /v1/boards/{board}/webhooks/{webhook} (owner).
func (n *Node) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := n.enterOwner(w, r, "only the owner may manage webhooks")
	if !ok {
		return
	}
	for _, wh := range n.webhooks(r.Context(), id) {
		if wh.ID == r.PathValue("webhook") {
			wh.Deleted, wh.Updated = true, n.stamp(wh.Updated)
			if err := n.putRecord(r.Context(), account.NSWebhook, account.BoardKey(id, wh.ID), &wh); err != nil {
				writeError(w, 500, protocol.CodeInternal, err.Error())
				return
			}
			w.WriteHeader(204)
			return
		}
	}
	writeError(w, 404, protocol.CodeNotFound, "no such webhook")
}

// queueWebhooks enqueues one delivery of an event to each of the board's
// webhooks that wants it. key makes the delivery ids deterministic and
// must sort by age among the board's keys (the oldest deliveries are the
// ones dropped past WebhookLimits.MaxPending).
func (n *Node) queueWebhooks(ctx context.Context, id storage.BoardID, event, key string, payload map[string]any) {
	hooks := n.webhooks(ctx, id)
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
		body := map[string]any{"id": did, "event": event, "board": id.String(), "at": n.cfg.Now().UnixMilli()}
		for k, v := range payload {
			body[k] = v
		}
		b, _ := json.Marshal(body)
		req, _ := json.Marshal(webhook.Request{ID: did, URL: wh.URL, Event: event, Body: b, Secret: wh.Secret})
		items = append(items, outbox.Item{ID: did, Kind: webhook.Kind, Payload: req})
	}
	if len(items) > 0 {
		if _, err := n.outbox.EnqueueCapped(ctx, prefix, n.cfg.Webhooks.MaxPending, items...); err != nil {
			n.log.Warn("webhooks: enqueue failed", "board", id.String(), "err", err)
		}
	}
}

type acceptedBatch struct {
	board storage.BoardID
	recs  []storage.Record
}

// onAccepted is room.Config.Accepted: hands the records to the webhook
// worker without blocking the room (a full queue drops the batch, logged:
// webhooks are at most as durable as this hand-off; the outbox is durable
// from the enqueue on).
func (n *Node) onAccepted(board storage.BoardID, recs []storage.Record) {
	select {
	case n.accepted <- acceptedBatch{board, recs}:
	default:
		n.log.Warn("webhooks: queue full, events dropped", "board", board.String(), "changes", len(recs))
	}
}

// webhookWorker turns accepted changes into webhook deliveries, debounced:
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
func (n *Node) webhookWorker(ctx context.Context) {
	lim := n.cfg.Webhooks
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
		case a := <-n.accepted:
			if len(n.webhooks(ctx, a.board)) == 0 {
				continue
			}
			if lim.Debounce < 0 {
				b := &hookBatch{}
				b.add(a.recs, lim.MaxBatch)
				n.deliverBatch(ctx, a.board, b)
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
			b.add(a.recs, lim.MaxBatch)
		case <-wake:
			now := time.Now()
			first = time.Time{}
			for board, b := range batches {
				if !b.due.After(now) {
					delete(batches, board)
					n.deliverBatch(ctx, board, b)
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
func (n *Node) deliverBatch(ctx context.Context, board storage.BoardID, b *hookBatch) {
	rm, err := n.rooms.Open(ctx, board)
	if err != nil {
		n.log.Warn("webhooks: board unavailable, changes not delivered", "board", board.String(), "changes", b.count, "err", err)
		return
	}
	changes := make([]activity.Change, 0, len(b.recs))
	for _, rec := range b.recs {
		if c, err := activity.FromRecord(rec); err == nil {
			changes = append(changes, c)
		}
	}
	var events []activity.Event
	rm.Query(ctx, func(d *crdt.Doc) { events = activity.Since(d, changes) })
	classes := map[string][]activity.Event{}
	for _, e := range events {
		cls := "element"
		switch {
		case e.Action == activity.Voted:
			cls = "vote"
		case e.Kind == "comment":
			cls = "comment"
		}
		classes[cls] = append(classes[cls], e)
	}
	for _, cls := range slices.Sorted(maps.Keys(classes)) {
		evs := classes[cls]
		var authors []string
		count := 0
		for _, e := range evs {
			count += e.Count
			for _, by := range e.By {
				if !slices.Contains(authors, by) {
					authors = append(authors, by)
				}
			}
		}
		key := fmt.Sprintf("%016x-%016x/%s", b.firstSeq, b.lastSeq, cls)
		n.queueWebhooks(ctx, board, cls, key, map[string]any{
			"events": evs, "authors": authors, "changes": count, "truncated": b.truncated,
			"seq": []uint64{b.firstSeq, b.lastSeq},
		})
	}
}

// ---- notifications ----

// notifierLease names the lease of the node that runs the cluster's
// notifier passes (package meta): one node at a time, renewed every
// LeaseTTL/3; when its holder dies, another node takes it within
// LeaseTTL.
const notifierLease = "notifier"

// leader says whether this node holds the notifier lease now.
func (n *Node) leader() bool { return n.meta.Holds(notifierLease) }

// notifier keeps trying for the notifier lease, and runs RunNotifications
// every interval while this node holds it; a node shutting down gives the
// lease up.
func (n *Node) notifier(ctx context.Context, every time.Duration) {
	renew := time.NewTicker(meta.LeaseTTL / 3)
	defer renew.Stop()
	pass := time.NewTicker(every)
	defer pass.Stop()
	take := func() {
		c, cancel := context.WithTimeout(ctx, meta.LeaseTTL/3)
		defer cancel()
		if _, err := n.meta.Lease(c, notifierLease, n.cfg.NodeID); err != nil && ctx.Err() == nil {
			n.log.Warn("notifications: lease", "err", err)
		}
	}
	take()
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n.meta.Release(c, notifierLease, n.cfg.NodeID)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			take()
		case <-pass.C:
			if n.leader() {
				if err := n.RunNotifications(ctx); err != nil && ctx.Err() == nil {
					n.log.Warn("notifications: pass failed", "err", err)
				}
			}
		}
	}
}

// startCursor starts a member's notification cursor at the board's
// current version. The caller holds lockRecords.
func (n *Node) startCursor(ctx context.Context, id storage.BoardID, user string, loc *time.Location, p account.Prefs) error {
	var version crdt.VersionVector
	if rm, err := n.rooms.Open(ctx, id); err == nil {
		rm.Query(ctx, func(d *crdt.Doc) { version = d.Version() })
	}
	now := n.cfg.Now()
	c := account.Cursor{Board: id.String(), User: user, Version: version, Sent: 0, Day: account.Today(now, loc, p), Updated: now.UnixMilli()}
	return n.putRecordLocked(ctx, account.NSCursor, account.BoardKey(id, user), &c)
}

// startCursorIfMissing is startCursor unless the member has a cursor
// (under lockRecords, like startCursor).
func (n *Node) startCursorIfMissing(ctx context.Context, id storage.BoardID, user string, loc *time.Location, p account.Prefs) error {
	var c account.Cursor
	err := n.getRecord(ctx, account.NSCursor, account.BoardKey(id, user), &c)
	if errors.Is(err, storage.ErrNotFound) {
		return n.startCursor(ctx, id, user, loc, p)
	}
	return err
}

// RunNotifications makes one notifier pass over every board: deadline
// events, then each member's e-mail if their preferences say one is due.
// The node runs it every minute when it leads; tests call it with a fake
// clock.
func (n *Node) RunNotifications(ctx context.Context) error {
	var boards []BoardMeta
	err := n.store.ScanMeta(ctx, "board", nil, func(_, val []byte) error {
		var m BoardMeta
		if json.Unmarshal(val, &m) == nil && !m.Deleted {
			boards = append(boards, m)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for i := range boards {
		if err := n.notifyBoard(ctx, &boards[i]); err != nil {
			errs = append(errs, fmt.Errorf("board %s: %w", boards[i].ID, err))
		}
	}
	return errors.Join(errs...)
}

func (n *Node) notifyBoard(ctx context.Context, m *BoardMeta) error {
	id, err := storage.ParseBoardID(m.ID)
	if err != nil {
		return err
	}
	if n.closed(m) && m.DeadlineFired != m.Deadline {
		n.queueWebhooks(ctx, id, "deadline", fmt.Sprintf("deadline-%016x", m.Deadline), map[string]any{"deadline": m.Deadline})
		// On the current record, under the metadata lock: what was read at
		// the start of the pass may be stale (a link deleted since, a new
		// password), and writing it back would undo that.
		fired := m.Deadline
		err := n.updateMeta(ctx, m.ID, func(cur *BoardMeta) error {
			cur.DeadlineFired = fired
			return nil
		})
		if err != nil {
			return err
		}
	}
	members, err := n.members(ctx, id)
	if err != nil || len(members) == 0 {
		return err
	}
	// A board whose log has not grown since a pass that found nothing to
	// report to anyone needs no work (and no loading).
	last, err := n.store.LastSeq(ctx, id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	quiet, known := n.notifyQuiet[id]
	n.mu.Unlock()
	if known && quiet == last {
		return nil
	}
	anyPending := false
	defer func() {
		n.mu.Lock()
		if anyPending {
			delete(n.notifyQuiet, id)
		} else {
			n.notifyQuiet[id] = last
		}
		n.mu.Unlock()
	}()
	var rm *room.Room
	var base map[string]string // the owner's and members' names
	for _, mem := range members {
		var u account.User
		if n.getRecord(ctx, account.NSUser, []byte(mem.User), &u) != nil || u.Email == "" {
			continue
		}
		key := account.BoardKey(id, mem.User)
		var cur account.Cursor
		if err := n.getRecord(ctx, account.NSCursor, key, &cur); err != nil {
			continue // no cursor yet: nothing to report
		}
		if rm == nil {
			if rm, err = n.rooms.Open(ctx, id); err != nil {
				return err
			}
		}
		changes, version, err := n.changesSince(ctx, id, rm, cur.Version)
		if errors.Is(err, errTooMuchActivity) {
			// Too much to tell: skip to now rather than fail every pass.
			n.log.Warn("notifications: too many changes to report; cursor moved to now", "board", m.ID, "user", mem.User)
			rm.Query(ctx, func(d *crdt.Doc) { version = d.Version() })
			next := cur
			next.Version, next.Updated = version, n.stamp(cur.Updated)
			if err := n.putRecord(ctx, account.NSCursor, key, &next); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		others := changes[:0:0]
		for _, c := range changes {
			if c.Author != mem.User {
				others = append(others, c)
			}
		}
		if base == nil {
			users := []string{m.Owner}
			for _, mm := range members {
				users = append(users, mm.User)
			}
			base = n.userNames(ctx, users)
		}
		names := n.addNames(ctx, maps.Clone(base), others)
		var events []activity.Event
		rm.Query(ctx, func(d *crdt.Doc) {
			events = activity.SinceNames(d, others, names)
			if mem.Notify.Mode == account.NotifyMentions {
				events = aboutMember(d, events, mem.User, u.Name)
			}
		})
		mentioned := len(aboutMemberNoDoc(events, u.Name)) > 0 || mem.Notify.Mode == account.NotifyMentions && len(events) > 0
		if len(events) > 0 {
			anyPending = true
		}
		loc := u.Location()
		now := n.cfg.Now()
		switch mem.Notify.Decide(now, loc, cur, len(events) > 0, mentioned) {
		case account.Wait:
			continue
		case account.Advance:
			next := cur
			next.Version, next.Updated = version, n.stamp(cur.Updated)
			if mem.Notify.Mode == account.NotifyDigest {
				next.Day = now.In(loc).Format(time.DateOnly)
			}
			if err := n.putRecord(ctx, account.NSCursor, key, &next); err != nil {
				return err
			}
		case account.Send:
			if err := n.sendDigest(ctx, id, m, mem, u, cur, version, events, names); err != nil {
				return err
			}
		}
	}
	return nil
}

// aboutMember keeps the events that mention the member or answer a thread
// the member started.
func aboutMember(d *crdt.Doc, events []activity.Event, user, name string) []activity.Event {
	var out []activity.Event
	for _, e := range events {
		if slices.ContainsFunc(e.Mentions, func(m string) bool { return strings.EqualFold(m, name) }) {
			out = append(out, e)
			continue
		}
		if e.Action == activity.Replied && e.Target != "" {
			if th, err := crdt.ParseElementID(e.Target); err == nil {
				if a, ok := d.Get(th, "author"); ok && a.AsString() == user {
					out = append(out, e)
				}
			}
		}
	}
	return out
}

func aboutMemberNoDoc(events []activity.Event, name string) []activity.Event {
	var out []activity.Event
	for _, e := range events {
		if slices.ContainsFunc(e.Mentions, func(m string) bool { return strings.EqualFold(m, name) }) {
			out = append(out, e)
		}
	}
	return out
}

// sendDigest enqueues one notification e-mail and advances the member's
// cursor in one store batch, then copies the cursor to the other nodes.
func (n *Node) sendDigest(ctx context.Context, id storage.BoardID, m *BoardMeta, mem account.Member, u account.User, cur account.Cursor, version crdt.VersionVector, events []activity.Event, names map[string]string) error {
	now := n.cfg.Now()
	loc := u.Location()
	d := activity.Digest{Board: m.Name, BoardURL: n.cfg.PublicURL + "/b/" + m.ID, Recipient: u.Name, Names: names,
		Events: events, From: time.UnixMilli(max(cur.Sent, 1)), To: now, Loc: loc}
	if cur.Sent == 0 {
		d.From = time.UnixMilli(cur.Updated)
	}
	// The id names the cursor the e-mail starts from: the same pass on two
	// nodes makes the same id.
	vb, _ := json.Marshal(cur.Version)
	h := sha256.Sum256(append([]byte(mem.Notify.Mode+"\x00"+cur.Day+"\x00"), vb...))
	mid := "notify/" + m.ID + "/" + mem.User + "/" + hex.EncodeToString(h[:12])
	unsub := n.unsubscribeURL(m.ID, mem.User)
	text := d.Text() + "\n--\nYou get this because of your notification settings for this board.\nUnsubscribe: " + unsub + "\n"
	msg := mail.Message{ID: mid, From: n.cfg.Mail.From, To: u.Email, Subject: d.Subject(), Text: text, HTML: d.HTML(),
		Unsubscribe: unsub, Headers: map[string]string{"X-Corkboard-Board": m.ID}}
	it, err := mail.NewItem(msg)
	if err != nil {
		return err
	}
	writes, err := n.outbox.Writes(it)
	if err != nil {
		return err
	}
	next := cur
	next.Version, next.Sent, next.Updated = version, now.UnixMilli(), n.stamp(cur.Updated)
	if mem.Notify.Mode == account.NotifyDigest {
		next.Day = now.In(loc).Format(time.DateOnly)
	}
	// The cursor moves first, by compare-and-set from the one this pass
	// read: of two nodes that both think they lead (a lease lost while a
	// pass ran), only one moves it and sends. A node killed between the two
	// steps loses this e-mail (at most once; the window is one local
	// write); the other order would send it twice.
	key := account.BoardKey(id, mem.User)
	raced := errors.New("cursor moved")
	err = n.meta.Update(ctx, account.NSCursor, key, func(old []byte, found bool) ([]byte, error) {
		var now account.Cursor
		if found && json.Unmarshal(old, &now) != nil {
			return nil, storage.ErrCorrupt
		}
		if !found || now.Updated != cur.Updated || now.Sent != cur.Sent {
			return nil, raced
		}
		return json.Marshal(next)
	})
	if errors.Is(err, raced) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := n.store.ApplyMeta(ctx, writes); err != nil {
		return err
	}
	n.outbox.Kick()
	return nil
}

// unsubscribeURL is a member's one-click unsubscribe link for a board.
func (n *Node) unsubscribeURL(board, user string) string {
	q := url.Values{"b": {board}, "u": {user}, "s": {n.signer.MAC("unsub\x00" + board + "\x00" + user)}}
	return n.cfg.PublicURL + "/v1/unsubscribe?" + q.Encode()
}

// GET /v1/unsubscribe shows a confirmation; POST (also the RFC 8058
// one-click POST of mail clients) turns the member's notifications off.
func (n *Node) unsubscribe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	board, user := q.Get("b"), q.Get("u")
	// hmac.Equal: a byte-by-byte comparison would tell, by its timing,
	// how much of a guessed MAC is right.
	if q.Get("s") == "" || !hmac.Equal([]byte(q.Get("s")), []byte(n.signer.MAC("unsub\x00"+board+"\x00"+user))) {
		writeError(w, 400, protocol.CodeMalformed, "not a valid unsubscribe link")
		return
	}
	if r.Method == http.MethodGet {
		confirm(w, "Unsubscribe", "Stop all e-mail about this board?", "Unsubscribe")
		return
	}
	id, err := storage.ParseBoardID(board)
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, "not a valid unsubscribe link")
		return
	}
	_, err = n.changeMember(r.Context(), id, user, func(mem *account.Member) { mem.Notify.Mode = account.NotifyOff })
	if err != nil && !errors.As(err, new(*refusal)) { // no membership: nothing to turn off
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("You will get no more e-mail about this board.\n"))
		return
	}
	writeJSON(w, 200, map[string]any{"unsubscribed": true})
}

func sortResults(rs []VoteResult) {
	slices.SortStableFunc(rs, func(a, b VoteResult) int {
		if c := cmp.Compare(b.Dots, a.Dots); c != 0 {
			return c
		}
		if c := cmp.Compare(len(b.Voters), len(a.Voters)); c != 0 {
			return c
		}
		return strings.Compare(a.Element, b.Element)
	})
}
