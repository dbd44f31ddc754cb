package crdt

import (
	"bytes"
	"compress/flate"
	"io"
)

// A snapshot with history is the state snapshot plus the op log that led to
// it, for archives, "what changed since" and time travel on a replica that
// has no server at hand. The state alone is enough to merge; the history
// is for reading the past.
//
//	history = 'H' version(1) uvarint(len(snapshot)) snapshot DEFLATE(batch)
//
// where batch is EncodeBatch of the changes in the order they were applied.

const historyFormat = 1

// SnapshotWithHistory encodes the doc's state together with log.
func (d *Doc) SnapshotWithHistory(log []Change) []byte {
	snap := d.Snapshot()
	out := []byte{'H', historyFormat}
	out = appendUvarint(out, uint64(len(snap)))
	out = append(out, snap...)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(EncodeBatch(log))
	w.Close()
	return append(out, buf.Bytes()...)
}

// LoadSnapshotWithHistory decodes what SnapshotWithHistory made.
func LoadSnapshotWithHistory(data []byte) (*Doc, []Change, error) {
	if len(data) < 2 || data[0] != 'H' {
		return nil, nil, malformed("history: bad magic")
	}
	if data[1] != historyFormat {
		return nil, nil, malformed("history: unknown format version %d", data[1])
	}
	r := reader{b: data, off: 2}
	n, err := r.uvarint()
	if err != nil {
		return nil, nil, err
	}
	snap, err := r.bytes(int(min(n, uint64(r.len()+1))))
	if err != nil {
		return nil, nil, err
	}
	d, err := LoadSnapshot(snap)
	if err != nil {
		return nil, nil, err
	}
	fr := flate.NewReader(bytes.NewReader(data[r.off:]))
	defer fr.Close()
	body, err := io.ReadAll(io.LimitReader(fr, maxSnapshotBody+1))
	if err != nil || len(body) > maxSnapshotBody {
		return nil, nil, malformed("history: inflate failed or too large")
	}
	log, err := DecodeBatch(body)
	if err != nil {
		return nil, nil, err
	}
	return d, log, nil
}
