package storage

import (
	"errors"
	"testing"
)

// The per-replica cache of highest stored ends (pebbleBoard.ends) lets an
// append past them skip the index seek; every overlap must still be
// refused with it warm, cold (a reopened store), cleared at its bound, and
// after DeleteBoard.
func TestPebbleOverlapCache(t *testing.T) {
	dir := t.TempDir()
	s := openTestPebble(t, dir, PebbleOptions{})
	b := board(3)
	refused := func(what string, s Store, r Record) {
		t.Helper()
		if err := s.AppendOps(ctx, b, []Record{r}); !errors.Is(err, ErrOverlap) {
			t.Fatalf("%s: err = %v, want ErrOverlap", what, err)
		}
	}
	mustAppend(t, s, b, rec(7, 1, 3))
	mustAppend(t, s, b, rec(7, 4, 4)) // past the cached end
	refused("the same change again", s, rec(7, 4, 4))
	refused("over the last two", s, rec(7, 2, 5))
	mustAppend(t, s, b, rec(7, 10, 12))
	mustAppend(t, s, b, rec(7, 6, 8)) // a gap below the highest end
	refused("into the filled gap", s, rec(7, 8, 9))
	refused("into the highest span", s, rec(7, 12, 12))

	// Cold: a reopened store reads the highest end from the index.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestPebble(t, dir, PebbleOptions{})
	refused("after reopening", s, rec(7, 11, 11))
	mustAppend(t, s, b, rec(7, 13, 13))
	refused("after reopening, the new change", s, rec(7, 13, 13))

	// More replicas than the cache holds: it is cleared and refilled.
	for r := uint64(100); r < 100+maxEndsCached+10; r++ {
		mustAppend(t, s, b, rec(r, 1, 2))
	}
	refused("a replica evicted from the cache", s, rec(100, 2, 2))
	refused("the first replica", s, rec(7, 1, 1))
	mustAppend(t, s, b, rec(100, 3, 3))

	// A deleted board starts over.
	if err := s.DeleteBoard(ctx, b); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, b, rec(7, 1, 3))
	refused("after DeleteBoard", s, rec(7, 3, 3))
}
