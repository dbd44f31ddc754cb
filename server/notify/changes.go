package notify

import (
	"context"
	"fmt"
	"strings"

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
// and the board's current version.
func ChangesSince(ctx context.Context, st storage.Store, id storage.BoardID, rm *room.Room, since crdt.VersionVector) ([]activity.Change, crdt.VersionVector, error) {
	var version crdt.VersionVector
	if err := rm.Query(ctx, func(d *crdt.Doc) { version = d.Version() }); err != nil {
		return nil, nil, err
	}
	got, err := room.ChangesSince(ctx, st, id, since, version, room.Limit{Changes: MaxActivity, Bytes: MaxActivityBytes})
	switch {
	case err != nil:
		return nil, nil, err
	case got.More:
		return nil, nil, ErrTooMuchActivity
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
