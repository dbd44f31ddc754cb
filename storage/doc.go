// Package storage is the node's durable store: per board an append-only op
// log, an index of that log by replica and op counter, and the latest few
// snapshots of the board's state; beside them a small namespaced key/value
// space for metadata (boards, members, invites, preferences, outboxes).
//
// Store is the contract. Pebble implements it on a Pebble database (the key
// layout is written down in keys.go, and only there); Memory implements it
// in memory for the tests of the packages above. Both run through one
// conformance suite (conformance_test.go).
//
// # Durability
//
// AppendOps returns only after its records are fsynced. That is the rule
// the room builds on: persist, then ack the sender, then fan out. An acked
// op survives kill -9 and power loss; crash_test.go kills a real process to
// prove it. Concurrent AppendOps calls, on one board or many, share fsyncs
// (group commit), so the cost of durability is paid per disk sync, not per
// op. Snapshot, trim, delete and metadata writes are durable on return too.
//
// Records become visible to scans a moment before AppendOps returns (when
// they reach the memtable, just before the fsync completes). Only the return
// of AppendOps means durable: the room must not ack before it.
//
// # The log
//
// A record is one encoded change of one replica covering op counters
// Start..End, stored with the author and acceptance time the caller passes.
// Seq numbers each board's records densely from 1 in the order this node
// accepted them; they are local to the node (another node's log of the same
// board has other Seqs) and are the positions snapshots refer to. A board's
// Seqs never have a gap, even after a crash: a later batch is never durable
// without an earlier one.
//
// Opening a board costs its latest snapshot plus the tail of the log after
// it (LatestSnapshot, then ScanOps from seq+1), not its whole history. The
// full history stays until TrimOps drops it, and TrimOps never drops a record
// the latest snapshot does not cover.
//
// # What it never does
//
// It never decodes an op: Data is opaque bytes, and the CRDT lives in crdt.
// It never de-duplicates: a record overlapping counters already stored is
// refused (ErrOverlap) so that a bug above shows up instead of doubling ops,
// but choosing what to append is the caller's job. It never reads the clock:
// acceptance times come in from the caller. It never panics on bad data read
// back: that is ErrCorrupt. It never keeps a caller's byte slice past the
// call, nor hands out one it still holds.
package storage
