package notify

import (
	"testing"

	"github.com/corkboard/corkboard/storage"
)

// A window keeps its first max records, counts every one, and its seq
// range covers them all; past maxBatchBytes it keeps no more either.
func TestHookBatchAdd(t *testing.T) {
	var b hookBatch
	for seq := uint64(1); seq <= 15; seq++ {
		b.add([]storage.Record{{Seq: seq, Data: []byte("x")}}, 10)
	}
	if len(b.recs) != 10 || b.count != 15 || !b.truncated || b.firstSeq != 1 || b.lastSeq != 15 {
		t.Fatalf("kept %d, counted %d, truncated %v, seq %d..%d; want 10, 15, true, 1..15",
			len(b.recs), b.count, b.truncated, b.firstSeq, b.lastSeq)
	}
	var big hookBatch
	half := make([]byte, maxBatchBytes/2)
	big.add([]storage.Record{{Seq: 1, Data: half}, {Seq: 2, Data: half}, {Seq: 3, Data: []byte("x")}}, 1000)
	if len(big.recs) != 2 || big.count != 3 || !big.truncated || big.bytes != maxBatchBytes {
		t.Fatalf("kept %d (%d bytes), counted %d, truncated %v; want 2 (%d bytes), 3, true",
			len(big.recs), big.bytes, big.count, big.truncated, maxBatchBytes)
	}
}
