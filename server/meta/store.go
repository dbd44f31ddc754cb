package meta

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corkboard/corkboard/storage"
)

// Store is the node's access to the cluster's metadata: board settings,
// account records and replica claims. Writes go to the buckets (a quorum
// stores them); every node watches every bucket and applies each write,
// its own or another node's, to its view in Pebble through one path
// (apply), which then calls the change hooks: that is how an access
// change made on any node reaches every node's open sessions. Reads come
// from the view.
//
// A write returns once the write is in this node's view (read your
// writes): the writer waits for its revision to come back through the
// watch, so the hooks have run when it returns.
type Store struct {
	view    storage.Store
	backend Backend
	log     *slog.Logger
	now     func() time.Time

	buckets map[string]*watched // by bucket name; set once ready is closed
	leases  Bucket
	ready   chan struct{} // closed once the buckets are open and watched
	quit    chan struct{} // closed by Stop
	stopped sync.Once
	done    chan struct{} // closed when connect returns
	probes  sync.WaitGroup

	hookMu sync.RWMutex
	hooks  []func(ns string, key, val []byte)

	leaseMu sync.Mutex
	leased  map[string]time.Time // lease name → valid until (held by us)

	limitMu sync.Mutex
	limits  Bucket // cb_limits, opened on first use (limits.go)

	node       string
	staleAfter time.Duration
	lastOK     atomic.Int64 // unix ns (wall clock) of the last quorum write that succeeded
	// behind counts the watched buckets whose watch has not yet brought
	// the view up to what the bucket held when the watch started: until
	// then the view may lack a revoke made while this node was down (it
	// resumes from the revision it stopped at), and the node is not
	// Fresh.
	behind atomic.Int32
	// watchMu serialises starting and stopping the watches (connect,
	// Rewatch, Stop).
	watchMu sync.Mutex
}

// watched is a bucket and how far this node's view has applied it.
type watched struct {
	Bucket
	name    string
	mu      sync.Mutex
	applied uint64
	wake    chan struct{} // closed and replaced when applied grows
	stop    func()
}

// viewNS holds, per bucket, the last revision applied to the view, so a
// restart resumes the watch where it stopped.
const viewNS = "metarev"

// Options configure New.
type Options struct {
	Log *slog.Logger
	// Now is the clock of leases (default time.Now).
	Now func() time.Time
	// Node names this node: its liveness key in cb_leases.
	Node string
	// StaleAfter: a node whose last quorum write is older than this is
	// stale (Fresh is false). Default LeaseTTL.
	StaleAfter time.Duration
}

