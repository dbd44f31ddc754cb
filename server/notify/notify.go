// Package notify tells people what changed on a board: "since your last
// visit", the notifier's passes that e-mail members their notifications
// and digests, the one-click unsubscribe link, and the webhooks' fan-out
// of accepted changes in debounced batches. When it runs (the notifier's
// leader, the background worker) is the node's concern; the account
// records and board settings it reads and writes are reached through
// Records and Boards, which the node implements on its cluster metadata.
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
package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/activity"
	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Records are the account records the notifier reads and writes (users,
// members' cursors): cluster metadata, kept by the node.
type Records interface {
	// Get reads a record into v; storage.ErrNotFound if there is none.
	Get(ctx context.Context, ns string, key []byte, v any) error
	// Put writes a record and copies it to the other nodes.
	Put(ctx context.Context, ns string, key []byte, v any) error
	// Update reads a record into v (found: it exists), lets change edit
	// it, and writes it if nobody wrote the record meanwhile, on any node
	// (otherwise it reads again and change runs again); an error from
	// change leaves the record as it was.
	Update(ctx context.Context, ns string, key []byte, v any, change func(found bool) error) error
	// Stamp is the Updated time of a record that was old.
	Stamp(old int64) int64
}

// Boards are the board settings and board records the notifier reads
// and writes: cluster metadata, kept by the node.
type Boards interface {
	// All lists the boards that are not deleted.
	All(ctx context.Context) ([]meta.Board, error)
	// Update changes a board's settings on its current record.
	Update(ctx context.Context, board string, change func(m *meta.Board) error) error
	// Members lists a board's members.
	Members(ctx context.Context, board storage.BoardID) ([]account.Member, error)
	// Webhooks lists a board's webhooks that are not deleted.
	Webhooks(ctx context.Context, board storage.BoardID) []account.Webhook
}

// Config is what a Notifier needs from its node.
type Config struct {
	Store   storage.Store // the op log (what changed since a cursor)
	Rooms   *room.Manager // the boards' documents
	Outbox  *outbox.Outbox
	Records Records
	Boards  Boards
	Log     *slog.Logger
	Now     func() time.Time
	// PublicURL is how people reach the node, for links (it may change
	// once the node has bound its port).
	PublicURL func() string
	MailFrom  string                  // the sender of notifications
	MAC       func(msg string) string // signs unsubscribe links
	// Closed says whether a board's deadline has passed.
	Closed func(m *meta.Board) bool
	// Role is a member's role on a board now, from the board's current
	// settings ("" = none: a visitor member whose password, links or
	// access changed since they came in). Required.
	Role     func(ctx context.Context, board storage.BoardID, user string) (string, error)
	Webhooks WebhookLimits
	// Failed counts a member's channel whose e-mail failed in a pass, by
	// reason (FailRetried...); nil: not counted.
	Failed func(reason string)
}

// The reasons Config.Failed is given: a bounded set, for a metric label.
const (
	// FailRetried: the e-mail could not be made or queued (a record
	// that could not be read or written now); the member's cursor
	// stays, and the next pass tries again.
	FailRetried = "retried"
	// FailAddress: the mail package refuses the member's address; the
	// member is passed over before anything is read for them, at every
	// pass, until their address changes.
	FailAddress = "address"
	// FailRecord: a record the member's e-mail needs (their user record,
	// their cursor, the board's history) does not decode; the member is
	// passed over, and tried again only when the board changes.
	FailRecord = "record"
	// FailDropped: the mail or outbox package refused the e-mail as
	// made, which trying again cannot change; the member's cursor moved
	// on past what it told, as if it was sent.
	FailDropped = "dropped"
)

// FailReasons are the reasons Config.Failed may be given.
var FailReasons = []string{FailRetried, FailAddress, FailRecord, FailDropped}

// errDropped marks the error of an e-mail that was refused as made, and
// was dropped (FailDropped).
var errDropped = errors.New("e-mail refused as made, dropped: the cursor moved past it")

// failReason sorts a member's error into the Fail reasons, and says
// whether the next pass must try again even if the board does not change.
func failReason(err error) (reason string, retry bool) {
	switch {
	case errors.Is(err, errDropped):
		return FailDropped, false
	case errors.Is(err, storage.ErrCorrupt), errors.Is(err, crdt.ErrMalformed):
		return FailRecord, false
	}
	return FailRetried, true
}

// Notifier computes and queues a node's notifications and webhook
// deliveries.
type Notifier struct {
	cfg      Config
	accepted chan acceptedBatch // accepted changes, to the webhook worker

	mu      sync.Mutex
	quiet   map[storage.BoardID]uint64 // boards with nothing to notify, at this log position
	hooked  map[storage.BoardID]bool   // whether a board has webhooks (hasWebhooks)
	failing map[string]string          // a failing member's channel (failKey) → what failed, as logged
}

// New makes a node's notifier.
func New(cfg Config) *Notifier {
	return &Notifier{cfg: cfg, accepted: make(chan acceptedBatch, 4096), quiet: map[storage.BoardID]uint64{},
		hooked: map[storage.BoardID]bool{}, failing: map[string]string{}}
}

// Run makes one notifier pass over every board: deadline
// events, then each member's e-mail if their preferences say one is due.
// The node runs it every minute when it leads; tests call it with a fake
// clock.
func (nt *Notifier) Run(ctx context.Context) error {
	boards, err := nt.cfg.Boards.All(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for i := range boards {
		if err := nt.NotifyBoard(ctx, &boards[i]); err != nil {
			errs = append(errs, fmt.Errorf("board %s: %w", boards[i].ID, err))
		}
	}
	return errors.Join(errs...)
}

// NotifyBoard makes a notifier pass over one board, whose settings m
// were read before.
func (nt *Notifier) NotifyBoard(ctx context.Context, m *meta.Board) error {
	id, err := storage.ParseBoardID(m.ID)
	if err != nil {
		return err
	}
	if nt.cfg.Closed(m) && m.DeadlineFired != m.Deadline {
		nt.QueueWebhooks(ctx, id, "deadline", fmt.Sprintf("deadline-%016x", m.Deadline), map[string]any{"deadline": m.Deadline})
		// On the current record, under the metadata lock: what was read at
		// the start of the pass may be stale (a link deleted since, a new
		// password), and writing it back would undo that.
		fired := m.Deadline
		err := nt.cfg.Boards.Update(ctx, m.ID, func(cur *meta.Board) error {
			cur.DeadlineFired = fired
			return nil
		})
		if err != nil {
			return err
		}
	}
	members, err := nt.cfg.Boards.Members(ctx, id)
	if err != nil || len(members) == 0 {
		return err
	}
	// A board whose log has not grown since a pass that found nothing to
	// report to anyone needs no work (and no loading).
	last, err := nt.cfg.Store.LastSeq(ctx, id)
	if err != nil {
		return err
	}
	nt.mu.Lock()
	quiet, known := nt.quiet[id]
	nt.mu.Unlock()
	if known && quiet == last {
		return nil
	}
	anyPending := false
	defer func() {
		nt.mu.Lock()
		if anyPending {
			delete(nt.quiet, id)
		} else {
			nt.quiet[id] = last
		}
		nt.mu.Unlock()
	}()
	// One member's failure is theirs: the pass goes on with the next
	// member, and the failing one is logged and counted (failed), and
	// tried again at the next pass unless what failed cannot change
	// (failReason). The pass stopped at the first member whose e-mail
	// failed, and that member's cursor never moved: a member whose
	// e-mail failed at every pass (a cursor behind the history retention
	// dropped) silenced the board's e-mail for every member after them,
	// for good.
	// Only what fails for the whole board (its document cannot be
	// loaded, the pass is cancelled) ends the pass.
	var rm *room.Room
	var base map[string]string // the owner's and members' names
	for _, mem := range members {
		var u account.User
		switch err := nt.cfg.Records.Get(ctx, account.NSUser, []byte(mem.User), &u); {
		case errors.Is(err, storage.ErrNotFound):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			reason, retry := failReason(err)
			nt.failed(m.ID, mem.User, "", reason, fmt.Errorf("user record: %w", err))
			anyPending = anyPending || retry
			continue
		case u.Email == "":
			continue
		}
		// Only who may read the board now hears of it: a membership record
		// outlives the access of a visitor member (a new password, revoked
		// links, narrower access end it without touching the record). Their
		// cursors stay where they are: should they come back, they hear of
		// what they may then read anyway. Rejected: deleting the records of
		// visitors whose access ended (a write per member on every access
		// change, on every node, for what one check here decides).
		role, err := nt.cfg.Role(ctx, id, mem.User)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			nt.failed(m.ID, mem.User, "", FailRetried, err)
			anyPending = true
			continue
		}
		if role == "" {
			continue
		}
		// An address the mail package refuses (one an earlier version
		// took) is passed over before anything is read or folded for it:
		// every e-mail to it would be refused, at every pass.
		if mem.Notify.Mode != account.NotifyOff {
			if err := mail.CheckAddress(u.Email); err != nil {
				nt.failed(m.ID, mem.User, "", FailAddress, err)
				continue
			}
		}
		for _, ch := range mem.Notify.Channels() {
			if rm == nil {
				if rm, err = nt.cfg.Rooms.Open(ctx, id); err != nil {
					return err
				}
			}
			if base == nil {
				users := []string{m.Owner}
				for _, mm := range members {
					users = append(users, mm.User)
				}
				base = nt.UserNames(ctx, m, users)
			}
			pending, err := nt.notifyChannel(ctx, id, m, rm, mem, u, ch, base)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				reason, retry := failReason(err)
				nt.failed(m.ID, mem.User, ch.Name, reason, err)
				anyPending = anyPending || retry
				continue
			}
			nt.recovered(m.ID, mem.User, ch.Name)
			anyPending = anyPending || pending
		}
	}
	return nil
}

