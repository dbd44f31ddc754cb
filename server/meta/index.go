package meta

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/storage"
)

// Indexes of account records, so that "my boards" (GET /v1/me) and a
// board's invites are prefix scans instead of scans of every board or
// every invite:
//
//	memberOfNS    user id + 0x00 + board id (16 bytes) → ""  (a membership)
//	boardInviteNS board id (16 bytes) + token hash       → ""  (an invite)
//
// An entry is added in the same batch as the record it indexes, when the
// watch applies it to the view (Store.apply), and never removed: the reader loads the
// record itself and skips what is removed, revoked or gone, so a stale
// entry costs one read. Not replicated: every node indexes the records it
// has. A store from before the index is indexed once, at start
// (indexRecords, from Start), marked by indexedKey.
//
// Rejected: keying the member records by user first (every board's member
// listing, the hot path, would become the scan), and an in-memory index
// (rebuilt at every start from the same scan this runs once).
const (
	memberOfNS    = "memberof"
	boardInviteNS = "boardinvite"
	indexNS       = "index"
	indexedKey    = "accounts/1"
)

// indexEntry is the index entry of an account record, if it has one.
func indexEntry(ns string, key, val []byte) (storage.MetaWrite, bool) {
	switch ns {
	case account.NSMember:
		if len(key) <= 16 {
			return storage.MetaWrite{}, false
		}
		user := key[16:]
		k := append(append(append(make([]byte, 0, len(user)+17), user...), 0), key[:16]...)
		return storage.MetaWrite{NS: memberOfNS, Key: k, Val: []byte{}}, true
	case account.NSInvite:
		var inv account.Invite
		if json.Unmarshal(val, &inv) != nil {
			return storage.MetaWrite{}, false
		}
		board, err := storage.ParseBoardID(inv.Board)
		if err != nil {
			return storage.MetaWrite{}, false
		}
		return storage.MetaWrite{NS: boardInviteNS, Key: append(board[:], key...), Val: []byte{}}, true
	}
	return storage.MetaWrite{}, false
}

// indexRecords indexes the records of a store from before the indexes,
// once, in batches.
func (s *Store) indexRecords(ctx context.Context) error {
	if _, err := s.view.GetMeta(ctx, indexNS, []byte(indexedKey)); err == nil {
		return nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	var batch []storage.MetaWrite
	flush := func() error {
		err := s.view.ApplyMeta(ctx, batch)
		batch = batch[:0]
		return err
	}
	for _, ns := range []string{account.NSMember, account.NSInvite} {
		err := s.view.ScanMeta(ctx, ns, nil, func(key, val []byte) error {
			if wr, ok := indexEntry(ns, key, val); ok {
				if batch = append(batch, wr); len(batch) == 1000 {
					return flush()
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	batch = append(batch, storage.MetaWrite{NS: indexNS, Key: []byte(indexedKey), Val: []byte{1}})
	return flush()
}

// BoardsOf calls fn with the id of every board user has (or had) a
// membership of.
func (s *Store) BoardsOf(ctx context.Context, user string, fn func(storage.BoardID) error) error {
	prefix := append([]byte(user), 0)
	return s.view.ScanMeta(ctx, memberOfNS, prefix, func(key, _ []byte) error {
		if len(key) != len(prefix)+16 {
			return nil
		}
		return fn(storage.BoardID(key[len(prefix):]))
	})
}

// InviteHashes calls fn with the token hash of every invite of a board.
func (s *Store) InviteHashes(ctx context.Context, board storage.BoardID, fn func(hash []byte) error) error {
	return s.view.ScanMeta(ctx, boardInviteNS, board[:], func(key, _ []byte) error {
		return fn(key[16:])
	})
}