// New returns a Store over view and backend; Start connects it.
func New(view storage.Store, backend Backend, o Options) *Store {
	s := &Store{view: view, backend: backend, log: o.Log, now: o.Now, leased: map[string]time.Time{},
		ready: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{}),
		node: o.Node, staleAfter: o.StaleAfter}
	if s.staleAfter <= 0 {
		s.staleAfter = LeaseTTL
	}
	if s.node == "" {
		s.node = "node"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Start opens the buckets, migrates a store written before they existed
// (migrate.go) and watches every bucket from where the view stopped. It
// tries once, for up to ctx, and on failure goes on trying in the
// background: a node of a cluster whose JetStream has no quorum yet (the
// other nodes are still starting) serves from its view meanwhile, and its
// writes wait (await). Hooks must be registered before Start.
func (s *Store) Start(ctx context.Context) {
	if err := s.indexRecords(ctx); err != nil {
		s.log.Error("meta: indexing the records of an older store failed", "err", err)
	}
	s.probes.Add(1)
	go s.probe()
	err := s.connect(ctx)
	if err == nil {
		close(s.done)
		return
	}
	s.log.Warn("meta: metadata buckets not ready; retrying in the background", "err", err)
	go func() {
		defer close(s.done)
		wait := 500 * time.Millisecond
		for {
			select {
			case <-s.quit:
				return
			case <-time.After(wait):
			}
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := s.connect(c)
			cancel()
			if err == nil {
				s.log.Info("meta: metadata buckets ready")
				return
			}
			wait = min(wait*2, 5*time.Second)
			s.log.Warn("meta: metadata buckets not ready", "err", err)
		}
	}()
}

// Ready is closed once the Store is connected.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// connect opens, migrates and watches; on success it closes ready.
func (s *Store) connect(ctx context.Context) error {
	buckets := map[string]*watched{}
	for _, cfg := range Buckets {
		b, err := s.backend.Bucket(ctx, cfg)
		if err != nil {
			return err
		}
		w := &watched{Bucket: b, name: cfg.Name, wake: make(chan struct{})}
		v, err := s.view.GetMeta(ctx, viewNS, []byte(cfg.Name))
		switch {
		case err == nil && len(v) == 8:
			w.applied = binary.BigEndian.Uint64(v)
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return err
		}
		buckets[cfg.Name] = w
	}
	l, err := s.backend.Bucket(ctx, leaseConfig)
	if err != nil {
		return err
	}
	s.buckets, s.leases = buckets, l
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("meta: migrate: %w", err)
	}
	s.watchMu.Lock()
	caught, err := s.watchAll()
	s.watchMu.Unlock()
	if err != nil {
		return err
	}
	s.lastOK.Store(time.Now().UnixNano()) // the buckets answered just now
	close(s.ready)
	// A restarted node's view holds what it applied before it stopped;
	// what was written meanwhile (a link deleted, a member removed, a new
	// password) comes through the watches, in order, after the rest of
	// that backlog. Fresh is false until every watch has caught up, so
	// that no access is decided on the old records meanwhile: it was true
	// as soon as the watches started, and a revoked link read the board
	// on a node for as long as its watch took to reach the revoke. Start
	// waits for it within its deadline, so a node normally serves caught
	// up from its first call.
	select {
	case <-caught:
	case <-ctx.Done():
		s.log.Warn("meta: the view is still catching up with the buckets; access is refused (503) until it has")
	case <-s.quit:
	}
	return nil
}

// watchAll watches every bucket from where the view stopped; the channel
// is closed once every watch has caught up (behind). watchMu held.
func (s *Store) watchAll() (<-chan struct{}, error) {
	s.behind.Store(int32(len(s.buckets)))
	caught := make(chan struct{})
	for _, w := range s.buckets {
		from := w.appliedRev()
		if from > 0 {
			from++ // resume after the last applied; 0: the latest of every key
		}
		var once sync.Once
		caughtUp := func() {
			once.Do(func() {
				if s.behind.Add(-1) == 0 {
					close(caught)
				}
			})
		}
		stop, err := w.Watch(from, func(e Entry) { s.apply(w, e) }, caughtUp)
		if err != nil {
			s.stopWatches()
			return nil, err
		}
		w.stop = stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if last, err := w.Last(ctx); err == nil && last <= w.appliedRev() {
			caughtUp() // nothing was written since the view stopped
		}
		cancel()
	}
	return caught, nil
}

// Rewatch starts every watch again from where the view stopped, and the
// node is not Fresh until they have caught up: call it when the
// connection to NATS comes back. A watch is a JetStream consumer, which
// a NATS server that restarted no longer has (nor what was written while
// it was away, on a link that dropped): the client library makes a new
// one only once it has missed the consumer's heartbeats, 10 to 20 s
// later. Meanwhile this node's own writes reached the quorum again, so it
// was Fresh, and a link revoked on another node went on reading and
// writing here. It retries until it succeeds or the Store stops.
func (s *Store) Rewatch() {
	select {
	case <-s.ready:
	default:
		return // connect watches once it succeeds
	}
	s.behind.Store(int32(len(s.buckets))) // not Fresh from now on
	go func() {
		s.watchMu.Lock()
		defer s.watchMu.Unlock()
		s.stopWatches()
		wait := 100 * time.Millisecond
		for {
			select {
			case <-s.quit:
				return
			default:
			}
			_, err := s.watchAll()
			if err == nil {
				return
			}
			s.log.Warn("meta: watching the buckets again failed; retrying", "err", err)
			select {
			case <-s.quit:
				return
			case <-time.After(wait):
			}
			wait = min(wait*2, 2*time.Second)
		}
	}()
}

