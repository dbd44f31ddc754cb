package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Account records (package account) are replicated like board metadata:
// each write is stored, then published to the other nodes as a record
// message; a node keeps the copy with the larger Updated time (ties by the
// bytes), so every node converges on the same record. A starting node gets
// them all in the answer to its metadata sync request.

type recordMsg struct {
	NS  string          `json:"ns"`
	Key []byte          `json:"key"`
	Val json.RawMessage `json:"val"`
}

type updated struct {
	Updated int64 `json:"updated"`
}

// newer says whether record a wins over record b.
func newer(a, b []byte) bool {
	var ua, ub updated
	json.Unmarshal(a, &ua)
	json.Unmarshal(b, &ub)
	if ua.Updated != ub.Updated {
		return ua.Updated > ub.Updated
	}
	return bytes.Compare(a, b) > 0
}

// putRecord stores a record (whose Updated the caller has set to now) and
// copies it to the other nodes. The write always wins locally: callers
// read-modify-write under lockRecords with an Updated past the old one
// (updateRecord), and call putRecordLocked there.
func (n *Node) putRecord(ctx context.Context, ns string, key []byte, v any) error {
	n.lockRecords()
	defer n.unlockRecords()
	return n.putRecordLocked(ctx, ns, key, v)
}

// putRecordLocked is putRecord for a caller holding lockRecords: the
// record is stored now, and sent to the other nodes by unlockRecords.
func (n *Node) putRecordLocked(ctx context.Context, ns string, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := n.store.PutMeta(ctx, ns, key, b); err != nil {
		return err
	}
	n.recPending = append(n.recPending, recordMsg{NS: ns, Key: key, Val: b})
	return nil
}

// lockRecords serialises account record writes on this node.
func (n *Node) lockRecords() { n.recMu.Lock() }

// unlockRecords releases lockRecords, then sends what was written under
// it to the other nodes and applies it to open connections. Publishing
// after the lock, not under it: another node's handler of the message
// takes its own lock, and a bus that delivers synchronously (the
// in-memory one) would otherwise deadlock two nodes writing at once.
func (n *Node) unlockRecords() {
	pending := n.recPending
	n.recPending = nil
	n.recMu.Unlock()
	for _, m := range pending {
		msg, _ := json.Marshal(m)
		n.bus.PublishCluster(bus.KindRecord, msg)
		n.recordChanged(m.NS, m.Key, m.Val)
	}
}

// getRecord reads a record into v; storage.ErrNotFound when absent.
func (n *Node) getRecord(ctx context.Context, ns string, key []byte, v any) error {
	b, err := n.store.GetMeta(ctx, ns, key)
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

// updateRecord is the read-modify-write of an account record, serialised
// by n.recMu: it reads (ns, key) into v (found says whether it exists),
// lets change edit v — stamping its Updated with n.stamp — and stores it,
// copied to the other nodes. An error from change (a refusal, say) leaves
// the record as it was.
func (n *Node) updateRecord(ctx context.Context, ns string, key []byte, v any, change func(found bool) error) error {
	n.lockRecords()
	defer n.unlockRecords()
	err := n.getRecord(ctx, ns, key, v)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if err := change(err == nil); err != nil {
		return err
	}
	return n.putRecordLocked(ctx, ns, key, v)
}

// onRecord keeps another node's record if it is newer.
func (n *Node) onRecord(msg bus.Message) {
	var m recordMsg
	if json.Unmarshal(msg.Data, &m) != nil || !slices.Contains(account.Replicated, m.NS) || len(m.Key) == 0 || len(m.Key) > 512 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.recMu.Lock()
	old, err := n.store.GetMeta(ctx, m.NS, m.Key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		n.recMu.Unlock()
		return
	}
	if err == nil && !newer(m.Val, old) {
		n.recMu.Unlock()
		return
	}
	err = n.store.PutMeta(ctx, m.NS, m.Key, m.Val)
	n.recMu.Unlock()
	if err == nil {
		n.recordChanged(m.NS, m.Key, m.Val)
	}
}

// publishAllRecords answers a starting node's metadata sync.
func (n *Node) publishAllRecords(ctx context.Context) {
	for _, ns := range account.Replicated {
		n.store.ScanMeta(ctx, ns, nil, func(key, val []byte) error {
			msg, _ := json.Marshal(recordMsg{NS: ns, Key: key, Val: val})
			n.bus.PublishCluster(bus.KindRecord, msg)
			return nil
		})
	}
}

// recordChanged applies what a record change means to open connections:
// a member's new role (or removal) takes effect at once.
func (n *Node) recordChanged(ns string, key, val []byte) {
	n.indexChanged(ns, key, val) // index.go
	switch ns {
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
