package meta

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/storage"
)

// The typed side of the Store: account records and board settings as
// JSON, replica claims, and the listings the indexes (index.go) make
// cheap.

// GetJSON reads a record into v; storage.ErrNotFound when absent.
func (s *Store) GetJSON(ctx context.Context, ns string, key []byte, v any) error {
	b, err := s.Get(ctx, ns, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return storage.ErrCorrupt
	}
	return nil
}

// PutJSON writes a record unconditionally.
func (s *Store) PutJSON(ctx context.Context, ns string, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Put(ctx, ns, key, b)
}

// UpdateJSON is Update on a record decoded into v: change edits v (found
// says whether the record exists) and it is written if nobody wrote it
// meanwhile, on any node; else v is read again and change runs again, so
// change must have no other effect. An error from change leaves the record
// as it was and is returned.
func (s *Store) UpdateJSON(ctx context.Context, ns string, key []byte, v any, change func(found bool) error) error {
	rv := reflect.ValueOf(v).Elem()
	return s.Update(ctx, ns, key, func(old []byte, found bool) ([]byte, error) {
		rv.SetZero()
		if found && json.Unmarshal(old, v) != nil {
			return nil, storage.ErrCorrupt
		}
		if err := change(found); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
}

// Stamp returns an Updated time for a new version of a record that had
// old: now (Options.Now), or just past old.
func (s *Store) Stamp(old int64) int64 { return max(s.now().UnixMilli(), old+1) }

// ErrNoBoard: no such board, or deleted.
var ErrNoBoard = fmt.Errorf("meta: no such board: %w", storage.ErrNotFound)

// Board reads a board's settings; ErrNoBoard (a storage.ErrNotFound) when
// it has none or was deleted.
func (s *Store) Board(ctx context.Context, id storage.BoardID) (*Board, error) {
	var m Board
	if err := s.GetJSON(ctx, NSBoard, id[:], &m); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, ErrNoBoard
		}
		return nil, fmt.Errorf("board %v metadata: %w", id, err)
	}
	if m.Deleted {
		return nil, ErrNoBoard
	}
	return &m, nil
}

// CreateBoard stores a new board's settings.
func (s *Store) CreateBoard(ctx context.Context, m *Board) error {
	id, err := storage.ParseBoardID(m.ID)
	if err != nil {
		return err
	}
	return s.PutJSON(ctx, NSBoard, id[:], m)
}

// UpdateBoard is the read-modify-write of a board's settings: change edits
// the current settings (an error leaves them as they were; ErrNoBoard if
// there are none), stamped and stored if nobody changed them meanwhile, on
// any node; else change runs again on the newer settings.
func (s *Store) UpdateBoard(ctx context.Context, id storage.BoardID, change func(m *Board) error) error {
	var m Board
	return s.UpdateJSON(ctx, NSBoard, id[:], &m, func(found bool) error {
		if !found || m.Deleted {
			return ErrNoBoard
		}
		if err := change(&m); err != nil {
			return err
		}
		m.Updated = s.Stamp(m.Updated)
		return nil
	})
}

// Boards lists the boards that are not deleted, from the view.
func (s *Store) Boards(ctx context.Context) ([]Board, error) {
	var out []Board
	err := s.Scan(ctx, NSBoard, nil, func(_, val []byte) error {
		var m Board
		if json.Unmarshal(val, &m) == nil && !m.Deleted {
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// Members lists a board's members (not the removed), from the view.
func (s *Store) Members(ctx context.Context, board storage.BoardID) ([]account.Member, error) {
	var out []account.Member
	err := s.Scan(ctx, account.NSMember, board[:], func(_, val []byte) error {
		var m account.Member
		if json.Unmarshal(val, &m) == nil && !m.Removed {
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// BallotVoters lists the users who cast a ballot in a board's voting
// session (account.BallotVoter), from the view.
func (s *Store) BallotVoters(ctx context.Context, board storage.BoardID, session string) ([]string, error) {
	var out []string
	prefix := account.BallotKey(board, session, "")
	err := s.Scan(ctx, account.NSBallot, prefix, func(key, _ []byte) error {
		out = append(out, string(key[len(prefix):]))
		return nil
	})
	return out, err
}

// Webhooks lists a board's webhooks (not the deleted), from the view.
func (s *Store) Webhooks(ctx context.Context, board storage.BoardID) []account.Webhook {
	var out []account.Webhook
	s.Scan(ctx, account.NSWebhook, board[:], func(_, val []byte) error {
		var wh account.Webhook
		if json.Unmarshal(val, &wh) == nil && !wh.Deleted {
			out = append(out, wh)
		}
		return nil
	})
	return out
}

// Claim says which user owns a replica id on a board. A claim is created
// once in cb_claims and never overwritten: when two nodes let two users
// claim one id at the same moment, one creation fails, and every node
// agrees on the owner.
type Claim struct {
	Board   string         `json:"board"`
	Replica crdt.ReplicaID `json:"replica"`
	User    string         `json:"user"`
	At      int64          `json:"at"` // unix ms
}

func claimKey(board storage.BoardID, rep crdt.ReplicaID) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), board[:]...), uint64(rep))
}

func decodeClaim(b []byte) Claim {
	var c Claim
	if json.Unmarshal(b, &c) != nil {
		c.User = string(b) // a bare user id, as stored before claims were shared
	}
	return c
}

// ClaimOf returns the user whose a board's replica id is ("" when
// nobody claimed it).
func (s *Store) ClaimOf(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID) (string, error) {
	cur, err := s.Get(ctx, NSClaim, claimKey(board, rep))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	}
	return decodeClaim(cur).User, nil
}

// LocalClaimOf is ClaimOf from this node's view alone, never asking the
// cluster: for callers on a board's goroutine, which must not wait on the
// network ("" when the view has no claim, or cannot be read).
func (s *Store) LocalClaimOf(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID) string {
	cur, err := s.view.GetMeta(ctx, NSClaim, claimKey(board, rep))
	if err != nil {
		return ""
	}
	return decodeClaim(cur).User
}

// ErrClaimed: the replica id belongs to another user.
var ErrClaimed = errors.New("meta: replica id belongs to another user")

// ClaimReplica checks that a replica id of a board is user's: ErrClaimed
// if it is another user's. With claim, an unclaimed id becomes user's,
// once for the whole cluster (so it needs the quorum: ErrUnavailable
// without it).
func (s *Store) ClaimReplica(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, user string, claim bool) error {
	key := claimKey(board, rep)
	owner := func(b []byte) error {
		if decodeClaim(b).User != user {
			return ErrClaimed
		}
		return nil
	}
	cur, err := s.Get(ctx, NSClaim, key)
	switch {
	case err == nil:
		return owner(cur)
	case !errors.Is(err, storage.ErrNotFound):
		return err
	case !claim:
		return nil
	}
	b, _ := json.Marshal(Claim{Board: board.String(), Replica: rep, User: user, At: s.now().UnixMilli()})
	err = s.Create(ctx, NSClaim, key, b)
	if errors.Is(err, ErrExists) {
		// Lost to another creation, which may not be in the view yet.
		if cur, err = s.Latest(ctx, NSClaim, key); err == nil {
			return owner(cur)
		}
	}
	return err
}
