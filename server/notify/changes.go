package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/activity"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// MaxActivity and MaxActivityBytes bound the changes read to describe
// what happened since a version (a member away for a very long time on a
// very busy board): anyone who may read a board may ask for everything
// since its start (GET /changes?since={}), and a change may be MiBs.
const (
	MaxActivity      = 200000
	MaxActivityBytes = 32 << 20
)

// ErrTooMuchActivity: more changes since a version than are described.
var ErrTooMuchActivity = fmt.Errorf("more than %d changes or %d MiB of them since that version: load the board instead", MaxActivity, MaxActivityBytes>>20)

// ChangesSince reads the accepted changes a version lacks, in log order,
// and the board's current version. When retention dropped part of what
// the version lacks, it reads what the log still keeps of it instead
// (keptSince), and kept is the acceptance time of the oldest change the
// log keeps, or now if it keeps none; otherwise kept is zero.
func ChangesSince(ctx context.Context, st storage.Store, id storage.BoardID, rm *room.Room, since crdt.VersionVector, now time.Time) (changes []activity.Change, version crdt.VersionVector, kept time.Time, err error) {
	if err := rm.Query(ctx, func(d *crdt.Doc) { version = d.Version() }); err != nil {
		return nil, nil, time.Time{}, err
	}
	lim := room.Limit{Changes: MaxActivity, Bytes: MaxActivityBytes}
	got, err := room.ChangesSince(ctx, st, id, since, version, lim)
	if err == nil && got.Trimmed {
		got, kept, err = keptSince(ctx, st, id, since, version, lim)
		if kept.IsZero() {
			kept = now // a snapshot covers the whole log
		}
	}
	switch {
	case err != nil:
		return nil, nil, time.Time{}, err
	case got.More:
		return nil, nil, time.Time{}, ErrTooMuchActivity
	}
	out := make([]activity.Change, 0, len(got.Entries))
	for _, e := range got.Entries {
		c, err := activity.FromRecord(e)
		if err != nil {
			return nil, nil, time.Time{}, err
		}
		out = append(out, c)
	}
	return out, version, kept, nil
}

// keptSince is room.ChangesSince for a version behind the history that
// retention kept: the entries the log still keeps of what have lacks up
// to upto, in log order, each cut to the part it lacks, within lim; and
// the acceptance time of the oldest entry the log keeps. It reads the
// whole kept log (what the retention period holds), once per member who
// fell behind it: their cursor then moves past it. A member whose cursor
// was behind the kept history failed at every pass and was never told
// anything again. Rejected: moving such a cursor to the board's version
// without a word (the member would not know what they missed).
func keptSince(ctx context.Context, st storage.Store, id storage.BoardID, have, upto crdt.VersionVector, lim room.Limit) (room.Since, time.Time, error) {
	var out room.Since
	var kept time.Time
	err := st.ScanOps(ctx, id, 1, func(e storage.Record) error {
		if kept.IsZero() {
			kept = time.UnixMilli(e.Accepted)
		}
		rep := crdt.ReplicaID(e.Replica)
		from, end := have[rep], upto[rep]
		if e.Start > end || e.End != 0 && e.End <= from {
			return nil // held beyond the version, or had
		}
		more, err := out.Take(e, from, lim)
		if err == nil && !more {
			return errKeptDone
		}
		return err
	})
	if err != nil && !errors.Is(err, errKeptDone) {
		return room.Since{}, time.Time{}, fmt.Errorf("changes the log keeps since a version: %w", err)
	}
	return out, kept, nil
}

var errKeptDone = errors.New("notify: enough changes read")

// Names maps the board's people to display names: the owner, the members
// and the authors of the given changes.
func (nt *Notifier) Names(ctx context.Context, id storage.BoardID, m *meta.Board, changes []activity.Change) map[string]string {
	return nt.AddNames(ctx, m, nt.BoardNames(ctx, id, m), changes)
}

// BoardNames maps the board's owner and members to display names.
func (nt *Notifier) BoardNames(ctx context.Context, id storage.BoardID, m *meta.Board) map[string]string {
	ms, _ := nt.cfg.Boards.Members(ctx, id)
	users := []string{m.Owner}
	for _, mem := range ms {
		users = append(users, mem.User)
	}
	return nt.UserNames(ctx, m, users)
}

// AddNames adds the authors of changes missing from names.
func (nt *Notifier) AddNames(ctx context.Context, m *meta.Board, names map[string]string, changes []activity.Change) map[string]string {
	var more []string
	for _, c := range changes {
		if _, ok := names[c.Author]; !ok && c.Author != "" {
			more = append(more, c.Author)
		}
	}
	for u, name := range nt.UserNames(ctx, m, more) {
		names[u] = name
	}
	return names
}

// UserNames reads the display names of users that have a record. The
// holders of one of m's role links share the link's id and have none:
// they are named after the link (LinkName), never by that id.
func (nt *Notifier) UserNames(ctx context.Context, m *meta.Board, users []string) map[string]string {
	out := map[string]string{}
	for _, u := range users {
		if _, done := out[u]; done {
			continue
		}
		var usr account.User
		if nt.cfg.Records.Get(ctx, account.NSUser, []byte(u), &usr) == nil {
			out[u] = usr.Name
		} else if strings.HasPrefix(u, access.LinkPrefix) {
			out[u] = LinkName(m, u)
		}
	}
	return out
}

// LinkName is how the holders of a role link are named in e-mails, the
// summary and "since your last visit": "Guest (editor link)" (the link's
// role as m lists it; "Guest (link)" for a link revoked since, or on a
// board whose links are not records). Everyone who opened the link
// writes under its one id, so no one person's name would be true.
func LinkName(m *meta.Board, user string) string {
	if m != nil {
		for _, l := range m.Links {
			if access.LinkPrefix+l.ID == user {
				return "Guest (" + l.Role + " link)"
			}
		}
	}
	return "Guest (link)"
}
