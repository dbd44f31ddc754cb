package protocol

import (
	"errors"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/google/uuid"
)

// tinyChange is a change of n sets of one element's property: after the
// first, an op is a few bytes (the element reused, the key from the
// change's table, a small number).
func tinyChange(rep crdt.ReplicaID, start uint64, n int) crdt.Change {
	el := crdt.ElementID(uuid.MustParse("0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b"))
	c := crdt.Change{Replica: rep, Start: start, Time: 1, Ops: make([]crdt.Op, n)}
	for i := range c.Ops {
		c.Ops[i] = crdt.Op{Type: crdt.OpSet, Element: el, Key: "x", Value: crdt.Number(1)}
	}
	return c
}

// An ops frame of the smallest ops decodes to about a hundred times its
// size: one of under a megabyte held 196,608 ops (some 40 MB decoded),
// which a client could send 200 times a second. Past MaxFrameOps, the
// frame is refused as malformed before the rest is decoded; at it, it
// passes.
func TestOpsFrameOpsBounded(t *testing.T) {
	over := EncodeOpsFrame(7, []crdt.Change{tinyChange(1, 1, crdt.MaxOps), tinyChange(1, 1+crdt.MaxOps, crdt.MaxOps), tinyChange(1, 1+2*crdt.MaxOps, 1)})
	if len(over) > MaxMessageBytes {
		t.Fatalf("the frame (%d bytes) does not fit a message", len(over))
	}
	seq, changes, err := DecodeOpsFrame(over)
	if err == nil || !errors.Is(err, crdt.ErrMalformed) || !strings.Contains(err.Error(), "ops") {
		t.Fatalf("a frame of %d ops: %d changes, err %v; want malformed", 2*crdt.MaxOps+1, len(changes), err)
	}
	if seq != 7 {
		t.Fatalf("seq %d, want 7 (the refusal names the batch)", seq)
	}
	at := EncodeOpsFrame(8, []crdt.Change{tinyChange(1, 1, crdt.MaxOps), tinyChange(1, 1+crdt.MaxOps, crdt.MaxOps)})
	if _, changes, err := DecodeOpsFrame(at); err != nil || len(changes) != 2 {
		t.Fatalf("a frame of MaxFrameOps ops: %d changes, %v", len(changes), err)
	}
}

// A JSON ops frame was decoded whole before its ops were counted: a
// megabyte of empty ops ({},{},…) was 349,490 of them, some 429 MB
// allocated, for any joined session (a viewer's frame is decoded before
// its role is asked). Past MaxFrameOps the frame is refused before it is
// decoded, with a few bytes allocated, whatever its ops are (nulls and
// numbers were decoded as ops too); at it, it decodes; and objects nested
// in ops or strings that look like objects are not counted.
func TestJSONOpsFrameCountedBeforeDecoding(t *testing.T) {
	frame := func(ops int, op string) []byte {
		var b strings.Builder
		b.WriteString(`{"type":"ops","seq":1,"changes":[{"replica":"0000000000000001","start":1,"time":{"ms":1,"l":0},"ops":[`)
		for i := range ops {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(op)
		}
		b.WriteString(`]}]}`)
		return []byte(b.String())
	}
	over := frame(MaxFrameOps+1, `{}`)
	if len(over) > MaxMessageBytes {
		t.Fatalf("the frame (%d bytes) does not fit a message", len(over))
	}
	var err error
	allocs := testing.AllocsPerRun(1, func() { _, err = DecodeClientText(over) })
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("a frame of %d empty ops: %v", MaxFrameOps+1, err)
	}
	if allocs > 50 {
		t.Fatalf("refusing a frame of %d ops took %.0f allocations: it was decoded", MaxFrameOps+1, allocs)
	}
	if jsonOpsOver(frame(MaxFrameOps, `{}`), MaxFrameOps) {
		t.Fatal("a frame of MaxFrameOps ops counted over")
	}
	for _, v := range []string{"0", "null", `"x"`, "[]"} {
		if !jsonOpsOver(frame(MaxFrameOps+1, v), MaxFrameOps) {
			t.Fatalf("a frame of %d ops of %s counted under the bound", MaxFrameOps+1, v)
		}
	}
	nested := `{"type":"set","element":"0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b","key":"x","value":{"a":{"b":[{},{}]},"s":"{{{[[{"}}`
	if jsonOpsOver(frame(10, nested), 10) || !jsonOpsOver(frame(11, nested), 10) {
		t.Fatal("objects inside ops, or braces inside strings, were counted as ops")
	}
}