// maxFailing bounds the failing members' channels a notifier remembers
// having logged; past it, it forgets them all (and logs each once more).
const maxFailing = 10000

func failKey(board, user, channel string) string { return board + "\x00" + user + "\x00" + channel }

// failed logs and counts a member's channel whose e-mail failed: at
// warning level the first time, or when what fails changes; at debug
// level at the passes after, so that a failure that lasts does not fill
// the log with a line a minute.
func (nt *Notifier) failed(board, user, channel, reason string, err error) {
	if nt.cfg.Failed != nil {
		nt.cfg.Failed(reason)
	}
	key, cause := failKey(board, user, channel), reason+": "+err.Error()
	nt.mu.Lock()
	known := nt.failing[key] == cause
	if !known {
		if len(nt.failing) >= maxFailing {
			clear(nt.failing)
		}
		nt.failing[key] = cause
	}
	nt.mu.Unlock()
	level := slog.LevelWarn
	if known {
		level = slog.LevelDebug
	}
	nt.cfg.Log.Log(context.Background(), level, "notifications: a member's e-mail failed; the others' went on",
		"board", board, "user", user, "channel", channel, "reason", reason, "err", err)
}

// recovered forgets a member's channel that failed before.
func (nt *Notifier) recovered(board, user, channel string) {
	key := failKey(board, user, channel)
	nt.mu.Lock()
	_, was := nt.failing[key]
	delete(nt.failing, key)
	nt.mu.Unlock()
	if was {
		nt.cfg.Log.Info("notifications: a member's e-mail works again", "board", board, "user", user, "channel", channel)
	}
}

