package storage

import "context"

// PebbleStats are a few of Pebble's metrics, for the node's /metrics: the
// ones an operator of one node watches (disk, write stalls coming,
// compactions keeping up, memory). Not part of Store: the memory store
// has none.
type PebbleStats struct {
	DiskUsageBytes      uint64 // every file of the store: WAL, sstables, obsolete ones not yet deleted
	Compactions         int64  // compactions since open
	CompactionDebtBytes uint64 // estimated bytes to compact before the LSM is in shape
	CompactionsRunning  int64  // compactions in progress
	Flushes             int64  // memtable flushes since open
	MemTableBytes       uint64 // bytes allocated by the memtables
	ReadAmplification   int    // sublevels of L0 plus non-empty lower levels: the files a read may visit
	WALWrittenBytes     uint64 // bytes written to the WAL since open (physical, with framing)
	BlockCacheBytes     int64  // bytes in the block cache
	BlockCacheHits      int64
	BlockCacheMisses    int64
}

// Stats returns the store's PebbleStats, from Pebble's DB.Metrics: a copy
// made under Pebble's own lock for a moment, no lock of the store held, so
// a scrape does not wait behind writers nor hold them up.
func (p *Pebble) Stats() (PebbleStats, error) {
	if err := p.enter(context.Background()); err != nil {
		return PebbleStats{}, opError("stats", err)
	}
	defer p.leave()
	m := p.db.Metrics()
	return PebbleStats{
		DiskUsageBytes:      m.DiskSpaceUsage(),
		Compactions:         m.Compact.Count,
		CompactionDebtBytes: m.Compact.EstimatedDebt,
		CompactionsRunning:  m.Compact.NumInProgress,
		Flushes:             m.Flush.Count,
		MemTableBytes:       m.MemTable.Size,
		ReadAmplification:   m.ReadAmp(),
		WALWrittenBytes:     m.WAL.BytesWritten,
		BlockCacheBytes:     m.BlockCache.Size,
		BlockCacheHits:      m.BlockCache.Hits,
		BlockCacheMisses:    m.BlockCache.Misses,
	}, nil
}
