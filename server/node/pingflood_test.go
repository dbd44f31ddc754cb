package node_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/protocol"
)

// rawFrames is a WebSocket client on a plain TCP connection: it writes
// frames byte for byte (masked, as a client must) and reads the node's
// frames one at a time, pings and pongs included.
type rawFrames struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func rawFramesDial(t *testing.T, base, path string) *rawFrames {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		path, host, protocol.Subprotocol)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return &rawFrames{t: t, conn: conn, r: r}
}

// rawFramesJoin starts a node, makes a board and joins it as replica rep
// over a rawFrames connection, up to the node's synced.
func rawFramesJoin(t *testing.T, name string, rep int) *rawFrames {
	t.Helper()
	tn := startNode(t, nil)
	b := tn.createBoard(fmt.Sprintf(`{"name":%q}`, name))
	c := rawFramesDial(t, tn.base, "/v1/boards/"+b.Board.ID+"/ws?token="+b.Token)
	hello := fmt.Sprintf(`{"type":"hello","replica":"%016x","version":{}}`, rep)
	if len(hello) > 125 {
		t.Fatal("hello too long for a short frame")
	}
	if _, err := c.conn.Write(clientFrame(0x1, []byte(hello))); err != nil {
		t.Fatal(err)
	}
	for {
		op, p, err := c.next()
		if err != nil {
			t.Fatalf("before synced: %v", err)
		}
		if op == 0x1 && strings.Contains(string(p), `"synced"`) {
			return c
		}
	}
}

// frame is one client frame of opcode op (FIN set), masked with a zero key.
func clientFrame(op byte, payload []byte) []byte {
	if len(payload) > 125 {
		panic("clientFrame: short payloads only")
	}
	f := []byte{0x80 | op, 0x80 | byte(len(payload)), 0, 0, 0, 0}
	return append(f, payload...) // a zero mask leaves the payload as it is
}

// next reads the node's next frame: its opcode and payload.
func (c *rawFrames) next() (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.r, p)
	return h[0] & 0x0f, p, err
}

// A WebSocket ping is a control frame, not a message: the library
// answers each with a pong, one write(2) from the connection's reader,
// and no message bound saw it. A joined client sending nothing but
// pings (6 bytes each) had the node write a pong for every one of them,
// for as long as it kept sending. Now the node answers a burst and a few
// a second, and closes a connection that pings faster with 1008.
func TestPingFloodClosed(t *testing.T) {
	c := rawFramesJoin(t, "pings", 77)

	const pings = 20000
	sent := make(chan error, 1)
	go func() {
		batch := make([]byte, 0, 1000*6)
		for i := 0; i < pings; i += 1000 {
			batch = batch[:0]
			for j := 0; j < 1000; j++ {
				batch = append(batch, clientFrame(0x9, nil)...)
			}
			if _, err := c.conn.Write(batch); err != nil {
				sent <- err // the node closed the connection: expected
				return
			}
		}
		sent <- nil
	}()
	pongs, closeCode := 0, -1
	for closeCode < 0 && pongs < pings {
		op, p, err := c.next()
		if err != nil {
			t.Fatalf("after %d pongs, no close frame: %v", pongs, err)
		}
		switch op {
		case 0xa:
			pongs++
		case 0x8:
			if len(p) >= 2 {
				closeCode = int(binary.BigEndian.Uint16(p))
			} else {
				closeCode = 0
			}
		}
	}
	t.Logf("%d pings sent, %d pongs, close %d", pings, pongs, closeCode)
	if closeCode != int(protocol.ClosePolicy) {
		t.Fatalf("%d pongs and close code %d for %d pings; want the connection closed with %d", pongs, closeCode, pings, protocol.ClosePolicy)
	}
	// The burst, and what the budget refills while the pings arrive (a
	// slow machine takes seconds): far from one pong per ping.
	if pongs > 1000 {
		t.Fatalf("%d pongs written before the close; want about the burst", pongs)
	}
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	<-sent
}

// TestFrameFloodClosed: a frame past the frame limit (200 a second, burst
// 1000) is refused with rate_limited, an error frame written for each: a
// client sending 6-byte frames past the limit without slowing down had
// every one answered with some 90 bytes, the pings' flaw with other
// frames (30,000 frames sent over two seconds were 28,650 refusals). A
// second limit's worth of frames is refused; past it the connection is
// closed with 1008.
func TestFrameFloodClosed(t *testing.T) {
	c := rawFramesJoin(t, "frames", 78)
	// 100 empty binary frames every 5 ms: slow enough for the node to
	// answer each at once (its send queue never fills).
	const frames = 30000
	go func() {
		batch := make([]byte, 0, 100*6)
		for i := 0; i < frames; i += 100 {
			batch = batch[:0]
			for j := 0; j < 100; j++ {
				batch = append(batch, clientFrame(0x2, nil)...)
			}
			if _, err := c.conn.Write(batch); err != nil {
				return // closed: expected
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	c.conn.SetDeadline(time.Now().Add(20 * time.Second))
	limited, closeCode := 0, -1
	for closeCode < 0 {
		op, p, err := c.next()
		if err != nil {
			t.Fatalf("after %d refusals, no close frame: %v", limited, err)
		}
		switch {
		case op == 0x8 && len(p) >= 2:
			closeCode = int(binary.BigEndian.Uint16(p))
		case op == 0x8:
			closeCode = 0
		case strings.Contains(string(p), `"rate_limited"`):
			limited++
		}
	}
	t.Logf("%d frames sent, %d refused as rate_limited, close %d", frames, limited, closeCode)
	if closeCode != int(protocol.ClosePolicy) {
		t.Fatalf("%d refusals and close code %d; want the connection closed with %d", limited, closeCode, protocol.ClosePolicy)
	}
	if limited > 3000 {
		t.Fatalf("%d refusals before the close; want about a second frame limit's worth", limited)
	}
}
