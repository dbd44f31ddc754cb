package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// People: sign-in by e-mailed link, sessions, profiles, memberships,
// invites and notification preferences (docs/API.md, "People").

const (
	sessionTTL = 30 * 24 * time.Hour
	loginTTL   = 30 * time.Minute
	inviteTTL  = 7 * 24 * time.Hour
)

// decodeBody decodes a JSON request body strictly, writing the 415 (not
// declared application/json: see httpguard.JSONContent) or the 400 itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if !httpguard.JSONContent(w, r) {
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, 400, protocol.CodeMalformed, "body: "+err.Error())
		return false
	}
	return true
}

// localPath accepts only same-site paths for redirects after sign-in: one
// leading slash, then no control character (browsers drop tabs and
// newlines from URLs, so "/\t/evil" would become "//evil") and no
// backslash (browsers read it as a slash) anywhere, in valid UTF-8.
// Anything else becomes "/". Rejected: cleaning the path (dropping what
// browsers drop) — a path that needs cleaning did not come from the
// client, and refusing leaves nothing to get wrong.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || !utf8.ValidString(p) {
		return "/"
	}
	for _, c := range p {
		if c == '\\' || unicode.IsControl(c) {
			return "/"
		}
	}
	return p
}

// POST /v1/signin {"email", "next"}: e-mails a one-time sign-in link.
// Always 202 for a valid address, so the answer does not tell whether the
// person has an account.
func (srv *Server) signIn(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
		Next  string `json:"next,omitempty"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	email, err := account.NormalizeEmail(req.Email)
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, err.Error())
		return
	}
	// Per address: 5 an hour, and 20 a day (5 an hour alone let anyone
	// mail a stranger 120 sign-in links a day), counted for the whole
	// cluster; per client address on each node.
	if !srv.cfg.Limits.Allow("signin-ip:"+httpguard.ClientIP(r), 20, time.Hour) || !srv.cfg.Limits.AllowShared(r.Context(), "signin:"+email, 5, time.Hour) ||
		!srv.cfg.Limits.AllowShared(r.Context(), "signin-day:"+email, 20, 24*time.Hour) {
		writeError(w, 429, protocol.CodeRateLimited, "too many sign-in links asked for; try again later")
		return
	}
	tok, hash := account.NewToken()
	now := srv.cfg.Now()
	l := account.Login{Email: email, Next: localPath(req.Next), Created: now.UnixMilli(), Expires: now.Add(loginTTL).UnixMilli(), Updated: now.UnixMilli()}
	if err := srv.cfg.Records.Put(r.Context(), account.NSLogin, []byte(hash), &l); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	link := srv.cfg.PublicURL() + "/v1/signin/" + tok
	text := fmt.Sprintf("Hello,\n\nsomeone (we hope you) asked to sign in to Corkboard as %s.\nOpen this link within 30 minutes to sign in:\n\n%s\n\nIf it was not you, ignore this e-mail: nothing happens without the link.\n", email, link)
	if err := srv.sendMail(r.Context(), "signin/"+hash[:24], email, "Your Corkboard sign-in link", text, ""); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	writeJSON(w, 202, map[string]any{"sent": true, "expires": l.Expires})
}

var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}} · Corkboard</title>
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}button{font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#2f6fed;color:#fff;cursor:pointer}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Button}}<form method="post"><button type="submit">{{.Button}}</button></form>{{end}}{{if .Home}}<p><a href="{{.Home}}">Sign in to Corkboard</a></p>{{end}}</body></html>`))

// confirm serves the page an e-mailed link opens: one button that POSTs
// back. Consuming a one-time link on GET would let mail scanners that
// prefetch links burn it.
func confirm(w http.ResponseWriter, title, text, button string) {
	page(w, 200, map[string]string{"Title": title, "Text": text, "Button": button})
}

// page serves confirmPage with status.
func page(w http.ResponseWriter, status int, data map[string]string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	// same-origin, not no-referrer: the link's token still never leaves
	// the node in a Referer, and the form's POST carries the node's
	// Origin (under no-referrer it says "Origin: null", which browsers
	// without Sec-Fetch-Site would have refused as cross-site: package httpguard).
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	confirmPage.Execute(w, data)
}

// GET /v1/signin/{token}: the page of an e-mailed sign-in link, which
// names the account it signs in to: a link someone else asked for (their
// own, sent to a victim) would otherwise sign the victim in to the
// sender's account at one press of the button, and what the victim then
// made (boards, notes) would be the sender's. It reads the link's record
// without using it (mail scanners open links); a link that can no longer
// be used says so at once.
func (srv *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	var l account.Login
	msg := ""
	switch {
	case !account.ValidToken(tok) || srv.cfg.Records.Get(r.Context(), account.NSLogin, []byte(account.HashToken(tok)), &l) != nil:
		msg = "Unknown sign-in link: ask for a new one."
	case l.Used != 0:
		msg = "This sign-in link was already used: ask for a new one."
	case srv.cfg.Now().UnixMilli() >= l.Expires:
		msg = "This sign-in link expired: ask for a new one."
	}
	if msg != "" {
		page(w, 401, map[string]string{"Title": "Sign in", "Text": msg, "Home": "/"})
		return
	}
	confirm(w, "Sign in", "Continue to sign in to Corkboard in this browser as "+l.Email+
		". If you did not ask for this link, close this page: whoever sent it would have you work in their account.", "Sign in")
}

