package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/webhook"
)

// ---- webhooks ----

// POST /v1/boards/{board}/webhooks {"url", "events", "format"} (owner):
// the answer shows the signing secret once. format "standard" signs the
// calls the Standard Webhooks way, with a "whsec_" secret; absent (or
// "corkboard") keeps Corkboard-Signature.
func (srv *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := srv.enterOwner(w, r, "only the owner may manage webhooks")
	if !ok {
		return
	}
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events,omitempty"`
		Format string   `json:"format,omitempty"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(req.URL) > 2000 {
		writeError(w, 400, protocol.CodeMalformed, "url: an http(s) URL")
		return
	}
	if !webhook.ValidFormat(req.Format) {
		writeError(w, 400, protocol.CodeMalformed, `format: "corkboard" (the default) or "standard" (Standard Webhooks)`)
		return
	}
	for _, e := range req.Events {
		if !slices.Contains(account.WebhookEvents, e) {
			writeError(w, 400, protocol.CodeMalformed, "events: of "+strings.Join(account.WebhookEvents, ", "))
			return
		}
	}
	// Creations are counted per board, deletions or not: each is a
	// replicated record and a listing of the board's webhooks under the
	// node's record lock, and an owner may create boards without an
	// account.
	key := "webhook-board:" + id.String()
	if !srv.cfg.Limits.Allow(key, webhookCreatesPerHour, time.Hour) {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(srv.cfg.Limits.Retry(key, time.Hour).Seconds()), 1)))
		writeError(w, 429, protocol.CodeRateLimited, fmt.Sprintf("at most %d webhooks created a board an hour", webhookCreatesPerHour))
		return
	}
	// The count and the write under one lock, so that parallel requests
	// to this node cannot pass the cap together. Across nodes (an owner
	// racing themselves on two nodes) it can be passed by one webhook per
	// extra node; what deliveries cost stays bounded per board by the
	// outbox's lanes all the same.
	max := srv.cfg.MaxWebhooks
	now := srv.cfg.Now().UnixMilli()
	events := req.Events
	if events == nil {
		events = []string{} // every event
	}
	wh := account.Webhook{ID: auth.RandomID(9), Board: m.ID, URL: req.URL, Secret: auth.RandomID(24), Events: events, Created: now, Updated: now}
	if req.Format == webhook.FormatStandard {
		wh.Format, wh.Secret = webhook.FormatStandard, webhook.NewStandardSecret()
	}
	full, err := func() (bool, error) {
		srv.cfg.Records.Lock()
		defer srv.cfg.Records.Unlock()
		if len(srv.cfg.Boards.Webhooks(r.Context(), id)) >= max {
			return true, nil
		}
		return false, srv.cfg.Records.PutLocked(r.Context(), account.NSWebhook, account.BoardKey(id, wh.ID), &wh)
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

// webhookCreatesPerHour bounds the webhooks created on a board an hour,
// on a node (a board's whole set of 10, three times over).
const webhookCreatesPerHour = 30

// GET /v1/boards/{board}/webhooks (owner); secrets are not shown.
func (srv *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enterOwner(w, r, "only the owner may manage webhooks")
	if !ok {
		return
	}
	out := []account.Webhook{}
	for _, wh := range srv.cfg.Boards.Webhooks(r.Context(), id) {
		wh.Secret = ""
		if wh.Events == nil {
			wh.Events = []string{} // every event
		}
		out = append(out, wh)
	}
	writeJSON(w, 200, map[string]any{"webhooks": out})
}

// DELETE /v1/boards/{board}/webhooks/{webhook} (owner). The record is
// deleted, not marked deleted: nothing reads a deleted webhook (its
// queued deliveries carry their URL and secret; every node drops its
// cache of the board's webhooks as the deletion reaches it), and a
// marked record stayed in the account records, and in every listing of
// the board's webhooks, for good. Rejected: keeping the mark and pruning
// old ones (a second pass for what a deletion does at once).
func (srv *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enterOwner(w, r, "only the owner may manage webhooks")
	if !ok {
		return
	}
	for _, wh := range srv.cfg.Boards.Webhooks(r.Context(), id) {
		if wh.ID == r.PathValue("webhook") {
			if err := srv.cfg.Records.Delete(r.Context(), account.NSWebhook, account.BoardKey(id, wh.ID)); err != nil {
				writeError(w, 500, protocol.CodeInternal, err.Error())
				return
			}
			w.WriteHeader(204)
			return
		}
	}
	writeError(w, 404, protocol.CodeNotFound, "no such webhook")
}