// await waits until the Store is connected: ErrUnavailable past ctx.
func (s *Store) await(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	default:
	}
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	case <-s.quit:
		return fmt.Errorf("%w: stopped", ErrUnavailable)
	}
}

// OnChange registers a hook called with every change applied to the view,
// in the order of each bucket's revisions (val nil: deleted). It runs on
// the bucket's watch goroutine before writers waiting for that revision
// return: it must not write to the Store, and should hand slow work to a
// goroutine.
func (s *Store) OnChange(fn func(ns string, key, val []byte)) {
	s.hookMu.Lock()
	s.hooks = append(s.hooks, fn)
	s.hookMu.Unlock()
}

// Stop ends the watches (and a background Start).
func (s *Store) Stop() {
	s.stopped.Do(func() { close(s.quit) })
	<-s.done
	s.probes.Wait()
	s.watchMu.Lock()
	s.stopWatches()
	s.watchMu.Unlock()
}

// probeEvery is how often a node proves it reaches the quorum.
const probeEvery = LeaseTTL / 5

// probe writes this node's liveness key in cb_leases every probeEvery: a
// write a quorum must store. While the writes fail (this node is on the
// minority side of a partition, or NATS is down), Fresh turns false once
// StaleAfter has passed since the last one that succeeded.
func (s *Store) probe() {
	defer s.probes.Done()
	select {
	case <-s.ready:
	case <-s.quit:
		return
	}
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	base, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		select {
		case <-s.quit:
			stop()
		case <-base.Done():
		}
	}()
	for {
		ctx, cancel := context.WithTimeout(base, probeEvery)
		if _, err := s.leases.Put(ctx, "alive."+base64.RawURLEncoding.EncodeToString([]byte(s.node)), nil); err == nil {
			s.lastOK.Store(time.Now().UnixNano())
		}
		cancel()
		select {
		case <-t.C:
		case <-s.quit:
			return
		}
	}
}

// Fresh says whether this node's view can be trusted for access decisions
// now: the buckets are open, the view has caught up with what they held
// when this node started watching them, and a quorum took one of this
// node's writes within StaleAfter. A node on the minority side of a
// partition stops being fresh, so it stops letting anyone in on what may
// be revoked already (the hot path's reads come from the view, which a
// revoke made on the majority side cannot reach). The wall clock, never
// Options.Now: staleness is about real time.
func (s *Store) Fresh() bool {
	select {
	case <-s.ready:
	default:
		return false
	}
	if s.behind.Load() > 0 {
		return false
	}
	last := s.lastOK.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < s.staleAfter
}

func (s *Store) stopWatches() {
	for _, w := range s.buckets {
		if w.stop != nil {
			w.stop()
			w.stop = nil
		}
	}
}

func (w *watched) appliedRev() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.applied
}

// apply is the one path by which a change reaches this node: into the
// view (with the bucket's revision, in one batch), then to the hooks.
func (s *Store) apply(w *watched, e Entry) {
	if e.Rev <= w.appliedRev() {
		return // already applied (a watch resumed before its last entry)
	}
	ns, key, ok := parseKey(e.Key)
	rev := binary.BigEndian.AppendUint64(nil, e.Rev)
	writes := []storage.MetaWrite{{NS: viewNS, Key: []byte(w.name), Val: rev}}
	if ok {
		writes = append(writes, storage.MetaWrite{NS: ns, Key: key, Val: e.Value, Delete: e.Deleted})
		if wr, indexed := indexEntry(ns, key, e.Value); indexed && !e.Deleted {
			writes = append(writes, wr) // a listing right after sees it
		}
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.applyView(ctx, writes)
		cancel()
		if err == nil {
			break
		}
		if errors.Is(err, storage.ErrClosed) {
			return
		}
		// The view must not skip a revision: retry (the watch waits).
		s.log.Error("meta: view write failed; retrying", "bucket", w.name, "rev", e.Rev, "err", err)
		time.Sleep(min(time.Duration(attempt+1)*100*time.Millisecond, 2*time.Second))
	}
	if ok {
		var val []byte
		if !e.Deleted {
			val = e.Value
		}
		s.hookMu.RLock()
		hooks := s.hooks
		s.hookMu.RUnlock()
		for _, h := range hooks {
			h(ns, key, val)
		}
	}
	w.mu.Lock()
	w.applied = e.Rev
	close(w.wake)
	w.wake = make(chan struct{})
	w.mu.Unlock()
}

