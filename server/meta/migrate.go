package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
)

// migrate copies into the buckets the records of a store written before
// they existed, when that is what this node has.
//
// Before the buckets, each node kept its own copy of every record in
// Pebble, under the namespaces the view uses now, and copies converged by
// last writer (the larger Updated, ties by the bytes). A bucket this
// node's view never applied a revision of (viewNS has none), or one that
// is behind the view (its store was reset), gets the view's records: each
// is created, or, where another node already migrated the key, written if
// this copy wins by the old rule. A claim is never overwritten (the first
// migrated stays, as all nodes agree on it from then on). It is
// idempotent: a node stopped half-way migrates again at its next start.
// The watch that starts next then brings the view up to the buckets.
func (s *Store) migrate(ctx context.Context) error {
	for _, cfg := range Buckets {
		w := s.buckets[cfg.Name]
		last, err := w.Last(ctx)
		if err != nil {
			return err
		}
		if w.applied > 0 && last >= w.applied {
			continue // watched before, and the bucket has all of it
		}
		n := 0
		for _, ns := range cfg.NS {
			err := s.view.ScanMeta(ctx, ns, nil, func(key, val []byte) error {
				n++
				return s.migrateOne(ctx, w, ns, key, val)
			})
			if err != nil {
				return err
			}
		}
		if n > 0 {
			s.log.Info("meta: migrated records into the bucket", "bucket", cfg.Name, "records", n)
		}
		w.applied = 0 // watch it all from the start
	}
	return nil
}

func (s *Store) migrateOne(ctx context.Context, w *watched, ns string, key, val []byte) error {
	k := kvKey(ns, key)
	for range maxRetries {
		_, err := w.Create(ctx, k, val)
		if !errors.Is(err, ErrExists) {
			return err
		}
		if ns == NSClaim {
			return nil
		}
		cur, err := w.Get(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile: create again
		}
		if err != nil {
			return err
		}
		if !newer(val, cur.Value) {
			return nil
		}
		if _, err := w.Update(ctx, k, val, cur.Rev); !errors.Is(err, ErrExists) {
			return err
		}
	}
	return ErrUnavailable
}

// newer says whether record a wins over record b by the rule of the
// copies before the buckets: the larger Updated, ties by the bytes.
func newer(a, b []byte) bool {
	var ua, ub struct {
		Updated int64 `json:"updated"`
	}
	json.Unmarshal(a, &ua)
	json.Unmarshal(b, &ub)
	if ua.Updated != ub.Updated {
		return ua.Updated > ub.Updated
	}
	return bytes.Compare(a, b) > 0
}
