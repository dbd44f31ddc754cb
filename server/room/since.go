package room

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/storage"
)

// Limit bounds what ChangesSince reads: at most Changes op-log entries
// and Bytes bytes of their data (0: no bound). The first entry is always
// taken, so a reader that pages with a limit always gets somewhere.
type Limit struct {
	Changes int
	Bytes   int
}

// Since is what ChangesSince read.
type Since struct {
	// Entries are the op-log entries of the changes the asker lacks, in
	// log order (by Seq), each cut to the part it lacks (Start and Data).
	Entries []storage.Record
	// More: the limit stopped the scan, and the log holds more.
	More bool
	// Trimmed: retention dropped part of what the asker lacks of some
	// replica, and nothing of that replica is in Entries: only a
	// snapshot brings the asker up to date. The other replicas are read.
	Trimmed bool

	size int // bytes of Entries' data, for the limit (Take)
}

// Take adds op-log entry e, of a replica the asker has up to counter from,
// to the entries, cut to the part the asker lacks (an entry it has in
// part; one it has whole is skipped). It returns false, with More set,
// when the entries are at lim already: the scan is done.
func (s *Since) Take(e storage.Record, from uint64, lim Limit) (bool, error) {
	if n := len(s.Entries); n > 0 && (lim.Changes > 0 && n >= lim.Changes || lim.Bytes > 0 && s.size+len(e.Data) > lim.Bytes) {
		s.More = true
		return false, nil
	}
	if e.Start <= from {
		c, err := crdt.DecodeChange(e.Data)
		if err != nil {
			return false, fmt.Errorf("op-log entry %d: %w", e.Seq, err)
		}
		rest, ok := c.After(from)
		if !ok {
			return true, nil
		}
		e.Start, e.Data = rest.Start, rest.AppendBinary(nil)
	}
	s.Entries = append(s.Entries, e)
	s.size += len(e.Data)
	return true, nil
}

// ChangesSince reads from a board's op log what a peer at version have
// lacks of the changes up to upto: for each replica with have[rep] <
// upto[rep], its entries with counters past have[rep] that start at or
// before upto[rep]. upto is the board's version, with held changes (the
// room's catch-up, logVersion) or without them (what a reader outside the
// room gets: a change held for a missing dependency is not part of the
// board yet, and a client could not apply it). An entry the peer has in
// part is cut to the rest (crdt.Change.After); the others are passed on
// as stored, without being decoded.
//
// It is the one scan by version vector: a joining client's catch-up, a
// sync reply to another node, the activity since a member's last visit
// and GET …/ops read through it, and differ only in upto, the limit, and
// what they do with More and Trimmed.
func ChangesSince(ctx context.Context, st storage.Store, board storage.BoardID, have, upto crdt.VersionVector, lim Limit) (Since, error) {
	var out Since
	reps := make([]crdt.ReplicaID, 0, len(upto))
	for rep, end := range upto {
		if have[rep] < end {
			reps = append(reps, rep)
		}
	}
	slices.Sort(reps) // the same page for the same question
	for _, rep := range reps {
		from, end := have[rep], upto[rep]
		err := st.ScanReplica(ctx, board, uint64(rep), from+1, func(e storage.Record) error {
			if e.Start > end {
				return errReplicaDone // held beyond upto, and so is the rest
			}
			more, err := out.Take(e, from, lim)
			if err == nil && !more {
				return errScanDone
			}
			return err
		})
		switch {
		case err == nil || errors.Is(err, errReplicaDone):
		case errors.Is(err, errScanDone):
			return out.sorted(), nil
		case errors.Is(err, storage.ErrTrimmed):
			out.Trimmed = true
		default:
			return Since{}, fmt.Errorf("room: changes since a version: %w", err)
		}
	}
	return out.sorted(), nil
}

var errReplicaDone = errors.New("room: replica scanned")

func (s Since) sorted() Since {
	slices.SortFunc(s.Entries, func(a, b storage.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return s
}

// logVersion is the highest counter of each replica the board's op log
// holds: the doc's version and, past it, the held changes (noteReplica).
func (r *Room) logVersion() crdt.VersionVector {
	v := r.doc.Version()
	for rep, end := range r.replicas {
		if end > v[rep] {
			v[rep] = end
		}
	}
	return v
}