// POST /v1/signin/{token}: uses a sign-in link: a session cookie, then a
// redirect to where the person was going (JSON with the session token for
// "Accept: application/json").
func (srv *Server) signInComplete(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if !account.ValidToken(tok) {
		writeError(w, 400, protocol.CodeMalformed, "not a sign-in link")
		return
	}
	var l account.Login
	err := srv.cfg.Records.Update(r.Context(), account.NSLogin, []byte(account.HashToken(tok)), &l, func(found bool) error {
		now := srv.cfg.Now().UnixMilli()
		switch {
		case !found:
			return refuse(401, protocol.CodeUnauthorized, "unknown sign-in link: ask for a new one")
		case l.Used != 0:
			return refuse(401, protocol.CodeUnauthorized, "this sign-in link was already used: ask for a new one")
		case now >= l.Expires:
			return refuse(401, protocol.CodeUnauthorized, "this sign-in link expired: ask for a new one")
		}
		l.Used, l.Updated = now, srv.cfg.Records.Stamp(l.Updated)
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	u, err := srv.ensureUser(r.Context(), l.Email)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	srv.startSession(w, r, u, l.Next)
}

// ensureUser returns the user of an e-mail address, creating it: under
// its keyed id (account.UserID), or the legacy unkeyed id for a user
// created before keyed ids (found there, kept there). New users are only
// ever created under the keyed id.
func (srv *Server) ensureUser(ctx context.Context, email string) (*account.User, error) {
	key, err := srv.userIDKey(ctx)
	if err != nil {
		return nil, err
	}
	id := account.UserID(key, email)
	var u account.User
	for _, try := range []string{id, account.LegacyUserID(email)} {
		if err := srv.cfg.Records.Get(ctx, account.NSUser, []byte(try), &u); err == nil {
			return &u, nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
	}
	now := srv.cfg.Now().UnixMilli()
	// Created once: of two nodes creating one person at once, one
	// creates and the other reads what it created.
	err = srv.cfg.Records.Update(ctx, account.NSUser, []byte(id), &u, func(found bool) error {
		if found {
			return errUnchanged
		}
		u = account.User{ID: id, Email: email, Name: account.DefaultName(email), Created: now, Updated: 1}
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return nil, err
	}
	return &u, nil
}

// userIDKeyRecord is where the cluster keeps the key of its user ids: a
// record in the user namespace, under a store key no user id has.
var userIDKeyRecord = []byte("key:user-id")

// userIDKey is the key of account.UserID. The first node to need it
// stores a sub-key of the cluster secret (an HMAC of it, never the secret
// itself), and every node uses the stored one from then on: changing the
// secret later (docs/SECURITY.md) must not give existing people new ids,
// which would part them from their boards. Two nodes storing it at once
// store the same value (one cluster, one secret); of two misconfigured
// nodes with different secrets the first write wins everywhere.
func (srv *Server) userIDKey(ctx context.Context) ([]byte, error) {
	srv.idKeyMu.Lock()
	defer srv.idKeyMu.Unlock()
	if srv.idKey != nil {
		return srv.idKey, nil
	}
	var rec struct {
		Key     string `json:"key"`
		Updated int64  `json:"updated"`
	}
	err := srv.cfg.Records.Update(ctx, account.NSUser, userIDKeyRecord, &rec, func(found bool) error {
		if found && len(rec.Key) >= 32 {
			return errUnchanged
		}
		rec.Key, rec.Updated = srv.cfg.Signer.MAC("corkboard user-id key"), srv.cfg.Records.Stamp(rec.Updated)
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return nil, fmt.Errorf("user-id key: %w", err)
	}
	srv.idKey = []byte(rec.Key)
	return srv.idKey, nil
}

// startSession creates a session for u, sets its cookie and answers.
func (srv *Server) startSession(w http.ResponseWriter, r *http.Request, u *account.User, next string) {
	tok, hash := account.NewToken()
	now := srv.cfg.Now()
	s := account.Session{User: u.ID, Created: now.UnixMilli(), Expires: now.Add(sessionTTL).UnixMilli(), Updated: now.UnixMilli()}
	if err := srv.cfg.Records.Put(r.Context(), account.NSSession, []byte(hash), &s); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{Name: access.SessionCookie, Value: tok, Path: "/", Expires: now.Add(sessionTTL),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(srv.cfg.PublicURL(), "https:")})
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, 200, map[string]any{"session": tok, "user": u, "next": next})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// POST /v1/signout: ends the session.
func (srv *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if tok := access.SessionToken(r); account.ValidToken(tok) {
		var s account.Session
		srv.cfg.Records.Update(r.Context(), account.NSSession, []byte(account.HashToken(tok)), &s, func(found bool) error {
			if !found {
				return storage.ErrNotFound
			}
			s.Revoked, s.Updated = true, srv.cfg.Records.Stamp(s.Updated)
			return nil
		})
	}
	http.SetCookie(w, &http.Cookie{Name: access.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(204)
}

// me resolves the signed-in user or writes 401.
func (srv *Server) me(w http.ResponseWriter, r *http.Request) *account.User {
	u, err := srv.cfg.Access.SignedIn(r)
	if err != nil {
		writeError(w, 401, protocol.CodeUnauthorized, err.Error())
		return nil
	}
	if u == nil {
		writeError(w, 401, protocol.CodeUnauthorized, "sign in first (POST /v1/signin)")
		return nil
	}
	return u
}

type boardEntry struct {
	Board meta.Board `json:"board"`
	Role  string     `json:"role"`
}

// GET /v1/me: the signed-in user and the boards they belong to.
//
// Without any session credential (no cookie, no Authorization header) it
// answers 200 {"user": null, "boards": []}: "who am I" has an answer for
// someone signed out, and every signed-out page of the web client asks
// it (the cookie is HttpOnly, so the page cannot tell by itself), which
// made a 401 in every signed-out browser's console. A credential that is
// presented but not valid (expired, signed out elsewhere) is still a 401,
// so an API client learns its session is gone; the node also clears such
// a cookie, so a browser sees that 401 once.
//
// Rejected: a second, script-readable "signed in" cookie for the client
// to check first (one more piece of state to keep in step with the real
// session: sign-out elsewhere, expiry), and a 204 (a body-less answer
// every caller must special-case).
func (srv *Server) getMe(w http.ResponseWriter, r *http.Request) {
	if access.SessionToken(r) == "" {
		writeJSON(w, 200, map[string]any{"user": nil, "boards": []boardEntry{}})
		return
	}
	u, err := srv.cfg.Access.SignedIn(r)
	if err != nil || u == nil {
		if r.Header.Get("Authorization") == "" {
			// A stale cookie: cleared, so the browser asks without it next time.
			http.SetCookie(w, &http.Cookie{Name: access.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		msg := "sign in first (POST /v1/signin)"
		if err != nil {
			msg = err.Error()
		}
		writeError(w, 401, protocol.CodeUnauthorized, msg)
		return
	}
	// The user's memberships (Boards.Of), not every board: the owner of
	// a board is its member too.
	boards := []boardEntry{}
	err = srv.cfg.Boards.Of(r.Context(), u.ID, func(id storage.BoardID) error {
		m, err := srv.cfg.Boards.Load(r.Context(), id)
		if err != nil {
			return nil // gone (or unreadable: the others are listed)
		}
		// The role the board's settings give them now (a visitor member's
		// follows publicRole, and is none on a members-only board).
		role, err := srv.cfg.Access.MemberRole(r.Context(), id, m, u.ID)
		if err == nil && role != "" {
			boards = append(boards, boardEntry{Board: *m.ShownTo(role), Role: role})
		}
		return nil
	})
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	slices.SortFunc(boards, func(a, b boardEntry) int { return int(b.Board.Updated - a.Board.Updated) })
	writeJSON(w, 200, map[string]any{"user": u, "boards": boards})
}

// PATCH /v1/me {"name", "color", "tz"}.
func (srv *Server) patchMe(w http.ResponseWriter, r *http.Request) {
	u := srv.me(w, r)
	if u == nil {
		return
	}
	var req struct {
		Name  *string `json:"name"`
		Color *string `json:"color"`
		TZ    *string `json:"tz"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	for _, c := range []struct {
		v   *string
		chk func(string) error
	}{{req.Name, account.CheckName}, {req.Color, account.CheckColor}, {req.TZ, account.CheckTZ}} {
		if c.v != nil {
			if err := c.chk(*c.v); err != nil {
				writeError(w, 400, protocol.CodeMalformed, err.Error())
				return
			}
		}
	}
	// Compare-and-set: a profile edit made meanwhile on another node is
	// read again, never overwritten with what this one read.
	var cur account.User
	err := srv.cfg.Records.Update(r.Context(), account.NSUser, []byte(u.ID), &cur, func(found bool) error {
		if !found {
			return refuse(404, protocol.CodeUnauthorized, "unknown user")
		}
		if req.Name != nil {
			cur.Name = strings.TrimSpace(*req.Name)
		}
		if req.Color != nil {
			cur.Color = *req.Color
		}
		if req.TZ != nil {
			cur.TZ = *req.TZ
		}
		cur.Updated = srv.cfg.Records.Stamp(cur.Updated)
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"user": cur})
}

// sendMail enqueues an e-mail in the durable outbox.
func (srv *Server) sendMail(ctx context.Context, id, to, subject, text, html string) error {
	it, err := mail.NewItem(mail.Message{ID: id, From: srv.cfg.MailFrom, To: to, Subject: subject, Text: text, HTML: html})
	if err != nil {
		return err
	}
	return srv.cfg.Outbox.Enqueue(ctx, it)
}
