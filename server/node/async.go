package node

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/corkboard/corkboard/server/notify"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// The REST side of "what changed" (/changes, /seen, /summary) and of
// webhooks (their records), and when notifications run (leader,
// notifier). What to tell and to whom is package notify's.

// sendMail enqueues an e-mail in the durable outbox.
func (n *Node) sendMail(ctx context.Context, id, to, subject, text, html string) error {
	it, err := mail.NewItem(mail.Message{ID: id, From: n.cfg.Mail.From, To: to, Subject: subject, Text: text, HTML: html})
	if err != nil {
		return err
	}
	return n.outbox.Enqueue(ctx, it)
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
	changes, version, err := notify.ChangesSince(r.Context(), n.store, id, rm, since)
	if err != nil {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	}
	names := n.notes.Names(r.Context(), id, m, changes)
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
	names := n.notes.Names(r.Context(), id, m, changes)
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
// webhooks that wants it (notify.Notifier.QueueWebhooks).
func (n *Node) queueWebhooks(ctx context.Context, id storage.BoardID, event, key string, payload map[string]any) {
	n.notes.QueueWebhooks(ctx, id, event, key, payload)
}

// onAccepted is room.Config.Accepted: accepted changes go to the webhook
// worker (notify.Notifier.OnAccepted).
func (n *Node) onAccepted(board storage.BoardID, recs []storage.Record) {
	n.notes.OnAccepted(board, recs)
}

// webhookWorker turns accepted changes into webhook deliveries until ctx
// ends (notify.Notifier.WebhookWorker).
func (n *Node) webhookWorker(ctx context.Context) { n.notes.WebhookWorker(ctx) }

// ---- notifications ----

// leader says whether this node runs the cluster's notifier passes.
func (n *Node) leader() bool {
	for _, p := range n.Peers() {
		if p.Node < n.cfg.NodeID {
			return false
		}
	}
	return true
}

// notifier runs RunNotifications every interval while this node leads.
func (n *Node) notifier(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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
func (n *Node) RunNotifications(ctx context.Context) error { return n.notes.Run(ctx) }

// GET /v1/unsubscribe shows a confirmation; POST (also the RFC 8058
// one-click POST of mail clients) turns the member's notifications off.
func (n *Node) unsubscribe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	board, user := q.Get("b"), q.Get("u")
	if !n.notes.UnsubscribeValid(board, user, q.Get("s")) {
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
