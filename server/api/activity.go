package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/activity"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/notify"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// GET /v1/boards/{board}/changes?since=<version JSON>: what changed since
// a version (default: the caller's last visit), by whom.
//
// Cost: anyone who may read a board may ask for everything since its
// start (?since={}), up to notify.MaxActivity changes and 32 MiB of them.
// Such a call used to hold all of it decoded, with no bound on the calls
// at once, and fold it in the room's goroutine, outside the board's
// whole-board reads budget: a dozen guests of a public board with a long
// history took hundreds of MiB and held up everyone's edits. Now:
//
//   - the log is read as /ops reads it (readSince): a read of more than
//     opsLightBytes of stored changes holds one of the node's maxReplays
//     whole-history slots until the answer is made (503 with Retry-After
//     when none frees), so the large reads at once are bounded whoever
//     makes them;
//   - the changes are decoded one at a time as they are folded
//     (activity.Fold), each one's stored bytes let go once folded;
//   - the fold runs on a copy of the board (a snapshot taken as a
//     whole-board read: roomtime.go), off the room's goroutine, which
//     only makes the copy.
//
// Rejected: folding in the room within the whole-board reads budget (the
// budget counts the board's elements, while the fold's cost is the
// window's, up to 32 MiB; the room would still stop for it); a lane of
// its own (the same resource as /ops and past states: memory and a core
// per whole-history read).
func (srv *Server) boardChanges(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enter(w, r)
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
	} else if KeepsVisits(who, m) {
		var seen account.Seen
		if srv.cfg.Records.Get(r.Context(), account.NSSeen, account.BoardKey(id, who.User.ID), &seen) == nil {
			if v, err := seen.Vector(); err == nil {
				since, seenAt = v, seen.At
			}
		}
	}
	rm, err := srv.cfg.Rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	// The copy below is a whole-board read: refused before the log is
	// read when the board's budget is spent.
	if err := srv.boardReadsLeft(r.Context(), id); err != nil {
		writeQueryError(w, err)
		return
	}
	var version crdt.VersionVector
	if err := rm.Query(r.Context(), func(d *crdt.Doc) { version = d.Version() }); err != nil {
		writeError(w, 503, protocol.CodeInternal, "board unavailable, retry")
		return
	}
	got, release, ok, err := srv.readSince(w, r, id, since, version, room.Limit{Changes: notify.MaxActivity, Bytes: notify.MaxActivityBytes})
	if !ok {
		return
	}
	defer release()
	switch {
	case err != nil:
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	case got.More:
		writeError(w, 413, protocol.CodeTooLarge, notify.ErrTooMuchActivity.Error())
		return
	case got.Trimmed:
		writeError(w, 413, protocol.CodeTooLarge, fmt.Sprintf("changes since that version: %v", storage.ErrTrimmed))
		return
	}
	names := srv.cfg.Notes.BoardNames(r.Context(), id, m)
	authors := map[string]bool{}
	for i := range got.Entries {
		a := got.Entries[i].Author
		if _, named := names[a]; !named && a != "" {
			authors[a] = true
		}
	}
	maps.Copy(names, srv.cfg.Notes.UserNames(r.Context(), m, slices.Sorted(maps.Keys(authors))))
	doc, err := srv.boardCopy(r.Context(), id, rm)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	if h := changesHook.Load(); h != nil {
		(*h)()
	}
	// A person's own changes are left out before folding (activity's
	// package comment): a note they added and someone else edited is
	// "edited" for them, not "added by both". Only for a person: a link's
	// user id is shared by everyone holding the link.
	mine := ""
	if KeepsVisits(who, m) {
		mine = who.User.ID
	}
	fold := activity.NewFold(doc, names)
	for i := range got.Entries {
		e := &got.Entries[i]
		if mine != "" && e.Author == mine {
			continue
		}
		c, err := activity.FromRecord(*e)
		if err != nil {
			writeError(w, 500, protocol.CodeInternal, err.Error())
			return
		}
		e.Data = nil // folded: its bytes may go
		fold.Add(&c)
	}
	events := fold.Events()
	if events == nil {
		events = []activity.Event{}
	}
	writeJSON(w, 200, map[string]any{"since": since, "seenAt": seenAt, "version": version, "events": events, "names": names})
}