// notifyChannel runs one member's channel: what changed since its cursor,
// and whether an e-mail is due now. It says whether anything is pending.
func (nt *Notifier) notifyChannel(ctx context.Context, id storage.BoardID, m *meta.Board, rm *room.Room, mem account.Member, u account.User, ch account.Channel, base map[string]string) (bool, error) {
	key := account.CursorKey(id, mem.User, ch.Name)
	var cur account.Cursor
	switch err := nt.cfg.Records.Get(ctx, account.NSCursor, key, &cur); {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil // no cursor yet: nothing to report
	case err != nil:
		return false, fmt.Errorf("cursor: %w", err)
	}
	changes, version, kept, err := ChangesSince(ctx, nt.cfg.Store, id, rm, cur.Version, nt.cfg.Now())
	if errors.Is(err, ErrTooMuchActivity) {
		// Too much to tell: skip to now rather than fail every pass.
		nt.cfg.Log.Warn("notifications: too many changes to report; cursor moved to now", "board", m.ID, "user", mem.User)
		rm.Query(ctx, func(d *crdt.Doc) { version = d.Version() })
		next := cur
		next.Version, next.Updated = version, nt.cfg.Records.Stamp(cur.Updated)
		_, err := nt.moveCursor(ctx, key, cur, next)
		return false, err
	}
	if err != nil {
		return false, err
	}
	others := changes[:0:0]
	for _, c := range changes {
		if c.Author != mem.User {
			others = append(others, c)
		}
	}
	names := nt.AddNames(ctx, m, maps.Clone(base), others)
	var events, forYou []activity.Event
	rm.Query(ctx, func(d *crdt.Doc) {
		events = activity.SinceNames(d, others, names)
		forYou = aboutMember(d, events, mem.User, u.Name)
	})
	if ch.Prefs.Mode == account.NotifyMentions {
		events = forYou
	}
	loc := u.Location()
	now := nt.cfg.Now()
	notices, told := boardNotices(m, cur, now, loc)
	mentioned := len(forYou) > 0 || len(notices) > 0
	// Changes dropped by retention before the member was told of them
	// are something to tell too: that they are no longer kept.
	pending := len(events) > 0 || len(notices) > 0 || !kept.IsZero()
	switch ch.Prefs.Decide(now, loc, cur, pending, mentioned) {
	case account.Wait:
	case account.Advance:
		next := told
		next.Version, next.Updated = version, nt.cfg.Records.Stamp(cur.Updated)
		if ch.Prefs.Mode == account.NotifyDigest {
			next.Day = now.In(loc).Format(time.DateOnly)
		}
		_, err := nt.moveCursor(ctx, key, cur, next)
		return pending, err
	case account.Send:
		return pending, nt.sendDigest(ctx, id, m, mem, u, ch, key, cur, told, version, events, forYou, notices, names, kept)
	}
	return pending, nil
}

