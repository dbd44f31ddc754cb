package node

import (
	"context"
	"encoding/json"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/storage"
)

// The node's cluster metadata (account records, board settings), as the
// small interfaces the packages below the node declare for what they
// read and write of it. Each method is a thin call to the node's own
// functions (records.go, replicate.go, index.go), so the metadata's
// engine can change under them without touching those packages.

// records are the node's account records: notify.Records,
// access.Records, api.Records.
type records struct{ n *Node }

func (r records) Get(ctx context.Context, ns string, key []byte, v any) error {
	return r.n.getRecord(ctx, ns, key, v)
}

func (r records) Put(ctx context.Context, ns string, key []byte, v any) error {
	return r.n.putRecord(ctx, ns, key, v)
}

func (r records) Stamp(old int64) int64 { return r.n.stamp(old) }

// boards are the node's board settings and board records: notify.Boards,
// access.Boards, api.Boards.
type boards struct{ n *Node }

// All lists the boards that are not deleted.
func (b boards) All(ctx context.Context) ([]BoardMeta, error) {
	var out []BoardMeta
	err := b.n.store.ScanMeta(ctx, "board", nil, func(_, val []byte) error {
		var m BoardMeta
		if json.Unmarshal(val, &m) == nil && !m.Deleted {
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

func (b boards) Update(ctx context.Context, board string, change func(m *BoardMeta) error) error {
	return b.n.updateMeta(ctx, board, change)
}

// Members lists a board's members.
func (b boards) Members(ctx context.Context, board storage.BoardID) ([]account.Member, error) {
	var out []account.Member
	err := b.n.store.ScanMeta(ctx, account.NSMember, board[:], func(_, val []byte) error {
		var m account.Member
		if json.Unmarshal(val, &m) == nil && !m.Removed {
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// Webhooks lists a board's webhooks that are not deleted.
func (b boards) Webhooks(ctx context.Context, board storage.BoardID) []account.Webhook {
	var out []account.Webhook
	b.n.store.ScanMeta(ctx, account.NSWebhook, board[:], func(_, val []byte) error {
		var wh account.Webhook
		if json.Unmarshal(val, &wh) == nil && !wh.Deleted {
			out = append(out, wh)
		}
		return nil
	})
	return out
}

// Load reads a board's settings (access.Boards).
func (b boards) Load(ctx context.Context, board storage.BoardID) (*BoardMeta, error) {
	return b.n.loadBoard(ctx, board)
}

func (r records) Update(ctx context.Context, ns string, key []byte, v any, change func(found bool) error) error {
	return r.n.updateRecord(ctx, ns, key, v, change)
}

func (r records) Lock()   { r.n.lockRecords() }
func (r records) Unlock() { r.n.unlockRecords() }

func (r records) PutLocked(ctx context.Context, ns string, key []byte, v any) error {
	return r.n.putRecordLocked(ctx, ns, key, v)
}

// Create stores a new board's settings and copies them to the other
// nodes.
func (b boards) Create(ctx context.Context, m *BoardMeta) error { return b.n.publishMeta(ctx, m) }

// Of calls fn with each board user is a member of (index.go).
func (b boards) Of(ctx context.Context, user string, fn func(storage.BoardID) error) error {
	return b.n.boardsOf(ctx, user, fn)
}

// InviteHashes calls fn with the hash of each of a board's invites
// (index.go).
func (b boards) InviteHashes(ctx context.Context, board storage.BoardID, fn func(hash []byte) error) error {
	return b.n.inviteHashes(ctx, board, fn)
}