// applyView writes one change of a bucket into the view, with the
// bucket's revision in the same batch. Not synced when the store can
// (storage.MetaCache): the buckets are the truth, and a view that loses
// its last batches to a power cut loses their revision with them, so the
// watch resumes before them and applies them again. Synced, each apply of
// the one watch waited for an fsync that --sync-gather holds back while
// boards commit.
func (s *Store) applyView(ctx context.Context, writes []storage.MetaWrite) error {
	if c, ok := s.view.(storage.MetaCache); ok {
		return c.ApplyMetaUnsynced(ctx, writes)
	}
	return s.view.ApplyMeta(ctx, writes)
}

// applyWait is how long a writer waits for its write to reach the view.
const applyWait = 10 * time.Second

// waitApplied waits until the view has applied rev of w. The write itself
// is stored either way: past ctx or applyWait it returns nil and logs.
func (s *Store) waitApplied(ctx context.Context, w *watched, rev uint64) {
	t := time.NewTimer(applyWait)
	defer t.Stop()
	for {
		w.mu.Lock()
		done, wake := w.applied >= rev, w.wake
		w.mu.Unlock()
		if done {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		case <-t.C:
			s.log.Warn("meta: a write did not come back through the watch in time", "bucket", w.name, "rev", rev)
			return
		}
	}
}

// bucket is ns's bucket, once the Store is connected (await).
func (s *Store) bucket(ctx context.Context, ns string) (*watched, error) {
	name := bucketOf(ns)
	if name == "" {
		return nil, fmt.Errorf("meta: no bucket for namespace %q", ns)
	}
	if err := s.await(ctx); err != nil {
		return nil, err
	}
	w := s.buckets[name]
	if w == nil {
		return nil, fmt.Errorf("meta: no bucket for namespace %q", ns)
	}
	return w, nil
}

// Get reads a record from the view; storage.ErrNotFound when absent.
// A record missing from the view is looked up in its bucket, where it may
// be already (a write on another node a moment ago: signed in there, then
// sent here): the view lags the buckets by one watch delivery.
func (s *Store) Get(ctx context.Context, ns string, key []byte) ([]byte, error) {
	v, err := s.view.GetMeta(ctx, ns, key)
	if !errors.Is(err, storage.ErrNotFound) || bucketOf(ns) == "" {
		return v, err
	}
	select {
	case <-s.ready:
	default:
		return nil, err // not connected: the view is all there is
	}
	return s.Latest(ctx, ns, key)
}

// Scan calls fn for every record of ns whose key starts with prefix, in
// key order, from the view.
func (s *Store) Scan(ctx context.Context, ns string, prefix []byte, fn func(key, val []byte) error) error {
	return s.view.ScanMeta(ctx, ns, prefix, fn)
}

// Put writes a record unconditionally.
func (s *Store) Put(ctx context.Context, ns string, key, val []byte) error {
	w, err := s.bucket(ctx, ns)
	if err != nil {
		return err
	}
	rev, err := w.Put(ctx, kvKey(ns, key), val)
	if err != nil {
		return err
	}
	s.waitApplied(ctx, w, rev)
	return nil
}

// Create writes a record that must not exist yet: ErrExists if it does.
func (s *Store) Create(ctx context.Context, ns string, key, val []byte) error {
	w, err := s.bucket(ctx, ns)
	if err != nil {
		return err
	}
	rev, err := w.Create(ctx, kvKey(ns, key), val)
	if err != nil {
		return err
	}
	s.waitApplied(ctx, w, rev)
	return nil
}

