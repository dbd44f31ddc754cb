package node_test

import (
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// TestDiskReserve: anyone may create boards (20 an hour per address) and
// fill each board's history up to its bound (1 GiB), faster than any disk
// grows, so the node's disk could be filled by strangers: then the op
// log's writes fail (every board written to is unloaded) and so do the
// metadata store's. The node keeps a reserve of free space; below it, a
// client's new change is refused with "unavailable" (seq and accepted
// set) and not stored, and a REST write, a new board and a picture get
// 503, while the board still reads. Once there is space again, the same
// change is taken.
//
// The disk is real, and so is its free space as the node reads it; the
// reserve is set above it, which is what a full disk looks like to the
// node (a test cannot fill the machine's disk).
func TestDiskReserve(t *testing.T) {
	dir := t.TempDir()
	u, err := vfs.Default.GetDiskUsage(dir)
	if err != nil {
		t.Skipf("this filesystem does not say its free space: %v", err)
	}
	space := storage.NewSpaceGuard(dir, 1, 0) // room to spare, for now
	tn := startNode(t, func(c *node.Config) { c.DataDir, c.Space = dir, space })
	b := tn.createBoard(`{"name":"filling up"}`)
	editor := tokenOf(t, b.Links["editor"])
	url := tn.wsURL(b.Board.ID, editor)
	rep := crdt.ReplicaID(0x5150)
	r := rawJoin(t, url, rep, nil)
	r.expectAck(r.send(change(rep, 1, createOp(elem(1)))))
	_, before := tn.ops(b.Board.ID, b.Token)

	space.SetReserve(int64(u.AvailBytes) + 1<<30) // the disk is past its reserve
	first := change(rep, 2, createOp(elem(2)))
	seq := r.send(change(rep, 2, createOp(elem(2))))
	e := r.expectError(protocol.CodeUnavailable)
	if e.Seq != seq || e.Accepted != 0 || !strings.Contains(e.Message, "disk") {
		t.Fatalf("a change while the disk is past its reserve: %+v; want unavailable for batch %d, nothing accepted", e, seq)
	}
	r.ping() // the connection stays open
	if _, after := tn.ops(b.Board.ID, b.Token); len(after) != len(before) {
		t.Fatalf("the op log went from %d to %d changes while the disk was past its reserve", len(before), len(after))
	}
	js := "application/json"
	wantError(t, "a REST write", tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", editor, js, []byte(`{"kind":"note","text":"more"}`), nil), 503, "unavailable")
	wantError(t, "a new board", tn.do("POST", "/v1/boards", "", js, []byte(`{"name":"another"}`), nil), 503, "unavailable")
	wantError(t, "a picture", tn.do("POST", "/v1/boards/"+b.Board.ID+"/blobs", editor, "image/png", pngBytes(t, 1), nil), 503, "unavailable")
	if res := tn.do("GET", "/v1/boards/"+b.Board.ID+"/state", editor, "", nil, nil); res.status != 200 {
		t.Fatalf("reading the board while the disk is past its reserve: %d %s", res.status, res.body)
	}
	if res := tn.do("POST", "/v1/boards", "", js, []byte(`{"name":"another"}`), nil); res.header.Get("Retry-After") == "" {
		t.Fatalf("a 503 for a full disk without Retry-After: %v", res.header)
	}

	space.SetReserve(1) // space freed
	r.expectAck(r.send(first))
	if _, after := tn.ops(b.Board.ID, b.Token); len(after) != len(before)+1 {
		t.Fatalf("the change sent again once there was space: %d changes stored, want %d", len(after), len(before)+1)
	}
	if res := tn.do("POST", "/v1/boards", "", js, []byte(`{"name":"another"}`), nil); res.status != 201 {
		t.Fatalf("a new board once there is space: %d %s", res.status, res.body)
	}
}

// TestDiskReserveRefusalsNotCharged: a batch refused because the disk is
// past its reserve is not stored, and the web client sends it again
// every 10 s until it is taken. Each sending counted against the day's
// bytes of changes of the address (--change-mib-per-day), refused or
// not: an hour of a full disk with a batch of 300 KB waiting spent the
// day's gigabyte, and everyone behind that address could write nothing
// more that day once space was freed. A batch the disk refuses is not
// counted, over the WebSocket or the write API.
func TestDiskReserveRefusalsNotCharged(t *testing.T) {
	dir := t.TempDir()
	u, err := vfs.Default.GetDiskUsage(dir)
	if err != nil {
		t.Skipf("this filesystem does not say its free space: %v", err)
	}
	const quota = 64 << 10
	space := storage.NewSpaceGuard(dir, 1, 0)
	tn := startNode(t, func(c *node.Config) { c.DataDir, c.Space, c.Quotas.ChangeBytesPerDay = dir, space, quota })
	b := tn.createBoard(`{"name":"filling up"}`)
	editor := tokenOf(t, b.Links["editor"])
	rep := crdt.ReplicaID(0x5151)
	r := rawJoin(t, tn.wsURL(b.Board.ID, editor), rep, nil)
	r.expectAck(r.send(change(rep, 1, createOp(elem(1)))))

	space.SetReserve(int64(u.AvailBytes) + 1<<30) // the disk is past its reserve
	big := change(rep, 2, setOp(elem(1), "alt", crdt.String(strings.Repeat("z", 20_000))))
	for range 5 { // 100 KB sent, every time refused by the disk
		r.send(big)
		r.expectError(protocol.CodeUnavailable)
	}
	body := []byte(`{"kind":"note","text":"` + strings.Repeat("y", 20_000) + `"}`)
	for range 5 {
		res := tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", editor, "application/json", body, nil)
		wantError(t, "a REST write while the disk is full", res, 503, "unavailable")
		if res.header.Get("Retry-After") == "" {
			t.Fatalf("a REST write refused for the disk without Retry-After: %v", res.header)
		}
	}

	space.SetReserve(1) // space freed: the batch is taken, within the day's bytes
	r.expectAck(r.send(big))
	if res := tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", editor, "application/json", body, nil); res.status != 201 {
		t.Fatalf("a REST write once there is space: %d %s", res.status, res.body)
	}
}
