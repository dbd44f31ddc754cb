package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/mail/smtptest"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// set moves the clock forward to t (fakeClock: badinput_test.go).
func (c *fakeClock) Set(t time.Time) {
	if t.Before(c.Now()) {
		panic("the clock goes forward only")
	}
	c.ns.Store(t.UnixNano())
}

// asyncEnv is a node on a fake clock with a real SMTP server.
type asyncEnv struct {
	t    *testing.T
	tn   *testNode
	clk  *fakeClock
	smtp *smtptest.Server
	seen int // messages already returned by deliver
}

func newAsyncEnv(t *testing.T, start time.Time, mods ...func(*node.Config)) *asyncEnv {
	t.Helper()
	srv, err := smtptest.Start(smtptest.Options{Username: "relay", Password: "relay-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	clk := &fakeClock{}
	clk.ns.Store(start.UnixNano())
	tn := startNode(t, func(c *node.Config) {
		c.Now = clk.Now
		c.NotifyInterval = -1
		c.OutboxManual = true
		c.Mail = node.MailConfig{From: "Corkboard <boards@corkboard.test>",
			SMTP: mail.SMTPConfig{Addr: srv.Addr(), Username: "relay", Password: "relay-secret", TLSConfig: srv.ClientTLS()}}
		for _, m := range mods {
			m(c)
		}
	})
	return &asyncEnv{t: t, tn: tn, clk: clk, smtp: srv}
}

// deliver runs the outbox once and returns the e-mails the SMTP server got
// since the last call.
func (e *asyncEnv) deliver() []smtptest.Received {
	e.t.Helper()
	if _, err := e.tn.n.RunOutbox(context.Background()); err != nil {
		e.t.Fatalf("outbox: %v", err)
	}
	msgs := e.smtp.Messages()
	out := msgs[e.seen:]
	e.seen = len(msgs)
	for _, m := range out {
		if !m.TLS || m.AuthUser != "relay" {
			e.t.Fatalf("e-mail sent without STARTTLS and AUTH: tls=%v auth=%q", m.TLS, m.AuthUser)
		}
	}
	return out
}

// notify runs a notifier pass at time t, then the outbox.
func (e *asyncEnv) notify(t time.Time) []smtptest.Received {
	e.t.Helper()
	e.clk.Set(t)
	if err := e.tn.n.RunNotifications(context.Background()); err != nil {
		e.t.Fatalf("notifications: %v", err)
	}
	return e.deliver()
}

func to(msgs []smtptest.Received, addr string) []smtptest.Received {
	var out []smtptest.Received
	for _, m := range msgs {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

// textOf decodes an e-mail's plain-text part.
func textOf(t testing.TB, m smtptest.Received) string {
	t.Helper()
	return partOf(t, m, "text/plain")
}

// partOf decodes the part of an e-mail of a content type (text/plain,
// text/html).
func partOf(t testing.TB, m smtptest.Received, ctype string) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	decode := func(enc string, r io.Reader) string {
		if strings.EqualFold(enc, "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return decode(m.Header.Get("Content-Transfer-Encoding"), bytes.NewReader(m.Body))
	}
	mr := multipart.NewReader(bytes.NewReader(m.Body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no %s part: %v", ctype, err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), ctype) {
			return decode(p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// linkIn returns the first link of an e-mail whose path contains part.
func linkIn(t testing.TB, m smtptest.Received, part string) string {
	t.Helper()
	for _, l := range linkRE.FindAllString(textOf(t, m), -1) {
		if strings.Contains(l, part) {
			return l
		}
	}
	t.Fatalf("no %q link in:\n%s", part, textOf(t, m))
	return ""
}

// call makes a REST call with a session (or none) and decodes the JSON.
func (e *asyncEnv) call(method, path, session string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.tn.base + path
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if session != "" {
		if strings.Contains(session, ".") {
			req.Header.Set("Authorization", "Bearer "+session)
		} else {
			req.Header.Set("Authorization", "Session "+session)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

func (e *asyncEnv) must(want int, method, path, session string, body any) map[string]any {
	e.t.Helper()
	code, out := e.call(method, path, session, body)
	if code != want {
		e.t.Fatalf("%s %s: %d %v (want %d)", method, path, code, out, want)
	}
	return out
}

// signIn goes through the e-mailed sign-in link and returns the session.
func (e *asyncEnv) signIn(email string) string {
	e.t.Helper()
	e.must(202, "POST", "/v1/signin", "", map[string]any{"email": email})
	before := e.seen
	e.deliver()
	// (When the outbox runs by itself, the e-mail may still be on its way.)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	all, err := e.smtp.Wait(ctx, before+1)
	if err != nil {
		e.t.Fatalf("no sign-in e-mail: %v", err)
	}
	msgs := to(all[before:], email)
	e.seen = len(all)
	if len(msgs) != 1 {
		e.t.Fatalf("%d sign-in e-mails to %s", len(msgs), email)
	}
	link := linkIn(e.t, msgs[0], "/v1/signin/")
	out := e.must(200, "POST", link, "", nil)
	return out["session"].(string)
}

// accept follows an invite link and returns the session.
func (e *asyncEnv) accept(link string) string {
	e.t.Helper()
	out := e.must(200, "POST", link, "", nil)
	return out["session"].(string)
}

// dial connects a protocol client with a session.
func (e *asyncEnv) dial(board, session string, rep crdt.ReplicaID) *client.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hdr := http.Header{}
	u := "ws" + strings.TrimPrefix(e.tn.base, "http") + "/v1/boards/" + board + "/ws"
	if strings.Contains(session, ".") {
		u += "?token=" + session
	} else if session != "" {
		hdr.Set("Authorization", "Session "+session)
	}
	c, err := client.Dial(ctx, client.Options{URL: u, Replica: rep, Header: hdr})
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// edit makes one change through a client and waits for its ack (or
// returns the refusal).
func edit(t testing.TB, c *client.Client, at time.Time, fn func(tx *crdt.Tx) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, err := c.Edit(ctx, at.UnixMilli(), fn)
	if err != nil {
		return err
	}
	return c.WaitAck(ctx, seq)
}

func mustEdit(t testing.TB, c *client.Client, at time.Time, fn func(tx *crdt.Tx) error) {
	t.Helper()
	if err := edit(t, c, at, fn); err != nil {
		t.Fatalf("edit refused: %v", err)
	}
}

func newID(seed string) crdt.ElementID {
	var id crdt.ElementID
	copy(id[:], fmt.Sprintf("%-16s", seed))
	return id
}

func noteTx(id crdt.ElementID, text string) func(tx *crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		if err := tx.Create(id, "note"); err != nil {
			return err
		}
		return tx.InsertText(id, "text", 0, text)
	}
}

func commentTx(id, target crdt.ElementID, author, text string) func(tx *crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		if err := tx.Create(id, "comment"); err != nil {
			return err
		}
		if err := tx.Set(id, "target", crdt.String(target.String())); err != nil {
			return err
		}
		if err := tx.Set(id, "author", crdt.String(author)); err != nil {
			return err
		}
		return tx.InsertText(id, "text", 0, text)
	}
}

func voteTx(id crdt.ElementID, voter string, dots int) func(tx *crdt.Tx) error {
	return func(tx *crdt.Tx) error { return tx.Vote(id, "vote", voter, crdt.Number(float64(dots))) }
}

// TestThreeDayBrainstorm is the scenario Corkboard exists for, end to end
// on one node with a fake clock and a real SMTP conversation: Maya (New
// York) creates a password-protected board, seeds ideas, invites three
// people in Tokyo, Berlin and Sydney, asks for a daily digest at 8:00 and
// goes to bed; they join through their e-mailed links and work overnight;
// she gets exactly one digest each morning, with who did what; votes are
// tallied; the deadline closes the board; the summary ranks the ideas.
func TestThreeDayBrainstorm(t *testing.T) {
	// Monday 23 November 2026, 21:00 in New York (02:00 UTC Tuesday).
	start := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start)
	ny, _ := time.LoadLocation("America/New_York")

	maya := e.signIn("maya@example.com")
	e.must(200, "PATCH", "/v1/me", maya, map[string]any{"name": "Maya", "tz": "America/New_York"})
	deadline := start.Add(72 * time.Hour)
	created := e.must(201, "POST", "/v1/boards", maya, map[string]any{
		"name": "Q1 offsite ideas", "access": "password", "password": "pineapple pizza", "publicRole": "commenter", "deadline": deadline.UnixMilli()})
	board := created["board"].(map[string]any)["id"].(string)
	e.must(200, "PUT", "/v1/boards/"+board+"/notify", maya, map[string]any{"mode": "digest", "digestHour": 8})
	e.must(200, "POST", "/v1/boards/"+board+"/voting", maya, map[string]any{"dots": 3})

	// Maya seeds three ideas.
	mc := e.dial(board, maya, 0x1001)
	hike, boat, quiz := newID("idea-hike"), newID("idea-boat"), newID("idea-quiz")
	mustEdit(t, mc, e.clk.Now(), noteTx(hike, "Hike up the mountain"))
	mustEdit(t, mc, e.clk.Now(), noteTx(boat, "Boat trip on the lake"))
	mustEdit(t, mc, e.clk.Now(), noteTx(quiz, "Pub quiz night"))

	// She invites three people.
	people := []struct{ email, name, tz, role string }{
		{"ana@example.com", "Ana", "Asia/Tokyo", "editor"},
		{"ben@example.com", "Ben", "Europe/Berlin", "editor"},
		{"chen@example.com", "Chen", "Australia/Sydney", "commenter"},
	}
	for _, p := range people {
		e.must(201, "POST", "/v1/boards/"+board+"/invites", maya, map[string]any{"email": p.email, "role": p.role})
	}
	invites := e.deliver()
	if len(invites) != 3 {
		t.Fatalf("%d invite e-mails, want 3", len(invites))
	}
	mc.Close()
	// Maya leaves: her visit is recorded.
	e.must(200, "GET", "/v1/boards/"+board, maya, nil)

	// Nobody has done anything yet: a pass at 22:00 sends nothing.
	if got := e.notify(start.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("e-mails with nothing to report: %d", len(got))
	}

	// Overnight, each invitee joins through the e-mailed link.
	sessions := map[string]string{}
	clients := map[string]*client.Client{}
	ids := map[string]string{}
	for i, p := range people {
		e.clk.Set(start.Add(time.Duration(2+i) * time.Hour))
		inv := to(invites, p.email)
		if len(inv) != 1 {
			t.Fatalf("no invite for %s", p.email)
		}
		if !strings.Contains(textOf(t, inv[0]), "Q1 offsite ideas") {
			t.Fatalf("invite does not name the board:\n%s", textOf(t, inv[0]))
		}
		s := e.accept(linkIn(t, inv[0], "/v1/invites/"))
		me := e.must(200, "PATCH", "/v1/me", s, map[string]any{"name": p.name, "tz": p.tz})
		ids[p.name] = me["user"].(map[string]any)["id"].(string)
		got := e.must(200, "GET", "/v1/boards/"+board, s, nil)
		if role := got["you"].(map[string]any)["role"]; role != p.role {
			t.Fatalf("%s has role %v, want %s", p.name, role, p.role)
		}
		sessions[p.name] = s
		clients[p.name] = e.dial(board, s, crdt.ReplicaID(0x2001+i))
	}
	// A used invite link does not work twice.
	if code, _ := e.call("POST", linkIn(t, to(invites, "ana@example.com")[0], "/v1/invites/"), "", nil); code != 401 {
		t.Fatalf("an invite used twice: %d", code)
	}

	// The night's work (times in UTC; Maya sleeps in New York).
	night := start.Add(5 * time.Hour)
	e.clk.Set(night)
	ana, ben, chen := clients["Ana"], clients["Ben"], clients["Chen"]
	sauna := newID("idea-sauna")
	mustEdit(t, ana, night, noteTx(sauna, "Sauna and cold plunge"))
	mustEdit(t, ana, night, func(tx *crdt.Tx) error { return tx.InsertText(hike, "text", 4, " at dawn") })
	mustEdit(t, ben, night, func(tx *crdt.Tx) error { return tx.Set(boat, "x", crdt.Number(400)) })
	mustEdit(t, chen, night, commentTx(newID("c-boat"), boat, ids["Chen"], "Can @Maya check the boat rental price?"))
	// Dot votes: 3 dots each.
	mustEdit(t, ana, night, voteTx(sauna, ids["Ana"], 2))
	mustEdit(t, ana, night, voteTx(boat, ids["Ana"], 1))
	mustEdit(t, ben, night, voteTx(boat, ids["Ben"], 2))
	mustEdit(t, ben, night, voteTx(sauna, ids["Ben"], 1))
	mustEdit(t, chen, night, voteTx(boat, ids["Chen"], 3))
	if err := edit(t, ana, night, voteTx(hike, ids["Ana"], 1)); err == nil {
		t.Fatal("a fourth dot was accepted")
	}
	// Chen is a commenter: a note is refused.
	if err := edit(t, chen, night, noteTx(newID("chen-note"), "not allowed")); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("a commenter created a note: %v", err)
	}
	// After a refusal a client starts over under a new replica id
	// (PROTOCOL.md): its copy holds the refused change.
	ana.Close()
	ana = e.dial(board, sessions["Ana"], 0x2101)
	// A guest who knows the password adds a comment (the board's
	// password role is commenter).
	guest := e.must(200, "POST", "/v1/boards/"+board+"/join", "", map[string]any{"password": "pineapple pizza", "name": "Dana"})
	gc := e.dial(board, guest["token"].(string), 0x3001)
	mustEdit(t, gc, night, commentTx(newID("c-quiz"), quiz, guest["user"].(map[string]any)["id"].(string), "Quiz is fun"))
	gc.Close()

	// 07:00 in New York: not yet.
	if got := to(e.notify(time.Date(2026, 11, 24, 7, 0, 0, 0, ny)), "maya@example.com"); len(got) != 0 {
		t.Fatalf("Maya got %d e-mails before her digest hour", len(got))
	}
	// 08:00 in New York: one digest, with who did what.
	day1 := to(e.notify(time.Date(2026, 11, 24, 8, 0, 0, 0, ny)), "maya@example.com")
	if len(day1) != 1 {
		t.Fatalf("Maya got %d e-mails at 8:00, want one digest", len(day1))
	}
	text := textOf(t, day1[0])
	for _, want := range []string{"Ana", "Ben", "Chen", "Sauna and cold plunge", "boat rental", "/b/" + board} {
		if !strings.Contains(text, want) {
			t.Errorf("day-1 digest lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Pub quiz night") && !strings.Contains(text, "Quiz is fun") {
		t.Errorf("digest lists Maya's own seeding:\n%s", text)
	}
	if u := day1[0].Header.Get("List-Unsubscribe"); !strings.Contains(u, "/v1/unsubscribe?") || day1[0].Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("no one-click unsubscribe: %q", u)
	}
	// Later passes the same day send nothing more.
	for _, h := range []int{9, 13, 23} {
		if got := to(e.notify(time.Date(2026, 11, 24, h, 0, 0, 0, ny)), "maya@example.com"); len(got) != 0 {
			t.Fatalf("a second e-mail to Maya at %d:00", h)
		}
	}

	// Since her last visit: what the others did, by whom.
	ch := e.must(200, "GET", "/v1/boards/"+board+"/changes", maya, nil)
	evs, _ := ch["events"].([]any)
	byAction := map[string]int{}
	for _, ev := range evs {
		m := ev.(map[string]any)
		byAction[m["action"].(string)]++
	}
	if byAction["added"] < 1 || byAction["edited"] < 1 || byAction["moved"] < 1 || byAction["commented"] < 2 || byAction["voted"] < 2 {
		t.Fatalf("changes since Maya's visit: %v\n%v", byAction, evs)
	}

	// Day 2: Ben edits; the next morning brings one digest naming him only.
	mustEdit(t, ben, time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC), func(tx *crdt.Tx) error {
		e.clk.Set(time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC))
		return tx.InsertText(quiz, "text", 0, "Friday ")
	})
	day2 := to(e.notify(time.Date(2026, 11, 25, 8, 5, 0, 0, ny)), "maya@example.com")
	if len(day2) != 1 {
		t.Fatalf("day 2: %d e-mails to Maya", len(day2))
	}
	if text := textOf(t, day2[0]); !strings.Contains(text, "Ben") || strings.Contains(text, "Sauna") {
		t.Errorf("day-2 digest should list Ben's edit only:\n%s", text)
	}
	if day2[0].MessageID() == day1[0].MessageID() {
		t.Fatal("two digests with one Message-ID")
	}

	// Day 3: the deadline passes; the board is read-only.
	e.clk.Set(deadline.Add(time.Minute))
	if err := edit(t, ana, e.clk.Now(), noteTx(newID("too-late"), "late idea")); err == nil || !strings.Contains(err.Error(), string(protocol.CodeReadOnly)) {
		t.Fatalf("an edit after the deadline: %v", err)
	}
	if b := e.must(200, "GET", "/v1/boards/"+board, maya, nil); b["closed"] != true {
		t.Fatalf("board not closed after its deadline: %v", b)
	}
	// The owner closes the vote; the result is frozen and ordered.
	res := e.must(200, "POST", "/v1/boards/"+board+"/voting/close", maya, nil)
	result := res["voting"].(map[string]any)["result"].([]any)
	if len(result) != 2 || result[0].(map[string]any)["text"] != "Boat trip on the lake" || result[0].(map[string]any)["dots"] != 6.0 ||
		result[1].(map[string]any)["dots"] != 3.0 {
		t.Fatalf("vote result: %v", result)
	}
	// The summary ranks the ideas by votes, with their comments.
	code, md := e.call("GET", "/v1/boards/"+board+"/summary?format=md", maya, nil)
	if code != 200 {
		t.Fatalf("summary: %d", code)
	}
	s := md["raw"].(string)
	iBoat, iSauna, iQuiz := strings.Index(s, "Boat trip"), strings.Index(s, "Sauna"), strings.Index(s, "Pub quiz")
	if iBoat < 0 || iSauna < 0 || iQuiz < 0 || !(iBoat < iSauna && iSauna < iQuiz) {
		t.Fatalf("summary order (boat %d, sauna %d, quiz %d):\n%s", iBoat, iSauna, iQuiz, s)
	}
	if !strings.Contains(s, "boat rental") || !strings.Contains(s, "Ana") || !strings.Contains(s, "**Dana:** Quiz is fun") {
		t.Fatalf("summary lacks comments or participants:\n%s", s)
	}
	// The owner reopens the board by clearing the deadline.
	e.must(200, "PATCH", "/v1/boards/"+board, maya, map[string]any{"deadline": 0})
	ana.Close()
	ana = e.dial(board, sessions["Ana"], 0x2102)
	mustEdit(t, ana, e.clk.Now(), noteTx(newID("reopened"), "After reopening"))
	if code, st := e.call("GET", "/v1/boards/"+board+"/state", maya, nil); code != 200 || !strings.Contains(fmt.Sprint(st), "After reopening") {
		t.Fatalf("the edit after reopening is not in the state: %d", code)
	}
}

// TestNotificationModes: "each" batches changes into at most one e-mail per
// window and waits out quiet hours; "mentions" writes only when the member
// is @mentioned; "off" never writes; the unsubscribe link turns a member
// off.
func TestNotificationModes(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	e := newAsyncEnv(t, start)
	owner := e.signIn("owner@example.com")
	e.must(200, "PATCH", "/v1/me", owner, map[string]any{"name": "Olga"})
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "modes", "access": "members"})["board"].(map[string]any)["id"].(string)
	join := func(email, name string, prefs map[string]any) string {
		e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": email, "role": "editor"})
		s := e.accept(linkIn(t, to(e.deliver(), email)[0], "/v1/invites/"))
		e.must(200, "PATCH", "/v1/me", s, map[string]any{"name": name})
		e.must(200, "PUT", "/v1/boards/"+board+"/notify", s, prefs)
		return s
	}
	join("each@example.com", "Eve", map[string]any{"mode": "each", "batchMinutes": 30, "quietFrom": 22, "quietTo": 7})
	join("ment@example.com", "Ben Ito", map[string]any{"mode": "mentions", "batchMinutes": 1})
	off := join("off@example.com", "Otto", map[string]any{"mode": "off"})
	_ = off
	oc := e.dial(board, owner, 0x4001)
	uid := e.userID(owner)

	mustEdit(t, oc, e.clk.Now(), noteTx(newID("m1"), "first"))
	got := e.notify(start.Add(time.Minute))
	if len(to(got, "each@example.com")) != 1 || len(to(got, "ment@example.com")) != 0 || len(to(got, "off@example.com")) != 0 {
		t.Fatalf("first change: each=%d mentions=%d off=%d", len(to(got, "each@example.com")), len(to(got, "ment@example.com")), len(to(got, "off@example.com")))
	}
	// Within the 30-minute window: nothing more for Eve, then one e-mail
	// with both changes.
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("m2"), "second"))
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("m3"), "third"))
	if got := to(e.notify(start.Add(10*time.Minute)), "each@example.com"); len(got) != 0 {
		t.Fatal("a second e-mail inside the batch window")
	}
	got = to(e.notify(start.Add(32*time.Minute)), "each@example.com")
	if len(got) != 1 || !strings.Contains(textOf(t, got[0]), "second") || !strings.Contains(textOf(t, got[0]), "third") || strings.Contains(textOf(t, got[0]), "first") {
		t.Fatalf("batched e-mail: %d", len(got))
	}
	// A mention of Ben (a name with a space) writes to him; a comment
	// without one does not.
	mustEdit(t, oc, e.clk.Now(), commentTx(newID("mc1"), newID("m1"), uid, "no mention here"))
	if got := to(e.notify(start.Add(40*time.Minute)), "ment@example.com"); len(got) != 0 {
		t.Fatal("an e-mail to a mentions-only member without a mention")
	}
	mustEdit(t, oc, e.clk.Now(), commentTx(newID("mc2"), newID("m1"), uid, "what do you think, @Ben Ito?"))
	got = to(e.notify(start.Add(42*time.Minute)), "ment@example.com")
	if len(got) != 1 || !strings.Contains(textOf(t, got[0]), "what do you think") {
		t.Fatalf("mention e-mail: %d", len(got))
	}
	// Quiet hours (22:00-07:00 UTC for Eve): a change at 23:00 waits for 07:00.
	e.clk.Set(time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC))
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("late"), "late night"))
	if got := to(e.notify(time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC)), "each@example.com"); len(got) != 0 {
		t.Fatal("an e-mail during quiet hours")
	}
	got = to(e.notify(time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)), "each@example.com")
	if len(got) != 1 || !strings.Contains(textOf(t, got[0]), "late night") {
		t.Fatalf("after quiet hours: %d", len(got))
	}
	// One-click unsubscribe (RFC 8058) turns Eve off.
	unsub := got[0].Header.Get("List-Unsubscribe")
	unsub = strings.Trim(unsub, "<>")
	req, _ := http.NewRequest("POST", unsub, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("unsubscribe: %v %v", err, resp)
	}
	resp.Body.Close()
	mustEdit(t, oc, e.clk.Now(), noteTx(newID("after-unsub"), "after"))
	if got := to(e.notify(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)), "each@example.com"); len(got) != 0 {
		t.Fatal("an e-mail after unsubscribing")
	}
	// A forged unsubscribe link is refused.
	if code, _ := e.call("POST", strings.Replace(unsub, "s=", "s=x", 1), "", nil); code != 400 {
		t.Fatalf("forged unsubscribe: %d", code)
	}
}