// Delete deletes a record.
func (s *Store) Delete(ctx context.Context, ns string, key []byte) error {
	w, err := s.bucket(ctx, ns)
	if err != nil {
		return err
	}
	if err := w.Delete(ctx, kvKey(ns, key)); err != nil {
		return err
	}
	// A delete's revision is not returned: wait for the bucket's latest.
	if e, err := w.History(ctx, kvKey(ns, key)); err == nil && len(e) > 0 {
		s.waitApplied(ctx, w, e[len(e)-1].Rev)
	}
	return nil
}

// maxRetries bounds Update's compare-and-set attempts under contention.
const maxRetries = 32

// Update is a read-modify-write of one record: change gets its latest
// value (found false: none) and returns the new one; the write is made only
// if nobody wrote the record since it was read, else change runs again on
// the newer value. An error from change leaves the record as it was and is
// returned.
func (s *Store) Update(ctx context.Context, ns string, key []byte, change func(old []byte, found bool) ([]byte, error)) error {
	w, err := s.bucket(ctx, ns)
	if err != nil {
		return err
	}
	k := kvKey(ns, key)
	for range maxRetries {
		e, err := w.Get(ctx, k)
		found := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		val, err := change(e.Value, found)
		if err != nil {
			return err
		}
		var rev uint64
		if found {
			rev, err = w.Update(ctx, k, val, e.Rev)
		} else {
			rev, err = w.Create(ctx, k, val)
		}
		if errors.Is(err, ErrExists) {
			continue // written since: read again
		}
		if err != nil {
			return err
		}
		s.waitApplied(ctx, w, rev)
		return nil
	}
	return fmt.Errorf("%w: %s: too much contention", ErrUnavailable, k)
}

// History returns the kept revisions of a record, oldest first: who
// changed a board's settings and when (cb_boards keeps 16).
func (s *Store) History(ctx context.Context, ns string, key []byte) ([]Entry, error) {
	w, err := s.bucket(ctx, ns)
	if err != nil {
		return nil, err
	}
	return w.History(ctx, kvKey(ns, key))
}

// Lease takes or renews the named lease for holder, and says whether
// holder has it now. A holder renews by calling Lease again well within
// LeaseTTL; a lease not renewed for LeaseTTL expires and another holder
// may take it. Two holders never both get true for the same moment,
// provided each checks Holds before acting.
func (s *Store) Lease(ctx context.Context, name, holder string) (bool, error) {
	if err := s.await(ctx); err != nil {
		return false, err
	}
	start := s.now()
	e, err := s.leases.Get(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		_, err = s.leases.Create(ctx, name, []byte(holder))
	case err != nil:
	case string(e.Value) == holder:
		_, err = s.leases.Update(ctx, name, []byte(holder), e.Rev)
	default:
		err = ErrExists // held by another
	}
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if err != nil {
		delete(s.leased, name)
		if errors.Is(err, ErrExists) {
			return false, nil
		}
		return false, err
	}
	// Valid from when we asked, minus a margin for clocks running at
	// slightly different rates.
	s.leased[name] = start.Add(LeaseTTL * 2 / 3)
	return true, nil
}

// Holds says whether this node's last Lease call for name got it and the
// lease cannot have passed to another holder since.
func (s *Store) Holds(name string) bool {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	until, ok := s.leased[name]
	return ok && s.now().Before(until)
}

// Release gives the lease up (on shutdown), so another holder need not
// wait for it to expire.
func (s *Store) Release(ctx context.Context, name, holder string) {
	s.leaseMu.Lock()
	delete(s.leased, name)
	s.leaseMu.Unlock()
	if s.await(ctx) != nil {
		return
	}
	if e, err := s.leases.Get(ctx, name); err == nil && string(e.Value) == holder {
		s.leases.Delete(ctx, name)
	}
}

// Latest reads a record from its bucket rather than the view: the value a
// failed Create lost to, which may not have reached the view yet.
func (s *Store) Latest(ctx context.Context, ns string, key []byte) ([]byte, error) {
	w, err := s.bucket(ctx, ns)
	if err != nil {
		return nil, err
	}
	e, err := w.Get(ctx, kvKey(ns, key))
	if errors.Is(err, ErrNotFound) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return e.Value, nil
}
