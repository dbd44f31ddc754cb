// Package client is a Go client of the Corkboard sync protocol: it keeps a
// local crdt.Doc in step with a board on a node, sends local changes with an
// outbox that survives reconnects, and applies what others do. The load
// generator, the command-line tools and the tests use it; the browser
// client follows the same protocol (docs/PROTOCOL.md).
package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// Options configure a connection.
type Options struct {
	// URL of the board's sync endpoint: ws://host/v1/boards/{id}/ws
	// (with ?token=... when needed).
	URL string
	// Replica is this client's replica id (required, random per client).
	Replica crdt.ReplicaID
	Name    string
	Color   string
	// Format is "binary" (default) or "json".
	Format string
	// Doc is the local replica; nil starts empty. The client owns it while
	// connected: use Client.Edit and Client.Read.
	Doc *crdt.Doc
	// Header is sent with the upgrade request (Origin, Authorization).
	Header http.Header
	// OnOps is called (under the client's lock) after remote changes apply.
	OnOps func(applied []crdt.Change)
}

// Client is one connection. It is safe for concurrent use.
type Client struct {
	opts Options
	conn *websocket.Conn

	mu       sync.Mutex
	noApply  bool // SetApply(false)
	doc      *crdt.Doc
	seq      uint64
	outbox   []batch // sent, not yet acked, oldest first
	welcome  protocol.Welcome
	synced   chan struct{}
	acked    *sync.Cond
	errs     []protocol.Error
	refused  map[uint64]protocol.Error // batches refused, by seq
	token    string                    // a guest's token from the welcome
	peers    map[string]protocol.Peer
	closed   error
	received int
	done     chan struct{}
}

type batch struct {
	seq     uint64
	changes []crdt.Change
}

// Dial connects, says hello with the doc's version, and returns once the
// node has sent everything the doc lacked (synced).
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.Doc == nil {
		o.Doc = crdt.NewDoc()
	}
	if o.Format == "" {
		o.Format = protocol.FormatBinary
	}
	c := &Client{opts: o, doc: o.Doc, synced: make(chan struct{}), peers: map[string]protocol.Peer{},
		refused: map[uint64]protocol.Error{}, done: make(chan struct{})}
	c.acked = sync.NewCond(&c.mu)
	if err := c.connect(ctx, false); err != nil {
		return nil, err
	}
	return c, nil
}

// Reconnect dials again with the same doc and resends the unacked outbox
// (after the catch-up), as a browser does after a network drop. If it
// fails, the outbox is kept for the next attempt.
func (c *Client) Reconnect(ctx context.Context) error {
	c.conn.CloseNow()
	<-c.done
	c.mu.Lock()
	c.closed = nil
	c.synced = make(chan struct{})
	c.done = make(chan struct{})
	c.mu.Unlock()
	return c.connect(ctx, true)
}

// connect dials, says hello and waits for the catch-up. The outbox stays in
// place until then: a snapshot in the catch-up replaces the doc, and the
// outbox's changes are re-applied on top of it (see handle); only after
// "synced" are they taken out and sent again under new seqs. Whatever
// fails, c.done ends up closed, so Reconnect and CloseNow never wait in
// vain.
func (c *Client) connect(ctx context.Context, resend bool) error {
	fail := func(err error) error {
		c.mu.Lock()
		c.closed = err
		c.acked.Broadcast()
		c.mu.Unlock()
		close(c.done)
		return err
	}
	conn, resp, err := websocket.Dial(ctx, c.dialURL(), &websocket.DialOptions{
		Subprotocols: []string{protocol.Subprotocol}, HTTPHeader: c.opts.Header})
	if err != nil {
		if resp != nil {
			return fail(fmt.Errorf("client: dial: %s: %w", resp.Status, err))
		}
		return fail(fmt.Errorf("client: dial: %w", err))
	}
	conn.SetReadLimit(64 << 20)
	c.conn = conn
	c.mu.Lock()
	hello := protocol.Hello{Type: protocol.TypeHello, Replica: c.opts.Replica, Version: c.doc.Version(),
		Name: c.opts.Name, Color: c.opts.Color, Format: c.opts.Format}
	c.mu.Unlock()
	if err := conn.Write(ctx, websocket.MessageText, protocol.JSON(hello)); err != nil {
		conn.CloseNow()
		return fail(fmt.Errorf("client: hello: %w", err))
	}
	go c.readLoop()
	select {
	case <-c.synced:
	case <-c.done:
		return c.Err()
	case <-ctx.Done():
		conn.CloseNow()
		return ctx.Err()
	}
	if !resend {
		return nil
	}
	c.mu.Lock()
	pending := c.outbox
	c.outbox = nil
	c.mu.Unlock()
	for i, b := range pending {
		if _, err := c.send(ctx, b.changes); err != nil {
			// send keeps the batch it failed on; keep the rest too.
			c.mu.Lock()
			c.outbox = append(c.outbox, pending[i+1:]...)
			c.mu.Unlock()
			return err
		}
	}
	return nil
}

