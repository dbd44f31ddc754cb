package node

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Account records (package account) live in the cluster's metadata
// buckets (package meta): a write is stored by a quorum, then every node
// applies it to its view and its open connections (metaChanged).

// putRecord stores a record (whose Updated the caller has set to now).
func (n *Node) putRecord(ctx context.Context, ns string, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return metaErr(n.meta.Put(ctx, ns, key, b))
}

// putRecordLocked is putRecord for a caller holding lockRecords.
func (n *Node) putRecordLocked(ctx context.Context, ns string, key []byte, v any) error {
	return n.putRecord(ctx, ns, key, v)
}

// lockRecords serialises a read-check-write of account records on this
// node. Across nodes, updateRecord's compare-and-set is what keeps a
// concurrent write from being lost.
func (n *Node) lockRecords() { n.recMu.Lock() }

// unlockRecords releases lockRecords.
func (n *Node) unlockRecords() { n.recMu.Unlock() }

// getRecord reads a record into v; storage.ErrNotFound when absent.
func (n *Node) getRecord(ctx context.Context, ns string, key []byte, v any) error {
	b, err := n.meta.Get(ctx, ns, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return storage.ErrCorrupt
	}
	return nil
}

// stamp returns an Updated time for a new version of a record that had
// old: now, or just past old so the new version always wins.
func (n *Node) stamp(old int64) int64 {
	return max(n.cfg.Now().UnixMilli(), old+1)
}

// refuse is an updateRecord or updateMeta change's answer to the client
// (reply.Refuse): the request is refused and the record stays as it was.
func refuse(status int, code protocol.Code, msg string) error { return reply.Refuse(status, code, msg) }

// updateRecord is the read-modify-write of an account record: it reads
// (ns, key) into v (found says whether it exists), lets change edit v —
// stamping its Updated with n.stamp — and stores it if nobody wrote the
// record meanwhile, on any node; otherwise it reads again and change runs
// again. An error from change (a refusal, say) leaves the record as it
// was.
func (n *Node) updateRecord(ctx context.Context, ns string, key []byte, v any, change func(found bool) error) error {
	rv := reflect.ValueOf(v).Elem()
	return metaErr(n.meta.Update(ctx, ns, key, func(old []byte, found bool) ([]byte, error) {
		rv.SetZero()
		if found && json.Unmarshal(old, v) != nil {
			return nil, storage.ErrCorrupt
		}
		if err := change(found); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}))
}

// metaErr makes a metadata store that cannot take writes now a 503.
func metaErr(err error) error {
	if errors.Is(err, meta.ErrUnavailable) {
		return refuse(503, protocol.CodeUnavailable, "the cluster's metadata store cannot take writes now (no quorum); try again")
	}
	return err
}

// metaChanged applies a metadata change, made on this node or another,
// to this node (the meta store's one hook): indexes, and what it means to
// open connections — new settings, a member's new role or removal, a
// revoked session take effect at once.
func (n *Node) metaChanged(ns string, key, val []byte) {
	n.indexChanged(ns, key, val) // index.go
	switch ns {
	case meta.NSBoard:
		if len(key) != 16 {
			return
		}
		board := storage.BoardID(key)
		var m BoardMeta
		if val == nil || (json.Unmarshal(val, &m) == nil && m.Deleted) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				n.rooms.DeleteBoard(ctx, board)
			}()
			return
		}
		go n.refreshRoles(board)
	case account.NSMember:
		var m account.Member
		if json.Unmarshal(val, &m) != nil || len(key) < 16 {
			return
		}
		board := storage.BoardID(key[:16])
		go n.refreshRoles(board)
	case account.NSSession:
		var s account.Session
		if json.Unmarshal(val, &s) == nil && s.Revoked {
			go n.closeSession(string(key))
		}
	}
}

// closeSession closes every open connection of a sign-in session (by its
// token's hash) on this node: it signed out or was revoked.
func (n *Node) closeSession(hash string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, board := range n.rooms.Boards() {
		n.rooms.Reauthorize(ctx, board, func(s *room.Session) string {
			if s.Via == viaSession && s.Cred == hash {
				return ""
			}
			return s.User.Role
		})
	}
}
