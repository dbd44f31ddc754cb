package meta

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream is the production Backend: key-value buckets of the NATS
// server the node runs (embedded) or connects to, replicated Replicas
// times. A write returns once a quorum of the bucket's replicas stored it.
type JetStream struct {
	js       jetstream.JetStream
	replicas int
}

// NewJetStream uses nc's JetStream; replicas is the bucket replication
// (1 on a single node, 3 on a 3-node cluster).
func NewJetStream(nc *nats.Conn, replicas int) (*JetStream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("meta: jetstream: %w", err)
	}
	return &JetStream{js: js, replicas: max(replicas, 1)}, nil
}

// Bucket opens the bucket, creating it when missing. An existing bucket
// keeps its configuration.
func (j *JetStream) Bucket(ctx context.Context, cfg BucketConfig) (Bucket, error) {
	kv, err := j.js.KeyValue(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = j.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:   cfg.Name,
			History:  uint8(max(cfg.History, 1)),
			TTL:      cfg.MaxAge,
			MaxBytes: cfg.MaxBytes,
			Replicas: j.replicas,
			Storage:  jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = j.js.KeyValue(ctx, cfg.Name) // another node made it
		}
	}
	if err != nil {
		return nil, fmt.Errorf("meta: bucket %s: %w", cfg.Name, kvErr(err))
	}
	return &jsBucket{kv: kv}, nil
}

type jsBucket struct{ kv jetstream.KeyValue }

// kvErr maps JetStream errors to the package's.
func kvErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return ErrNotFound
	case errors.Is(err, jetstream.ErrKeyExists):
		return ErrExists
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func entry(e jetstream.KeyValueEntry) Entry {
	return Entry{Key: e.Key(), Value: e.Value(), Rev: e.Revision(), Created: e.Created(),
		Deleted: e.Operation() != jetstream.KeyValuePut}
}

func (b *jsBucket) Get(ctx context.Context, key string) (Entry, error) {
	e, err := b.kv.Get(ctx, key)
	if err != nil {
		return Entry{}, kvErr(err)
	}
	return entry(e), nil
}

func (b *jsBucket) Create(ctx context.Context, key string, val []byte) (uint64, error) {
	rev, err := b.kv.Create(ctx, key, val)
	return rev, kvErr(err)
}

func (b *jsBucket) Update(ctx context.Context, key string, val []byte, rev uint64) (uint64, error) {
	rev, err := b.kv.Update(ctx, key, val, rev)
	return rev, kvErr(err)
}

func (b *jsBucket) Put(ctx context.Context, key string, val []byte) (uint64, error) {
	rev, err := b.kv.Put(ctx, key, val)
	return rev, kvErr(err)
}

func (b *jsBucket) Delete(ctx context.Context, key string) error {
	return kvErr(b.kv.Delete(ctx, key))
}

func (b *jsBucket) History(ctx context.Context, key string) ([]Entry, error) {
	h, err := b.kv.History(ctx, key)
	if err != nil {
		return nil, kvErr(err)
	}
	out := make([]Entry, len(h))
	for i, e := range h {
		out[i] = entry(e)
	}
	return out, nil
}

// Watch runs an ordered consumer: after a gap or a lost connection the
// client library makes a new one from the last revision delivered.
func (b *jsBucket) Watch(from uint64, fn func(Entry), caughtUp func()) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	var opts []jetstream.WatchOpt
	if from > 0 {
		opts = append(opts, jetstream.ResumeFromRevision(from))
	}
	w, err := b.kv.WatchAll(ctx, opts...)
	if err != nil {
		cancel()
		return nil, kvErr(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // nil marks the end of the initial values
					caughtUp()
					continue
				}
				fn(entry(e))
			}
		}
	}()
	return func() {
		cancel()
		<-done
		// Deleting the consumer is a request to the server, which waits
		// its timeout when the server is unreachable; the server drops an
		// ordered consumer left behind by itself.
		go w.Stop()
	}, nil
}

func (b *jsBucket) Last(ctx context.Context) (uint64, error) {
	st, err := b.kv.Status(ctx)
	if err != nil {
		return 0, kvErr(err)
	}
	if s, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		return s.StreamInfo().State.LastSeq, nil
	}
	return 0, fmt.Errorf("meta: bucket status of unknown type %T", st)
}