// boardNotices are the news of the board itself a member's channel has not
// told yet: dot voting opened or closed, a deadline set, a deadline less
// than a day away; and the cursor that records them as told.
func boardNotices(m *meta.Board, cur account.Cursor, now time.Time, loc *time.Location) ([]string, account.Cursor) {
	var out []string
	next := cur
	if v := m.Voting; v != nil {
		if state := v.Session + ":" + v.State; state != cur.Voting {
			switch {
			case v.State == "open" && v.Dots > 0:
				out = append(out, fmt.Sprintf("Dot voting is open: %d dots each.", v.Dots))
			case v.State == "open":
				out = append(out, "Dot voting is open.")
			default:
				out = append(out, "Dot voting closed: the results are on the board.")
			}
			next.Voting = state
		}
	}
	if d := m.Deadline; d > now.UnixMilli() {
		at := time.UnixMilli(d).In(loc).Format("Mon 2 Jan 15:04 MST")
		switch {
		case d-now.UnixMilli() <= (24*time.Hour).Milliseconds() && cur.DeadlineNear != d:
			out = append(out, "The deadline is less than a day away: "+at+".")
			next.DeadlineNear, next.Deadline = d, d
		case cur.Deadline != d:
			out = append(out, "A deadline is set: "+at+". After it, the board is read-only.")
			next.Deadline = d
		}
	}
	return out, next
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

// sendDigest advances the member's cursor, then enqueues one
// notification e-mail. kept is the acceptance time of the oldest change
// the log keeps when older changes since the cursor are no longer kept
// (ChangesSince), or zero.
func (nt *Notifier) sendDigest(ctx context.Context, id storage.BoardID, m *meta.Board, mem account.Member, u account.User, ch account.Channel, key []byte, cur, told account.Cursor, version crdt.VersionVector, events, forYou []activity.Event, notices []string, names map[string]string, kept time.Time) error {
	now := nt.cfg.Now()
	loc := u.Location()
	d := activity.Digest{Board: m.Name, BoardURL: nt.cfg.PublicURL() + "/b/" + m.ID, Recipient: u.Name, Names: names,
		Events: events, ForYou: forYou, Notices: notices, From: time.UnixMilli(max(cur.Sent, 1)), To: now, Loc: loc, KeptFrom: kept}
	if cur.Sent == 0 {
		d.From = time.UnixMilli(cur.Updated)
	}
	if d.From.Before(kept) {
		d.From = kept // what is told starts there
	}
	// The id names the cursor the e-mail starts from: the same pass on two
	// nodes makes the same id.
	vb, _ := json.Marshal(cur.Version)
	h := sha256.Sum256(append([]byte(ch.Prefs.Mode+"\x00"+ch.Name+"\x00"+cur.Day+"\x00"+cur.Voting+"\x00"), vb...))
	mid := "notify/" + m.ID + "/" + mem.User + "/" + hex.EncodeToString(h[:12])
	unsub := nt.UnsubscribeURL(m.ID, mem.User)
	text := d.Text() + "\n--\nYou get this because of your notification settings for this board.\nUnsubscribe: " + unsub + "\n"
	msg := mail.Message{ID: mid, From: nt.cfg.MailFrom, To: u.Email, Subject: d.Subject(), Text: text, HTML: d.HTML(),
		Unsubscribe: unsub, Headers: map[string]string{"X-Corkboard-Board": m.ID}}
	next := told
	next.Version, next.Sent, next.Updated = version, now.UnixMilli(), nt.cfg.Records.Stamp(cur.Updated)
	if ch.Prefs.Mode == account.NotifyDigest {
		next.Day = now.In(loc).Format(time.DateOnly)
	}
	it, err := mail.NewItem(msg)
	var writes []storage.MetaWrite
	if err == nil {
		writes, err = nt.cfg.Outbox.Writes(it)
	}
	if errors.Is(err, mail.ErrInvalid) || errors.Is(err, outbox.ErrInvalid) {
		// Refused as made: the same changes would make the same e-mail,
		// refused again at every pass (a subject, then a body, too long
		// for the mail package and the outbox were). The cursor moves
		// past them as if it was sent (Sent stays: nothing was), and the
		// next changes make the next e-mail.
		next.Sent = cur.Sent
		moved, perr := nt.moveCursor(ctx, key, cur, next)
		if perr != nil || !moved {
			return perr // raced: the pass that moved it decides
		}
		return fmt.Errorf("%w: %w", errDropped, err)
	}
	if err != nil {
		return err
	}
	// The cursor moves first (moveCursor): of two passes that both read
	// it, only one moves it and sends. A node killed between the two
	// steps loses this e-mail (at most once; the window is one local
	// write); the other order would send it twice.
	if moved, err := nt.moveCursor(ctx, key, cur, next); err != nil || !moved {
		return err
	}
	if err := nt.cfg.Store.ApplyMeta(ctx, writes); err != nil {
		return err
	}
	nt.cfg.Outbox.Kick()
	return nil
}

// moveCursor writes next as a member's cursor by compare-and-set from cur,
// the cursor this pass read, and says whether it wrote. Every pass moves
// a cursor this way, whatever it decided (send, advance, skip past what
// is too much to tell or could not be sent): of two nodes that both think
// they lead (a lease lost while a pass ran), only the first moves it, and
// a cursor the member restarted meanwhile (new notification settings) is
// not overwritten by a pass that read the old one. A plain write would let
// the later pass put back a cursor older than the one stored: an e-mail's
// "sent" forgotten, a day's digest sent twice.
func (nt *Notifier) moveCursor(ctx context.Context, key []byte, cur, next account.Cursor) (bool, error) {
	raced := errors.New("cursor moved")
	var stored account.Cursor
	err := nt.cfg.Records.Update(ctx, account.NSCursor, key, &stored, func(found bool) error {
		if !found || stored.Updated != cur.Updated || stored.Sent != cur.Sent {
			return raced
		}
		stored = next
		return nil
	})
	if errors.Is(err, raced) {
		return false, nil
	}
	return err == nil, err
}

// UnsubscribeURL is a member's one-click unsubscribe link for a board.
func (nt *Notifier) UnsubscribeURL(board, user string) string {
	q := url.Values{"b": {board}, "u": {user}, "s": {nt.cfg.MAC("unsub\x00" + board + "\x00" + user)}}
	return nt.cfg.PublicURL() + "/v1/unsubscribe?" + q.Encode()
}

// UnsubscribeValid says whether mac is the one UnsubscribeURL signs for a
// member of a board.
func (nt *Notifier) UnsubscribeValid(board, user, mac string) bool {
	// hmac.Equal: a byte-by-byte comparison would tell, by its timing,
	// how much of a guessed MAC is right.
	return mac != "" && hmac.Equal([]byte(mac), []byte(nt.cfg.MAC("unsub\x00"+board+"\x00"+user)))
}