// dialURL is Options.URL, with the guest token the node handed out (if
// any, and if the URL has no token of its own): a guest who reconnects
// without it would be a new user, refused its own replica id.
func (c *Client) dialURL() string {
	c.mu.Lock()
	tok := c.token
	c.mu.Unlock()
	if tok == "" {
		return c.opts.URL
	}
	u, err := url.Parse(c.opts.URL)
	if err != nil {
		return c.opts.URL
	}
	q := u.Query()
	if q.Get("token") != "" {
		return c.opts.URL
	}
	q.Set("token", tok)
	u.RawQuery = q.Encode()
	return u.String()
}

// Err returns why the connection ended (nil while open).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// CloseStatus returns the close code the node sent, or 0 when the
// connection did not end with a close frame (or has not ended).
func (c *Client) CloseStatus() protocol.CloseCode {
	if s := websocket.CloseStatus(c.Err()); s > 0 {
		return protocol.CloseCode(s)
	}
	return 0
}

func (c *Client) readLoop() {
	defer close(c.done)
	ctx := context.Background()
	for {
		typ, data, err := c.conn.Read(ctx)
		if err != nil {
			c.mu.Lock()
			c.closed = err
			c.acked.Broadcast()
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		c.received++
		c.handle(typ, data)
		c.acked.Broadcast()
		c.mu.Unlock()
	}
}

// SetApply chooses whether remote changes are applied to the local
// replica (the default) or only handed to OnOps as decoded (load tests
// that measure the node, not the client: bench/cmd/load -apply=false).
func (c *Client) SetApply(apply bool) {
	c.mu.Lock()
	c.noApply = !apply
	c.mu.Unlock()
}

func (c *Client) applyLocked(changes []crdt.Change) {
	if c.noApply {
		if c.opts.OnOps != nil && len(changes) > 0 {
			c.opts.OnOps(changes)
		}
		return
	}
	var all []crdt.Change
	for _, ch := range changes {
		if _, applied, err := c.doc.Apply(ch); err == nil {
			all = append(all, applied...)
		}
	}
	if c.opts.OnOps != nil && len(all) > 0 {
		c.opts.OnOps(all)
	}
}

func (c *Client) handle(typ websocket.MessageType, data []byte) {
	if typ == websocket.MessageBinary {
		if len(data) == 0 {
			return
		}
		switch data[0] {
		case protocol.TagOpsOut:
			if changes, err := protocol.DecodeOpsOut(data); err == nil {
				c.applyLocked(changes)
			}
		case protocol.TagSnapshot:
			if d, err := crdt.LoadSnapshot(data[1:]); err == nil {
				// Keep our own changes the node has not seen: re-apply the
				// outbox on top of the snapshot.
				for _, b := range c.outbox {
					for _, ch := range b.changes {
						d.Apply(ch)
					}
				}
				c.swapDoc(d)
			}
		}
		return
	}
	var head struct {
		Type string `json:"type"`
	}
	if protocol.Unmarshal(data, &head) != nil {
		return
	}
	switch head.Type {
	case protocol.TypeWelcome:
		protocol.Unmarshal(data, &c.welcome)
		if c.welcome.Token != "" {
			c.token = c.welcome.Token
		}
		for _, p := range c.welcome.Peers {
			c.peers[p.Session] = p
		}
	case protocol.TypeSynced:
		select {
		case <-c.synced:
		default:
			close(c.synced)
		}
	case protocol.TypeOps:
		var o protocol.OpsJSON
		if protocol.Unmarshal(data, &o) == nil {
			c.applyLocked(o.Changes)
		}
	case protocol.TypeAck:
		var a protocol.Ack
		if protocol.Unmarshal(data, &a) == nil {
			for i, b := range c.outbox {
				if b.seq == a.Seq {
					c.outbox = append(c.outbox[:i:i], c.outbox[i+1:]...)
					break
				}
			}
		}
	case protocol.TypeError:
		var e protocol.Error
		if protocol.Unmarshal(data, &e) == nil {
			c.errs = append(c.errs, e)
			if e.Seq != 0 {
				// The batch is settled: its first e.Accepted changes are
				// durable, the rest refused.
				for i, b := range c.outbox {
					if b.seq == e.Seq {
						c.outbox = append(c.outbox[:i:i], c.outbox[i+1:]...)
						c.refused[e.Seq] = e
						break
					}
				}
			}
		}
	case protocol.TypePresence:
		var p protocol.Presence
		if protocol.Unmarshal(data, &p) == nil && p.Peer != nil {
			c.peers[p.Peer.Session] = *p.Peer
		}
	case protocol.TypeLeave:
		var l protocol.Leave
		if protocol.Unmarshal(data, &l) == nil {
			delete(c.peers, l.Session)
		}
	case protocol.TypeRole:
		var r protocol.RoleFrame
		if protocol.Unmarshal(data, &r) == nil {
			c.welcome.User.Role = r.Role
		}
	}
}

// swapDoc replaces the local doc (after a snapshot).
func (c *Client) swapDoc(d *crdt.Doc) {
	*c.doc = *d
}

// Edit runs fn with a transaction on the local doc and sends the change.
// It returns the batch's sequence number (see WaitAck).
func (c *Client) Edit(ctx context.Context, nowMs int64, fn func(tx *crdt.Tx) error) (uint64, error) {
	c.mu.Lock()
	tx := c.doc.Begin(c.opts.Replica, nowMs)
	err := fn(&tx)
	ch, ok := tx.Commit()
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, nil
	}
	return c.send(ctx, []crdt.Change{ch})
}

