package meta

import (
	"context"
	"sync"
	"time"
)

// Memory is a Backend in this process, shared by the nodes of a test that
// runs several in one process over the in-memory bus (bus.NewHub). It
// keeps every write in a log per bucket, so watchers see them in order.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]*memBucket
	// Now is the clock of expiry (time.Now by default).
	Now func() time.Time
}

// NewMemory returns an empty in-process backend.
func NewMemory() *Memory { return &Memory{buckets: map[string]*memBucket{}, Now: time.Now} }

// Bucket returns the named bucket, creating it.
func (m *Memory) Bucket(_ context.Context, cfg BucketConfig) (Bucket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets[cfg.Name]
	if b == nil {
		b = &memBucket{cfg: cfg, latest: map[string]int{}, now: func() time.Time { return m.Now() }}
		b.cond = sync.NewCond(&b.mu)
		m.buckets[cfg.Name] = b
	}
	return b, nil
}

type memBucket struct {
	cfg    BucketConfig
	now    func() time.Time
	mu     sync.Mutex
	cond   *sync.Cond
	log    []Entry        // log[i].Rev == i+1
	latest map[string]int // key → index in log
}

// current is the key's live latest entry (under mu).
func (b *memBucket) current(key string) (Entry, bool) {
	i, ok := b.latest[key]
	if !ok {
		return Entry{}, false
	}
	e := b.log[i]
	if e.Deleted || (b.cfg.MaxAge > 0 && b.now().Sub(e.Created) >= b.cfg.MaxAge) {
		return Entry{}, false
	}
	return e, true
}

func (b *memBucket) append(key string, val []byte, deleted bool) uint64 {
	e := Entry{Key: key, Value: append([]byte(nil), val...), Rev: uint64(len(b.log) + 1), Deleted: deleted, Created: b.now()}
	b.log = append(b.log, e)
	b.latest[key] = len(b.log) - 1
	b.cond.Broadcast()
	return e.Rev
}

func (b *memBucket) Get(_ context.Context, key string) (Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.current(key)
	if !ok {
		return Entry{}, ErrNotFound
	}
	return e, nil
}

func (b *memBucket) Create(_ context.Context, key string, val []byte) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.current(key); ok {
		return 0, ErrExists
	}
	return b.append(key, val, false), nil
}

func (b *memBucket) Update(_ context.Context, key string, val []byte, rev uint64) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.current(key)
	if !ok || e.Rev != rev {
		return 0, ErrExists
	}
	return b.append(key, val, false), nil
}

func (b *memBucket) Put(_ context.Context, key string, val []byte) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.append(key, val, false), nil
}

func (b *memBucket) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.append(key, nil, true)
	return nil
}

func (b *memBucket) History(_ context.Context, key string) ([]Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Entry
	for _, e := range b.log {
		if e.Key == key {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	if h := max(b.cfg.History, 1); len(out) > h {
		out = out[len(out)-h:]
	}
	return out, nil
}

func (b *memBucket) Watch(from uint64, fn func(Entry), caughtUp func()) (func(), error) {
	var (
		once    sync.Once
		stopped bool
		done    = make(chan struct{})
	)
	next := int(max(from, 1)) - 1
	go func() {
		defer close(done)
		first := true // the writes held when the watch started
		for {
			b.mu.Lock()
			for next >= len(b.log) && !stopped && !first {
				b.cond.Wait()
			}
			if stopped {
				b.mu.Unlock()
				return
			}
			var batch []Entry
			if next < len(b.log) {
				batch = append(batch, b.log[next:]...)
				next = len(b.log)
			}
			b.mu.Unlock()
			for _, e := range batch {
				fn(e)
			}
			if first {
				first = false
				caughtUp()
			}
		}
	}()
	return func() {
		once.Do(func() {
			b.mu.Lock()
			stopped = true
			b.cond.Broadcast()
			b.mu.Unlock()
			<-done
		})
	}, nil
}

func (b *memBucket) Last(context.Context) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return uint64(len(b.log)), nil
}
