package node

import (
	"context"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/api"
	"github.com/corkboard/corkboard/server/gateway"
	"github.com/corkboard/corkboard/storage"
)

// SetReadHook sets the hook every connection's reader calls with each
// message it reads (gateway.SetReadHook).
func SetReadHook(f func(data []byte)) (restore func()) { return gateway.SetReadHook(f) }

// SetChangesHook sets the hook GET …/changes calls once it holds what it
// folds, before it folds (api.SetChangesHook).
func SetChangesHook(f func()) (restore func()) { return api.SetChangesHook(f) }

// SetMaxSummaryEntries sets the bound on what a summary keeps of a
// board's history (api.SetMaxSummaryEntries).
func SetMaxSummaryEntries(n int) (restore func()) { return api.SetMaxSummaryEntries(n) }

// SetSlotWait sets how long a call waits for a slot of the node's heavy
// lanes before it is answered 503 (api.SetSlotWait).
func SetSlotWait(d time.Duration) (restore func()) { return api.SetSlotWait(d) }

// NotifyBoardAfter runs the notifier on a board with the metadata read
// before between runs: a change made during a pass (tests of stale
// writes).
func (n *Node) NotifyBoardAfter(ctx context.Context, board string, between func()) error {
	id, err := storage.ParseBoardID(board)
	if err != nil {
		return err
	}
	m, err := n.loadBoard(ctx, id)
	if err != nil {
		return err
	}
	between()
	return n.notes.NotifyBoard(ctx, m)
}

// BallotVoters lists the users recorded as ballot voters of a board's
// voting session (account.BallotVoter), from this node's view.
func (n *Node) BallotVoters(ctx context.Context, board, session string) ([]string, error) {
	id, err := storage.ParseBoardID(board)
	if err != nil {
		return nil, err
	}
	return n.meta.BallotVoters(ctx, id, session)
}

// PutRecordRaw writes a metadata record as it is given (a record in a
// form written by an earlier version of the node).
func (n *Node) PutRecordRaw(ctx context.Context, ns string, key, val []byte) error {
	return n.meta.Put(ctx, ns, key, val)
}

// PutRawRecord writes a metadata record's bytes as they are, as a node of
// an earlier version, or a damaged disk, may have left them (tests of
// records that no longer decode).
func (n *Node) PutRawRecord(ctx context.Context, ns string, key, val []byte) error {
	return n.meta.Put(ctx, ns, key, val)
}

// SetUserEmail changes a user's address in their record, without the
// checks an address is given through the API (tests of an address an
// earlier version took).
func (n *Node) SetUserEmail(ctx context.Context, user, email string) error {
	var u account.User
	return records{n}.Update(ctx, account.NSUser, []byte(user), &u, func(bool) error {
		u.Email = email
		return nil
	})
}