// Send sends changes already applied to the local doc (an offline outbox).
func (c *Client) Send(ctx context.Context, changes []crdt.Change) (uint64, error) {
	return c.send(ctx, changes)
}

func (c *Client) send(ctx context.Context, changes []crdt.Change) (uint64, error) {
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.outbox = append(c.outbox, batch{seq, changes})
	format := c.opts.Format
	c.mu.Unlock()
	var err error
	if format == protocol.FormatJSON {
		err = c.conn.Write(ctx, websocket.MessageText, protocol.JSON(protocol.OpsJSON{Type: protocol.TypeOps, Seq: seq, Changes: changes}))
	} else {
		err = c.conn.Write(ctx, websocket.MessageBinary, protocol.EncodeOpsFrame(seq, changes))
	}
	if err != nil {
		return 0, fmt.Errorf("client: send: %w", err)
	}
	return seq, nil
}

// SendRaw writes a raw message (tests of bad input).
func (c *Client) SendRaw(ctx context.Context, binary bool, data []byte) error {
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	return c.conn.Write(ctx, typ, data)
}

// Presence sends presence data.
func (c *Client) Presence(ctx context.Context, data []byte) error {
	return c.conn.Write(ctx, websocket.MessageText, protocol.JSON(protocol.Presence{Type: protocol.TypePresence, Data: data}))
}

// ErrClosed is returned by waits when the connection ends first.
var ErrClosed = errors.New("client: connection closed")

// RefusedError is returned by WaitAck for a refused batch.
type RefusedError struct{ Frame protocol.Error }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("client: batch %d refused (%s): %s", e.Frame.Seq, e.Frame.Code, e.Frame.Message)
}

// WaitAck waits until batch seq is acked, or refused (a *RefusedError is
// returned), or the connection ends.
func (c *Client) WaitAck(ctx context.Context, seq uint64) error {
	err := c.WaitFor(ctx, func() bool {
		for _, b := range c.outbox {
			if b.seq == seq {
				return false
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.refused[seq]; ok {
		return &RefusedError{e}
	}
	return nil
}

// Token returns the guest token the node handed out, if any: pass it in
// the URL of later connections to stay the same guest.
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// WaitFor waits until cond (called under the client's lock, with the doc
// readable) holds. It returns ErrClosed if the connection ends first.
// (Refusals are WaitAck's: a refused batch leaves the outbox.)
func (c *Client) WaitFor(ctx context.Context, cond func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.acked.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !cond() {
		if c.closed != nil {
			return fmt.Errorf("%w: %v", ErrClosed, c.closed)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c.acked.Wait()
	}
	return nil
}

// WaitRole waits until the node says the session's role is role (in the
// welcome, or a later "role" frame).
func (c *Client) WaitRole(ctx context.Context, role string) error {
	return c.WaitFor(ctx, func() bool { return c.welcome.User.Role == role })
}

// WaitDoc waits until cond holds of the local doc.
func (c *Client) WaitDoc(ctx context.Context, cond func(d *crdt.Doc) bool) error {
	return c.WaitFor(ctx, func() bool { return cond(c.doc) })
}

// Read runs fn with the local doc under the client's lock.
func (c *Client) Read(fn func(d *crdt.Doc)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c.doc)
}

// Errors returns the error frames received so far.
func (c *Client) Errors() []protocol.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocol.Error(nil), c.errs...)
}

// Pending returns the number of unacked batches.
func (c *Client) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.outbox)
}

// Welcome returns the node's welcome.
func (c *Client) Welcome() protocol.Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// Peers returns the other sessions present.
func (c *Client) Peers() []protocol.Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]protocol.Peer, 0, len(c.peers))
	for _, p := range c.peers {
		out = append(out, p)
	}
	return out
}

// Close closes the connection normally.
func (c *Client) Close() error {
	err := c.conn.Close(websocket.StatusNormalClosure, "")
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
	return err
}

// CloseNow drops the connection without a close handshake (a network cut).
func (c *Client) CloseNow() {
	c.conn.CloseNow()
	<-c.done
}
