package storage

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ApplyMetaUnsynced (the metadata view's writes, server/meta) is visible
// at once and made durable by the next synced write; a power cut before
// that loses the unsynced batches whole, with the revision each carries,
// never a value without its revision: the view's watch then resumes
// before them.
func TestMetaUnsyncedAppliesLoseWholeBatches(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	s, err := OpenPebble("db", PebbleOptions{FS: fs, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	apply := func(rev, key string) {
		t.Helper()
		err := s.ApplyMetaUnsynced(ctx, []MetaWrite{{NS: "view", Key: []byte("claims"), Val: []byte(rev)}, {NS: "claims", Key: []byte(key), Val: []byte(rev)}})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := s.GetMeta(ctx, "claims", []byte(key)); err != nil || string(v) != rev {
			t.Fatalf("%s not visible after the apply: %q %v", key, v, err)
		}
	}
	apply("1", "a")
	// A durable write syncs the log, and the batch before it with it.
	if err := s.PutMeta(ctx, "outbox", []byte("mail"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	apply("2", "b")
	apply("3", "c")
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenPebble("db", PebbleOptions{FS: crashed, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	get := func(ns, key string) string {
		v, err := r.GetMeta(ctx, ns, []byte(key))
		if errors.Is(err, ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	if got := get("claims", "a"); got != "1" {
		t.Fatalf("the batch synced by the later write: %q, want 1", got)
	}
	if get("outbox", "mail") != "x" {
		t.Fatal("the durable write is lost")
	}
	// The unsynced tail is lost whole, revision included.
	if rev, b, c := get("view", "claims"), get("claims", "b"), get("claims", "c"); rev != "1" || b != "" || c != "" {
		t.Fatalf("after the power cut: revision %q, b %q, c %q; want 1 and nothing after it", rev, b, c)
	}
}