// changesHook, if set, is called by GET …/changes once it holds all its
// fold needs (the changes read, a slot if the read was large, its copy
// of the board) and before it folds: a test hook (SetChangesHook), unset
// in production.
var changesHook atomic.Pointer[func()]

// SetChangesHook sets changesHook (nil: none), for tests that hold a
// call of GET …/changes while it is being served; it returns a function
// that restores the previous hook. Production code never calls it.
func SetChangesHook(f func()) (restore func()) {
	var p *func()
	if f != nil {
		p = &f
	}
	old := changesHook.Swap(p)
	return func() { changesHook.Store(old) }
}

// boardCopy is a copy of the board's live document, made from a snapshot
// taken as a whole-board read (boardQuery): its own to read off the
// room's goroutine. The error is boardQuery's, or a snapshot that does
// not load.
func (srv *Server) boardCopy(ctx context.Context, id storage.BoardID, rm *room.Room) (*crdt.Doc, error) {
	var snap []byte
	if err := srv.boardQuery(ctx, id, rm, func(d *crdt.Doc) int { snap = d.SnapshotRaw(); return len(snap) }); err != nil {
		return nil, err
	}
	return crdt.LoadSnapshot(snap)
}

// PUT /v1/boards/{board}/seen {"version"}: records the caller's visit
// (the web client sends it as it leaves; the node records it too when a
// signed-in member's connection ends).
func (srv *Server) putSeen(w http.ResponseWriter, r *http.Request) {
	id, m, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	if !KeepsVisits(who, m) {
		writeError(w, 403, protocol.CodeForbidden, "visits are recorded for signed-in people")
		return
	}
	var req struct {
		Version crdt.VersionVector `json:"version"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if err := srv.recordSeen(r.Context(), id, who.User.ID, req.Version); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	w.WriteHeader(204)
}

// KeepsVisits says whether the node keeps the visits of who: a signed-in
// person, or the board's owner through the owner token (the token a board
// is created with names its owner, the creator's own user id when they
// were signed in). Without the latter the creator's page, which keeps
// using the creation token, never had a visit recorded and saw the whole
// history as "since your last visit" forever. Rejected: switching the
// creator's page to the session cookie (an owner who was not signed in
// has none; the token is their only credential). Links and password
// guests are not people the node can tell apart: no visits for them.
func KeepsVisits(who access.Identity, m *meta.Board) bool {
	switch who.Via {
	case access.ViaSession:
		return true
	case access.ViaToken:
		return m != nil && who.User.ID == m.Owner
	}
	return false
}

// recordSeen stores a member's last-seen version (account.Seen).
//
// It runs as a signed-in member's WebSocket ends, on that connection's
// reader goroutine (gateway wsConn.leave, which copies the board's
// version in the room first), before the connection gives its slot back,
// and for PUT …/seen. It was a read-modify-write of a JSON record of the
// whole vector at every leave, changed or not: the old record decoded and
// the new one encoded, some 28 bytes and a formatted, sorted map key per
// replica (milliseconds at 1,000 replicas, a tenth of a second at
// 100,000), and a quorum write. Now:
//   - a version this node recorded (or found recorded) for the member
//     within seenRefresh is not recorded again: a fingerprint of the
//     vector, made in one pass over it, is compared with the one the
//     node remembers (seenMarks), and nothing is read, encoded or
//     written. A member joining and leaving a board nobody changes costs
//     that pass. The record's At stays at the first visit that saw that
//     version, at most seenRefresh old;
//   - otherwise the vector is kept in its canonical binary form
//     (Seen.Packed, some 10 bytes a replica, base64 in the JSON record);
//     records written before, with the JSON Version, are still read
//     (Seen.Vector) and replaced at their next write, and a record that
//     holds the vector already is left as it is;
//   - the records written for one member and board are at most
//     seenWrites a minute on a node (the node's limiter); past it the
//     visit is not recorded, and the record keeps an earlier version (the
//     member is shown again, as new, what they saw since).
//
// What bounds a join-and-leave loop: a leave is recorded only for a
// member (KeepsVisits: a signed-in person, or the owner's token); the
// WebSocket opens of a client address are bounded (--ws-opens-per-ip, 480
// a minute) and its open ones (--ws-per-ip, 64), which the leave holds
// until it is recorded; each leave's work is linear in the vector, with
// small constants, and its writes are bounded per member and board
// whatever the addresses. Rejected: writing the seen records from a
// queue of their own, coalescing a member's leaves (the last leave is
// the one that matters, but a queue needs a bound and a flush at
// shutdown, for a record that is a convenience); not recording leaves at
// all (the web client's PUT …/seen is not sent when a page is killed); a
// record of the binary form alone (records are JSON, read by every
// node's store as such).
func (srv *Server) recordSeen(ctx context.Context, id storage.BoardID, user string, v crdt.VersionVector) error {
	key := account.BoardKey(id, user)
	mark := string(key)
	sum := vectorSum(v)
	now := srv.cfg.Now().UnixMilli()
	if srv.seen.recorded(mark, sum, now) {
		return nil
	}
	if srv.cfg.Limits != nil && !srv.cfg.Limits.Allow("seen:"+id.String()+"/"+user, seenWrites, time.Minute) {
		return nil // recorded often enough lately
	}
	packed, err := v.MarshalBinary()
	if err != nil {
		return err
	}
	var s account.Seen
	at := now
	err = srv.cfg.Records.Update(ctx, account.NSSeen, key, &s, func(found bool) error {
		if found && s.Holds(packed) && now-s.At < seenRefresh.Milliseconds() {
			at = s.At
			return errUnchanged
		}
		at = now
		s = account.Seen{Board: id.String(), User: user, Packed: packed, At: now, Updated: srv.cfg.Records.Stamp(s.Updated)}
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return err
	}
	srv.seen.note(mark, sum, at)
	return nil
}

// seenRefresh is how old a member's seen record of the version they saw
// may be before a visit that saw it again writes it anew (recordSeen).
const seenRefresh = time.Hour

// seenWrites bounds the seen records written for one member and board a
// minute, on a node (recordSeen).
const seenWrites = 12

// maxSeenMarks bounds the members' versions a node remembers (seenMarks).
const maxSeenMarks = 10_000

// seenMarks remembers, per member and board, the fingerprint of the
// version this node last recorded or found recorded, and when it was
// recorded (recordSeen). At most maxSeenMarks: past it, one is forgotten
// (its next leave is recorded as before).
type seenMarks struct {
	mu sync.Mutex
	m  map[string]seenMark
}

type seenMark struct {
	sum uint64
	at  int64 // unix ms
}

// recorded says whether the version of fingerprint sum is recorded for
// key, at most seenRefresh before now.
func (s *seenMarks) recorded(key string, sum uint64, now int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.m[key]
	return ok && m.sum == sum && now-m.at < seenRefresh.Milliseconds()
}

// note remembers that the version of fingerprint sum is recorded for key,
// at at.
func (s *seenMarks) note(key string, sum uint64, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]seenMark{}
	}
	if _, ok := s.m[key]; !ok && len(s.m) >= maxSeenMarks {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[key] = seenMark{sum: sum, at: at}
}

// vectorSum is a fingerprint of a version vector, made in one pass in
// whatever order the map gives: the sum of a keyed hash of each entry
// (zero entries left out, as the canonical form leaves them), under a
// key drawn when the process starts (seenSeed). Two vectors of the same
// fingerprint are taken as the same. The key matters: the board's
// writers choose its vector's entries (their replica ids and how many
// ops each makes), and with an unkeyed mix (SplitMix64's finalizer,
// which is invertible) a writer computed two new entries whose mixes
// cancelled, leaving the board's fingerprint as it was: a member's visit
// that saw them was taken for the one recorded before, and the member
// shown them as new again (TestSeenFingerprintNotForgeable). Keyed, an
// entry's share is unknown to anyone outside the node, and two vectors
// share a fingerprint by chance alone.
func vectorSum(v crdt.VersionVector) uint64 {
	var sum uint64
	for r, c := range v {
		if c != 0 {
			sum += maphash.Comparable(seenSeed, [2]uint64{uint64(r), c})
		}
	}
	return sum
}

// seenSeed keys vectorSum, for the life of the process (seenMarks are
// the process's too).
var seenSeed = maphash.MakeSeed()

// maxSummaryEntries bounds what a summary keeps of a board's history: an
// entry per author and per change that created something.
var maxSummaryEntries = 1_000_000

var errSummaryTooLong = errors.New("this board's history has too many changes that created something to summarize")

// SetMaxSummaryEntries sets maxSummaryEntries, for tests; it returns a
// function that puts the old value back.
func SetMaxSummaryEntries(n int) (restore func()) {
	old := maxSummaryEntries
	maxSummaryEntries = n
	return func() { maxSummaryEntries = old }
}

// GET /v1/boards/{board}/summary?format=json|md|txt|csv|html: the ideas
// ranked by votes with their comments, each mindmap as an outline, who took
// part; csv has the ideas only, a row each; the html page also has a
// picture of the board with the ideas' numbers.
func (srv *Server) boardSummary(w http.ResponseWriter, r *http.Request) {
	id, m, _, ok := srv.enter(w, r)
	if !ok {
		return
	}
	rm, err := srv.cfg.Rooms.Open(r.Context(), id)
	if err != nil {
		writeError(w, 503, protocol.CodeInternal, err.Error())
		return
	}
	// The whole history, for who took part and who created what: only
	// creations are kept of each change, so a board with a long history
	// costs a scan, not its history in memory. The scan is a whole-board
	// read too (roomtime.go): refused while the board's budget is spent,
	// charged for the bytes it decoded, and one of the node's replays at
	// once (history.go), as it decodes the whole log.
	if err := srv.boardReadsLeft(r.Context(), id); err != nil {
		writeQueryError(w, err)
		return
	}
	release, ok := holdSlot(srv.replays, w, r, "the node is busy reading boards' histories; retry in a moment")
	if !ok {
		return
	}
	// A change without creations counts for its author only: it is
	// folded into that author's first entry (activity.Change.More), so
	// what is kept is an entry per author and per change that created
	// something, at most maxSummaryEntries (the history of a board of
	// 100,000 elements made one by one is 100,000). Before, every change
	// was kept: a log of 40 million small changes, within the history a
	// board may hold, was gigabytes.
	scanned := 0
	var changes []activity.Change
	first := map[string]int{} // author -> index of their first entry
	err = srv.cfg.Store.ScanOps(r.Context(), id, 1, func(rec storage.Record) error {
		scanned += len(rec.Data)
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
		if i, ok := first[c.Author]; ok && len(creates) == 0 {
			changes[i].More++
			changes[i].Accepted = max(changes[i].Accepted, c.Accepted)
			return nil
		}
		if len(changes) == maxSummaryEntries {
			return errSummaryTooLong
		}
		if _, ok := first[c.Author]; !ok {
			first[c.Author] = len(changes)
		}
		changes = append(changes, c)
		return nil
	})
	release()
	if errors.Is(err, errSummaryTooLong) {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	}
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	names := srv.cfg.Notes.Names(r.Context(), id, m, changes)
	var s activity.Summary
	format := r.URL.Query().Get("format")
	err = srv.boardQuery(r.Context(), id, rm, func(d *crdt.Doc) int {
		s = activity.Summarize(d, changes, names)
		if format == "html" {
			s.Picture = activity.Picture(d, s.Ideas) // the board, numbered as the list
		}
		return scanned + len(s.Picture)
	})
	if err != nil {
		writeQueryError(w, err)
		return
	}
	s.Board = m.Name
	s.Generated = srv.cfg.Now().UnixMilli()
	s.Deadline = m.Deadline
	var owner account.User
	if srv.cfg.Records.Get(r.Context(), account.NSUser, []byte(m.Owner), &owner) == nil {
		s.TZ = owner.TZ // times in the owner's time zone
	}
	if v := m.Voting; v != nil {
		s.Voting = &activity.VotingInfo{State: v.State, Dots: v.Dots, Anonymous: v.Anonymous, Opened: v.Opened, Closed: v.Closed}
	}
	// One naming scheme for every download: "<board> summary.<ext>".
	download := func(ext string) {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fileName(m.Name)+" summary."+ext))
	}
	switch format {
	case "", "json":
		download("json")
		writeJSON(w, 200, s)
	case "md", "markdown":
		download("md")
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Write([]byte(s.Markdown()))
	case "txt", "text":
		download("txt")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(s.Text()))
	case "csv":
		// The ideas only, one row each, for a spreadsheet
		// (activity.Summary.CSV: quoting, the BOM, formulas defused).
		download("csv")
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Write(s.CSV())
	case "html":
		// Shown, not downloaded: printed to PDF from the browser.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Write(s.HTML())
	default:
		writeError(w, 400, protocol.CodeMalformed, "format: json, md, txt, csv or html")
	}
}
