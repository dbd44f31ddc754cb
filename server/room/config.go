package room

import (
	"context"
	"log/slog"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// Config configures a Manager. Zero values take the stated defaults.
type Config struct {
	// Node is this node's id (required).
	Node  string
	Store storage.Store // required
	Bus   bus.Bus       // required (bus.NewHub().Node(...) in tests)
	// SnapshotEvery: accepted changes between snapshots (default 1000).
	SnapshotEvery int
	// IdleTimeout: how long a room without sessions stays loaded
	// (default 1 minute).
	IdleTimeout time.Duration
	// SnapshotCatchup: a client missing more changes than this gets a
	// snapshot instead (default 2000).
	SnapshotCatchup int
	// MaxGroup: submissions committed together at most (default 256).
	MaxGroup int
	// MaxQueuedOps: ops of the submissions waiting in the room's inbox,
	// all together (default 262,144, about 50 MB decoded). Past it,
	// Submit refuses with ErrBusy, unless nothing else waits (a batch
	// bigger than it still passes alone). The inbox holds 256 messages;
	// counted in messages only, 256 frames of 131,072 ops each could wait
	// behind a busy room: some 6 GB.
	MaxQueuedOps int
	// MaxHeld: changes a room holds for missing dependencies (default
	// 10000); past it, further changes with missing dependencies are refused.
	MaxHeld int
	// MaxHeldBytes: memory the held changes of one board may take, as
	// crdt.HeldSize counts it (default 8 MiB). MaxHeldReplica and
	// MaxHeldReplicaBytes bound one replica's share (default a quarter of
	// MaxHeld and MaxHeldBytes); the bytes bound applies to one user across
	// the replicas it sent from, too. A change that would be held past any
	// of them is refused with "rate_limited" and not stored; changes from other
	// nodes past them are not stored either (anti-entropy brings them back
	// once they can apply); replaying a log is bounded the same way.
	//
	// Held changes are bounded because they cost memory for as long as the
	// board is loaded, in every copy, and come back at every load; a client
	// needs to hold a change only for a moment (another node has not
	// passed on its dependency yet), so the bounds are far above normal use.
	// Rejected: a count alone (10 000 changes of 1 MiB each is 10 GB), and
	// wire bytes (65 536 ops of a few bytes each take 13 MB in memory).
	// The refusal is "rate_limited" (resend later), not a refusal of content
	// ("too_large"): an honest client whose changes are held on a node that
	// lags behind the others must not drop its unsent work and start over;
	// once anti-entropy brings the dependency, its resend is taken.
	MaxHeldBytes        int
	MaxHeldReplica      int
	MaxHeldReplicaBytes int
	// MaxMoveReach bounds how far back into the board's moves one client
	// change may reach (crdt.Doc.MoveReach: the later moves the tree must
	// undo and redo for it, each at most crdt.MaxTreeDepth steps): past it
	// the change is refused with "invalid_op" (default 20 000, about 40 ms
	// of the room's time at the deepest tree). MoveWorkPerSecond (default
	// 50 000) and a burst of twice MaxMoveReach bound the reach all of a
	// board's clients may spend together: past it, "rate_limited".
	//
	// No rule inside the CRDT can bound this: the cost of a late move
	// grows with the history after it, and any cut based on arrival would
	// make replicas diverge. A refusal is safe (a refused change exists
	// nowhere); it costs only a client whose moves were made offline while
	// more than MaxMoveReach moves happened on the board.
	MaxMoveReach      int
	MoveWorkPerSecond float64
	// MaxTextDeletes bounds the characters one client change's delete_text
	// ops name in all (default 2,000,000): past it the change is refused
	// with "invalid_op". TextDeletesPerSecond (default 500,000, with a burst
	// of MaxTextDeletes) bounds what all of a board's clients may name
	// together: past it, "rate_limited". Checking and applying a deletion
	// walks the runs of text it covers, one per character at worst: a
	// text of 60,000 characters inserted one before the other is 60,000
	// runs, and deleted characters stay in the text, so an 11-byte op
	// that deletes them all again cost 13 ms, and a frame of 300 such ops
	// held the room 3.9 s. A character named is the bound of a run
	// walked, so the budget bounds the walk whatever the text's shape.
	// Rejected: counting the runs actually walked (known only once the
	// room has paid for them).
	MaxTextDeletes       int
	TextDeletesPerSecond float64
	// MaxInsertReach bounds the runs of text one client change's inserts
	// may walk as they apply (crdt.Doc.InsertReach; default 200,000): past
	// it the change is refused with "invalid_op". InsertReachPerSecond
	// (default 1,000,000, with a burst of MaxInsertReach) bounds what all of
	// a board's clients may spend together: past it, "rate_limited". An
	// insert whose origins are not neighbours walks the runs between them,
	// and the runs stay: 16,384 inserts with both origins at a text's
	// ends, in one change of 164 KB, took 1.7 s to apply, 65,536 took 44 s.
	// Typing, pasting and an insert made while a few others typed at the
	// same place cost a few runs.
	MaxInsertReach       int
	InsertReachPerSecond float64
	// PresenceInterval: the shortest time between two presence broadcasts
	// of one session (default 50ms); updates in between are coalesced.
	PresenceInterval time.Duration
	// PresenceBytesPerSecond bounds the presence updates a board's room
	// broadcasts, in bytes of presence frames a second, each counted once
	// however many sessions get it (default 256 KiB, with a burst of as
	// much): every session of the board gets each one. Past it, updates
	// wait, coalesced (the latest data of each session is kept; presence
	// is never stored), and the sessions that had the fewest bytes
	// broadcast lately go first, so big or frequent senders slow
	// themselves down and not the others. Each session was bounded by
	// PresenceInterval alone: 60 sockets sending 2 KB of presence every
	// 50 ms put 2.5 MB/s in every peer's queue, and a peer reading 1 MB/s
	// was closed as a slow reader. Normal use, a cursor of about 100
	// bytes 20 times a second for a few dozen people, is about 200 KB/s
	// with the frames' peer fields. Joins, leaves and presence relayed
	// from other nodes (each bounded by its own room) are not counted.
	// Rejected: a byte rate per session only (a board's peers would
	// still get it times the sessions, and the sessions are cheap:
	// guests); dropping updates past the budget (the last position of a
	// cursor would be lost).
	PresenceBytesPerSecond int
	// MaxLogBytes bounds the op log this node keeps for one board, in
	// bytes (0: no bound). Past it, clients' changes are refused with
	// "too_large" and not stored: the board reads as before, and its
	// owner may export it and import it as a new board (a snapshot and
	// no history), or a node with Retention drops the old history. The
	// room reads the log's size when it loads and after a trim
	// (storage.LogSizer: its tables on disk, compressed, which may run a
	// memtable behind), and adds the bytes it appends (uncompressed: the
	// count never runs below the disk used by more than that memtable);
	// changes from other nodes are stored whatever the bound
	// (every copy must converge). Without it, anyone who may edit a
	// board (a public board's visitors, by default) could grow it, and
	// the node's disk, for as long as the rates allow. Rejected: a bound
	// on elements (a few elements edited forever grow the log as much)
	// and dropping old history on its own (the history and the export
	// would lose what people made without anyone asking).
	MaxLogBytes int64
	// SpaceLow says whether the node's disk is below its free-space
	// reserve (storage.SpaceGuard). While it is, clients' new changes are
	// refused with "unavailable" (REST writes 503) and not stored: the
	// client keeps them and sends them again later. Other nodes' changes
	// are still stored, in the reserve. Nil: no reserve.
	SpaceLow func() bool
	// Retention drops op-log entries older than this once a snapshot
	// covers them (default 0: keep the full history forever). Clients
	// further behind than the retained log get a snapshot.
	Retention time.Duration
	// FanoutDelay: how long the room gathers accepted changes before it
	// pushes them to its local sessions (default 0: at once). A few
	// milliseconds let a busy board send each session one message for
	// several changes, which is most of its CPU; acks and the bus are
	// never delayed.
	FanoutDelay time.Duration
	// DirectWrites: on a board with at most this many local sessions, the
	// room writes acks and fan-out straight to an idle connection's
	// socket when it takes them at once (Session.SendDirect), instead of
	// waking the connection's writer goroutine (default 16; negative:
	// never). On a bigger board the writers spread the writes over the
	// cores.
	DirectWrites int
	// AckReplicas: how many other nodes must have stored a change before
	// its sender is acked (default 0: an ack means durable on this node).
	// With 1 or more, a change survives the loss of this node's disk, at
	// the cost of a round trip over the bus per commit, and a client gets
	// "unavailable" (resend later) when too few nodes answer in time.
	AckReplicas int
	// ReplicateTimeout bounds that wait (default 5s).
	ReplicateTimeout time.Duration
	// SyncInterval: how often a loaded room asks the other nodes for what
	// it lacks, besides on load, after gaps and bus reconnects (default 2m:
	// a safety net; each request makes every node that stores the board
	// load it for a moment).
	SyncInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxClockAhead: how far past Now the timestamps of a client's change
	// may run (default 5 minutes), unless the change starts right after the
	// board's own clock (crdt.Doc.Clock); past it the change is refused
	// with "clock_ahead" and not stored (admitTime). A timestamp is the
	// milliseconds of its maker's clock (docs/PROTOCOL.md 5.1), and every
	// replica adopts the largest it sees: a change stamped far ahead would
	// win every register it writes against whatever is done meanwhile, and
	// one near 2^64 ran every clock to the end of its range.
	//
	// Five minutes: the web client stamps changes with its clock corrected
	// by its offset to the node's (the welcome's "now"), so honest changes
	// are off by a network delay; the margin is for clients that do not
	// correct and run a little fast. A change refused so is not a refusal
	// of content: once the node's clock has caught up, the same change is
	// taken, so the client keeps it and resends it later.
	//
	// The exception: a board stored before the check may hold a time far
	// ahead, which every copy adopted; its clients' changes start right
	// after it, and are taken. A client moves the board's clock that way
	// by at most the readings of its change, one per op or character.
	//
	// Rejected: comparing with the board's clock plus the allowance (each
	// change could move it one allowance further); a bound in the CRDT's
	// validation (it reads no clock, and logs stored with such times must
	// still load); "malformed" (the client would start over and drop its
	// unsent work, for a change that is fine a few minutes later).
	MaxClockAhead time.Duration
	// Log (default slog.Default()).
	Log *slog.Logger
	// Hooks receive metrics events (all optional).
	Hooks Hooks
	// Policy returns a board's policy (deadline, voting) when its room
	// loads (default: none).
	Policy func(ctx context.Context, board storage.BoardID) Policy
	// AuthorRole, if set, tells who owns a replica of a board — the user
	// of its claim — and the role the board gives that user now; ok false
	// when it cannot tell (no claim, or the metadata cannot be read). A
	// room asks it, on its goroutine, when a held change of a replica
	// that has no session in the room is about to apply, and admits the
	// change again under that role (release.go). Nil: the room goes by
	// its own sessions.
	AuthorRole func(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID) (user, role string, ok bool)
	// BeforeHandle, if set, is called on the room's goroutine before it
	// handles each message: a test hook (a panic there shows what a bug in
	// the room does). Nil in production.
	BeforeHandle func(board storage.BoardID)
	// Accepted, if set, is called from the room's goroutine with the
	// op-log entries of client changes this node accepted and stored (not
	// those copied from other nodes), in log order, and the board's
	// document as they left it (read only, and only during the call). It
	// must not block: webhooks describe the changes and hand the
	// description to a queue.
	Accepted func(board storage.BoardID, entries []storage.Record, doc *crdt.Doc)
	// WholeRead, if set, runs read — work a join does on the whole
	// document in the room's goroutine: a far-view summary or a fresh
	// snapshot, each made once per version — within the board's
	// whole-board read budget, which the REST reads of the whole document
	// share (server/api roomtime.go), and charges it the units read
	// returns (the board's elements, and a unit per 512 bytes it made or
	// read). It never waits: false, with read not run, when the budget is
	// spent or another whole-board read of the board is under way. Then
	// the join sends no far view, and a board without a stored snapshot
	// gets one stored (join.go freshSnapshot). Nil: read always runs.
	WholeRead func(board storage.BoardID, read func() (units int)) bool
}

// Hooks are metric callbacks; nil fields are skipped. They are called from
// room goroutines and must be cheap and safe for concurrent use.
type Hooks struct {
	Accepted      func(n int)                     // changes accepted from clients
	Rejected      func(code protocol.Code, n int) // changes refused, by reason
	Remote        func(n int)                     // changes received from other nodes and stored
	Commit        func(d time.Duration)           // persist latency of one group commit
	Fanout        func(d time.Duration)           // time to push one batch to local sessions and the bus
	Deliveries    func(n int)                     // messages pushed to sessions
	SlowConsumers func()                          // sessions kicked for a full queue
	Rooms         func(delta int)                 // rooms opened (+1) and closed (-1)
	BusErrors     func()
	Panics        func()      // a room's goroutine recovered from a panic (the room was dropped)
	HeldDropped   func(n int) // held changes from other nodes or the log not kept (over MaxHeldBytes...)
	HeldRefused   func(n int) // held changes refused when they could apply (release.go), with those of their replicas after them
	// Anti-entropy (sync.go): SyncRequested when the room publishes its
	// version vector; SyncSent and SyncReceived with the changes in an
	// answer it sent or got; SyncFailed with "read" (the log could not
	// be read for an answer), "decode" (an answer did not decode) or
	// "trimmed" (retention cut what an asker lacks).
	SyncRequested func()
	SyncSent      func(n int)
	SyncReceived  func(n int)
	SyncFailed    func(reason string)
}

func (c *Config) defaults() {
	if c.SnapshotEvery <= 0 {
		c.SnapshotEvery = 1000
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = time.Minute
	}
	if c.SnapshotCatchup <= 0 {
		c.SnapshotCatchup = 2000
	}
	if c.MaxGroup <= 0 {
		c.MaxGroup = 256
	}
	if c.MaxQueuedOps <= 0 {
		c.MaxQueuedOps = 1 << 18
	}
	if c.DirectWrites == 0 {
		c.DirectWrites = 16
	}
	if c.MaxHeld <= 0 {
		c.MaxHeld = 10000
	}
	if c.MaxHeldBytes <= 0 {
		c.MaxHeldBytes = 8 << 20
	}
	if c.MaxHeldReplica <= 0 {
		c.MaxHeldReplica = max(1, c.MaxHeld/4)
	}
	if c.MaxHeldReplicaBytes <= 0 {
		c.MaxHeldReplicaBytes = max(1, c.MaxHeldBytes/4)
	}
	if c.MaxMoveReach <= 0 {
		c.MaxMoveReach = 20000
	}
	if c.MoveWorkPerSecond <= 0 {
		c.MoveWorkPerSecond = 50000
	}
	if c.MaxTextDeletes <= 0 {
		c.MaxTextDeletes = 2_000_000
	}
	if c.TextDeletesPerSecond <= 0 {
		c.TextDeletesPerSecond = 500_000
	}
	if c.MaxInsertReach <= 0 {
		c.MaxInsertReach = 200_000
	}
	if c.InsertReachPerSecond <= 0 {
		c.InsertReachPerSecond = 1_000_000
	}
	if c.PresenceInterval <= 0 {
		c.PresenceInterval = 50 * time.Millisecond
	}
	if c.PresenceBytesPerSecond <= 0 {
		c.PresenceBytesPerSecond = 256 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxClockAhead <= 0 {
		c.MaxClockAhead = 5 * time.Minute
	}
	if c.ReplicateTimeout <= 0 {
		c.ReplicateTimeout = 5 * time.Second
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = 2 * time.Minute
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}
